"""Where things live. Everything is relative to the repository root so a fresh clone works from any CWD."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
CACHE_DIR = Path(os.environ.get("NEUNEU_CACHE", DATA_DIR / "cache"))
RAW_DIR = CACHE_DIR / "raw"
BUILD_DIR = REPO_ROOT / "_build"
