"""Every page of the built book in a real browser, offline: no errors, math typeset, images
loaded, explorers that respond to their sliders, launch buttons that point at the chapter."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from .conftest import ROOT, SITE, book_pages, open_page

PAGES = book_pages()
CHAPTERS = [p for p in PAGES if p.startswith("notebooks/")]
RAW_TEX = re.compile(r"\$[^$\s][^$]*\$|\\begin\{|\\\(|\\\[|\\(frac|mathcal|theta|sum|langle)\b")


def test_the_book_was_built_with_its_chapters():
    assert (SITE / "index.html").exists(), "run `make book` first"
    assert CHAPTERS and "book/intro.html" in PAGES


@pytest.mark.parametrize("path", PAGES)
def test_page_works_offline_without_errors(visit, path):
    page = visit(path)
    assert page.errors == [], f"JavaScript errors on {path}"
    assert page.offsite == [], f"{path} asked the network for {page.offsite}"
    assert page.failed == [], f"{path} requested missing files"


@pytest.mark.parametrize("path", PAGES)
def test_math_is_typeset(visit, path):
    page = visit(path).page
    untypeset = page.evaluate(
        "Array.from(document.querySelectorAll('.math')).filter(e => !e.querySelector('mjx-container')).length"
    )
    assert untypeset == 0, f"{untypeset} math elements on {path} were not typeset"
    text = page.evaluate(
        """() => {
        const main = document.querySelector('main') || document.body;
        const copy = main.cloneNode(true);
        copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
        return copy.innerText;
    }"""
    )
    leftovers = RAW_TEX.findall(text)
    assert not leftovers, f"raw TeX left in the text of {path}: {leftovers[:5]}"


@pytest.mark.parametrize("path", PAGES)
def test_every_image_loaded(visit, path):
    broken = visit(path).page.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src.slice(0, 80))"
    )
    assert broken == [], f"images on {path} did not load"


def _explorer_sliders(page) -> list[list[dict]]:
    """For each explorer on the page (DOM order), its sliders' labels from the saved widget state."""
    state = json.loads(
        page.evaluate(
            "document.querySelector('script[type=\"application/vnd.jupyter.widget-state+json\"]').textContent"
        )
    )["state"]
    views = page.evaluate(
        "Array.from(document.querySelectorAll('script[type=\"application/vnd.jupyter.widget-view+json\"]'))"
        ".map(s => JSON.parse(s.textContent).model_id)"
    )
    explorers = []
    for model_id in views:
        box = state[model_id]["state"]
        if "attnviz-explorer" not in box.get("_dom_classes", []):
            continue
        children = [state[c.removeprefix("IPY_MODEL_")]["state"] for c in box["children"]]
        explorers.append([c for c in children if c.get("_options_labels") is not None])
    return explorers


SHOWN_FRAME = """explorer => {
    const shown = Array.from(explorer.querySelectorAll('img')).filter(i => i.offsetParent !== null);
    if (shown.length !== 1) return null;
    return fetch(shown[0].src).then(r => r.arrayBuffer()).then(b => crypto.subtle.digest('SHA-256', b))
        .then(h => Array.from(new Uint8Array(h)).map(x => x.toString(16).padStart(2, '0')).join(''));
}"""


@pytest.mark.parametrize("path", CHAPTERS)
def test_every_slider_changes_the_picture_and_its_label(browser, site_url, path):
    visit = open_page(browser, site_url, path)  # a fresh page: this test moves the sliders
    page = visit.page
    sliders = _explorer_sliders(page)
    explorers = page.locator(".attnviz-explorer")
    assert explorers.count() == len(sliders) >= 1, f"{path}: explorers missing or not rendered"
    for i, slider_states in enumerate(sliders):
        explorer = explorers.nth(i)
        explorer.scroll_into_view_if_needed()
        for j, slider_state in enumerate(slider_states):
            labels = slider_state["_options_labels"]
            handle = explorer.locator(".noUi-handle").nth(j)
            readout = explorer.locator(".widget-readout").nth(j)
            before_frame, before_index = (
                explorer.evaluate(SHOWN_FRAME),
                int(float(handle.get_attribute("aria-valuenow"))),
            )
            assert before_frame is not None, f"{path}: explorer {i} shows no single picture"
            assert readout.inner_text() == labels[before_index]
            step = "ArrowLeft" if before_index == len(labels) - 1 else "ArrowRight"
            handle.focus()
            page.keyboard.press(step)
            after_index = before_index + (1 if step == "ArrowRight" else -1)
            page.wait_for_function(
                "([h, v]) => Number(h.getAttribute('aria-valuenow')) === v", arg=[handle.element_handle(), after_index]
            )
            page.wait_for_timeout(100)
            assert readout.inner_text() == labels[after_index], "the label must follow the slider"
            after_frame = explorer.evaluate(SHOWN_FRAME)
            assert after_frame not in (None, before_frame), (
                f"{path}: slider {slider_state['description']!r} did not change the picture"
            )
    assert visit.errors == []


@pytest.mark.parametrize("path", CHAPTERS)
def test_launch_buttons_open_this_chapter(visit, path):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    notebook = path.removesuffix(".html") + ".ipynb"
    links = visit(path).page.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.href)")
    assert f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=tree/{notebook}" in links
    assert f"https://colab.research.google.com/github/{repo}/blob/{branch}/{notebook}" in links


def test_widget_scripts_are_local_and_not_in_static():
    assert (SITE / "_widgets" / "embed-amd.js").exists() and (SITE / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert not list((SITE / "_static").rglob("embed-amd.js")), "widget scripts must stay out of _static"
    assert not (ROOT / "_static").exists() and not (ROOT / "book" / "_static").exists()
    assert not list((ROOT / "book" / "_theme").rglob("*.js")), (
        "book/_theme is for CSS: every .js there loads everywhere"
    )
    for path in PAGES:
        tags = re.findall(r"<(?:script|link)\b[^>]*>", (SITE / path).read_text())
        fetched = [t for t in tags if 'rel="canonical"' not in t]  # the canonical address is a name, not a fetch
        assets = [u for t in fetched for u in re.findall(r"\b(?:src|href)=\"(https?://[^\"]+)\"", t)]
        assert assets == [], f"{path} loads scripts or styles from the network"


CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("path", CHAPTERS)
def test_the_posts_chinese_title_renders_with_a_cjk_font(visit, path):
    """The fonts Chromium actually used for the source card's Chinese title include one with CJK glyphs."""
    page = visit(path).page
    found = page.evaluate(
        """() => {
        const p = Array.from(document.querySelectorAll('main .admonition p'))
            .find(e => /[\\u4e00-\\u9fff]/.test(e.textContent));
        if (p) p.setAttribute('data-cjk-title', '');
        return !!p;
    }"""
    )
    if not found:
        pytest.skip(f"{path} quotes no Chinese title")
    client = page.context.new_cdp_session(page)
    client.send("DOM.enable")
    client.send("CSS.enable")
    root = client.send("DOM.getDocument")["root"]["nodeId"]
    node = client.send("DOM.querySelector", {"nodeId": root, "selector": "[data-cjk-title]"})["nodeId"]
    fonts = client.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    client.detach()
    used = {f["familyName"]: f["glyphCount"] for f in fonts}
    assert any(CJK.search(n) or "CJK" in n or "Han" in n for n, count in used.items() if count), (
        f"no CJK font drew the title on {path}: {used}"
    )
