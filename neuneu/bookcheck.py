"""The last step of ``make book``: look at every chapter the way a reader would, in headless Chromium.

Each page of the built book (``_build/html``) is screenshotted to ``_build/screenshots/<page>.png``, and the build
fails when a page is blank (almost a single colour), when it shows an execution error (a Python traceback or a
papermill error in an output), or when its HTML says a figure or table is missing. Without Chromium
(``apt-get install chromium``) the screenshots are skipped with a message and only the HTML checks run, so the
book still builds on a machine without a browser.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from matplotlib import image as mpimg

from neuneu.paths import BUILD_DIR

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
ERROR_MARKERS = ("Traceback (most recent call last)", "PapermillExecutionError", "Error in cell")
SCREENSHOT_TIMEOUT_S = 120
# a paragraph that starts with a table row and holds a header separator: a Markdown table left unrendered
RAW_TABLE = re.compile(r"<p>\s*\|[^<]*\|\s*:?[-\u2013\u2014]{3,}")
BLANK_SHARE = 0.995  # a page whose most common colour covers more than this share of the pixels is blank


class BookCheckError(RuntimeError):
    """A chapter that a reader would see broken."""


def chromium() -> str | None:
    """The path of a Chromium binary, or None."""
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def pages(html_dir: Path) -> list[Path]:
    """The book's chapter pages (its index and every page under book/ and notebooks)."""
    found = sorted(html_dir.glob("book/**/*.html")) + [p for p in [html_dir / "index.html"] if p.is_file()]
    return [p for p in found if not p.name.startswith(("genindex", "search"))]


def html_problems(page: Path) -> list[str]:
    """What the page's HTML shows that a reader should not see."""
    text = page.read_text(errors="replace")
    found = [f"shows {marker!r}" for marker in ERROR_MARKERS if marker in text]
    if re.search(r"<img[^>]+src=\"\"", text):
        found.append("has an image without a source")
    if RAW_TABLE.search(text):
        found.append("shows a Markdown table as raw text (a paragraph of | cells |)")
    return found


def redirect_target(page: Path) -> Path | None:
    """Where ``page`` sends the reader when it is only a ``<meta http-equiv="Refresh">`` redirect (the book's root
    ``index.html``), else None. A redirect is not screenshotted (Chromium's headless screenshot of a page that
    navigates away never finishes); its target must exist and is checked as a page of its own."""
    match = re.search(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', page.read_text(errors="replace"),
                      flags=re.IGNORECASE)
    return (page.parent / match.group(1).split("#")[0]) if match else None


def screenshot(browser: str, page: Path, out: Path) -> Path:
    """A 1280×2400 screenshot of ``page`` in headless Chromium (no network, a fresh profile). Chromium can exit 0
    without writing the picture (a page that navigates away, a renderer that fails to start): that is an error."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        try:
            done = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                 f"--user-data-dir={profile}", "--window-size=1280,2400", f"--screenshot={out}",
                 page.resolve().as_uri()],
                capture_output=True, text=True, timeout=SCREENSHOT_TIMEOUT_S)
        except subprocess.TimeoutExpired as err:
            raise BookCheckError(f"{page}: Chromium took more than {SCREENSHOT_TIMEOUT_S} s to screenshot it") from err
    if not out.is_file():
        tail = "\n".join(line for line in done.stderr.splitlines() if "dbus" not in line)[-800:]
        raise BookCheckError(f"{page}: Chromium (exit status {done.returncode}) wrote no screenshot; its log ends:\n"
                             f"{tail}")
    return out


def is_blank(png: Path) -> bool:
    """Whether a screenshot is (almost) one colour."""
    pixels = mpimg.imread(png)[..., :3].reshape(-1, 3)
    _, counts = np.unique(np.round(pixels * 255).astype(np.uint8), axis=0, return_counts=True)
    return counts.max() / counts.sum() > BLANK_SHARE


def check(html_dir: Path, shots: Path) -> list[str]:
    """Every problem found in the built book (empty when it reads well); screenshots into ``shots``."""
    problems = []
    browser = chromium()
    if browser is None:
        print("bookcheck: no Chromium found (apt-get install chromium): screenshots skipped, HTML checked only")
    for page in pages(html_dir):
        name = page.relative_to(html_dir).with_suffix("").as_posix().replace("/", "__")
        target = redirect_target(page)
        if target is not None:
            if not target.is_file():
                problems.append(f"{page.relative_to(html_dir)}: redirects to {target.relative_to(html_dir)}, "
                                "which does not exist")
            continue
        problems += [f"{page.relative_to(html_dir)}: {p}" for p in html_problems(page)]
        if browser is not None:
            png = screenshot(browser, page, shots / f"{name}.png")
            if is_blank(png):
                problems.append(f"{page.relative_to(html_dir)}: the page renders blank ({png})")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m neuneu.bookcheck _build/html [--shots DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, nargs="?", default=BUILD_DIR / "html")
    parser.add_argument("--shots", type=Path, default=BUILD_DIR / "screenshots")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        print(f"bookcheck: {args.html} holds no built book (run make book)", file=sys.stderr)
        return 1
    problems = check(args.html, args.shots)
    for problem in problems:
        print(f"bookcheck: {problem}", file=sys.stderr)
    print(f"bookcheck: {len(pages(args.html))} pages checked, {len(problems)} problem(s); screenshots in {args.shots}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
