"""The published site as GitHub Pages serves it: under the sub-path of html.baseurl, with a sitemap,
canonical links and a 404 page that works from any missing address."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from .conftest import BASEURL, PREFIX, SITE, book_pages

PAGES = book_pages()
# the pages a search engine should know: not the 404 page, not the root's redirect to the introduction
PUBLISHED = [p for p in PAGES if p != "404.html" and 'http-equiv="Refresh"' not in (SITE / p).read_text()]


def test_the_sitemap_lists_every_page_at_its_published_address():
    tree = ET.parse(SITE / "sitemap.xml")
    urls = {e.text for e in tree.iter() if e.tag.endswith("}loc")}
    expected = {BASEURL + p for p in PUBLISHED}
    assert expected - urls == set(), f"pages missing from sitemap.xml: {sorted(expected - urls)[:5]}"
    assert all(u.startswith(BASEURL) for u in urls), sorted(u for u in urls if not u.startswith(BASEURL))[:5]


@pytest.mark.parametrize("path", PUBLISHED)
def test_canonical_link_is_the_published_address(path):
    links = re.findall(r'<link rel="canonical" href="([^"]+)"', (SITE / path).read_text())
    assert links == [BASEURL + path]


@pytest.mark.parametrize("missing", ["no-such-page.html", "notebooks/no-such-chapter.html", "a/b/c/"])
def test_a_missing_address_shows_the_404_page_with_working_styles_and_links(browser, site_url, missing):
    context = browser.new_context()
    page = context.new_page()
    failed, offsite = [], []

    def route(r):
        if r.request.url.startswith(site_url):
            r.continue_()
        else:
            offsite.append(r.request.url)
            r.abort()

    def response(r):
        if r.status >= 400 and missing not in r.url:  # the page itself answers 404, as it should
            failed.append(f"{r.status} {r.url}")

    context.route("**/*", route)
    page.on("response", response)
    response = page.goto(f"{site_url}/{missing}", wait_until="networkidle")
    assert response.status == 404
    assert "not found" in page.locator("main").inner_text().lower()
    assert failed == [] and offsite == [], (failed, offsite)  # styles and scripts found from a deep address
    sheets = page.evaluate("Array.from(document.styleSheets).filter(s => s.href).map(s => s.href)")
    assert any("book.css" in s for s in sheets), sheets
    home = page.evaluate("Array.from(document.querySelectorAll('nav a')).map(a => a.href)")
    assert home and all(h.startswith(site_url + "/") or not h.startswith("http://127") for h in home), home[:5]
    chapter = next(h for h in home if "/notebooks/" in h)
    assert page.goto(chapter).status == 200
    context.close()


def test_the_server_serves_only_the_sub_path(site_url):
    import urllib.error
    import urllib.request

    root = site_url.removesuffix(PREFIX.rstrip("/"))
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(root + "/_static/book.css")
    assert info.value.code == 404
    assert urllib.request.urlopen(site_url + "/_static/book.css").status == 200


def test_the_api_reference_has_every_public_name_with_a_link_to_its_chapter():
    import sys

    sys.path.insert(0, str(SITE.parents[1] / "book" / "_ext"))
    import apiref

    html = (SITE / "book" / "api.html").read_text()
    names = [f"{m}.{n}" for m in apiref.modules() for n, _ in apiref.public(m)]
    assert len(names) > 150
    assert [n for n in names if f'id="{n}"' not in html] == []
    entry = html[html.index('id="attnviz.attention.scores"') :][:3000]
    assert re.search(r'Chapter: <a class="reference internal" href="\.\./notebooks/[\w-]+\.html"', entry), entry[:500]
