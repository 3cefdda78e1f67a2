"""`neuneu predict` on a user's CSV: the tidy quantile table and one PNG per run, every way of naming targets, the
named errors, and the committed general-purpose model end to end."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuneu import cli, predict
from neuneu.contract import QUANTILE_COLUMNS
from neuneu.forecaster import NeuNeuForecaster
from neuneu.model import config_for as model_config_for
from neuneu.samples import synthetic_series
from neuneu.suite import write_suite
from neuneu.train import config_for as train_config_for

pytestmark = pytest.mark.usefixtures("one_thread")


def user_series():
    series = synthetic_series(n_runs=3, n_tasks=2, n_points=20, seed=7)
    return [dataclasses.replace(s, meta={**s.meta, "source": "user", "loss_kind": "user"}) for s in series]


@pytest.fixture(scope="module")
def suite_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("suite") / "my_runs.csv"
    write_suite(user_series(), path)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("weights")
    model = NeuNeuForecaster(dataclasses.replace(model_config_for("smoke"), loss_input="mean", parametric=True),
                             dataclasses.replace(train_config_for("smoke"), progress=False), out_dir=out)
    series = synthetic_series(n_runs=5, n_tasks=2, n_points=16, seed=3)
    model.fit(series[:8], series[8:])
    return out


def test_predict_writes_a_tidy_csv_and_one_png_per_run(suite_csv: Path, weights: Path, tmp_path: Path,
                                                      capsys) -> None:
    status = cli.main(["predict", "--data", str(suite_csv), "--weights", str(weights), "--context-until", "800",
                       "--with-baselines", "--out", str(tmp_path)])
    assert status == 0
    frame = pd.read_csv(tmp_path / "predictions.csv")
    assert list(frame.columns) == list(predict.PREDICTION_COLUMNS)
    ours = frame[frame["method"] == "neuneu-mean"]
    assert len(ours) == 3 * 2 * 12 and (ours["step"] > 800).all() and ours["observed"].notna().all()
    q = ours[list(QUANTILE_COLUMNS)].to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0) and np.allclose(ours["median"], ours["q50"])
    assert {"two-stage", "last-value"} <= set(frame["method"])
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["run0.png", "run1.png", "run2.png"]
    assert "ms each" in capsys.readouterr().out


def test_targets_by_steps_or_tokens_and_a_selection(suite_csv: Path, weights: Path, tmp_path: Path) -> None:
    assert cli.main(["predict", "--data", str(suite_csv), "--weights", str(weights), "--run", "run1", "--task",
                     "task0", "--steps", "2500", "3000", "--out", str(tmp_path / "a")]) == 0
    a = pd.read_csv(tmp_path / "a" / "predictions.csv")
    assert a["step"].tolist() == [2500, 3000] and set(a["run"]) == {"run1"} and a["observed"].isna().all()
    np.testing.assert_allclose(a["tokens"], [2500 * 4096.0, 3000 * 4096.0])  # the run's tokens per step
    assert cli.main(["predict", "--data", str(suite_csv), "--weights", str(weights), "--until-tokens", "2e7",
                     "--out", str(tmp_path / "b")]) == 0
    b = pd.read_csv(tmp_path / "b" / "predictions.csv")
    assert len(b) == 3 * 2 * predict.TARGETS_UNTIL_TOKENS and b["tokens"].max() == pytest.approx(2e7)
    assert (b.groupby(["run", "task"])["step"].apply(lambda s: s.is_monotonic_increasing and s.is_unique)).all()


def test_bad_requests_get_named_errors(suite_csv: Path, weights: Path, tmp_path: Path, capsys) -> None:
    def fails(*args: str) -> str:
        assert cli.main(["predict", "--data", str(suite_csv), "--weights", str(weights), "--out", str(tmp_path),
                         *args]) == 1
        return capsys.readouterr().err.strip()

    assert fails() == ("neuneu predict: error: say where to forecast: --until-tokens X or --steps S …, or "
                       "--context-until STEP to forecast the checkpoints of the file after it")
    assert fails("--steps", "100") == ("neuneu predict: error: run0/task0: target step 100 is not after the context "
                                       "end (step 2000); ask for later steps or an earlier --context-until")
    assert fails("--until-tokens", "10") == ("neuneu predict: error: run0/task0: --until-tokens 10 is not after the "
                                             "context end (8.192e+06 tokens)")
    assert fails("--run", "nope", "--steps", "3000") == ("neuneu predict: error: unknown run(s) nope; the file has "
                                                        "run0, run1, run2")
    assert fails("--setting", "loss_given", "--steps", "3000") == (
        "neuneu predict: error: the loss_given setting needs the targets' losses: forecast checkpoints of the file "
        "(use --context-until, not --steps or --until-tokens)")
    assert not (tmp_path / "predictions.csv").exists()  # nothing written on error


def test_the_committed_general_model_predicts_a_user_csv_fast(suite_csv: Path, tmp_path: Path, capsys) -> None:
    assert cli.main(["predict", "--data", str(suite_csv), "--context-until", "800", "--out", str(tmp_path)]) == 0
    frame = pd.read_csv(tmp_path / "predictions.csv")
    assert set(frame["method"]) == {"neuneu"} and len(list(tmp_path.glob("*.png"))) == 3
    assert np.isfinite(frame["median"]).all()
