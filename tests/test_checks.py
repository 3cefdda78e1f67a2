"""The pre-registered check scripts (``scripts/checks``): each is cited where its rule and verdict live, each
compiles, and the context floor (check 9) does what its rule says."""
from __future__ import annotations

import importlib
import py_compile
import sys
from pathlib import Path

import numpy as np
import pytest

from neuneu.contract import ForecasterBase, Prediction, Query, Series

ROOT = Path(__file__).resolve().parents[1]
CHECKS = ROOT / "scripts" / "checks"
SCRIPTS = sorted(p for p in CHECKS.glob("*.py") if p.name != "nested.py")


def _check_module(name: str):
    """Import ``scripts/checks/<name>.py`` as its script does (``nested`` beside it on the path)."""
    sys.path.insert(0, str(CHECKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(CHECKS))


@pytest.fixture(scope="module")
def context_floor():
    return _check_module("context_floor")


@pytest.fixture(scope="module")
def noise_intervals():
    return _check_module("noise_intervals")


def test_there_are_check_scripts():
    assert len(SCRIPTS) >= 5


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_check_script_compiles_and_is_cited_in_zoo_and_chapter_8(script, tmp_path):
    py_compile.compile(str(script), cfile=str(tmp_path / "x.pyc"), doraise=True)
    cited = f"scripts/checks/{script.name}"
    assert cited in (ROOT / "neuneu" / "zoo.py").read_text()
    assert cited in (ROOT / "notebooks" / "08_ablations.py").read_text()


class Falling(ForecasterBase):
    """Quantiles that keep falling from the context's last accuracy, 0.02 per target, ±0.01 and ±0.03 around it."""

    name = "falling"

    def predict(self, context: Series, query: Query) -> Prediction:
        median = context.values[-1] - 0.02 * np.arange(1, len(query) + 1)
        quantiles = median[:, None] + np.array([-0.03, -0.01, 0.0, 0.01, 0.03])
        return Prediction(median=median, quantiles=quantiles)


def test_context_floor_raises_quantiles_to_the_lowest_context_accuracy(context_floor):
    steps = np.arange(1, 9)
    values = np.array([0.54, 0.53, 0.55, 0.54, 0.56, 0.6, 0.6, 0.6])  # lowest context accuracy: 0.53
    context = Series(run="r", task="t", steps=steps[:5], tokens=steps[:5] * 1e6, flops=steps[:5] * 1e15,
                     values=values[:5])
    query = Query(steps[5:], steps[5:] * 1e6, steps[5:] * 1e15)
    inner = Falling()
    floored = context_floor.Floored(inner).predict(context, query)
    expected = np.maximum(inner.predict(context, query).quantiles, 0.53)
    np.testing.assert_allclose(floored.quantiles, expected)
    np.testing.assert_allclose(floored.median, [0.54, 0.53, 0.53])
    assert floored.quantiles[0, 4] == pytest.approx(0.57)  # above the floor: untouched
    assert context_floor.Floored(inner).name == "falling"


def test_context_noise_ignores_a_straight_trend_and_needs_three_points(noise_intervals):
    assert noise_intervals.context_noise(np.linspace(0.3, 0.5, 10)) == pytest.approx(0.0, abs=1e-12)
    assert noise_intervals.context_noise([0.3, 0.5]) == 0.0
    # alternating ±0.01 around a line: every second difference is ±0.04
    zigzag = np.linspace(0.3, 0.5, 9) + 0.01 * (-1) ** np.arange(9)
    assert noise_intervals.context_noise(zigzag) == pytest.approx(1.4826 * 0.04 / np.sqrt(6))


def test_noisy_widens_each_half_width_in_quadrature_and_keeps_the_median(noise_intervals):
    q = np.array([[0.1, 0.2, 0.3, 0.4, 0.5]])
    out = noise_intervals.noisy(q, 0.1)
    np.testing.assert_allclose(out[:, 2], 0.3)
    half, z = np.array([0.1, 0.2]), np.array([0.674, 1.282])
    np.testing.assert_allclose(out[0, [3, 4]] - 0.3, np.sqrt(half ** 2 + (z * 0.1) ** 2))
    np.testing.assert_allclose(0.3 - out[0, [1, 0]], out[0, [3, 4]] - 0.3)
    np.testing.assert_allclose(noise_intervals.noisy(q, 0.0), q)
