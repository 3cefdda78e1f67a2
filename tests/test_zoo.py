"""The model zoo: names, seeds, where weights live, training records, and that every committed cpu model loads,
was trained on its split's training side and answers."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import threading
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from neuneu import profiles, zoo
from neuneu.contract import anchored_question, context_end
from neuneu.forecaster import LawNeuNeu, LawNeuNeuForecast
from neuneu.paths import BUILD_DIR, REPO_ROOT
from neuneu.samples import synthetic_series
from neuneu.train import TrainConfig, TrainError
from neuneu.splits import Split, load_pool, make_split, validation_by_run

pytestmark = pytest.mark.usefixtures("one_thread")


def test_names_say_split_setting_loss_axis_task_identity_and_seed() -> None:
    spec = zoo.ModelSpec("heldout-sizes", "loss_given", "hist", seed=2)
    assert (spec.name, spec.method) == ("heldout-sizes__hist-loss_given__s2", "neuneu-hist-given")
    spec = zoo.ModelSpec("heldout-sizes", "forecast", "none", "index")
    assert (spec.name, spec.method) == ("heldout-sizes__none-forecast-index__s0", "neuneu-none-index")
    spec = zoo.ModelSpec("heldout-sizes", "forecast", "mean", task_identity=True)
    assert (spec.name, spec.method) == ("heldout-sizes__mean-forecast-task__s0", "neuneu-mean-task")
    names = [s.name for s in zoo.default_specs("cpu") + zoo.ABLATION_SPECS + zoo.MINILADDER_SPECS]
    assert len(names) == len(set(names))
    cpu = zoo.default_specs("cpu")
    assert len(cpu) == (2 * len(zoo.MEMBER_SPECS) + len(zoo.BASE_SPECS)) * len(profiles.profile("cpu").seeds)
    assert {s.seed for s in cpu} == set(profiles.profile("cpu").seeds)
    member = zoo.ModelSpec("heldout-sizes", "loss_given", "mean", parametric=True, pretrained=True, seed=1)
    assert (member.name, member.method) == ("heldout-sizes__mean-loss_given-param-ft__s1", "neuneu-param-ft-given")
    ablated = dataclasses.replace(member, rehearse=False, law_folds="replica")
    assert (ablated.name, ablated.method) == ("heldout-sizes__mean-loss_given-param-ft-norehearse-runfolds__s1",
                                              "neuneu-param-ft-norehearse-runfolds-given")
    prior_only = dataclasses.replace(member, budget=0.0)
    assert prior_only.method == "neuneu-prior-given" and not prior_only.has_own_weights
    assert zoo.pretrained_spec("forecast", 2).name == "prior__mean-forecast-param__s2"
    ensembles = zoo.default_ensembles("cpu")
    assert {e.method for e in ensembles} == {"neuneu", "neuneu-given"} and len(ensembles) == 2 * len(zoo.SPLITS)


def test_weights_dir_is_committed_for_cpu_and_a_build_folder_otherwise(tmp_path) -> None:
    spec = zoo.BASE_SPECS[0]
    assert zoo.weights_dir(spec, "cpu") == zoo.WEIGHTS_DIR / spec.name
    assert zoo.weights_dir(spec, "smoke") == BUILD_DIR / "weights-smoke" / spec.name
    assert zoo.weights_dir(spec, "full", root=tmp_path) == tmp_path / spec.name
    with pytest.raises(ValueError, match="profile"):
        zoo.weights_dir(spec, "huge")


@pytest.fixture(scope="module")
def public():
    return load_pool("public")


@pytest.mark.parametrize("spec", [s for s in zoo.default_specs("cpu") + zoo.ABLATION_SPECS + zoo.ROBUSTNESS_SPECS
                                  if s.has_own_weights],
                         ids=lambda s: s.name)
def test_every_committed_model_loads_knows_its_split_and_answers(spec: zoo.ModelSpec, public) -> None:
    split = make_split(public, spec.split)
    model = zoo.obtain(spec, public, "cpu", split=split)  # loads, and checks the record against the split
    assert model.name == spec.method and model.result is None and model.seed == spec.seed
    assert model.trained_on.split == spec.split and not any(model.trained_on.saw(s) for s in split.test)
    assert model.model.config.setting == spec.setting and model.model.config.loss_input == spec.loss_input
    history = zoo.history(spec, "cpu")
    assert history and all(np.isfinite(h["train_loss"]) for h in history if h["step"] > 0)


def tiny_split() -> Split:
    series = synthetic_series(n_runs=6, n_tasks=2, n_points=16, seed=3)
    fit, val = validation_by_run(series[:10])
    return Split("custom", [*fit, *val], series[10:], frozenset(s.key for s in val))


def test_obtain_trains_into_root_then_loads_from_it(tmp_path) -> None:
    split = tiny_split()
    spec = zoo.ModelSpec("custom", "forecast", "mean", task_identity=True)
    trained = zoo.obtain(spec, [], "smoke", root=tmp_path, split=split)
    folder = tmp_path / spec.name
    assert trained.result is not None and (folder / "model.safetensors").is_file()
    assert json.loads((folder / "config.json").read_text())["trained_on"]["split"] == "custom"
    loaded = zoo.obtain(spec, [], "smoke", root=tmp_path, split=split)
    assert loaded.result is None and loaded.model.config.tasks == trained.model.config.tasks == ("task0", "task1")


def test_two_processes_asking_for_one_build_model_train_it_once(tmp_path, monkeypatch) -> None:
    split, spec, trained, models = tiny_split(), zoo.ModelSpec("custom", "forecast", "mean"), [], []
    real = zoo.train_spec
    monkeypatch.setattr(zoo, "train_spec", lambda *a, **k: trained.append(1) or real(*a, **k))
    threads = [threading.Thread(target=lambda: models.append(zoo.obtain(spec, [], "smoke", root=tmp_path,
                                                                        split=split))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(trained) == 1 and len(models) == 2  # the second waited for the first, then loaded its weights
    assert sorted(m.result is None for m in models) == [False, True]


def test_stale_committed_weights_are_refused_and_stale_build_weights_retrained(tmp_path, monkeypatch) -> None:
    split = tiny_split()
    spec = zoo.ModelSpec("custom", "forecast", "mean")
    zoo.obtain(spec, [], "smoke", root=tmp_path, split=split)
    other = dataclasses.replace(split, train=split.train[:-2])  # the training data changed since
    rebuilt = zoo.obtain(spec, [], "smoke", root=tmp_path, split=other)  # a build folder is a cache
    assert rebuilt.result is not None
    zoo.obtain(spec, [], "smoke", root=tmp_path, split=split)
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)  # now the folder counts as committed
    with pytest.raises(zoo.StaleWeightsError, match=r"custom__mean-forecast__s0 was trained on split 'custom' with "
                                                    r"seed 0 \(fingerprint [0-9a-f]{12}\), but custom__mean-forecast__s0 "
                                                    r"needs split 'custom', seed 0 \(fingerprint [0-9a-f]{12}\); "
                                                    r"retrain it"):
        zoo.obtain(spec, [], "smoke", root=tmp_path, split=other)


def test_law_models_share_one_set_of_weights_with_two_calibrations(tmp_path) -> None:
    split = tiny_split()
    forecast = zoo.obtain(zoo.ModelSpec("custom", "forecast", "law"), [], "smoke", root=tmp_path, split=split)
    assert isinstance(forecast, LawNeuNeuForecast) and forecast.name == "neuneu-law" and forecast.calibrated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["custom__law-loss_given__s0"]  # no folder of its own
    scales = json.loads((tmp_path / "custom__law-loss_given__s0" / "config.json").read_text())["interval_scales"]
    assert set(scales) == {"direct", "extrapolated-loss"}
    given = zoo.obtain(zoo.ModelSpec("custom", "loss_given", "law"), [], "smoke", root=tmp_path, split=split)
    assert isinstance(given, LawNeuNeu) and given.result is None and given.paper is not None  # loaded, law refit
    assert not zoo.ModelSpec("custom", "forecast", "law").has_own_weights


@pytest.mark.parametrize("spec", [zoo.ModelSpec("custom", "loss_given", "law"),
                                  zoo.ModelSpec("custom", "forecast", "mean", parametric=True, pretrained=True)],
                         ids=lambda s: s.name)
def test_recalibrating_fresh_weights_stores_what_training_stored(spec: zoo.ModelSpec, tmp_path) -> None:
    split = tiny_split()
    zoo.obtain(spec, [], "smoke", root=tmp_path, split=split)
    if spec.loss_input == "law":
        zoo.obtain(dataclasses.replace(spec, setting="forecast"), [], "smoke", root=tmp_path, split=split)
    config = tmp_path / spec.name / "config.json"
    trained = json.loads(config.read_text())
    weights = (tmp_path / spec.name / "model.safetensors").read_bytes()
    scales = zoo.recalibrate(spec, split, "smoke", root=tmp_path)
    assert json.loads(config.read_text()) == trained and scales == trained["interval_scales"]
    assert (tmp_path / spec.name / "model.safetensors").read_bytes() == weights


def test_the_model_card_is_generated_from_the_committed_records() -> None:
    summary = json.loads(zoo.BENCH_RECORD.read_text())
    assert zoo.MODEL_CARD.read_text() == zoo.model_card(summary, "cpu")  # regenerate: python -m neuneu.zoo --card
    assert "Known failure cases" in zoo.MODEL_CARD.read_text()


def test_a_fine_tuned_member_starts_from_its_prior_model_and_ensembles_average(tmp_path) -> None:
    split = tiny_split()
    member = zoo.ModelSpec("custom", "forecast", "mean", parametric=True, pretrained=True)
    model = zoo.obtain(member, [], "smoke", root=tmp_path, split=split)
    assert (tmp_path / "prior__mean-forecast-param__s0" / "model.safetensors").is_file()  # pretrained first
    meta = json.loads((tmp_path / member.name / "config.json").read_text())
    assert meta["pretrained_on"]["n_series"] > 0 and "laws" in meta and "validation_laws" in meta
    history = zoo.history(member, "smoke", root=tmp_path)
    assert history[0]["step"] == 0  # the pretrained model competes before any fine-tuning step
    other = zoo.obtain(dataclasses.replace(member, seed=1), [], "smoke", root=tmp_path, split=split)
    ensemble = zoo.obtain_ensemble(zoo.EnsembleSpec("custom", "forecast", (member, dataclasses.replace(member, seed=1))),
                                   [model, other], split)
    assert ensemble.name == "neuneu" and ensemble.capabilities.kind == "neuneu"
    pairs = [anchored_question(s, context_end(s), "forecast") for s in split.test]
    mean = np.mean([[p.quantiles for p in m.predict_many(pairs)] for m in (model, other)], axis=0)
    raw = ensemble.raw_quantiles(pairs)
    np.testing.assert_allclose(np.concatenate(raw), np.sort(np.concatenate(list(mean)), axis=1), atol=1e-9)
    assert set(ensemble.trained_on.runs) == set(model.trained_on.runs)
    inference = [m.laws for m in ensemble.members]
    assert all(m.validation_laws is not m.laws for m in ensemble.members)
    with pytest.raises(RuntimeError, match="inside"):
        with ensemble.reading_validation_laws():
            assert all(m.laws is m.validation_laws for m in ensemble.members)
            raise RuntimeError("inside")
    assert all(m.laws is laws for m, laws in zip(ensemble.members, inference))  # restored, even after an error


def test_a_missing_committed_model_is_an_error_not_a_silent_retraining(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    spec = zoo.ModelSpec("custom", "forecast", "mean")
    with pytest.raises(zoo.MissingWeightsError, match=r"custom__mean-forecast__s0 has no model\.safetensors: the "
                                                      r"committed weights of custom__mean-forecast__s0 are missing; "
                                                      r"restore them \(git checkout -- .*\) or retrain them "
                                                      r"\(python -m neuneu\.zoo --only custom__mean-forecast__s0\)"):
        zoo.obtain(spec, [], "cpu", split=tiny_split())
    assert not any(tmp_path.iterdir())


def test_a_loss_given_default_answers_an_unseen_loss_kind_with_its_forecast_twin(tmp_path) -> None:
    split = tiny_split()
    given_spec = zoo.ModelSpec("custom", "loss_given", "mean")
    forecast_spec = zoo.ModelSpec("custom", "forecast", "mean")
    given = zoo.obtain(given_spec, [], "smoke", root=tmp_path, split=split)
    forecast = zoo.obtain(forecast_spec, [], "smoke", root=tmp_path, split=split)
    built = zoo.obtain_ensembles([zoo.EnsembleSpec("custom", "loss_given", (given_spec,)),
                                  zoo.EnsembleSpec("custom", "forecast", (forecast_spec,))],
                                 {given_spec: given, forecast_spec: forecast}, split)
    assert [m.name for m in built] == ["neuneu-given", "neuneu"]  # in the order asked
    assert built[0].fallback is built[1] and built[1].fallback is None
    twin = zoo.obtain_ensemble(zoo.EnsembleSpec("custom", "forecast", ()), [forecast], split)
    alone = zoo.obtain_ensemble(zoo.EnsembleSpec("custom", "loss_given", ()), [given], split)
    with_twin = zoo.obtain_ensemble(zoo.EnsembleSpec("custom", "loss_given", ()), [given], split, fallback=twin)
    seen = split.test[0]
    foreign = dataclasses.replace(seen, meta={**seen.meta, "loss_kind": "lambada-log-perplexity"})
    assert with_twin.reads_losses_of(seen) and not with_twin.reads_losses_of(foreign)
    pairs = [anchored_question(s, context_end(s), "loss_given") for s in (seen, foreign)]
    answers = with_twin.predict_many(pairs)
    np.testing.assert_array_equal(answers[0].quantiles, alone.predict_many(pairs[:1])[0].quantiles)
    np.testing.assert_array_equal(answers[1].quantiles, twin.predict_many(pairs[1:])[0].quantiles)
    assert with_twin.fallbacks["unseen_loss_kind_forecast"] == 1
    first = Counter(with_twin.fallbacks)
    with_twin.predict_many(pairs)
    assert with_twin.fallbacks == first + first  # what the twin fired before is not counted again
    assert alone.predict_many(pairs[1:])[0].quantiles.tolist() != answers[1].quantiles.tolist()  # it would guess
    forecast.laws, forecast.validation_laws = "inference laws", "validation laws"  # markers (no laws here)
    with with_twin.reading_validation_laws():
        assert forecast.laws == "validation laws"  # the twin answers validation series as on its own side
    assert forecast.laws == "inference laws"
    forecast.laws = forecast.validation_laws = None
    with pytest.raises(TrainError, match=r"^neuneu: only a loss_given ensemble falls back, and only to a forecast "
                                         r"ensemble$"):
        zoo.obtain_ensemble(zoo.EnsembleSpec("custom", "forecast", ()), [forecast], split, fallback=twin)


def test_robustness_specs_are_the_forecast_members_and_the_ablations_of_the_profile_seeds() -> None:
    specs = zoo.robustness_specs("cpu")
    ablations = [s for s in specs if not s.rehearse or s.law_folds != "split"]
    assert ablations == list(zoo.ROBUSTNESS_SPECS)  # the cpu profile has seeds 0, 1, 2
    members = [s for s in specs if s not in ablations]
    assert {(s.split, s.setting) for s in members} == {("unseen-family", "forecast"), ("heldout-tasks", "forecast")}
    assert len(members) == 2 * len(profiles.profile("cpu").seeds)


def test_workload_counts_every_model_with_weights_of_its_own_once_per_stage() -> None:
    rows = {r["stage"]: r for r in zoo.workload("smoke")}
    own = [s for s in zoo.all_specs("smoke") if s.has_own_weights]
    assert rows["total"]["models"] == len(own) == sum(r["models"] for k, r in rows.items() if k != "total")
    assert rows["pretraining on the prior"]["models"] == len(zoo.pretrained_specs("smoke"))
    assert rows["total"]["steps"] == sum(r["steps"] for k, r in rows.items() if k != "total")
    pretrain = zoo._forecaster(zoo.pretrained_spec("forecast", 0), "smoke", None).train_config
    assert rows["pretraining on the prior"]["steps"] == rows["pretraining on the prior"]["models"] * pretrain.total_steps
    assert rows["total"]["contexts"] >= rows["total"]["steps"] and rows["total"]["encoder_parameters"] > 0


def test_a_prior_model_is_named_by_its_draw_not_by_the_last_bits_of_its_values(tmp_path, monkeypatch) -> None:
    spec = zoo.pretrained_spec("forecast", 0)
    zoo.obtain(spec, [], "smoke", root=tmp_path)
    config_path = tmp_path / spec.name / "config.json"
    config = json.loads(config_path.read_text())
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)  # committed: a mismatch raises instead of retraining
    config["trained_on"]["fingerprint"] = "0" * 64  # another CPU's rounding of the same draw
    config_path.write_text(json.dumps(config))
    assert zoo.obtain(spec, [], "smoke", root=tmp_path).result is None
    config["trained_on"]["n_series"] += 1  # another draw
    config_path.write_text(json.dumps(config))
    with pytest.raises(zoo.StaleWeightsError, match=r"prior__mean-forecast-param__s0 was trained on split 'prior'"):
        zoo.obtain(spec, [], "smoke", root=tmp_path)


def test_a_refit_model_trains_on_the_whole_training_side_and_keeps_its_selection_calibration(tmp_path) -> None:
    split = tiny_split()
    spec = zoo.ModelSpec("custom", "forecast", "mean", refit=True)
    assert (spec.name, spec.method, spec.selection.name) == ("custom__mean-forecast-refit__s0", "neuneu-mean",
                                                             "custom__mean-forecast__s0")
    with pytest.raises(TrainError, match=r"custom__mean-forecast-refit__s0 is refit: it needs its selection model "
                                         r"\(custom__mean-forecast__s0\), fitted"):
        zoo.train_spec(spec, split, "smoke")
    refit = zoo.obtain(spec, [], "smoke", root=tmp_path, split=split)  # trains its selection model first
    selection = zoo.obtain(spec.selection, [], "smoke", root=tmp_path, split=split)
    assert selection.result is None  # loaded: the refit call trained it
    assert refit.result.train_runs == sorted({s.run for s in split.train}) and refit.result.val_runs == []
    assert selection.result is None and set(selection.trained_on.runs) == set(refit.trained_on.runs)
    assert refit.interval_scales == selection.interval_scales != {}
    saved = json.loads((tmp_path / spec.name / "config.json").read_text())["interval_scales"]
    assert saved == {k: list(v) for k, v in selection.interval_scales.items()}
    assert zoo.recalibrate(spec, split, "smoke", root=tmp_path) == saved  # copied again, not refitted in-sample


def test_a_best_step_refit_trains_as_many_steps_as_its_selection_model_kept(tmp_path) -> None:
    split = tiny_split()
    spec = zoo.ModelSpec("custom", "forecast", "mean", refit=True, refit_schedule="best")
    assert (spec.name, spec.selection) == ("custom__mean-forecast-refit-best__s0", zoo.ModelSpec("custom"))
    assert dataclasses.replace(spec, parametric=True).method == "neuneu-param-real-refit-best"
    refit = zoo.obtain(spec, [], "smoke", root=tmp_path, split=split)
    config_path = tmp_path / spec.selection.name / "config.json"
    config = json.loads(config_path.read_text())
    best = config.pop("best_step")
    config_path.write_text(json.dumps(config))  # saved before the step was recorded: read from its history
    assert zoo.obtain(spec.selection, [], "smoke", root=tmp_path, split=split).best_step == best
    total = refit.train_config.total_steps
    assert refit.train_config.max_steps == (None if best >= total else best)
    whole = dataclasses.replace(spec, refit_schedule="full")  # the default
    assert zoo.obtain(whole, [], "smoke", root=tmp_path, split=split).train_config.max_steps is None
    config = TrainConfig(epochs=6, samples_per_epoch=16_000, batch_size=64)  # 1,500 steps
    assert [zoo.refit_steps(SimpleNamespace(best_step=b, name="m"), config) for b in (250, 0, 1500)] == [250, 0, None]
    with pytest.raises(TrainError, match=r"^m records no validated step: a refit model cannot tell how long to train$"):
        zoo.refit_steps(SimpleNamespace(best_step=None, name="m"), config)


def test_a_refit_ensemble_is_calibrated_through_its_selection_members(tmp_path) -> None:
    split = tiny_split()
    specs = [zoo.ModelSpec("custom", "forecast", "mean", refit=True, seed=seed) for seed in (0, 1)]
    ensemble = zoo.EnsembleSpec("custom", "forecast", tuple(specs))
    assert ensemble.refit and not ensemble.selection.refit
    fitted = {s: zoo.obtain(s, [], "smoke", root=tmp_path, split=split) for s in (*specs, *ensemble.selection.members)}
    with pytest.raises(TrainError, match="neuneu of custom: refit members need their selection models"):
        zoo.obtain_ensemble(ensemble, [fitted[s] for s in specs], split)
    [model] = zoo.obtain_ensembles([ensemble], fitted, split)
    [judge] = zoo.obtain_ensembles([ensemble.selection], fitted, split)
    assert model.members == [fitted[s] for s in specs] and model.interval_scales == judge.interval_scales


def test_the_nested_flag_retrains_only_the_nested_checks_models(monkeypatch) -> None:
    seen: list[zoo.ModelSpec] = []
    monkeypatch.setattr(zoo, "retrain_all", lambda specs, profile, jobs=1: seen.extend(specs) or [])
    assert zoo.main(["--profile", "smoke", "--nested"]) == 0
    assert seen == list(zoo.nested_specs("smoke")) and {s.split for s in seen} == set(zoo.NESTED_SPLITS)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_ignores_the_nested_checks_models_but_not_the_committed_ones() -> None:
    nested, member = (zoo.weights_dir(s, "cpu") / "model.safetensors"
                      for s in (zoo.nested_specs("cpu")[0], zoo.seeded(zoo.MEMBER_SPECS, (0,))[0]))
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", str(nested.relative_to(REPO_ROOT))],
                             cwd=REPO_ROOT).returncode
    kept = subprocess.run(["git", "check-ignore", "-q", "--no-index", str(member.relative_to(REPO_ROOT))],
                          cwd=REPO_ROOT).returncode
    assert (ignored, kept) == (0, 1)
