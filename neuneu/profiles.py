"""Run profiles. Every notebook has a papermill parameter ``PROFILE``; every module that has sizes to choose keeps a
frozen config dataclass with one entry per profile here-named, so one word decides every size:

* ``smoke`` — seconds per notebook; CI and ``make test``.
* ``cpu``   — the default for ``make book``: real results on a 2-core laptop.
* ``full``  — paper-scale on one GPU (H100-class).
"""

from __future__ import annotations

import os

PROFILE_NAMES: tuple[str, ...] = ("smoke", "cpu", "full")


class ProfileError(ValueError):
    """An unknown profile name."""


def check_profile(name: str) -> str:
    """Return ``name`` if it is a known profile, else raise :class:`ProfileError` listing the valid ones."""
    if name not in PROFILE_NAMES:
        raise ProfileError(f"unknown profile {name!r}; expected one of {', '.join(PROFILE_NAMES)}")
    return name


def show_progress(requested: bool = True) -> bool:
    """Whether to draw a progress bar: as requested, unless ``TQDM_DISABLE=1`` is set (the notebook runner sets
    it, because strict nbval compares stderr and a progress bar's timings differ on every run)."""
    return requested and os.environ.get("TQDM_DISABLE", "").lower() not in ("1", "true", "yes")
