"""Execute the book's notebooks with papermill under one profile.

The notebooks are jupytext py:percent files (the only tracked source). Each is read with jupytext and executed
through papermill's Python API (papermill cannot read ``.py`` itself), with the ``PROFILE`` parameter injected,
into ``<out>/<name>.ipynb``. A notebook is re-executed only when it, the package, or the profile changed, so
``make book`` and ``make test`` are incremental. The first failing notebook stops the run with a non-zero exit.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

from neuneu import atomic
from neuneu.paths import REPO_ROOT
from neuneu.profiles import check_profile

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
QUIET_ENV = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_OFFLINE": "1",
              "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONHASHSEED": "0"}


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


def _fingerprint(source: Path, profile: str) -> str:
    """Hash of the notebook, every package module and the profile: what the executed output depends on."""
    digest = hashlib.sha256(profile.encode())
    for path in [source, *sorted((REPO_ROOT / "neuneu").rglob("*.py"))]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def execute(source: Path, out_dir: Path, profile: str, *, force: bool = False) -> Path:
    """Run one notebook under ``profile`` into ``out_dir/<stem>.ipynb`` (atomically); skip when up to date."""
    import jupytext
    import papermill

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
    args = parser.parse_args(argv)
    profile = check_profile(args.profile)
    sources = notebook_sources(args.names)
    print(f"executing {len(sources)} notebook(s) under PROFILE={profile} into {args.out}")
    for source in sources:
        try:
            execute(source, args.out, profile, force=args.force)
        except Exception as exc:  # papermill's PapermillExecutionError carries the cell and traceback
            print(f"notebook {source.name} failed under PROFILE={profile}:\n{exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
