"""``neuneu predict``: NeuNeu's five quantiles for your own training runs, from one long-format table.

Give it a suite file (:mod:`neuneu.suite`: ``run, task, step, accuracy`` and optionally tokens, FLOPs, params and
losses), say where the context ends and where to forecast, and it writes one tidy CSV of quantiles and one PNG
per run (observed points, median, q10–q90 and q25–q75 bands, the context end; the baselines dashed on request).

* **Context.** Every checkpoint of a (run, task) up to ``context_until`` (a step; default: every checkpoint in the
  file — the run so far).
* **Targets.** ``steps`` (future steps; their token counts follow the run's tokens per step), or ``until_tokens``
  (a dozen checkpoints log-spaced from the context end to that many tokens), or — when neither is given — the
  file's own checkpoints after ``context_until`` (so a finished run can be checked against its truth).
* **The run's planned length** is the last target's tokens (or ``until_tokens``): NeuNeu reads where a target sits
  in the run.
* **Laws.** The default model reads the paper's loss → accuracy law per task. A user's losses are in units of
  their own, so the laws for them are fitted on the file's observed (context) points of every run; without
  losses, or with too few points, the model reads no law and anchors on the last value (counted in the output's
  ``fallbacks``).
* **Weights.** The committed general-purpose models (:func:`neuneu.zoo.general_ensembles`: pretrained on the
  synthetic prior, fine-tuned on every public series; see the model card in ``data/weights/MODEL_CARD.md``), or a
  folder given with ``--weights``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from neuneu import atomic, plots, profiles, zoo
from neuneu.baselines import default_baselines
from neuneu.contract import QUANTILE_COLUMNS, Forecaster, Query, Series, cut_context
from neuneu.forecaster import EnsembleForecaster, NeuNeuForecaster
from neuneu.parametric import TaskLaws
from neuneu.splits import load_pool
from neuneu.suite import read_suite

USER_KIND = "user"
TARGETS_UNTIL_TOKENS = 12
PREDICTION_COLUMNS = ("run", "task", "method", "step", "tokens", "context_end_step", *QUANTILE_COLUMNS, "median",
                      "observed")


class PredictError(ValueError):
    """A prediction request that cannot be answered (no targets, targets before the context end, unknown run…)."""


@dataclasses.dataclass
class Request:
    """Where to forecast: the context end (a step, or None for every observed checkpoint) and the targets."""

    context_until: int | None = None
    until_tokens: float | None = None
    steps: Sequence[int] | None = None
    setting: str = "forecast"


def _tokens_per_step(context: Series) -> float:
    steps, tokens = np.asarray(context.steps, float), np.asarray(context.tokens, float)
    return float(np.median(tokens / np.maximum(steps, 1)))


def question(series: Series, request: Request) -> tuple[Series, Query, np.ndarray | None]:
    """(context, query, the targets' observed accuracy or None) of one series under ``request``."""
    steps = np.asarray(series.steps)
    end = len(series) - 1 if request.context_until is None else int(np.searchsorted(steps, request.context_until,
                                                                                     side="right")) - 1
    if end < 0:
        raise PredictError(f"{series.run}/{series.task}: no checkpoint at or before step {request.context_until} "
                           f"(the first is step {steps[0]})")
    context = cut_context(series, end)
    per_step = _tokens_per_step(context)
    size = float(series.meta.get("size_params", np.nan))
    if request.steps:
        target_steps = np.array(sorted(set(int(s) for s in request.steps)))
        if target_steps[0] <= steps[end]:
            raise PredictError(f"{series.run}/{series.task}: target step {target_steps[0]} is not after the context "
                               f"end (step {steps[end]}); ask for later steps or an earlier --context-until")
        tokens = target_steps * per_step
        observed = None
    elif request.until_tokens is not None:
        last = float(context.tokens[-1])
        if request.until_tokens <= last:
            raise PredictError(f"{series.run}/{series.task}: --until-tokens {request.until_tokens:g} is not after the "
                               f"context end ({last:g} tokens)")
        tokens = np.geomspace(last, request.until_tokens, TARGETS_UNTIL_TOKENS + 1)[1:]
        target_steps = np.maximum(np.round(tokens / per_step).astype(np.int64), steps[end] + 1)
        for i in range(1, len(target_steps)):  # strictly increasing even where rounding collides
            target_steps[i] = max(target_steps[i], target_steps[i - 1] + 1)
        observed = None
    elif end < len(series) - 1:
        idx = np.arange(end + 1, len(series))
        target_steps, tokens, observed = steps[idx], np.asarray(series.tokens, float)[idx], series.values[idx]
    else:
        raise PredictError("say where to forecast: --until-tokens X or --steps S …, or --context-until STEP to "
                           "forecast the checkpoints of the file after it")
    if request.setting == "loss_given" and observed is None:
        raise PredictError("the loss_given setting needs the targets' losses: forecast checkpoints of the file "
                           "(use --context-until, not --steps or --until-tokens)")
    losses = None
    if request.setting == "loss_given":
        idx = np.arange(end + 1, len(series))
        losses = {k: np.asarray(v)[idx] for k, v in series.losses.items()}
    flops = 6.0 * size * np.asarray(tokens, float) if np.isfinite(size) else np.full(len(tokens), np.nan)
    query = Query(np.asarray(target_steps), np.asarray(tokens, float), flops, losses,
                  final_tokens=float(request.until_tokens or np.max(tokens)))
    return context, query, observed


def with_user_laws(model: Forecaster, contexts: Sequence[Series]) -> None:
    """Give a parametric model (or each member of an ensemble) laws for the user's loss kind, fitted on the
    observed context points of every run (``contexts``)."""
    members = model.members if isinstance(model, EnsembleForecaster) else [model]
    user = [s for s in contexts if s.meta.get("loss_kind") == USER_KIND]
    if not user:
        return
    fitted = TaskLaws.fit(user)
    for member in members:
        if isinstance(member, NeuNeuForecaster) and member.laws is not None:
            member.laws = TaskLaws({**member.laws.laws, **fitted.laws}, {**member.laws.pooled, **fitted.pooled})


def default_model(setting: str, profile: str = "cpu") -> EnsembleForecaster:
    """The committed general-purpose ensemble of ``setting`` (trained when its weights are missing)."""
    ensemble = next(e for e in zoo.general_ensembles(profile) if e.setting == setting)
    series = profiles.keep_tasks(load_pool("public"), profile)
    split = zoo.general_split(series)
    members = {m: zoo.obtain(m, series, profile, split=split) for m in (*ensemble.members, *ensemble.selection.members)}
    [model] = zoo.obtain_ensembles([ensemble], members, split)
    return model


def predict(series: Sequence[Series], request: Request, model: Forecaster, *,
            with_baselines: bool = False) -> pd.DataFrame:
    """The tidy predictions table (:data:`PREDICTION_COLUMNS`) of ``model`` (and the baselines) for ``series``."""
    questions = [(s, *question(s, request)) for s in series]
    contexts = [context for _, context, _, _ in questions]
    with_user_laws(model, contexts)
    methods: list[Forecaster] = [model]
    if with_baselines:
        baselines = [b for b in default_baselines() if b.capabilities.valid_in(request.setting)]
        for b in baselines:
            b.fit(contexts)
        methods += baselines
    rows = []
    for method in methods:
        answers = method.predict_many([(c, q) for _, c, q, _ in questions])
        for (s, context, query, observed), answer in zip(questions, answers):
            q = answer.quantiles if answer.quantiles is not None else np.full((len(query), 5), np.nan)
            for i in range(len(query)):
                rows.append({"run": s.run, "task": s.task, "method": method.name, "step": int(query.steps[i]),
                             "tokens": float(query.tokens[i]), "context_end_step": int(context.steps[-1]),
                             **{col: float(q[i, j]) for j, col in enumerate(QUANTILE_COLUMNS)},
                             "median": float(answer.median[i]),
                             "observed": np.nan if observed is None else float(observed[i])})
    return pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))


def latency(series: Sequence[Series], model: Forecaster, request: Request, repeats: int = 3) -> dict[str, float]:
    """Milliseconds per trajectory of :func:`predict` after start-up (the best of ``repeats`` runs, so a busy
    machine's hiccup does not count): what ``make bench`` reports for ``neuneu predict``."""
    predict(series[:1], request, model)  # warm-up: imports, first allocations
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        predict(series, request, model)
        best = min(best, time.perf_counter() - start)
    return {"ms_per_trajectory": 1000 * best / len(series), "trajectories": len(series)}


def select(series: Sequence[Series], runs: Sequence[str] | None, tasks: Sequence[str] | None) -> list[Series]:
    """``series`` of the chosen runs and tasks; a named error for a run or task the file does not have."""
    have_runs, have_tasks = {s.run for s in series}, {s.task for s in series}
    for what, wanted, have in (("run", runs, have_runs), ("task", tasks, have_tasks)):
        missing = sorted(set(wanted or ()) - have)
        if missing:
            raise PredictError(f"unknown {what}(s) {', '.join(missing)}; the file has {', '.join(sorted(have))}")
    return [s for s in series if (not runs or s.run in runs) and (not tasks or s.task in tasks)]


def write(frame: pd.DataFrame, series: Sequence[Series], out: Path) -> list[Path]:
    """predictions.csv and one PNG (+ its CSV) per run into ``out``, each atomically; returns the paths."""
    out = Path(out)
    paths = [atomic.write_frame(frame, out / "predictions.csv")]
    for run in dict.fromkeys(frame["run"]):
        chosen = [s for s in series if s.run == run]
        plots.plot_run_forecast(chosen, frame[frame["run"] == run], out, f"{run}")
        paths.append(out / f"{run}.png")
    return paths


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``neuneu predict`` (see ``--help``)."""
    p = sub.add_parser("predict", help="forecast your own runs from a long-format CSV or parquet file")
    p.add_argument("--data", type=Path, required=True, help="a suite file (see neuneu.suite for the format)")
    p.add_argument("--run", action="append", default=None, help="only this run (repeatable)")
    p.add_argument("--task", action="append", default=None, help="only this task (repeatable)")
    p.add_argument("--context-until", type=int, default=None,
                   help="the context is every checkpoint up to this step (default: all observed checkpoints)")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--until-tokens", type=float, default=None, help="forecast up to this many training tokens")
    target.add_argument("--steps", type=int, nargs="+", default=None, help="forecast these future steps")
    p.add_argument("--setting", choices=("forecast", "loss_given"), default="forecast")
    p.add_argument("--with-baselines", action="store_true", help="also the baselines (dashed in the plots)")
    p.add_argument("--weights", type=Path, default=None, help="a NeuNeu weights folder (default: the general model)")
    p.add_argument("--out", type=Path, required=True, help="output folder (predictions.csv and one PNG per run)")
    p.set_defaults(func=_cli_predict)


def _cli_predict(args: argparse.Namespace) -> int:
    series = select(read_suite(args.data), args.run, args.task)
    request = Request(args.context_until, args.until_tokens, args.steps, args.setting)
    model = NeuNeuForecaster.load(args.weights) if args.weights else default_model(args.setting)
    start = time.perf_counter()
    frame = predict(series, request, model, with_baselines=args.with_baselines)
    seconds = time.perf_counter() - start
    paths = write(frame, series, args.out)
    print(f"{len(series)} trajectories in {seconds:.2f} s ({1000 * seconds / max(1, len(series)):.1f} ms each); "
          f"wrote {paths[0]} and {len(paths) - 1} plot(s)")
    return 0
