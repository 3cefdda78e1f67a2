"""The book check: error markers and blank pages are caught; without Chromium only the HTML is checked."""

from __future__ import annotations

import re
import subprocess
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


def test_a_redirect_page_is_not_screenshotted_but_its_target_must_exist(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(bookcheck, "chromium", lambda: "/no/chromium")  # any screenshot attempt would fail
    monkeypatch.setattr(bookcheck, "screenshot", lambda *a: pytest.fail("a redirect was screenshotted"))
    html = book(tmp_path, "<p>results</p>")
    (html / "book" / "06_results.html").unlink()
    (html / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/06_results.html" />')
    assert bookcheck.redirect_target(html / "index.html") == html / "book" / "06_results.html"
    assert bookcheck.check(html, tmp_path / "shots") == [
        "index.html: redirects to book/06_results.html, which does not exist"]


def test_chromium_that_writes_no_picture_is_a_named_error(tmp_path: Path, monkeypatch) -> None:
    html = book(tmp_path, "<p>results</p>")
    monkeypatch.setattr(bookcheck.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a[0], 0, "", "[1:1:ERROR:dbus/bus.cc] no bus\n[1:1:ERROR:zygote_communication_linux.cc] Failed to send"))
    page = html / "book" / "06_results.html"
    with pytest.raises(bookcheck.BookCheckError, match=rf"^{re.escape(str(page))}: Chromium \(exit status 0\) wrote "
                                                        r"no screenshot; its log ends:\n\[1:1:ERROR:zygote"):
        bookcheck.screenshot("chromium", page, tmp_path / "s.png")


def test_a_markdown_table_left_as_raw_text_is_a_problem(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(bookcheck, "chromium", lambda: None)
    raw = book(tmp_path, "<p>| method | mae |\n|:\u2014\u2014\u2014|\u2014\u2014:|\n"
                         "| neuneu | <strong>1.60</strong> |</p>")
    assert bookcheck.check(raw, tmp_path / "shots") == [
        "book/06_results.html: shows a Markdown table as raw text (a paragraph of | cells |)"]
    rendered = book(tmp_path / "ok", "<table><tr><td>neuneu</td></tr></table><p>| a lone pipe is fine</p>")
    assert bookcheck.check(rendered, tmp_path / "shots") == []
