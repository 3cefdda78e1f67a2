"""The benchmark: the only runner of NeuNeu against every baseline, and the only writer of ``_build/bench/``.

For each split (:mod:`neuneu.splits`) the runner fits every baseline on the split's training side, takes the NeuNeu
models of :mod:`neuneu.zoo` trained on that side (and refuses any model whose training record contains a test
series, :func:`neuneu.contract.check_unseen`), and scores everything through one harness (:mod:`neuneu.evaluate`)
in both information settings and under both context rules, with the noise-floor reference in every table.

* ``python -m neuneu.bench`` (``make bench``) retrains the headline models (every seed of the profile) and the
  held-out-size ablations into ``_build/bench/weights`` (the committed weights are never overwritten), scores
  them, prints the main table and writes ``_build/bench/summary.json`` (:func:`summary_json`) beside the full
  tables.
* ``neuneu evaluate`` (registered here) scores the baselines, and NeuNeu weights when given, on any split the CLI
  offers.
* The book's chapters call :func:`evaluate_all` on the committed weights instead of retraining.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from neuneu import atomic, evaluate, plots, zoo
from neuneu.baselines import BASELINE_CLASSES, default_baselines
from neuneu.collect.bench import collection_overhead as measure_collection_overhead
from neuneu.contract import (
    CONTEXT_RULES,
    DEFAULT_CONTEXT_RATIO,
    MODES,
    QUANTILE_COLUMNS,
    SETTINGS,
    Forecaster,
    Series,
    TrainingRecord,
    check_unseen,
    context_end,
    cut_context,
    task_format,
)
from neuneu.forecaster import NeuNeuForecaster
from neuneu.parametric import Law, TaskLaws, target_features
from neuneu.paths import BUILD_DIR
from neuneu.predict import Request, default_model, latency, with_user_laws
from neuneu.samples import axis_positions
from neuneu.splits import SPLITS, Split, SplitError, load_pool, make_split, pool_of, split_by_runs
from neuneu.suite import read_suite

BENCH_DIR = BUILD_DIR / "bench"
HEADLINE_RULE = "index"
MAIN_COLUMNS = ["setting", "split", "context_rule", "method", "mae", "mae_sd", "mae_ratio", "rmse", "coverage80",
                "coverage50", "decision_accuracy", "n_pairs", "n_targets", "n_seeds"]
JSON_METRICS = ("kind", "mae", "mae_sd", "mae_ratio", "rmse", "rmse_sd", "coverage80", "coverage80_sd", "coverage50",
                "coverage50_sd", "decision_accuracy", "decision_accuracy_sd", "decision_size", "decision_budget",
                "decision_recipe", "n_pairs", "n_targets", "n_cells", "n_seeds")


@dataclass
class Results:
    """Predictions of every method on every split, the per-test-series cells, per-method stats and the summary."""

    predictions: pd.DataFrame
    cells: pd.DataFrame
    method_stats: pd.DataFrame
    summary: pd.DataFrame
    train_seconds: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def per_seed(self) -> pd.DataFrame:
        """One summary row per (setting, split, rule, method, seed)."""
        return evaluate.summarize_seeds(self.predictions, self.cells)

    @property
    def predict_ms_per_trajectory(self) -> float:
        """NeuNeu's prediction time per trajectory (batched, CPU), over every NeuNeu model and split."""
        stats = self.method_stats[self.method_stats["kind"] == "neuneu"]
        n = float(stats["n_trajectories"].sum())
        return 1000 * float(stats["predict_seconds"].sum()) / n if n else float("nan")


def _reused(forecast: evaluate.Evaluation, names: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast-setting rows and stats of ``names``, relabelled as loss_given."""
    rows = forecast.predictions[forecast.predictions["method"].isin(names)].assign(setting="loss_given")
    stats = forecast.method_stats[forecast.method_stats["method"].isin(names)].assign(setting="loss_given")
    return rows, stats


BASELINE_CACHE = BUILD_DIR / "cache" / "baselines"
_CACHE_CODE = ("contract.py", "baselines.py", "curves.py", "evaluate.py", "metrics.py", "splits.py")


def _cache_key(split: Split, methods: Sequence[Forecaster], setting: str, rule: str, mode: str,
               context_ratio: float) -> str:
    """What a baseline evaluation depends on: the code, the split's data, the methods and the protocol."""
    digest = hashlib.sha256()
    for name in _CACHE_CODE:
        digest.update((Path(evaluate.__file__).parent / name).read_bytes())
    for side in (split.train, split.test):
        digest.update(TrainingRecord.of(side, split=None, profile=None, seed=None).fingerprint.encode())
    digest.update(json.dumps([split.name, [repr(m) for m in methods], setting, rule, mode, context_ratio]).encode())
    return digest.hexdigest()[:24]


def _cached_evaluation(cache: Path | None, key: str, compute) -> evaluate.Evaluation:
    """``compute()``'s evaluation, read from ``cache/key`` when there (written there, atomically, when not). A
    process that finds another computing the same key waits for it and reads its answers (:func:`atomic.locked`)."""
    if cache is None:
        return compute()
    folder = Path(cache) / key
    with atomic.locked(folder):
        if (folder / "skipped.json").is_file():
            return evaluate.Evaluation(pd.read_parquet(folder / "predictions.parquet"),
                                       pd.read_parquet(folder / "method_stats.parquet"),
                                       pd.read_parquet(folder / "cells.parquet"),
                                       Counter(json.loads((folder / "skipped.json").read_text())))
        result = compute()
        if not folder.exists():
            with atomic.replacing_directory(folder) as tmp:
                result.predictions.to_parquet(tmp / "predictions.parquet", index=False)
                result.method_stats.to_parquet(tmp / "method_stats.parquet", index=False)
                result.cells.to_parquet(tmp / "cells.parquet", index=False)
                (tmp / "skipped.json").write_text(json.dumps(dict(result.skipped)))
        return result


def run_benchmark(methods: Sequence[Forecaster], series: Sequence[Series], *, splits: Iterable[str | Split],
                  trained: Mapping[str, Sequence[Forecaster]] | None = None, settings: Iterable[str] = SETTINGS,
                  rules: Iterable[str] = CONTEXT_RULES, mode: str = "anchored",
                  context_ratio: float = DEFAULT_CONTEXT_RATIO, progress: bool = False,
                  cache: Path | None = BASELINE_CACHE) -> Results:
    """For each split: fit ``methods`` on its training side (once, timed), check that the models of
    ``trained[split]`` never saw a test series, then score everything in every setting and context rule.

    A "both" method that declares it never reads query losses is scored once per rule and its forecast answers are
    reused for the loss_given table. The answers of ``methods`` (the baselines, with the noise floor) are cached in
    ``cache`` under a key of the code, the split's data and the protocol, so chapters that score the same split
    fit the baselines once (None: no cache).
    """
    settings, rules = list(settings), list(rules)
    predictions, stats, cells, skipped = [], [], [], {}
    for name in splits:
        split = name if isinstance(name, Split) else make_split(series, name)
        name = split.name
        learned = list((trained or {}).get(name, ()))
        for model in learned:
            check_unseen(model, split.test, name)
        fit_seconds: dict[str, float] = {}

        def fitted(chosen: Sequence[Forecaster]) -> Sequence[Forecaster]:
            for method in chosen:
                if method.name not in fit_seconds:
                    start = time.perf_counter()
                    method.fit(split.train)
                    fit_seconds[method.name] = time.perf_counter() - start
            return chosen

        for rule in rules:
            done: dict[str, list[evaluate.Evaluation]] = {}
            for setting in settings:
                parts = []
                for group, reference in ((list(methods), True), (learned, False)):
                    if not group and not reference:
                        parts.append(None)
                        continue
                    reusable = {m.name for m in group if setting == "loss_given" and "forecast" in done
                                and m.capabilities.setting == "both" and not m.capabilities.reads_query_losses}
                    todo = [m for m in group if m.name not in reusable]

                    def compute(todo=todo, reference=reference):
                        # only the baselines are fitted here: a learned model is scored exactly as trained
                        chosen = fitted(todo) if reference else todo
                        return evaluate.evaluate(chosen, split.test, setting=setting, split=name, mode=mode,
                                                 context_ratio=context_ratio, context_rule=rule,
                                                 reference=reference, progress=progress)

                    key = _cache_key(split, todo, setting, rule, mode, context_ratio)
                    result = _cached_evaluation(cache if reference else None, key, compute)
                    parts.append(result)
                    predictions.append(result.predictions)
                    stats.append(result.method_stats.assign(
                        fit_seconds=result.method_stats["method"].map(fit_seconds)))
                    if reusable:
                        previous = done["forecast"][0 if reference else 1]
                        rows, reused_stats = _reused(previous, reusable)
                        predictions.append(rows)
                        stats.append(reused_stats)
                    cells.append(result.cells)
                    skipped[f"{name}/{rule}/{setting}"] = dict(result.skipped)
                done[setting] = parts
    predictions_df = pd.concat(predictions, ignore_index=True)
    cells_df = pd.concat(cells, ignore_index=True).drop_duplicates(["split", "context_rule", "run", "task"])
    stats_df = pd.concat(stats, ignore_index=True)
    summary = evaluate.summarize(predictions_df, cells_df, stats_df)
    return Results(predictions_df, cells_df.reset_index(drop=True), stats_df, summary, skipped=skipped)


def neuneu_models(split: str, series: Sequence[Series], profile: str, specs: Sequence[zoo.ModelSpec],
                  ensembles: Sequence[zoo.EnsembleSpec] = (), *, retrain: bool = False,
                  weights_root: Path | None = None) -> tuple[list[Forecaster], dict]:
    """The trained NeuNeu models of ``split`` among ``specs``, the ensembles of ``ensembles`` built from them,
    and the training seconds of each (0 when loaded)."""
    loaded, seconds = {}, {}
    split_obj = make_split(series, split)
    wanted = [s for s in specs if s.split == split]
    members = [m for e in ensembles if e.split == split for m in (*e.members, *e.selection.members)]
    wanted += [m for m in dict.fromkeys(members) if m not in wanted]
    for spec in wanted:
        start = time.perf_counter()
        loaded[spec] = zoo.obtain(spec, series, profile, retrain=retrain, root=weights_root, split=split_obj)
        seconds[spec.name] = time.perf_counter() - start if loaded[spec].result is not None else 0.0
    models = [loaded[s] for s in specs if s.split == split]
    models += zoo.obtain_ensembles([e for e in ensembles if e.split == split], loaded, split_obj)
    return models, seconds


def evaluate_all(series: Sequence[Series], profile: str, *, splits: Sequence[str] = zoo.SPLITS,
                 specs: Sequence[zoo.ModelSpec] | None = None, ensembles: Sequence[zoo.EnsembleSpec] | None = None,
                 retrain: bool = False, weights_root: Path | None = None, rules: Iterable[str] = CONTEXT_RULES,
                 progress: bool = False) -> Results:
    """Every baseline and the NeuNeu models of each split (default: the profile's headline models and default
    ensembles), scored on that split's test side in both settings and under both context rules."""
    specs = zoo.default_specs(profile) if specs is None else specs
    ensembles = zoo.default_ensembles(profile, splits) if ensembles is None else ensembles
    trained, train_seconds = {}, {}
    for split in splits:
        trained[split], seconds = neuneu_models(split, series, profile, specs, ensembles, retrain=retrain,
                                                weights_root=weights_root)
        train_seconds.update(seconds)
    results = run_benchmark(default_baselines(), series, splits=splits, trained=trained, rules=rules,
                            progress=progress)
    results.train_seconds = train_seconds
    return results


def _on_validation(models: Sequence[Forecaster], baselines: Sequence[Forecaster], split: Split,
                   rules: Iterable[str]) -> pd.DataFrame:
    """The predictions of each ensemble of ``models`` (with ``baselines``) on ``split``'s validation side under
    every rule, in the ensemble's setting, its members reading the laws fitted without the validation runs."""
    parts = []
    for model in models:
        with model.reading_validation_laws():
            for rule in rules:
                parts.append(evaluate.evaluate([model, *baselines], split.validation_series(),
                                               setting=model.members[0].config.setting, split=split.name,
                                               context_rule=rule, reference=False).predictions)
    return pd.concat(parts, ignore_index=True)


def _selection(ensembles: Sequence[zoo.EnsembleSpec]) -> list[zoo.EnsembleSpec]:
    """The ensembles as the validation side may score them: a refit member trained on those runs, so its selection
    model stands in (:attr:`neuneu.zoo.ModelSpec.selection`)."""
    return [e.selection for e in ensembles]


def validation_benchmark(split: str, series: Sequence[Series], profile: str, *,
                         baselines: Sequence[str] = ("power-law", "last-value"),
                         rules: Iterable[str] = CONTEXT_RULES) -> pd.DataFrame:
    """The predictions of the default NeuNeu of ``split`` (both settings) and of ``baselines`` on the split's
    *validation* side — what model selection sees — with the members reading the laws fitted without those runs
    and the baselines fitted on the fit side. Set beside the test table (:func:`mae_table`), it shows whether the
    validation side predicts the test's verdict; :func:`blend_table` asks what a blend chosen there would do."""
    split_obj = make_split(series, split)
    models, _ = neuneu_models(split, series, profile, (), _selection(zoo.default_ensembles(profile, (split,))))
    chosen = [b for b in default_baselines() if b.name in baselines]
    for b in chosen:
        b.fit(split_obj.fit_side())
    return _on_validation(models, chosen, split_obj, rules)


def fallback_check(split: str, series: Sequence[Series], profile: str,
                   rules: Iterable[str] = CONTEXT_RULES) -> pd.DataFrame:
    """Does the loss_given default's fallback (series of an unseen loss kind answered by the forecast default)
    help where model selection can see it? On the split's validation side: how many series have a loss kind the
    members never trained on, and the cell-averaged MAE of the loss_given default with and without the fallback,
    per context rule (the members reading the laws fitted without the validation runs)."""
    split_obj = make_split(series, split)
    models, _ = neuneu_models(split, series, profile, (), _selection(zoo.default_ensembles(profile, (split,))))
    given = next(m for m in models if m.members[0].config.setting == "loss_given")
    plain = zoo.obtain_ensemble(zoo.EnsembleSpec(split, "loss_given", ()), given.members, split_obj)
    validation = split_obj.validation_series()
    rows = []
    for rule in rules:
        maes = {label: float(evaluate.cell_scores(_on_validation([model], (), split_obj, [rule]))["mae"].mean())
                for label, model in (("with fallback", given), ("without", plain))}
        rows.append({"split": split, "context_rule": rule, "validation series": len(validation),
                     "of an unseen loss kind": sum(not given.reads_losses_of(s) for s in validation),
                     **{f"mae {k}": v for k, v in maes.items()}})
    return pd.DataFrame(rows)


def mae_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Cell-averaged MAE (accuracy points) of every method × (context rule, setting) in ``predictions``."""
    cells = evaluate.cell_scores(predictions)
    return cells.pivot_table(index="method", columns=["context_rule", "setting"], values="mae").round(3)


def blend_table(predictions: pd.DataFrame, other: str = "power-law",
                weights: Sequence[float] = tuple(np.linspace(0.0, 1.0, 11))) -> pd.DataFrame:
    """Per (context rule, setting): the weight w of the blend w·NeuNeu + (1 − w)·``other`` (medians) with the lowest
    cell-averaged MAE in ``predictions``, and the MAE at that w, at w = 1 (NeuNeu alone) and at w = 0."""
    keys = ["run", "task", "target_idx"]
    rows = []
    for (rule, setting), g in predictions.groupby(["context_rule", "setting"], sort=False):
        ours = [m for m in g["method"].unique() if m in zoo.DEFAULT_NAMES.values()]
        if not ours or other not in set(g["method"]):
            continue
        wide = g.pivot_table(index=keys, columns="method", values="median")
        truth = g.drop_duplicates(keys).set_index(keys)["y_true"].reindex(wide.index)

        def mae(w: float) -> float:
            error = (w * wide[ours[0]] + (1 - w) * wide[other] - truth).abs() * 100
            return float(error.groupby(level=["run", "task"]).mean().mean())

        scores = {float(w): mae(float(w)) for w in weights}
        best = min(scores, key=scores.get)
        rows.append({"context_rule": rule, "setting": setting, "neuneu": ours[0], "other": other, "best_w": best,
                     "mae_best_w": scores[best], "mae_neuneu": mae(1.0), f"mae_{other}": mae(0.0)})
    return pd.DataFrame(rows).round(3)


def coverage_table(validation: pd.DataFrame, summary: pd.DataFrame,
                   rules: Iterable[str] = (HEADLINE_RULE,)) -> pd.DataFrame:
    """Per split, context rule and setting, the default NeuNeu's interval coverage on its validation side
    (``validation``: the predictions of :func:`validation_benchmark`) beside its coverage on the test side
    (``summary``), under each of ``rules``. The split-conformal calibration is fitted on the validation side under
    the index rule, so there the coverage is nominal by construction; under the compute rule a validation coverage
    away from nominal is the rule's doing. Where validation and test differ, the miss comes from the shift between
    the validation and the test runs, which no calibration on the validation side can see."""
    keys = ["split", "context_rule", "setting", "method"]
    metrics = ["coverage80", "coverage50"]
    ours = list(zoo.DEFAULT_NAMES.values())
    rules = list(rules)
    cells = evaluate.cell_scores(validation[validation["context_rule"].isin(rules) & validation["method"].isin(ours)])
    seen = cells.groupby(keys)[metrics].mean()
    test = summary[summary["context_rule"].isin(rules) & summary["method"].isin(ours)].set_index(keys)[metrics]
    table = seen.join(test, lsuffix="_validation", rsuffix="_test", how="inner").reset_index()
    # the join keeps the groupby's order (split, rule, setting): a stable sort puts the rules in the order asked
    table = table.sort_values("context_rule", key=lambda rule: rule.map(rules.index), kind="stable")
    return table[[*keys, "coverage80_validation", "coverage80_test", "coverage50_validation", "coverage50_test"]
                 ].reset_index(drop=True)


def coverage_shift(summary: pd.DataFrame, series: Sequence[Series], profile: str, splits: Sequence[str],
                   rules: Iterable[str] = CONTEXT_RULES) -> pd.DataFrame:
    """:func:`coverage_table` of ``splits`` under ``rules``: the default NeuNeu of each scored on its validation
    side (:func:`validation_benchmark`, no baselines) beside its test coverage in ``summary``."""
    rules = tuple(rules)
    validation = pd.concat([validation_benchmark(name, series, profile, baselines=(), rules=rules)
                            for name in splits], ignore_index=True)
    return coverage_table(validation, summary, rules)

# --------------------------------------------------------------------------------------------- tables


def _methods_order(summary: pd.DataFrame) -> list[str]:
    kinds = {"neuneu": 0, "baseline": 1, "reference": 2}
    first = summary.drop_duplicates("method").set_index("method")["kind"]
    return sorted(first.index, key=lambda m: (kinds.get(first[m], 3), m))


def main_table(summary: pd.DataFrame, metric: str = "mae", rule: str = HEADLINE_RULE) -> pd.DataFrame:
    """Methods × (setting, split) of one metric under one context rule — NeuNeu first, the noise floor last."""
    rows = summary[summary["context_rule"] == rule]
    table = rows.pivot_table(index="method", columns=["setting", "split"], values=metric)
    return table.reindex([m for m in _methods_order(rows) if m in table.index]).round(3)


def winners(summary: pd.DataFrame, metric: str = "mae") -> pd.DataFrame:
    """Per (context rule, setting, split): the best forecaster by ``metric`` (lowest), the default NeuNeu (else the
    best NeuNeu model) and the best baseline, NeuNeu's change relative to that baseline in %, both as ratios to
    the noise floor, and NeuNeu's change in the error *above* the noise floor (``metric`` minus the floor's) in %:
    checkpoint noise no forecaster can remove is part of every raw error, so the raw change understates how much of
    the removable error NeuNeu removes (NaN without a floor, or where the baseline is not above it)."""
    rows = []
    floors = summary[summary["method"] == "noise-floor"].set_index(["context_rule", "setting", "split"])[metric]
    forecasters = summary[summary["kind"] != "reference"]
    for (rule, setting, split), g in forecasters.groupby(["context_rule", "setting", "split"], sort=True):
        g = g.dropna(subset=[metric])
        floor = float(floors.get((rule, setting, split), np.nan))
        default = g[g["method"].isin(zoo.DEFAULT_NAMES.values())]
        ours = default if len(default) else g[g["kind"] == "neuneu"].nsmallest(1, metric)
        base = g[g["kind"] == "baseline"].nsmallest(1, metric)
        if ours.empty or base.empty:
            continue
        o, b = ours.iloc[0], base.iloc[0]
        rows.append({"context_rule": rule, "setting": setting, "split": split,
                     "best": g.nsmallest(1, metric)["method"].iloc[0], "neuneu": o["method"],
                     f"neuneu_{metric}": o[metric], "best_baseline": b["method"], f"baseline_{metric}": b[metric],
                     "neuneu_vs_baseline_%": 100 * (o[metric] / b[metric] - 1),
                     "neuneu_ratio": o.get("mae_ratio", np.nan), "baseline_ratio": b.get("mae_ratio", np.nan),
                     "above_floor_vs_baseline_%": 100 * ((o[metric] - floor) / (b[metric] - floor) - 1)
                     if b[metric] > floor else np.nan})
    return pd.DataFrame(rows).round(3)


#: The benchmark targets set for the default (chapters 6 and 7 show each, met or not): below every baseline in
#: every split, setting and context rule; on held-out sizes at least this much below the best baseline (forecast)
#: and below the paper-logistic law (loss_given); q10–q90 coverage inside this band.
SIZES_MARGIN = 0.20
COVERAGE_BAND = (0.75, 0.85)


def targets(summary: pd.DataFrame) -> pd.DataFrame:
    """Per (context rule, setting, split) of ``summary``: each benchmark target the default model has there, what it
    needs, the default's value and whether it is met (:data:`SIZES_MARGIN`, :data:`COVERAGE_BAND`)."""
    rows = []
    lo, hi = COVERAGE_BAND
    for (rule, setting, split), g in summary.groupby(["context_rule", "setting", "split"], sort=True):
        default = g[g["method"] == zoo.DEFAULT_NAMES[setting]]
        baselines = g[g["kind"] == "baseline"].dropna(subset=["mae"])
        if default.empty or baselines.empty:
            continue
        ours, best = default.iloc[0], baselines.nsmallest(1, "mae").iloc[0]
        cell = {"context_rule": rule, "setting": setting, "split": split}
        rows.append({**cell, "target": "below every baseline", "needs": f"< {best['mae']:.3f} ({best['method']})",
                     "value": ours["mae"], "met": bool(ours["mae"] < best["mae"])})
        if split == "heldout-sizes":
            law = best if setting == "forecast" else baselines[baselines["method"] == "paper-logistic"].iloc[0]
            limit = (1 - SIZES_MARGIN) * law["mae"]
            rows.append({**cell, "target": f"{SIZES_MARGIN:.0%} below {law['method']}",
                         "needs": f"≤ {limit:.3f}", "value": ours["mae"], "met": bool(ours["mae"] <= limit)})
        rows.append({**cell, "target": "q10–q90 coverage", "needs": f"{lo:.2f}–{hi:.2f}",
                     "value": ours["coverage80"], "met": bool(lo <= ours["coverage80"] <= hi)})
    return pd.DataFrame(rows, columns=["context_rule", "setting", "split", "target", "needs", "value", "met"])


def forecasts_for(predictions: pd.DataFrame, run: str, task: str, *, split: str, setting: str,
                  methods: Sequence[str], rule: str = HEADLINE_RULE) -> tuple[int, dict]:
    """(context end, {method: (median, quantiles)}) of one trajectory — what :func:`neuneu.plots.plot_forecasts`
    draws. The default NeuNeu is always included (else every NeuNeu model, its first seed); others only if named in
    ``methods``."""
    rows = predictions[(predictions["run"] == run) & (predictions["task"] == task) & (predictions["split"] == split)
                       & (predictions["setting"] == setting) & (predictions["context_rule"] == rule)]
    out = {}
    defaults = set(zoo.DEFAULT_NAMES.values()) & set(rows["method"])
    for method, g in rows.groupby("method", sort=False):
        ours = method in defaults if defaults else g["kind"].iloc[0] == "neuneu"
        if ours or method in methods:
            g = g[g["seed"] == g["seed"].min()].sort_values("target_idx")
            out[method] = (g["median"].to_numpy(), g[list(QUANTILE_COLUMNS)].to_numpy())
    return int(rows["context_end"].iloc[0]), out


def loss_representation_verdict(summary: pd.DataFrame, metric: str = "mae",
                                rule: str = HEADLINE_RULE) -> pd.DataFrame:
    """The paper's ablation question per (split, setting): does the best per-token representation (p-histogram /
    DiffHist "hist", or the CNN over per-token losses "sample") beat the best of no loss and the mean loss?"""
    rows = []
    chosen = summary[summary["context_rule"] == rule] if "context_rule" in summary else summary
    for (split, setting), g in chosen.groupby(["split", "setting"], sort=True):
        kind = g["method"].str.extract(r"^neuneu-([a-z]+)", expand=False)
        token = g[kind.isin(["hist", "sample"])].nsmallest(1, metric)
        plain = g[kind.isin(["none", "mean"])].nsmallest(1, metric)
        if token.empty or plain.empty:
            continue
        t, p = token.iloc[0], plain.iloc[0]
        rows.append({"split": split, "setting": setting, "best_per_token": t["method"], metric: t[metric],
                     "best_none_or_mean": p["method"], f"{metric}_none_or_mean": p[metric],
                     "per_token_wins": bool(t[metric] < p[metric])})
    return pd.DataFrame(rows).round(3)


INGREDIENTS: tuple[tuple[str, str], ...] = (
    ("default (prior → fine-tune, laws, refit, ensemble of the seeds)", "neuneu"),
    ("one member (no ensemble)", "neuneu-param-ft-refit"),
    ("no refit (one member, fine-tuned on the fit side only)", "neuneu-param-ft"),
    ("no fine-tuning (prior only)", "neuneu-prior"),
    ("no prior (real runs only)", "neuneu-param-real"),
    ("no prior, no laws (the paper's design, mean loss)", "neuneu-mean"),
)


def ingredient_table(summary: pd.DataFrame, split: str = "heldout-sizes", rule: str = HEADLINE_RULE) -> pd.DataFrame:
    """What each ingredient of the default NeuNeu contributes on ``split``: MAE (mean ± sd over seeds where there
    are several), its ratio to the noise floor and coverage, per setting, with the law it corrects alongside."""
    rows = []
    chosen = summary[(summary["split"] == split) & (summary["context_rule"] == rule)].set_index(["setting", "method"])
    for setting, suffix, law in (("forecast", "", "two-stage"), ("loss_given", "-given", "paper-logistic")):
        ingredients = [*INGREDIENTS, ("the law it corrects (an untrained model)", law)]
        for label, method in ingredients:
            name = method if method in ("neuneu", law) else method + suffix
            name = "neuneu-given" if (method == "neuneu" and setting == "loss_given") else name
            if (setting, name) not in chosen.index:
                continue
            r = chosen.loc[(setting, name)]
            rows.append({"setting": setting, "variant": label, "method": name, "mae": r["mae"],
                         "mae_sd": r["mae_sd"], "n_seeds": r["n_seeds"], "mae_ratio": r["mae_ratio"],
                         "coverage80": r["coverage80"]})
    return pd.DataFrame(rows)


ROBUSTNESS: tuple[tuple[str, str, str], ...] = (
    ("unseen-family", "no rehearsal of the prior while fine-tuning", "neuneu-param-ft-norehearse"),
    ("heldout-tasks", "training laws cross-fitted by run (each sees its own task's law)", "neuneu-param-ft-runfolds"),
)


def robustness_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Forecast MAE (mean ± sd over seeds) of one default member and of the member without one robustness
    ingredient (:data:`neuneu.zoo.ROBUSTNESS_SPECS`), on the split where it matters, under both context rules,
    with the best baseline and the noise floor of the same targets."""
    rows = []
    forecast = summary[summary["setting"] == "forecast"]
    for split, label, ablated in ROBUSTNESS:
        for rule in CONTEXT_RULES:
            g = forecast[(forecast["split"] == split) & (forecast["context_rule"] == rule)].set_index("method")
            if ablated not in g.index or "neuneu-param-ft" not in g.index:
                continue
            baselines = g[g["kind"] == "baseline"].dropna(subset=["mae"])
            best = baselines["mae"].idxmin()
            for variant, method in (("a default member before refitting", "neuneu-param-ft"), (label, ablated),
                                    (f"best baseline ({best})", best), ("noise floor", evaluate.NOISE_FLOOR)):
                rows.append({"split": split, "context_rule": rule, "variant": variant, "method": method,
                             "mae": g.loc[method, "mae"], "mae_sd": g.loc[method, "mae_sd"],
                             "n_seeds": g.loc[method, "n_seeds"]})
    return pd.DataFrame(rows)


def _run_task_cells(predictions: pd.DataFrame, split: str, setting: str, methods: Sequence[str],
                    rule: str) -> pd.Series:
    """Each of ``methods``' MAE per (method, run, task) on one split, setting and rule (seeds averaged per cell)."""
    rows = predictions[(predictions["split"] == split) & (predictions["setting"] == setting)
                       & (predictions["context_rule"] == rule) & predictions["method"].isin(methods)]
    if rows.empty:
        raise KeyError(f"no predictions of {', '.join(methods)} on {split}/{setting}/{rule}")
    return evaluate.cell_scores(rows).groupby(["method", "run", "task"])["mae"].mean()


def _gap_table(cells: pd.Series, group: pd.Series, methods: Sequence[str]) -> pd.DataFrame:
    """Mean MAE per (``group`` of each cell, method), with the number of cells, sorted by how much worse the first
    method is than the best of the others."""
    table = cells.groupby([group, cells.index.get_level_values("method")]).mean().unstack(-1)
    table = table[[m for m in methods if m in table.columns]]
    first_method = cells.index.get_level_values("method") == table.columns[0]
    table.insert(0, "cells", group[first_method].value_counts())
    first, others = table.columns[1], list(table.columns[2:])
    if others:
        table = table.assign(_gap=table[first] - table[others].min(axis=1)).sort_values("_gap", ascending=False)
        table = table.drop(columns="_gap")
    return table.round(2)


def task_table(predictions: pd.DataFrame, *, split: str, setting: str, methods: Sequence[str],
               rule: str = HEADLINE_RULE) -> pd.DataFrame:
    """Per task of one split: each of ``methods``' MAE (cell-averaged over runs, seeds averaged per cell) and the
    number of cells, sorted by how much worse the first method is than the best of the others. With
    ``last-value`` among ``methods`` its column is also how far the accuracy moves after the context end."""
    return _level_table(predictions, "task", split=split, setting=setting, methods=methods, rule=rule)


def run_table(predictions: pd.DataFrame, *, split: str, setting: str, methods: Sequence[str],
              rule: str = HEADLINE_RULE) -> pd.DataFrame:
    """:func:`task_table` per run instead of per task: each of ``methods``' MAE over the run's tasks, sorted by
    how much worse the first method is than the best of the others."""
    return _level_table(predictions, "run", split=split, setting=setting, methods=methods, rule=rule)


def _level_table(predictions: pd.DataFrame, level: str, *, split: str, setting: str, methods: Sequence[str],
                 rule: str) -> pd.DataFrame:
    cells = _run_task_cells(predictions, split, setting, methods, rule)
    return _gap_table(cells, pd.Series(cells.index.get_level_values(level), index=cells.index, name=level), methods)


def group_table(predictions: pd.DataFrame, group_of_run: Mapping[str, str], *, split: str, setting: str,
                methods: Sequence[str], rule: str = HEADLINE_RULE, name: str = "family") -> pd.DataFrame:
    """:func:`task_table` with the (run, task) cells grouped by ``group_of_run`` (e.g. each run's model family)
    instead of by task: where a split's error comes from when its test mixes families with different checkpoint
    grids. A run missing from ``group_of_run`` raises KeyError."""
    cells = _run_task_cells(predictions, split, setting, methods, rule)
    runs = cells.index.get_level_values("run")
    missing = sorted(set(runs) - set(group_of_run))
    if missing:
        raise KeyError(f"no {name} for run(s) {', '.join(missing)}")
    return _gap_table(cells, pd.Series([group_of_run[r] for r in runs], index=cells.index, name=name), methods)


def _anchor_mae(series: Series, end: int, law: Law | None) -> float | None:
    """MAE (points) of the two-stage anchor NeuNeu corrects, as a forecast of ``series`` after context end
    ``end``; None when the context has no checkpoint with compute (NeuNeu drops those)."""
    x = axis_positions(series.steps, series.tokens, series.flops, "tokens")  # NaN where NeuNeu drops a checkpoint
    context = np.flatnonzero((np.arange(len(series)) <= end) & (np.asarray(series.steps) > 0) & np.isfinite(x))
    if len(context) == 0:
        return None
    targets = np.arange(end + 1, len(series))
    loss = series.losses.get("mean")
    _, anchor = target_features(x[context], series.values[context], None if loss is None else loss[context],
                                x[targets], None, law, "forecast")
    return float(np.mean(np.abs(anchor - series.values[targets]))) * 100


def law_pooling_table(split: Split, rules: Iterable[str] = CONTEXT_RULES) -> pd.DataFrame:
    """Which law should a task never seen read? Each candidate scored alone, as the forecast NeuNeu's median
    starts from (the two-stage anchor: the law at the loss stage 1 extrapolates from the context, shifted through
    the last value): the law pooled over *all* training tasks of the family and loss kind against the law pooled
    over the tasks of the task's *answer format* (the default, :class:`neuneu.parametric.TaskLaws`). On the
    split's validation side (laws fitted on the fit side: what model selection sees) and on its test side (laws
    fitted on the whole training side); cell-averaged MAE in accuracy points per side, context rule and format."""
    sides = {"validation": (split.fit_side(), split.validation_series()), "test": (split.train, split.test)}
    rows = []
    for side, (fit_on, scored) in sides.items():
        by_format = TaskLaws.fit(fit_on)
        all_tasks = replace(by_format, by_format={})
        for rule, s in itertools.product(rules, scored):
            end = context_end(s, DEFAULT_CONTEXT_RATIO, rule)
            if end >= len(s) - 1:  # nothing left to forecast
                continue
            maes = {name: _anchor_mae(s, end, laws.for_series(s)) for name, laws in
                    (("law over all tasks", all_tasks), ("law over its format", by_format))}
            if None not in maes.values():
                rows.append({"side": side, "context_rule": rule, "format": task_format(s.task), **maes})
    cells = pd.DataFrame(rows)
    columns = {"series": ("format", "size"), **{k: (k, "mean") for k in ("law over all tasks", "law over its format")}}
    table = cells.groupby(["side", "context_rule", "format"]).agg(**columns)
    overall = cells.groupby(["side", "context_rule"]).agg(**columns).assign(format="all").set_index("format", append=True)
    return pd.concat([table, overall]).sort_index().round(2).reset_index()


def ensemble_gain(predictions: pd.DataFrame, method: str, *, split: str = "heldout-sizes",
                  rule: str = HEADLINE_RULE) -> pd.DataFrame:
    """MAE of the average of k of ``method``'s seeds (every subset of size k), for each k: how much averaging
    buys. The quantiles are averaged level by level, as in :class:`neuneu.forecaster.EnsembleForecaster` (without
    its recalibration, which does not move the median)."""
    rows = predictions[(predictions["method"] == method) & (predictions["split"] == split)
                       & (predictions["context_rule"] == rule)]
    seeds = sorted(rows["seed"].unique())
    wide, truth = _medians_by_member(rows, "seed")
    out = []
    for k in range(1, len(seeds) + 1):
        maes = []
        for subset in itertools.combinations(seeds, k):
            maes.append(_mae_of_average(wide[list(subset)], truth))
        out.append({"k": k, "subsets": len(maes), "mae": float(np.mean(maes)),
                    "mae_sd": float(np.std(maes, ddof=1)) if len(maes) > 1 else np.nan})
    return pd.DataFrame(out)


def _medians_by_member(rows: pd.DataFrame, members: str | list[str]) -> tuple[pd.DataFrame, pd.Series]:
    """(medians: one row per target, one column per member, truth per target) of prediction ``rows``."""
    keys = ["run", "task", "target_idx"]
    wide = rows.pivot_table(index=keys, columns=members, values="median")
    return wide, rows.drop_duplicates(keys).set_index(keys)["y_true"].reindex(wide.index)


def _mae_of_average(wide: pd.DataFrame, truth: pd.Series) -> float:
    """Cell-averaged MAE (points) of the members' average median (:func:`_medians_by_member`)."""
    err = (wide.mean(axis=1) - truth).abs() * 100
    return float(err.groupby(level=["run", "task"]).mean().mean())


def _pooled_ensemble_mae(predictions: pd.DataFrame, methods: Sequence[str], *, split: str, rule: str) -> float:
    """MAE of the average of every seed of every one of ``methods`` (their medians, target by target)."""
    rows = predictions[predictions["method"].isin(methods) & (predictions["split"] == split)
                       & (predictions["context_rule"] == rule)]
    return _mae_of_average(*_medians_by_member(rows, ["method", "seed"]))


def refit_check(results: Results, split: str = "heldout-sizes-nested") -> pd.DataFrame:
    """The checks that chose how the default members are refit (:data:`neuneu.zoo.NESTED_SPECS`), per setting and
    context rule on ``split``'s test side: MAE of one member (mean ± sd over seeds) and of the average of all seeds
    (:func:`ensemble_gain` at the largest k, the ensemble's median) for the selection model, the refit for the whole
    schedule (the default) and, when scored, the refit for the selection model's best step count; the average of
    the selection and refit models together (twice as many members); the best baseline's; and the pre-registered
    comparisons of the ensembles: refit below selection, best-step refit below whole-schedule refit, and selection
    + refit below refit."""
    summary, rows = results.summary, []
    for (setting, rule), g in summary[summary["split"] == split].groupby(["setting", "context_rule"], sort=True):
        g = g.set_index("method")
        given = "-given" if setting == "loss_given" else ""
        names = {"selection": f"neuneu-param-ft{given}", "refit": f"neuneu-param-ft-refit{given}",
                 "best-step refit": f"neuneu-param-ft-refit-best{given}"}
        names = {k: m for k, m in names.items() if m in g.index}
        if not {"selection", "refit"} <= set(names):
            continue
        ensemble = {k: float(ensemble_gain(results.predictions, m, split=split, rule=rule)["mae"].iloc[-1])
                    for k, m in names.items()}
        ensemble["selection + refit"] = _pooled_ensemble_mae(
            results.predictions, [names["selection"], names["refit"]], split=split, rule=rule)
        baselines = g[g["kind"] == "baseline"].dropna(subset=["mae"])
        best = baselines["mae"].idxmin()
        row = {"setting": setting, "context_rule": rule,
               **{f"{k} member": g.loc[m, "mae"] for k, m in names.items()},
               **{f"{k} member sd": g.loc[m, "mae_sd"] for k, m in names.items()},
               **{f"{k} ensemble": v for k, v in ensemble.items()},
               "best baseline": f"{best} {baselines.loc[best, 'mae']:.3f}",
               "refit ensemble better": ensemble["refit"] < ensemble["selection"]}
        if "best-step refit" in ensemble:
            row["best-step refit better"] = ensemble["best-step refit"] < ensemble["refit"]
        row["selection + refit better"] = ensemble["selection + refit"] < ensemble["refit"]
        rows.append(row)
    return pd.DataFrame(rows)


def nested_checks(series: Sequence[Series], profile: str, *, retrain: bool = False) -> tuple[pd.DataFrame, dict[str, str]]:
    """:func:`refit_check` on every nested split (:data:`neuneu.zoo.NESTED_SPLITS`) that ``series`` can cut and
    whose models (:func:`neuneu.zoo.nested_specs`) are there, obtained as :func:`evaluate_all` does; and, per split
    skipped, why (a profile with too few tasks to cut it; under cpu, weights not committed — they do not fit the
    repository's data budget — and not retrained)."""
    tables, skipped = [], {}
    for name in zoo.NESTED_SPLITS:
        try:
            results = evaluate_all(series, profile, splits=(name,), retrain=retrain,
                                   specs=zoo.nested_specs(profile, name), ensembles=())
        except SplitError as error:
            skipped[name] = str(error)
            continue
        except zoo.MissingWeightsError:
            skipped[name] = (f"its {len(zoo.nested_specs(profile, name))} models are not committed (over the data "
                             f"budget); python -m neuneu.zoo --nested trains them")
            continue
        tables.append(refit_check(results, name).assign(split=name))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return table[["split", *(c for c in table.columns if c != "split")]] if tables else table, skipped


def headline(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows of the headline tables: the default NeuNeu of each setting, the mean-loss model of the paper's
    design, every baseline and the noise floor (NeuNeu's members and ablations belong to chapter 8)."""
    keep = {"neuneu", "neuneu-given", "neuneu-mean", "neuneu-mean-given"}
    return summary[(summary["kind"] != "neuneu") | summary["method"].isin(keep)]


def plot_mae_bars(summary: pd.DataFrame, out_dir: Path, rule: str = HEADLINE_RULE) -> None:
    """One MAE bar chart per split of ``summary`` (figures saved beside their CSVs)."""
    rows = summary[summary["context_rule"] == rule]
    for split in dict.fromkeys(rows["split"]):
        plots.plot_method_bars(rows[rows["split"] == split], "mae", out_dir, f"mae_{split}")


# --------------------------------------------------------------------------------------------- writing


def _number(value: Any) -> Any:
    """JSON-safe: NaN/inf become null (strict JSON has no NaN), numpy scalars plain numbers."""
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def summary_json(summary: pd.DataFrame, *, train_seconds: Mapping[str, float], predict_ms_per_trajectory: float
                 ) -> dict[str, Any]:
    """``{"results": {rule: {setting: {split: {method: {...}}}}}, "headline_rule", "timings"}``: every method's
    metrics (NeuNeu's as the mean over seeds with ``*_sd``), the noise-floor row and each method's ``mae_ratio``."""
    results: dict[str, Any] = {}
    for row in summary.to_dict("records"):
        cell = results.setdefault(row["context_rule"], {}).setdefault(row["setting"], {}).setdefault(row["split"], {})
        cell[row["method"]] = {k: _number(row.get(k)) for k in JSON_METRICS}
    return {"headline_rule": HEADLINE_RULE, "results": results,
            "timings": {"train_seconds": {k: _number(v) for k, v in train_seconds.items()},
                        "predict_ms_per_trajectory": _number(predict_ms_per_trajectory)}}


def write_results(results: Results, out_dir: Path, extra: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write predictions.parquet, summary.csv, per_seed.csv, horizon.csv, decision_pairs.csv and summary.json
    under ``out_dir`` (each atomically); return the paths."""
    out_dir = Path(out_dir)
    paths = {name: out_dir / name for name in ("predictions.parquet", "summary.csv", "per_seed.csv", "horizon.csv",
                                               "decision_pairs.csv", "summary.json")}
    atomic.write_frame(results.predictions, paths["predictions.parquet"])
    atomic.write_frame(results.summary, paths["summary.csv"])
    atomic.write_frame(results.per_seed, paths["per_seed.csv"])
    atomic.write_frame(evaluate.horizon_table(results.predictions), paths["horizon.csv"])
    atomic.write_frame(evaluate.decision_pairs(results.cells), paths["decision_pairs.csv"])
    data = summary_json(results.summary, train_seconds=results.train_seconds,
                        predict_ms_per_trajectory=results.predict_ms_per_trajectory)
    data.update(extra or {})
    atomic.write_json(paths["summary.json"], data)
    return paths


def print_summary(summary: pd.DataFrame) -> None:
    """The main columns of ``summary`` and the headline MAE table, on stdout."""
    with pd.option_context("display.width", 220, "display.max_columns", 40, "display.max_rows", 500):
        print(summary[MAIN_COLUMNS].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(f"\nMAE (accuracy points), {HEADLINE_RULE} rule, methods × (setting, split):\n", main_table(summary))


def predict_latency(series: Sequence[Series], profile: str = "cpu") -> dict[str, float]:
    """``neuneu predict``'s time per trajectory after start-up, with the general-purpose forecast model: each series
    cut to its first 20% of checkpoints and forecast to the longest run's final token count (12 targets each)."""
    contexts = [cut_context(s, context_end(s)) for s in series]
    request = Request(until_tokens=2 * max(float(s.tokens[-1]) for s in series))
    return latency(contexts, default_model("forecast", profile), request)


def collection_overhead(profile: str = "smoke") -> dict:
    """The mini-ladder's overhead targets (per-token scoring vs a bare forward loop; lm-eval vs direct BLiMP)."""
    return measure_collection_overhead(profile)


def main(argv: list[str] | None = None) -> int:
    """``python -m neuneu.bench [--profile cpu] [--splits …] [--no-retrain | --committed] [--no-collection] [--jobs N]
    [--record]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--splits", nargs="+", default=list(zoo.SPLITS), choices=list(zoo.SPLITS))
    parser.add_argument("--no-retrain", action="store_true", help="score the weights already in the bench folder")
    parser.add_argument("--committed", action="store_true",
                        help="score the committed weights (data/weights) instead of retraining into the bench folder")
    parser.add_argument("--no-collection", action="store_true", help="skip the collection-overhead section")
    parser.add_argument("--jobs", type=int, default=1, help="parallel training processes (one thread each)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR)
    parser.add_argument("--record", action="store_true",
                        help="also copy summary.json to data/bench/ (the committed record the model card quotes)")
    args = parser.parse_args(argv)
    specs = [s for s in zoo.default_specs(args.profile) + zoo.ABLATION_SPECS + zoo.ROBUSTNESS_SPECS
             if s.split in args.splits]
    root = None if args.committed else args.out / "weights"
    retrain_specs = [*zoo.pretrained_specs(args.profile), *specs]
    train_seconds = {}
    if not (args.no_retrain or args.committed):
        start = time.perf_counter()
        for line in zoo.retrain_all(retrain_specs, args.profile, jobs=args.jobs, root=root):
            print(line)
        train_seconds["all_models_wall"] = time.perf_counter() - start
    series = load_pool("public")
    results = evaluate_all(series, args.profile, splits=args.splits, specs=specs, weights_root=root, progress=True)
    results.train_seconds.update(train_seconds)
    extra = {} if args.no_collection else {"collection": collection_overhead(args.profile)}
    extra["predict"] = predict_latency(make_split(series, "heldout-sizes").test, args.profile)
    paths = write_results(results, args.out, extra)
    print_summary(results.summary)
    print(f"\npredict ms/trajectory (NeuNeu, batched, CPU): {results.predict_ms_per_trajectory:.2f}")
    if "collection" in extra:
        print("collection overhead:", json.dumps(extra["collection"], default=float))
    print(f"neuneu predict: {extra['predict']['ms_per_trajectory']:.1f} ms per trajectory after start-up "
          f"({extra['predict']['trajectories']} trajectories)")
    print(f"wrote {paths['summary.json']}")
    if args.record:
        atomic.write_bytes(zoo.BENCH_RECORD, paths["summary.json"].read_bytes())
        print(f"recorded {zoo.BENCH_RECORD}; model card: {zoo.write_model_card(args.profile)}")
    return 0


# --------------------------------------------------------------------------------------------- neuneu evaluate


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``neuneu evaluate`` (see ``--help``)."""
    p = sub.add_parser("evaluate", help="score the baselines (and NeuNeu weights, when given) on one or more splits")
    p.add_argument("--weights", type=Path, action="append", default=None,
                   help="a NeuNeu weights folder (repeatable); refused if it was trained on the split's test series")
    p.add_argument("--split", action="append", choices=list(SPLITS), help="split(s) to run (default heldout-sizes)")
    p.add_argument("--setting", action="append", choices=list(SETTINGS), help="setting(s) (default: both)")
    p.add_argument("--context-rule", action="append", choices=list(CONTEXT_RULES),
                   help="context rule(s) (default: both)")
    p.add_argument("--mode", choices=list(MODES), default="anchored")
    p.add_argument("--context-ratio", type=float, default=DEFAULT_CONTEXT_RATIO)
    p.add_argument("--methods", nargs="+", default=None, choices=sorted(BASELINE_CLASSES),
                   help="baselines to run (default: all)")
    p.add_argument("--data", type=Path, default=None,
                   help="score on your own suite file (neuneu.suite format), split by run, instead of --split")
    p.add_argument("--out", type=Path, default=BUILD_DIR / "evaluate", help="output directory")
    p.add_argument("--no-progress", action="store_true", help="silence progress bars")
    p.set_defaults(func=_cli_evaluate)


def _cli_evaluate(args: argparse.Namespace) -> int:
    if args.data is not None:
        return _cli_evaluate_suite(args)
    splits = args.split or ["heldout-sizes"]
    baselines = [m for m in default_baselines() if args.methods is None or m.name in args.methods]
    models = [NeuNeuForecaster.load(folder) for folder in args.weights or ()]
    for pool in dict.fromkeys(pool_of(s) for s in splits):
        chosen = [s for s in splits if pool_of(s) == pool]
        results = run_benchmark(baselines, load_pool(pool), splits=chosen, trained={s: models for s in chosen},
                                settings=args.setting or SETTINGS, rules=args.context_rule or CONTEXT_RULES,
                                mode=args.mode, context_ratio=args.context_ratio, progress=not args.no_progress)
        out = args.out if len(set(map(pool_of, splits))) == 1 else args.out / pool
        paths = write_results(results, out)
        print_summary(results.summary)
        print(f"wrote {paths['summary.json']}")
    return 0


def _cli_evaluate_suite(args: argparse.Namespace) -> int:
    """``neuneu evaluate --data FILE``: a by-run split of the user's suite; the baselines fit on its training
    runs, NeuNeu is the general-purpose default (or ``--weights``) reading laws fitted on those runs."""
    series = read_suite(args.data)
    split = split_by_runs(series)
    baselines = [m for m in default_baselines() if args.methods is None or m.name in args.methods]
    settings = args.setting or ["forecast"] if not all(s.losses for s in series) else args.setting or SETTINGS
    models = [NeuNeuForecaster.load(folder) for folder in args.weights or ()]
    if not models:
        models = [default_model(setting) for setting in settings]
    for model in models:
        with_user_laws(model, split.train)
    results = run_benchmark(baselines, series, splits=[split], trained={split.name: models}, settings=settings,
                            rules=args.context_rule or CONTEXT_RULES, mode=args.mode,
                            context_ratio=args.context_ratio, progress=not args.no_progress)
    paths = write_results(results, args.out)
    print(f"test runs: {', '.join(sorted({s.run for s in split.test}))}")
    print_summary(results.summary)
    print(f"wrote {paths['summary.json']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
