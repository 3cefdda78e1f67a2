"""neuneu.shapes rules on synthetic curves, and the figure writers' PNG + CSV outputs."""

import numpy as np
import pandas as pd
import pytest

from neuneu import plots, shapes
from neuneu.contract import Series

TOKENS = np.geomspace(1e8, 1e10, 40)


def _series(values, task="t", run="r") -> Series:
    values = np.asarray(values, float)
    n = len(values)
    return Series(run=run, task=task, steps=np.arange(1, n + 1), tokens=TOKENS[:n], flops=6 * 1e8 * TOKENS[:n],
                  values=values, meta={"size_params": 1e8, "source": "synthetic"})


X = np.linspace(0, 1, 40)


@pytest.mark.parametrize(
    "values, shape",
    [
        (0.3 + 0.3 * X, "steady"),
        (0.3 + 0.3 * (1 - np.exp(-X / 0.05)), "plateau"),
        (0.25 + 0.4 * (X > 0.8) * (X - 0.8) * 5, "emergent"),
        (0.3 + 0.3 * np.sin(np.pi * X), "non-monotone"),
        (0.6 - 0.2 * X, "inverse"),
        (np.full(40, 0.4) + 0.001 * np.sin(X * 20), "flat"),
    ],
)
def test_classify_shape(values, shape):
    assert shapes.classify_shape(_series(values)) == shape


def test_pick_examples_prefers_clean_curves():
    clean = _series(0.3 + 0.3 * X, run="clean")
    noisy = _series(0.3 + 0.3 * X + 0.05 * np.sin(X * 97), run="noisy")
    assert shapes.pick_examples([noisy, clean])["steady"].run == "clean"


def test_shape_figure_writes_png_and_csv(tmp_path):
    fig = plots.plot_shape_examples({"steady": _series(0.3 + 0.3 * X)}, tmp_path)
    assert fig is not None
    data = pd.read_csv(tmp_path / "shape_examples.csv")
    assert len(data) == 40 and set(data["shape"]) == {"steady"}
    assert (tmp_path / "shape_examples.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_horizon_figure_has_a_bias_row_when_the_table_has_bias(tmp_path):
    table = pd.DataFrame({"setting": ["forecast"] * 4, "method": ["neuneu", "neuneu", "two-stage", "two-stage"],
                          "horizon": [1, 2, 1, 2], "mae": [1.0, 2.0, 1.5, 2.5], "bias": [0.0, -1.0, -0.5, -2.0]})
    fig = plots.plot_error_by_horizon(table, tmp_path, "h")
    assert [ax.get_ylabel() for ax in fig.axes] == ["MAE (accuracy points)",
                                                    "mean signed error\n(forecast − truth, points)"]
    assert (tmp_path / "h.png").exists() and len(pd.read_csv(tmp_path / "h.csv")) == 4
    fig = plots.plot_error_by_horizon(table.drop(columns="bias"), tmp_path, "h")
    assert len(fig.axes) == 1
