"""The book check: error markers and blank pages are caught; without Chromium only the HTML is checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from neuneu import bookcheck


def book(tmp_path: Path, body: str) -> Path:
    (tmp_path / "book").mkdir(parents=True)
    (tmp_path / "index.html").write_text("<html><body><h1>NeuNeu</h1></body></html>")
    (tmp_path / "book" / "06_results.html").write_text(f"<html><body>{body}</body></html>")
    return tmp_path


def test_html_problems_name_tracebacks_and_empty_images(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(bookcheck, "chromium", lambda: None)
    html = book(tmp_path, '<pre>Traceback (most recent call last)</pre><img src="">')
    assert bookcheck.check(html, tmp_path / "shots") == [
        "book/06_results.html: shows 'Traceback (most recent call last)'",
        "book/06_results.html: has an image without a source"]
    clean = book(tmp_path / "clean", "<p>results</p>")
    assert bookcheck.check(clean, tmp_path / "shots") == []


def test_blank_screenshots_are_detected(tmp_path: Path) -> None:
    blank = np.ones((40, 40, 3))
    mpimg.imsave(tmp_path / "blank.png", blank)
    page = blank.copy()
    page[5:30, 5:35] = np.random.default_rng(0).random((25, 30, 3))
    mpimg.imsave(tmp_path / "page.png", page)
    assert bookcheck.is_blank(tmp_path / "blank.png") and not bookcheck.is_blank(tmp_path / "page.png")


@pytest.mark.skipif(bookcheck.chromium() is None, reason="Chromium is not installed (apt-get install chromium)")
def test_a_real_page_is_screenshotted_and_not_blank(tmp_path: Path) -> None:
    html = book(tmp_path, "<h1>Results</h1>" + "<p>MAE 1.23 ± 0.05</p>" * 30)
    png = bookcheck.screenshot(bookcheck.chromium(), html / "book" / "06_results.html", tmp_path / "s.png")
    assert png.is_file() and not bookcheck.is_blank(png)
