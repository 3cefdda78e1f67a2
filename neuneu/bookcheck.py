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
    return found


def screenshot(browser: str, page: Path, out: Path) -> Path:
    """A 1280×2400 screenshot of ``page`` in headless Chromium (no network, a fresh profile)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                        f"--user-data-dir={profile}", "--window-size=1280,2400", f"--screenshot={out}",
                        page.resolve().as_uri()], check=True, capture_output=True, timeout=120)
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
