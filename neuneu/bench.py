"""The benchmark the project keeps: NeuNeu against every baseline, on every split, in both information settings.

``python -m neuneu.bench`` (``make bench``) trains the NeuNeu models of :mod:`neuneu.zoo` (the default models of
every split and the held-out-size ablations) under a profile (into
``_build/bench/weights``, so the committed weights are never overwritten), scores them with every baseline through
one harness (:mod:`neuneu.evaluate`), prints the main table and writes ``_build/bench/summary.json``:
``{setting: {split: {method: {mae, rmse, coverage80, coverage50, ranking_accuracy, n_targets}}}}`` plus the
timings ``train_seconds`` (the default model: held-out sizes, forecast) and ``predict_ms_per_trajectory``
(NeuNeu, batched, CPU). The mini-ladder collection-overhead numbers (the profile's largest model) are added
under ``collection``.
Chapter 6 of the book calls :func:`evaluate_all` on the committed weights instead of retraining.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from neuneu import evaluate, zoo
from neuneu.baselines import default_baselines
from neuneu.paths import BUILD_DIR
from neuneu.series import Series

BENCH_DIR = BUILD_DIR / "bench"
MAIN_COLUMNS = ["setting", "split", "method", "mae", "rmse", "coverage80", "coverage50", "ranking_accuracy",
                "n_targets"]


@dataclass
class Results:
    """Predictions of every method on every split, the summary table, and NeuNeu's timings."""

    predictions: pd.DataFrame
    summary: pd.DataFrame
    train_seconds: dict[str, float]
    predict_ms_per_trajectory: float


def neuneu_models(split: str, series: Sequence[Series], profile: str, *, retrain: bool = False,
                  weights_root: Path | None = None, specs: Sequence[zoo.ModelSpec] = zoo.DEFAULT_SPECS):
    """The trained NeuNeu models of ``split`` (wrapped so the harness does not refit them) and their training
    seconds (0 for models loaded from disk)."""
    models, seconds = [], {}
    for spec in (s for s in specs if s.split == split):
        start = time.perf_counter()
        model = zoo.obtain(spec, series, profile, retrain=retrain, root=weights_root)
        seconds[spec.name] = time.perf_counter() - start if model.result is not None else 0.0
        models.append(evaluate.Prefitted(model))
    return models, seconds


def evaluate_all(series: Sequence[Series], profile: str, *, splits: Sequence[str] = zoo.SPLITS,
                 retrain: bool = False, weights_root: Path | None = None, progress: bool = False,
                 specs: Sequence[zoo.ModelSpec] = zoo.DEFAULT_SPECS) -> Results:
    """Every baseline and the NeuNeu models of each split, scored on that split's test side in both settings."""
    predictions, stats, train_seconds = [], [], {}
    for split in splits:
        models, seconds = neuneu_models(split, series, profile, retrain=retrain, weights_root=weights_root,
                                        specs=specs)
        train_seconds.update(seconds)
        bench = evaluate.run_benchmark([*default_baselines(), *models], series, splits=[split], progress=progress)
        predictions.append(bench.predictions)
        stats.append(bench.method_stats)
    predictions_df = pd.concat(predictions, ignore_index=True)
    stats_df = pd.concat(stats, ignore_index=True)
    summary = evaluate.summarize(predictions_df, stats_df)
    neuneu_stats = stats_df[stats_df["method"].str.startswith("neuneu")]
    n = float(neuneu_stats["n_trajectories"].sum())
    predict_ms = 1000 * float(neuneu_stats["predict_seconds"].sum()) / n if n else float("nan")
    return Results(predictions_df, summary, train_seconds, predict_ms)


def main_table(summary: pd.DataFrame, metric: str = "mae") -> pd.DataFrame:
    """Methods × (setting, split) of one metric — the book's main table."""
    return summary.pivot_table(index="method", columns=["setting", "split"], values=metric).round(3)


def winners(summary: pd.DataFrame, metric: str = "mae") -> pd.DataFrame:
    """Per (setting, split): the best method by ``metric`` (lowest), the best NeuNeu variant and the best baseline,
    and NeuNeu's change relative to that baseline in % — the sentence a reader wants, computed, not written."""
    rows = []
    for (setting, split), g in summary.groupby(["setting", "split"], sort=True):
        g = g.dropna(subset=[metric])
        ours = g[g["method"].str.startswith("neuneu")].nsmallest(1, metric)
        base = g[~g["method"].str.startswith("neuneu")].nsmallest(1, metric)
        if ours.empty or base.empty:
            continue
        o, b = ours.iloc[0], base.iloc[0]
        rows.append({"setting": setting, "split": split, "best": g.nsmallest(1, metric)["method"].iloc[0],
                     "neuneu": o["method"], f"neuneu_{metric}": o[metric], "best_baseline": b["method"],
                     f"baseline_{metric}": b[metric], "neuneu_vs_baseline_%": 100 * (o[metric] / b[metric] - 1)})
    return pd.DataFrame(rows).round(3)


def forecasts_for(predictions: pd.DataFrame, run: str, task: str, *, split: str, setting: str,
                  methods: Sequence[str]) -> tuple[int, dict]:
    """(context end, {method: (median, quantiles)}) of one trajectory from a predictions table — what
    :func:`neuneu.plots.plot_forecasts` draws. NeuNeu variants are always included; others only if in ``methods``."""
    from neuneu.evaluate import QUANTILE_COLUMNS

    rows = predictions[(predictions["run"] == run) & (predictions["task"] == task)
                       & (predictions["split"] == split) & (predictions["setting"] == setting)]
    out = {}
    for method, g in rows.groupby("method", sort=False):
        if method.startswith("neuneu") or method in methods:
            g = g.sort_values("target_idx")
            out[method] = (g["median"].to_numpy(), g[list(QUANTILE_COLUMNS)].to_numpy())
    return int(rows["context_end"].iloc[0]), out


def loss_representation_verdict(summary: pd.DataFrame, metric: str = "mae") -> pd.DataFrame:
    """The paper's ablation question per (split, setting): does the best per-token representation (p-histogram /
    DiffHist "hist", or the CNN over per-token losses "sample") beat the best of no loss and the mean loss?"""
    rows = []
    for (split, setting), g in summary.groupby(["split", "setting"], sort=True):
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


def quality_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Calibration (coverage of q10–q90 and q25–q75) and ranking accuracy per setting, split and method."""
    return summary[["setting", "split", "method", "coverage80", "coverage50", "ranking_accuracy", "n_targets"]].round(3)


def plot_mae_bars(summary: pd.DataFrame, out_dir: Path) -> None:
    """One MAE bar chart per split of ``summary`` (figures saved beside their CSVs)."""
    from neuneu import plots

    for split in dict.fromkeys(summary["split"]):
        plots.plot_method_bars(summary[summary["split"] == split], "mae", out_dir, f"mae_{split}")


def collection_overhead(profile: str = "smoke") -> dict:
    """The mini-ladder's overhead targets (per-token scoring vs a bare forward loop; lm-eval vs direct BLiMP)."""
    from neuneu.collect.bench import collection_overhead as measure

    return measure(profile)


def main(argv: list[str] | None = None) -> int:
    """``python -m neuneu.bench [--profile cpu] [--splits …] [--no-retrain] [--no-collection]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--splits", nargs="+", default=list(zoo.SPLITS), choices=list(zoo.SPLITS))
    parser.add_argument("--no-retrain", action="store_true", help="score the weights already in the bench folder")
    parser.add_argument("--no-collection", action="store_true", help="skip the collection-overhead section")
    parser.add_argument("--out", type=Path, default=BENCH_DIR)
    args = parser.parse_args(argv)
    from neuneu.trajectories import load_corpus, to_series

    series = to_series(load_corpus())
    results = evaluate_all(series, args.profile, splits=args.splits, retrain=not args.no_retrain,
                           weights_root=args.out / "weights", progress=True,
                           specs=zoo.DEFAULT_SPECS + zoo.ABLATION_SPECS)
    evaluate.write_tables(results.predictions, results.summary, args.out)
    default = zoo.DEFAULT_SPECS[0].name
    path = evaluate.write_bench_summary(results.summary, args.out / "summary.json",
                                        train_seconds=results.train_seconds.get(default, float("nan")),
                                        predict_ms_per_trajectory=results.predict_ms_per_trajectory)
    data = json.loads(path.read_text())
    data["train_seconds_per_model"] = results.train_seconds
    if not args.no_collection:
        data["collection"] = collection_overhead(args.profile)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=float) + "\n")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(results.summary[MAIN_COLUMNS].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print("\nMAE (%), methods × (setting, split):\n", main_table(results.summary))
    print(f"\ntrain seconds (default model {default}): {data['train_seconds']}; "
          f"predict ms/trajectory: {data['predict_ms_per_trajectory']:.2f}")
    if "collection" in data:
        print("collection overhead:", json.dumps(data["collection"], default=float))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
