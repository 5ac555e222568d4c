"""Fixtures for the browser suite: the built book served on loopback, and Chromium with no network.

Run after `make book` (`make browser`). The book is served the way GitHub Pages serves a project site: under
the sub-path of ``html.baseurl`` (``/attention-book/``), with ``404.html`` answering every missing address.
Every page is loaded once per session; requests to any address outside the sub-path are aborted and
recorded, so a page that needs the network, or a link that forgets the sub-path, fails.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
ASSET_DIRS = {"_static", "_sources", "_images", "_widgets"}
BASEURL = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["baseurl"]
PREFIX = urlsplit(BASEURL).path  # "/attention-book/": where GitHub Pages serves the project site
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def book_pages() -> list[str]:
    """Every HTML page of the built book, relative to the site root."""
    if not SITE.is_dir():
        return []
    pages = (p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html"))
    return sorted(p for p in pages if p.split("/")[0] not in ASSET_DIRS and not p.startswith("."))


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium not found: install Debian's `chromium` package or set CHROMIUM", pytrace=False)
    return found


class PagesHandler(http.server.SimpleHTTPRequestHandler):
    """The site under PREFIX only; a missing address gets 404.html with status 404, as on GitHub Pages."""

    def log_message(self, *args) -> None:
        pass

    def send_head(self):
        path = urlsplit(self.path).path
        if path + "/" == PREFIX:
            self.send_response(301)
            self.send_header("Location", PREFIX)
            self.end_headers()
            return None
        if not path.startswith(PREFIX):
            self.send_error(404, "outside the site's sub-path")
            return None
        self.path = "/" + self.path[len(PREFIX) :]
        target = Path(self.translate_path(self.path))
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            return self._not_found()
        return super().send_head()

    def _not_found(self):
        body = (SITE / "404.html").read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None


@pytest.fixture(scope="session")
def site_url():
    """The book's root address, under the sub-path (no trailing slash)."""
    if not (SITE / "index.html").exists():
        pytest.fail("no built book in _build/html: run `make book` first", pytrace=False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(PagesHandler, directory=SITE))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}{PREFIX.rstrip('/')}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# Resolves once MathJax has typeset the page (or at once on a page without MathJax).
MATHJAX_DONE = """async () => {
    for (let i = 0; i < 400; i++) {
        if (!window.MathJax) return;
        if (MathJax.startup && MathJax.startup.promise) return await MathJax.startup.promise;
        await new Promise(resolve => setTimeout(resolve, 50));
    }
    throw new Error("MathJax never started");
}"""


@dataclass
class Visit:
    """One page loaded in the browser, with what went wrong while it loaded."""

    page: object
    errors: list[str] = field(default_factory=list)  # uncaught exceptions and console errors
    offsite: list[str] = field(default_factory=list)  # requests that tried to leave the machine
    failed: list[str] = field(default_factory=list)  # local requests answered with an error


def open_page(browser, site_url: str, path: str) -> Visit:
    """Load ``path`` with the network blocked; wait for MathJax and the widgets to finish."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    visit = Visit(page)

    def route(request_route):
        if request_route.request.url.startswith(site_url):
            request_route.continue_()
        else:
            visit.offsite.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    page.on("pageerror", lambda error: visit.errors.append(f"uncaught: {error}"))
    page.on("console", lambda msg: visit.errors.append(f"console.error: {msg.text}") if msg.type == "error" else None)
    page.on("response", lambda r: visit.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{site_url}/{path}", wait_until="networkidle")  # settles redirects (index.html) too
    page.evaluate(MATHJAX_DONE)
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if views:
        page.wait_for_function(f"document.querySelectorAll('.attnviz-explorer').length >= {views}", timeout=30_000)
    page.wait_for_load_state("networkidle")
    return visit


@pytest.fixture(scope="session")
def visit(browser, site_url):
    """visit(path): the page at ``path``, loaded once per session."""
    visits: dict[str, Visit] = {}

    def get(path: str) -> Visit:
        if path not in visits:
            visits[path] = open_page(browser, site_url, path)
        return visits[path]

    return get
