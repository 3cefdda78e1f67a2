"""The book's table of contents lists every notebook, in order, and nothing that cannot exist at build time.

The book renders papermill-executed copies of the notebooks: ``notebooks/<name>.py`` is executed into
``book/_executed/<name>.ipynb`` and the TOC lists ``book/_executed/<name>``. A notebook added to ``notebooks/`` but
not to ``book/_toc.yml`` would silently vanish from the book (``only_build_toc_files: true``), and a TOC entry with
no notebook behind it would break the build late, after every notebook has run. These tests catch both early.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TOC_PATH = REPO_ROOT / "book" / "_toc.yml"
EXECUTED_PREFIX = "book/_executed/"


def toc_entries(toc: dict[str, Any]) -> list[str]:
    """Every document of a jb-book TOC in reading order: the root, then each ``file:`` of parts/chapters/sections."""

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if "file" in node:
                yield str(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    yield from walk(child)
        elif isinstance(node, list):
            for child in node:
                yield from walk(child)

    return [str(toc["root"]), *walk(toc)]


def toc_problems(entries: list[str], repo_root: Path) -> list[str]:
    """Human-readable problems of a TOC against the files in ``repo_root``; empty when the TOC is right.

    Rules: notebook entries are ``book/_executed/<stem>`` and their stems equal the sorted stems of
    ``notebooks/*.py`` (same set, same order); every other entry is ``book/<name>`` with ``book/<name>.md``
    present; no entry appears twice.
    """
    problems: list[str] = []
    seen: set[str] = set()
    for entry in entries:
        if entry in seen:
            problems.append(f"{entry} is listed twice in the TOC")
        seen.add(entry)
        if entry.startswith(EXECUTED_PREFIX):
            continue
        if not (entry.startswith("book/") and (repo_root / f"{entry}.md").is_file()):
            problems.append(f"{entry} is neither book/<page>.md nor {EXECUTED_PREFIX}<notebook>")

    listed = [e.removeprefix(EXECUTED_PREFIX) for e in entries if e.startswith(EXECUTED_PREFIX)]
    on_disk = sorted(p.stem for p in (repo_root / "notebooks").glob("*.py"))
    for stem in sorted(set(on_disk) - set(listed)):
        problems.append(f"notebooks/{stem}.py is not listed in the TOC as {EXECUTED_PREFIX}{stem}")
    for stem in sorted(set(listed) - set(on_disk)):
        problems.append(f"{EXECUTED_PREFIX}{stem} is listed in the TOC but notebooks/{stem}.py does not exist")
    common_listed = [s for s in listed if s in set(on_disk)]
    if common_listed != sorted(common_listed):
        problems.append(f"notebooks are not listed in sorted order: {common_listed}")
    return problems


@pytest.fixture(scope="module")
def entries() -> list[str]:
    return toc_entries(yaml.safe_load(TOC_PATH.read_text(encoding="utf-8")))


def test_toc_is_a_jupyter_book_1_toc() -> None:
    toc = yaml.safe_load(TOC_PATH.read_text(encoding="utf-8"))
    assert toc["format"] == "jb-book"
    assert toc["root"] == "book/intro"


def test_toc_matches_notebooks_and_pages(entries: list[str]) -> None:
    problems = toc_problems(entries, REPO_ROOT)
    assert not problems, "book/_toc.yml is out of date:\n" + "\n".join(problems)


def test_toc_keeps_method_first_and_reproducibility_last(entries: list[str]) -> None:
    assert entries[:2] == ["book/intro", "book/method"]
    assert entries[-1] == "book/reproducibility"


# The checker itself must be able to fail: a fake repository with a missing, an extra and a misordered notebook.


def _fake_repo(tmp_path: Path, notebooks: list[str], pages: list[str]) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    for stem in notebooks:
        (tmp_path / "notebooks" / f"{stem}.py").write_text("# %%\n", encoding="utf-8")
    for page in pages:
        (tmp_path / "book" / f"{page}.md").write_text("# page\n", encoding="utf-8")
    return tmp_path


def test_checker_accepts_a_correct_toc(tmp_path: Path) -> None:
    repo = _fake_repo(tmp_path, ["01_a", "02_b"], ["intro"])
    assert toc_problems(["book/intro", "book/_executed/01_a", "book/_executed/02_b"], repo) == []


def test_checker_reports_unlisted_notebook(tmp_path: Path) -> None:
    repo = _fake_repo(tmp_path, ["01_a", "02_b"], ["intro"])
    problems = toc_problems(["book/intro", "book/_executed/01_a"], repo)
    assert problems == ["notebooks/02_b.py is not listed in the TOC as book/_executed/02_b"]


def test_checker_reports_listed_notebook_without_source(tmp_path: Path) -> None:
    repo = _fake_repo(tmp_path, ["01_a"], ["intro"])
    problems = toc_problems(["book/intro", "book/_executed/01_a", "book/_executed/09_ghost"], repo)
    assert problems == ["book/_executed/09_ghost is listed in the TOC but notebooks/09_ghost.py does not exist"]


def test_checker_reports_order_missing_page_and_duplicate(tmp_path: Path) -> None:
    repo = _fake_repo(tmp_path, ["01_a", "02_b"], ["intro"])
    entries = ["book/intro", "book/_executed/02_b", "book/_executed/01_a", "book/nowhere", "book/intro"]
    problems = toc_problems(entries, repo)
    assert "notebooks are not listed in sorted order: ['02_b', '01_a']" in problems
    assert "book/nowhere is neither book/<page>.md nor book/_executed/<notebook>" in problems
    assert "book/intro is listed twice in the TOC" in problems


def test_toc_entries_walks_parts_in_order() -> None:
    toc = {
        "root": "book/intro",
        "parts": [
            {"caption": "x", "chapters": [{"file": "book/a", "sections": [{"file": "book/a1"}]}]},
            {"caption": "y", "chapters": [{"file": "book/b"}]},
        ],
    }
    assert toc_entries(toc) == ["book/intro", "book/a", "book/a1", "book/b"]
