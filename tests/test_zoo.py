"""The model zoo: names, where weights live, and that every committed cpu model loads and answers."""

from __future__ import annotations

import numpy as np
import pytest

from neuneu import zoo
from neuneu.paths import BUILD_DIR
from neuneu.samples import synthetic_series

pytestmark = pytest.mark.usefixtures("one_thread")


def test_names_say_split_setting_loss_axis_and_task_identity() -> None:
    spec = zoo.ModelSpec("heldout-sizes", "loss_given", "hist")
    assert (spec.name, spec.method) == ("heldout-sizes__hist-loss_given", "neuneu-hist-given")
    spec = zoo.ModelSpec("heldout-sizes", "forecast", "none", "index")
    assert (spec.name, spec.method) == ("heldout-sizes__none-forecast-index", "neuneu-none-index")
    spec = zoo.ModelSpec("heldout-sizes", "forecast", "mean", task_identity=True)
    assert (spec.name, spec.method) == ("heldout-sizes__mean-forecast-task", "neuneu-mean-task")
    names = [s.name for s in zoo.DEFAULT_SPECS + zoo.ABLATION_SPECS + zoo.MINILADDER_SPECS]
    assert len(names) == len(set(names))


def test_weights_dir_is_committed_for_cpu_and_a_build_folder_otherwise(tmp_path) -> None:
    spec = zoo.DEFAULT_SPECS[0]
    assert zoo.weights_dir(spec, "cpu") == zoo.WEIGHTS_DIR / spec.name
    assert zoo.weights_dir(spec, "smoke") == BUILD_DIR / "weights-smoke" / spec.name
    assert zoo.weights_dir(spec, "full", root=tmp_path) == tmp_path / spec.name
    with pytest.raises(ValueError, match="profile"):
        zoo.weights_dir(spec, "huge")


@pytest.mark.parametrize("spec", [s for s in zoo.DEFAULT_SPECS + zoo.ABLATION_SPECS if s.loss_input != "law"],
                         ids=lambda s: s.name)
def test_every_committed_model_loads_under_its_method_name(spec: zoo.ModelSpec) -> None:
    model = zoo.obtain(spec, [], "cpu")  # loads: an empty corpus would make training fail
    assert model.name == spec.method and model.result is None
    assert model.model.config.setting == spec.setting and model.model.config.loss_input == spec.loss_input
    history = zoo.history(spec, "cpu")
    assert history and all(np.isfinite(h["train_loss"]) for h in history)


def test_obtain_trains_into_root_then_loads_from_it(tmp_path, monkeypatch) -> None:
    series = synthetic_series(n_runs=6, n_tasks=2, n_points=16, seed=3)
    monkeypatch.setattr("neuneu.evaluate.make_split", lambda s, name: (list(s), []))
    spec = zoo.ModelSpec("custom", "forecast", "mean", task_identity=True)
    trained = zoo.obtain(spec, series, "smoke", root=tmp_path)
    assert trained.result is not None and (tmp_path / spec.name / "model.safetensors").is_file()
    loaded = zoo.obtain(spec, series, "smoke", root=tmp_path)
    assert loaded.result is None and loaded.model.config.tasks == trained.model.config.tasks == ("task0", "task1")


def test_law_models_share_one_set_of_weights(tmp_path, monkeypatch) -> None:
    from neuneu.hybrid import LawNeuNeu, LawNeuNeuForecast

    series = synthetic_series(n_runs=6, n_tasks=2, n_points=16, seed=3)
    monkeypatch.setattr("neuneu.evaluate.make_split", lambda s, name: (list(s), []))
    forecast = zoo.obtain(zoo.ModelSpec("custom", "forecast", "law"), series, "smoke", root=tmp_path)
    assert isinstance(forecast, LawNeuNeuForecast) and forecast.name == "neuneu-law"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["custom__law-loss_given"]  # no folder of its own
    given = zoo.obtain(zoo.ModelSpec("custom", "loss_given", "law"), series, "smoke", root=tmp_path)
    assert isinstance(given, LawNeuNeu) and given.result is None and given.paper is not None  # loaded, law refit
    assert not zoo.has_own_weights(zoo.ModelSpec("custom", "forecast", "law"))
