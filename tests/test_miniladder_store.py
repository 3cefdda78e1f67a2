"""neuneu.collect.store: the mini-ladder tables are checked against their schema when read (tiny fixtures)."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuneu.collect.store import (
    ACCURACY_COLUMNS,
    MiniLadderColumnError,
    MiniLadderValueError,
    load_miniladder,
    to_series,
)

STEPS = (10, 20, 40, 80, 160)


def tiny_miniladder(root: Path) -> Path:
    """A one-run, two-task mini-ladder directory in the committed format."""
    root.mkdir(parents=True, exist_ok=True)
    n = 250_000
    acc = pd.DataFrame([
        {"source": "miniladder", "family": "miniladder", "run": "xs-prose-s0", "size_params": n, "recipe": "prose",
         "seed": 0, "compute_multiplier": np.nan, "step": s, "tokens": s * 2048, "flops": 6.0 * n * s * 2048,
         "task": task, "metric": "acc", "value": 0.5 + 0.01 * i + (0.1 if task == "blimp_b" else 0.0)}
        for i, s in enumerate(STEPS) for task in ("blimp_a", "blimp_b")])
    losses = pd.DataFrame([{"run": "xs-prose-s0", "step": s, "tokens": s * 2048, "flops": 6.0 * n * s * 2048,
                            "loss_name": "mean", "value": 7.0 - 0.3 * i} for i, s in enumerate(STEPS)])
    acc.to_csv(root / "accuracy.csv", index=False)
    losses.to_csv(root / "losses.csv", index=False)
    np.savez(root / "features.npz", run=np.array(["xs-prose-s0"] * len(STEPS)), step=np.array(STEPS),
             hist=np.full((len(STEPS), 4), 0.25, np.float32), sample=np.ones((len(STEPS), 3), np.float32),
             sample_index=np.arange(3))
    return root


def _edit(path: Path, fn) -> None:
    frame = pd.read_csv(path)
    fn(frame)
    frame.to_csv(path, index=False)


def test_committed_miniladder_passes_the_checks():
    acc, losses, _ = load_miniladder()
    assert len(acc) > 0 and len(losses) > 0


def test_tiny_miniladder_reads(tmp_path):
    series = to_series(tiny_miniladder(tmp_path / "ml"))
    assert [s.key for s in series] == [("xs-prose-s0", "blimp_a"), ("xs-prose-s0", "blimp_b")]
    assert series[0].steps.tolist() == list(STEPS) and series[0].losses["hist"].shape == (5, 4)


def test_error_missing_column(tmp_path):
    root = tiny_miniladder(tmp_path / "ml")
    _edit(root / "accuracy.csv", lambda f: f.drop(columns=["tokens"], inplace=True))
    path = re.escape(str(root / "accuracy.csv"))
    with pytest.raises(MiniLadderColumnError, match=rf"^{path}: missing column 'tokens'; a mini-ladder accuracy.csv "
                                                    rf"has the columns {', '.join(ACCURACY_COLUMNS)}$"):
        load_miniladder(root)
    root = tiny_miniladder(tmp_path / "ml2")
    _edit(root / "losses.csv", lambda f: f.drop(columns=["loss_name"], inplace=True))
    path = re.escape(str(root / "losses.csv"))
    with pytest.raises(MiniLadderColumnError, match=rf"^{path}: missing column 'loss_name'; a mini-ladder losses.csv "
                                                    rf"has the columns run, step, tokens, flops, loss_name, value$"):
        load_miniladder(root)


def test_error_negative_step(tmp_path):
    root = tiny_miniladder(tmp_path / "ml")
    _edit(root / "accuracy.csv", lambda f: f.loc.__setitem__((3, "step"), -20))
    path = re.escape(str(root / "accuracy.csv"))
    with pytest.raises(MiniLadderValueError, match=rf"^{path} line 5: negative step -20 \(run 'xs-prose-s0'\)$"):
        load_miniladder(root)


def test_error_nan_tokens_rejected_not_dropped(tmp_path):
    root = tiny_miniladder(tmp_path / "ml")
    _edit(root / "losses.csv", lambda f: f.loc.__setitem__((2, "tokens"), np.nan))
    path = re.escape(str(root / "losses.csv"))
    with pytest.raises(MiniLadderValueError, match=rf"^{path} line 4: tokens is empty or NaN \(run 'xs-prose-s0'\); "
                                                   rf"every checkpoint needs a tokens value$"):
        load_miniladder(root)


def test_error_non_numeric_flops(tmp_path):
    root = tiny_miniladder(tmp_path / "ml")

    def lots(frame: pd.DataFrame) -> None:
        frame["flops"] = frame["flops"].astype(object)
        frame.loc[0, "flops"] = "lots"

    _edit(root / "accuracy.csv", lots)
    path = re.escape(str(root / "accuracy.csv"))
    with pytest.raises(MiniLadderValueError, match=rf"^{path} line 2: flops 'lots' is not a number$"):
        load_miniladder(root)
