"""Execute the book's notebooks with papermill under one profile.

The notebooks are jupytext py:percent files (the only tracked source). Each is read with jupytext and executed
through papermill's Python API (papermill cannot read ``.py`` itself), with the ``PROFILE`` parameter injected,
into ``<out>/<name>.ipynb``. A notebook is re-executed only when it, the package, the committed outputs it reads
(weights, the mini-ladder, the cited paper numbers) or the profile changed, so ``make book`` and ``make test`` are
incremental. Independent chapters run side by side (``--jobs``; each kernel is its own process), and the run ends
with the wall time of every notebook. A failing notebook makes the run exit non-zero.

Papermill's injected parameters cell and the notebook's own parameters cell are tagged ``remove-cell`` in the
executed copy, so the book shows neither (the chapters say which profile they ran with).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jupytext
import nbformat
import papermill

from neuneu import atomic
from neuneu.paths import REPO_ROOT
from neuneu.profiles import check_profile

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
# One thread per kernel: notebooks run side by side (--jobs), and two kernels that each spin two torch threads on a
# 2-core machine ran chapter 7 seven times slower than alone; it also fixes the thread count nbval reruns with.
QUIET_ENV = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_OFFLINE": "1",
             "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
             "MKL_NUM_THREADS": "1"}


def notebook_sources(names: list[str] | None = None) -> list[Path]:
    """The py:percent notebooks in order; ``names`` selects some by stem (e.g. ``01_data``)."""
    found = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
    if not names:
        return found
    by_stem = {p.stem: p for p in found}
    missing = [n for n in names if n not in by_stem]
    if missing:
        raise FileNotFoundError(f"no notebook named {', '.join(missing)} in {NOTEBOOK_DIR}")
    return [by_stem[n] for n in names]


def _inputs(source: Path) -> list[Path]:
    """Every file an executed notebook depends on: itself, the package, and the committed outputs it reads."""
    data = REPO_ROOT / "data"
    committed = [*sorted(data.glob("weights/**/config.json")), *sorted(data.glob("miniladder/*")),
                 *sorted(data.glob("*.toml"))]
    return [source, *sorted((REPO_ROOT / "neuneu").rglob("*.py")), *(p for p in committed if p.is_file())]


def _fingerprint(source: Path, profile: str) -> str:
    """Hash of everything the executed output depends on (:func:`_inputs`) and the profile."""
    digest = hashlib.sha256(profile.encode())
    for path in _inputs(source):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def hide_parameters(path: Path) -> None:
    """Tag the parameters cells of an executed notebook ``remove-cell`` (papermill's injected one and the
    notebook's own), in place and atomically."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
    atomic.atomic_write(path, lambda tmp: nbformat.write(nb, str(tmp)))


def execute(source: Path, out_dir: Path, profile: str, *, force: bool = False) -> Path:
    """Run one notebook under ``profile`` into ``out_dir/<stem>.ipynb`` (atomically); skip when up to date."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{source.stem}.ipynb"
    stamp = out_dir / f".{source.stem}.fingerprint"
    fingerprint = _fingerprint(source, profile)
    if not force and target.is_file() and stamp.is_file() and stamp.read_text() == fingerprint:
        print(f"  {source.stem}: up to date")
        return target
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    os.environ.update(QUIET_ENV)
    with atomic.replacing(target) as tmp:
        papermill.execute_notebook(nb, str(tmp), parameters={"PROFILE": profile}, kernel_name="python3",
                                   cwd=str(REPO_ROOT), progress_bar=False)
        hide_parameters(tmp)
    atomic.write_text(stamp, fingerprint)
    print(f"  {source.stem}: executed")
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m neuneu.runbook --profile smoke --out _build/nb-smoke [names...]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook stems (default: all)")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--force", action="store_true", help="re-execute even when up to date")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks executed side by side (one kernel each)")
    args = parser.parse_args(argv)
    profile = check_profile(args.profile)
    sources = notebook_sources(args.names)
    print(f"executing {len(sources)} notebook(s) under PROFILE={profile} into {args.out} ({args.jobs} at a time)")
    started = time.perf_counter()

    def run(source: Path) -> tuple[str, float, str | None]:
        start = time.perf_counter()
        try:
            execute(source, args.out, profile, force=args.force)
            return source.stem, time.perf_counter() - start, None
        except Exception as exc:  # papermill's PapermillExecutionError carries the cell and traceback
            return source.stem, time.perf_counter() - start, str(exc)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(pool.map(run, sources))
    print(f"notebook wall times (PROFILE={profile}, {args.jobs} at a time):")
    for stem, seconds, error in outcomes:
        print(f"  {stem:22s} {seconds:7.1f} s{'  FAILED' if error else ''}")
    print(f"  {'total':22s} {time.perf_counter() - started:7.1f} s")
    failed = [(stem, error) for stem, _, error in outcomes if error]
    for stem, error in failed:
        print(f"notebook {stem} failed under PROFILE={profile}:\n{error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
