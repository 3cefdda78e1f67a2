"""The HTML book works without a network: no page loads a script, stylesheet or image from another host.

The only external resource Jupyter Book 1.x adds by default is MathJax from a CDN. We vendor MathJax 3 under
``book/_static/mathjax`` and point ``mathjax_path`` at it. The static tests check that wiring; the build tests read
``_build/html`` when a book has been built (``make book``) and are skipped otherwise.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = REPO_ROOT / "_config.yml"
HTML_DIR = REPO_ROOT / "_build" / "html"
VENDORED_SCRIPT = "mathjax/tex-mml-chtml.js"

EXTERNAL_URL = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
CSS_EXTERNAL_URL = re.compile(r"""(?:@import\s+|url\(\s*)['"]?(?:https?:)?//""", re.IGNORECASE)
LOADING_LINK_RELS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut icon", "manifest"}


class _ResourceCollector(HTMLParser):
    """Collects the URLs an HTML page makes the browser *load* (not the ones it merely links to)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag in ("script", "img", "iframe", "audio", "video", "source", "embed") and attr.get("src"):
            self.loaded.append(attr["src"])
        elif tag == "link" and attr.get("rel", "").lower() in LOADING_LINK_RELS and attr.get("href"):
            self.loaded.append(attr["href"])


def loaded_resources(html: str) -> list[str]:
    """URLs of scripts, stylesheets, images and frames that ``html`` loads."""
    collector = _ResourceCollector()
    collector.feed(html)
    return collector.loaded


def external_resources(html: str) -> list[str]:
    """The loaded URLs of ``html`` that point to another host (http://, https:// or protocol-relative //)."""
    return [url for url in loaded_resources(html) if EXTERNAL_URL.match(url)]


def _is_vendored_mathjax(url: str) -> bool:
    """Whether a script URL is our MathJax copy; Sphinx appends a ``?v=<hash>`` cache-buster to it."""
    return url.split("?", 1)[0].endswith("_static/" + VENDORED_SCRIPT)


def _sphinx_config() -> dict:
    return yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))["sphinx"]["config"]


# --- static wiring: no build needed --------------------------------------------------------------------------


def test_mathjax_path_points_at_the_vendored_copy() -> None:
    config = _sphinx_config()
    assert config["mathjax_path"] == VENDORED_SCRIPT
    static_dirs = [REPO_ROOT / d for d in config["html_static_path"]]
    assert any((d / VENDORED_SCRIPT).is_file() for d in static_dirs), f"{VENDORED_SCRIPT} not in {static_dirs}"


def test_vendored_mathjax_has_fonts_and_license() -> None:
    mathjax = REPO_ROOT / "book" / "_static" / "mathjax"
    fonts = sorted((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert len(fonts) >= 20, f"expected the CHTML woff-v2 fonts next to the script, found {len(fonts)}"
    assert "Apache License" in (mathjax / "LICENSE").read_text(encoding="utf-8")


def test_widget_cdn_scripts_are_disabled() -> None:
    # myst-nb's default puts require.js and the widget manager from CDNs on pages with widget state.
    assert _sphinx_config()["nb_ipywidgets_js"] == {}


def test_checker_finds_external_scripts_and_styles() -> None:
    html = (
        '<script src="_static/a.js"></script><script src="https://cdn.example/x.js"></script>'
        '<link rel="stylesheet" href="//fonts.example/f.css"><a href="https://arxiv.org/abs/1">paper</a>'
        '<img src="http://img.example/p.png">'
    )
    assert external_resources(html) == [
        "https://cdn.example/x.js",
        "//fonts.example/f.css",
        "http://img.example/p.png",
    ]


# --- the built book ------------------------------------------------------------------------------------------

needs_build = pytest.mark.skipif(not HTML_DIR.is_dir(), reason="no built book at _build/html (run `make book`)")


@needs_build
def test_built_pages_load_nothing_external() -> None:
    pages = sorted(HTML_DIR.rglob("*.html"))
    assert pages, "_build/html contains no pages"
    offenders = {
        str(p.relative_to(HTML_DIR)): ext for p in pages if (ext := external_resources(p.read_text(encoding="utf-8")))
    }
    assert not offenders, f"pages loading external resources: {offenders}"


@needs_build
def test_built_stylesheets_import_nothing_external() -> None:
    offenders = [
        str(css.relative_to(HTML_DIR))
        for css in HTML_DIR.rglob("*.css")
        if CSS_EXTERNAL_URL.search(css.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not offenders, f"stylesheets importing external URLs: {offenders}"


@needs_build
def test_math_pages_use_the_vendored_mathjax() -> None:
    assert (HTML_DIR / "_static" / VENDORED_SCRIPT).is_file()
    math_pages = [p for p in HTML_DIR.rglob("*.html") if 'class="math' in p.read_text(encoding="utf-8")]
    if not math_pages:
        pytest.skip("no page of the built book contains math")
    missing = [
        str(p.relative_to(HTML_DIR))
        for p in math_pages
        if not any(_is_vendored_mathjax(url) for url in loaded_resources(p.read_text(encoding="utf-8")))
    ]
    assert not missing, f"math pages without the vendored MathJax script: {missing}"
