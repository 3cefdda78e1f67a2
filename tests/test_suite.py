"""neuneu.suite: a user's long-format table → Series, every bad input named with its row, and the way back."""

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuneu import suite
from neuneu.collect import to_series as miniladder_series
from neuneu.contract import Series

STEPS = (10, 20, 30, 40, 50)


def _rows(run="r1", task="piqa", steps=STEPS, extra=lambda s: []):
    """Rows of one (run, task): accuracy rises with the step, tokens = 1000 × step."""
    return [[run, task, s, round(0.3 + s / 1000, 6), s * 1000, *extra(s)] for s in steps]


def _write(path: Path, header, rows) -> Path:
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


H = ["run", "task", "step", "accuracy", "tokens"]


# ----------------------------------------------------------------------------------------------- reading
def test_reads_tokens_params_and_domain_losses(tmp_path):
    header = H + ["params", "loss_web", "loss_code", "family", "recipe", "seed"]
    rows = _rows(steps=(0, *STEPS), extra=lambda s: [1e6, 3 - s / 100, 4 - s / 100, "mine", "web-only", 7])
    (s,) = suite.read_suite(_write(tmp_path / "suite.csv", header, rows))
    assert s.key == ("r1", "piqa") and s.steps.tolist() == list(STEPS)  # step 0 dropped
    assert np.allclose(s.values, [0.31, 0.32, 0.33, 0.34, 0.35]) and s.tokens.tolist() == [1e4, 2e4, 3e4, 4e4, 5e4]
    assert np.allclose(s.flops, 6 * 1e6 * s.tokens)
    assert s.losses["vector"].shape == (5, 2) and np.allclose(s.losses["mean"], s.losses["vector"].mean(axis=1))
    assert s.meta == {"source": "user", "family": "mine", "size_params": 1e6, "recipe": "web-only", "seed": "7",
                      "compute_multiplier": s.meta["compute_multiplier"], "loss_kind": "user", "tokens_from": "tokens",
                      "flops_from": "6ND", "loss_names": ("web", "code")}
    assert np.isnan(s.meta["compute_multiplier"])


def test_loss_column_is_the_mean_when_given(tmp_path):
    header = H + ["loss", "loss_web", "loss_code"]
    (s,) = suite.read_suite(_write(tmp_path / "s.csv", header, _rows(extra=lambda s: [9.0, 3.0, 4.0])))
    assert s.losses["mean"].tolist() == [9.0] * 5 and s.losses["vector"].tolist() == [[3.0, 4.0]] * 5


def test_without_tokens_the_compute_axis_is_steps(tmp_path):
    rows = [r[:4] for r in _rows()]
    (s,) = suite.read_suite(_write(tmp_path / "s.csv", H[:4], rows))
    assert s.tokens.tolist() == [float(x) for x in STEPS] and np.isnan(s.flops).all()
    assert (s.meta["tokens_from"], s.meta["flops_from"], s.meta["loss_kind"]) == ("steps", "unknown", "none")
    assert s.losses == {} and s.meta["family"] == "user" and s.meta["recipe"] == "default"


def test_tokens_per_step(tmp_path):
    rows = [r[:4] + [2048, 5e5, 3.0] for r in _rows()]
    (s,) = suite.read_suite(_write(tmp_path / "s.csv", H[:4] + ["tokens_per_step", "params", "loss"], rows))
    assert s.tokens.tolist() == [x * 2048.0 for x in STEPS] and np.allclose(s.flops, 6 * 5e5 * s.tokens)
    assert s.meta["tokens_from"] == "tokens_per_step" and s.losses["mean"].tolist() == [3.0] * 5


def test_interleaved_runs_and_exact_duplicates(tmp_path):
    a, b = _rows("a"), _rows("b", "arc")
    rows = [r for pair in zip(a, b) for r in pair] + [a[2]]  # interleaved, and one row repeated exactly
    series = suite.read_suite(_write(tmp_path / "s.csv", H, rows))
    assert [s.key for s in series] == [("a", "piqa"), ("b", "arc")] and all(len(s) == 5 for s in series)


def test_parquet_is_read_and_rows_are_numbered(tmp_path):
    frame = pd.DataFrame(_rows(), columns=H)
    frame.to_parquet(tmp_path / "s.parquet")
    (s,) = suite.read_suite(tmp_path / "s.parquet")
    assert s.steps.tolist() == list(STEPS) and s.tokens.dtype == np.float64
    frame.loc[2, "accuracy"] = np.nan
    frame.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(suite.MissingAccuracyError, match=r"^bad\.parquet data row 3: accuracy is empty or NaN; "):
        suite.read_suite(tmp_path / "bad.parquet")


# ----------------------------------------------------------------------------------------------- bad inputs
def _replace(rows, i, col, value):
    rows = [list(r) for r in rows]
    rows[i][H.index(col)] = value
    return rows


G = _rows()
BAD = [
    ("missing column", H[:3], [r[:3] for r in G], suite.MissingColumnError,
     "s.csv: missing column 'accuracy'; a suite needs the columns run, task, step, accuracy (found: run, task, step)"),
    ("unknown column", H[:4] + ["tokns"], G, suite.UnknownColumnError,
     ("s.csv: unknown column 'tokns'; the columns of a suite are run, task, step, accuracy (required) and tokens, "
      "tokens_per_step, flops, params, loss, loss_<name>, family, recipe, seed (optional): rename or remove it")),
    ("non-numeric cell", H, _replace(G, 2, "accuracy", "abc"), suite.NonNumericError,
     "s.csv line 4 (data row 3): accuracy is 'abc', not a finite number; write a plain number (e.g. 0.25, 1e9)"),
    ("infinite cell", H, _replace(G, 2, "tokens", "inf"), suite.NonNumericError,
     "s.csv line 4 (data row 3): tokens is 'inf', not a finite number; write a plain number (e.g. 0.25, 1e9)"),
    ("fractional step", H, _replace(G, 2, "step", 30.5), suite.NonNumericError,
     "s.csv line 4 (data row 3): step 30.5 is not a whole number; steps count optimizer updates"),
    ("percent accuracy", H, _replace(G, 1, "accuracy", 45.5), suite.PercentAccuracyError,
     ("s.csv line 3 (data row 2): accuracy 45.5 is above 1 and looks like a percentage; accuracies are fractions "
      "in [0, 1] — divide the column by 100")),
    ("negative accuracy", H, _replace(G, 1, "accuracy", -0.1), suite.AccuracyRangeError,
     "s.csv line 3 (data row 2): accuracy -0.1 is outside [0, 1]; accuracies are fractions of correct answers"),
    ("empty accuracy", H, _replace(G, 3, "accuracy", ""), suite.MissingAccuracyError,
     ("s.csv line 5 (data row 4): accuracy is empty or NaN; every row needs an accuracy — remove the row if that "
      "checkpoint was not evaluated")),
    ("NaN accuracy", H, _replace(G, 3, "accuracy", "NaN"), suite.MissingAccuracyError,
     ("s.csv line 5 (data row 4): accuracy is empty or NaN; every row needs an accuracy — remove the row if that "
      "checkpoint was not evaluated")),
    ("conflicting duplicate step", H, G + [_replace(G, 4, "accuracy", 0.9)[4]], suite.ConflictingStepsError,
     ("s.csv: run 'r1', task 'piqa', step 50 appears twice with different accuracy: 0.35 (line 6) and 0.9 (line 7); "
      "keep one row per checkpoint, or give the rows different run names if they are two runs")),
    ("too few checkpoints", H, G[:3], suite.TooFewCheckpointsError,
     ("s.csv: run 'r1', task 'piqa' has 3 checkpoints after dropping step 0; need at least 5 — add checkpoints or "
      "remove this (run, task)")),
    ("step goes backwards", H, G[:2] + [G[4]] + G[2:4], suite.StepOrderError,
     ("s.csv line 5 (data row 4): run 'r1', task 'piqa': step 30 comes after step 50 (line 4); the rows of one "
      "(run, task) must be in increasing step order. A step going backwards usually means two runs share one run "
      "name (give each its own run, e.g. with the seed in it); sort the rows by step only if they really are one run")),
    ("tokens go backwards", H, _replace(G, 2, "tokens", 100), suite.StepOrderError,
     ("s.csv line 4 (data row 3): run 'r1', task 'piqa': tokens go down from 20000 at step 20 (line 3) to 100 at "
      "step 30; the token count is cumulative, so it cannot decrease as the step grows")),
    ("negative step", H, [["r1", "piqa", -10, 0.3, 0]] + G, suite.NegativeValueError,
     "s.csv line 2 (data row 1): step -10 is negative; steps count optimizer updates from 0"),
    ("negative tokens", H, _replace(G, 0, "tokens", -5), suite.NegativeValueError,
     "s.csv line 2 (data row 1): tokens -5 is negative"),
    ("NaN tokens", H, _replace(G, 2, "tokens", ""), suite.MissingTokensError,
     ("s.csv line 4 (data row 3): tokens is empty or NaN; every row needs a token count when the tokens column is "
      "present — fill it in, or remove the column to use steps as the compute axis")),
    ("empty loss cell", H + ["loss"], [r + [3.0 if i != 1 else ""] for i, r in enumerate(G)], suite.MissingValueError,
     ("s.csv line 3 (data row 2): loss is empty or NaN; every row needs a loss when the column is present — fill it "
      "in or remove the column")),
    ("empty run", H, _replace(G, 2, "run", ""), suite.MissingValueError,
     "s.csv line 4 (data row 3): run is empty; every row needs a run"),
    ("params differ within a run", H + ["params"], [r + [1e6 if i < 3 else 2e6] for i, r in enumerate(G)],
     suite.InconsistentRunError,
     ("s.csv: run 'r1': params is 1000000 (line 2) but 2000000 (line 5); a run has one params — if these are "
      "different runs, give them different run names")),
    ("loss differs between tasks of one checkpoint", H + ["loss"],
     [r + [3.0] for r in G] + [r + [3.1 if i == 0 else 3.0] for i, r in enumerate(_rows(task="arc"))],
     suite.InconsistentRunError,
     ("s.csv: run 'r1', step 10: loss is 3 for task 'piqa' (line 2) but 3.1 for task 'arc' (line 7); loss belongs "
      "to the checkpoint, so every task of one checkpoint must have the same value")),
    ("ragged row", H, G[:2] + [G[2][:4]] + G[3:], suite.SuiteFormatError,
     ("s.csv line 4: 4 fields, the header has 5; every row needs one cell per column (leave it empty between "
      "commas if it has no value)")),
    ("column twice", H + ["step"], [r + [1] for r in G], suite.SuiteFormatError,
     "s.csv: column 'step' appears twice in the header (columns 3 and 6); keep one"),
    ("tokens and tokens_per_step", H + ["tokens_per_step"], [r + [1] for r in G], suite.SuiteFormatError,
     ("s.csv: both tokens and tokens_per_step columns; give one of them (tokens if you know the count at each "
      "checkpoint)")),
    ("header only", H, [], suite.SuiteFormatError, "s.csv: no data rows under the header"),
]


@pytest.mark.parametrize(("header", "rows", "error", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_named(tmp_path, header, rows, error, message):
    path = _write(tmp_path / "s.csv", header, rows)
    with pytest.raises(error, match=rf"^{re.escape(message)}$") as caught:
        suite.read_suite(path)
    assert isinstance(caught.value, suite.SuiteError) and isinstance(caught.value, ValueError)


def test_blank_lines_keep_file_line_numbers(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("run,task,step,accuracy\n\nr1,piqa,10,0.3\nr1,piqa,20,oops\n")
    with pytest.raises(suite.NonNumericError, match=r"^s\.csv line 4 \(data row 2\): accuracy is 'oops', not a "
                                                    r"finite number; write a plain number \(e\.g\. 0\.25, 1e9\)$"):
        suite.read_suite(path)


def test_unknown_file_type(tmp_path):
    with pytest.raises(suite.SuiteFormatError, match=r"^s\.xlsx: unknown file type '\.xlsx'; a suite is a \.csv or "
                                                     r"\.parquet file$"):
        suite.read_suite(tmp_path / "s.xlsx")


# ----------------------------------------------------------------------------------------------- writing
def _series(run="r", task="t", n=6, **losses) -> Series:
    steps = np.arange(1, n + 1) * 10
    return Series(run=run, task=task, steps=steps, tokens=steps * 512.0, flops=steps * 512.0 * 6e6,
                  values=np.linspace(0.25, 0.5, n), losses=losses,
                  meta={"family": "f", "size_params": 1e6, "recipe": "x", "seed": 1})


def test_write_then_read_gives_the_same_numbers(tmp_path):
    vec = np.arange(12.0).reshape(6, 2)
    written = [_series("a", "t1", mean=np.full(6, 2.5), vector=vec), _series("a", "t2", mean=np.full(6, 2.5),
                                                                             vector=vec)]
    for name in ("s.csv", "s.parquet"):
        back = suite.read_suite(suite.write_suite(written, tmp_path / name))
        for w, b in zip(written, back, strict=True):
            assert w.key == b.key and np.array_equal(w.steps, b.steps) and np.array_equal(w.values, b.values)
            assert np.array_equal(w.tokens, b.tokens) and np.array_equal(w.flops, b.flops)
            assert np.array_equal(w.losses["mean"], b.losses["mean"])
            assert np.array_equal(w.losses["vector"], b.losses["vector"])
            assert b.meta["loss_names"] == ("0", "1") and b.meta["seed"] == "1" and b.meta["size_params"] == 1e6


def test_committed_miniladder_exports_exactly(tmp_path):
    ladder = miniladder_series()
    back = suite.read_suite(suite.write_suite(ladder, tmp_path / "miniladder.csv"))
    assert [s.key for s in back] == [s.key for s in ladder]
    for a, b in zip(ladder, back, strict=True):
        for field in ("steps", "tokens", "flops", "values"):
            assert np.array_equal(getattr(a, field), getattr(b, field))
        assert np.array_equal(a.losses["mean"], b.losses["mean"]) and set(b.losses) == {"mean"}
        assert (b.meta["family"], b.meta["recipe"], b.meta["size_params"]) == (a.meta["family"], a.meta["recipe"],
                                                                               a.meta["size_params"])


def test_write_refuses_and_writes_nothing(tmp_path):
    target = tmp_path / "s.csv"
    with pytest.raises(suite.SuiteWriteError, match=r"^series r/t appears twice; one table holds each \(run, task\) "
                                                    r"once$"):
        suite.write_suite([_series(), _series()], target)
    with pytest.raises(suite.SuiteWriteError, match=r"^losses\['mean'\]: series r/a has it but r/b does not; one "
                                                    r"table needs it for every series or for none$"):
        suite.write_suite([_series(task="a", mean=np.ones(6)), _series(task="b")], target)
    with pytest.raises(suite.InconsistentRunError, match=r"^\(series to write\): run 'r', step 10: loss is 1 for task "
                                                         r"'a' \(data row 1\) but 2 for task 'b' \(data row 7\); "):
        suite.write_suite([_series(task="a", mean=np.ones(6)), _series(task="b", mean=np.full(6, 2.0))], target)
    assert os.listdir(tmp_path) == []


def test_write_is_atomic(tmp_path, monkeypatch):
    target = suite.write_suite([_series()], tmp_path / "s.csv")
    before = target.read_bytes()

    def half_write(self, path, *args, **kwargs):
        Path(path).write_text("run,task\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_write)
    with pytest.raises(KeyboardInterrupt):
        suite.write_suite([_series(n=8)], target)
    assert target.read_bytes() == before and os.listdir(tmp_path) == ["s.csv"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"^{re.escape(str(tmp_path / 'none.parquet'))}: no such suite file$"):
        suite.read_suite(tmp_path / "none.parquet")
