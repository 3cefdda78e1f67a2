"""Every figure of the book: one function per figure, returning the Figure and saving PNG + the CSV it plots.

Saving the plotted numbers beside the picture lets a reader check any value without re-plotting (a habit of the
OLMo ladder paper folder). Files are written atomically, so an interrupted run never leaves half a PNG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from neuneu import atomic
from neuneu.contract import Series
from neuneu.metrics import checkpoint_noise_sd
from neuneu.shapes import classify_shape

SHAPE_COLORS = {"steady": "#1f77b4", "plateau": "#2ca02c", "emergent": "#d62728", "non-monotone": "#9467bd",
                "inverse": "#ff7f0e", "flat": "#7f7f7f"}


def save_figure(fig: plt.Figure, data: pd.DataFrame, out_dir: Path | str, name: str) -> tuple[Path, Path]:
    """Write ``fig`` as ``out_dir/name.png`` and ``data`` as ``out_dir/name.csv`` atomically; return both paths.

    No "Software" stamp in the PNG: its bytes then depend only on the plotted data and the matplotlib version.
    """
    out = Path(out_dir)
    png, csv = out / f"{name}.png", out / f"{name}.csv"
    atomic.atomic_write(png, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png",
                                               metadata={"Software": None}))
    atomic.atomic_write(csv, lambda tmp: data.to_csv(tmp, index=False))
    return png, csv


def plot_shape_examples(examples: dict[str, Series], out_dir: Path | str) -> plt.Figure:
    """The motivating figure: one real trajectory per scaling shape, accuracy against training tokens."""
    fig, axes = plt.subplots(1, len(examples), figsize=(3.2 * len(examples), 3.0), squeeze=False)
    rows = []
    for ax, (shape, s) in zip(axes[0], examples.items()):
        ax.plot(s.tokens, s.values, "o-", ms=2.5, lw=1, color=SHAPE_COLORS[shape])
        ax.set_xscale("log")
        ax.set_title(f"{shape}\n{s.run} · {s.task}", fontsize=8)
        ax.set_xlabel("training tokens")
        rows += [{"shape": shape, "run": s.run, "task": s.task, "step": int(st), "tokens": t, "value": v}
                 for st, t, v in zip(s.steps, s.tokens, s.values)]
    axes[0][0].set_ylabel("accuracy")
    fig.tight_layout()
    save_figure(fig, pd.DataFrame(rows), out_dir, "shape_examples")
    return fig


def plot_shape_counts(counts: pd.DataFrame, out_dir: Path | str) -> plt.Figure:
    """Stacked bars: how many trajectories of each source have each shape (``counts``: source × shape)."""
    fig, ax = plt.subplots(figsize=(6, 3))
    share = counts.div(counts.sum(axis=1), axis=0)
    left = np.zeros(len(share))
    for shape in share.columns:
        ax.barh(share.index, share[shape], left=left, color=SHAPE_COLORS.get(shape), label=shape)
        left += share[shape].to_numpy()
    ax.set_xlabel("share of (run, task) trajectories")
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    fig.tight_layout()
    save_figure(fig, counts.reset_index(), out_dir, "shape_counts")
    return fig


def plot_family_trajectories(series: list[Series], task: str, out_dir: Path | str, name: str) -> plt.Figure:
    """One task across the runs of a suite: accuracy against FLOPs, one line per run, coloured by size."""
    chosen = sorted((s for s in series if s.task == task), key=lambda s: (s.meta["size_params"], s.run))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    sizes = np.log10([s.meta["size_params"] for s in chosen])
    cmap = plt.get_cmap("viridis")
    rows = []
    for s, z in zip(chosen, sizes):
        colour = cmap((z - sizes.min()) / max(np.ptp(sizes), 1e-9))
        ax.plot(s.flops, s.values, lw=1, color=colour, alpha=0.8)
        rows += [{"run": s.run, "step": int(st), "flops": f, "value": v} for st, f, v in zip(s.steps, s.flops, s.values)]
    ax.set_xscale("log")
    ax.set_xlabel("training FLOPs")
    ax.set_ylabel(f"{task} accuracy")
    fig.tight_layout()
    save_figure(fig, pd.DataFrame(rows), out_dir, name)
    return fig


def plot_training_sample(traj, spec, out_dir: Path | str) -> plt.Figure:
    """One training sample on its trajectory: kept context points, dropped interior points, and the targets.

    ``traj`` is a :class:`neuneu.samples.Trajectory` (x = its time axis, log tokens by default) and ``spec`` a
    :class:`neuneu.samples.SampleSpec` drawn from it.
    """
    end = int(spec.context[-1])
    kept = np.asarray(spec.context)
    dropped = np.setdiff1d(np.arange(end + 1), kept)
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.plot(traj.axis, traj.values, color="0.8", lw=1, zorder=1, label="trajectory")
    ax.scatter(traj.axis[kept], traj.values[kept], s=18, color="#1f77b4", zorder=3, label="context (kept)")
    ax.scatter(traj.axis[dropped], traj.values[dropped], s=18, facecolors="none", edgecolors="#1f77b4", zorder=3,
               label="context (dropped)")
    ax.scatter(spec.target_axis, spec.target_values, s=30, marker="x", color="#d62728", zorder=4, label="targets")
    ax.axvline(traj.axis[end], color="0.5", ls="--", lw=1)
    ax.set_xlabel("log training tokens")
    ax.set_ylabel(f"{traj.task} accuracy")
    ax.set_title(f"{traj.run}: one training sample", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    role = np.full(len(traj), "after-context", dtype=object)
    role[dropped], role[kept] = "dropped", "context"
    data = pd.DataFrame({"axis": traj.axis, "value": traj.values, "role": role})
    targets = pd.DataFrame({"axis": spec.target_axis, "value": spec.target_values, "role": "target"})
    save_figure(fig, pd.concat([data, targets], ignore_index=True), out_dir, "training_sample")
    return fig


def plot_training_curves(history: pd.DataFrame, out_dir: Path | str, name: str) -> plt.Figure:
    """Train and validation pinball loss against optimiser step (``history`` from training)."""
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(history["step"], history["train_loss"], label="train (pinball)")
    ax.plot(history["step"], history["val_loss"], label="validation, held-out runs (pinball)")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("pinball loss")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, history, out_dir, name)
    return fig


def plot_miniladder_losses(losses: pd.DataFrame, references: pd.DataFrame, out_dir: Path | str) -> plt.Figure:
    """Validation loss (nats/token) against training tokens, one line per mini-ladder run, with the unigram and
    bigram references of each recipe as horizontal lines."""
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    cmap = plt.get_cmap("tab10")
    for i, (run, g) in enumerate(losses.groupby("run", sort=True)):
        ax.plot(g["tokens"], g["value"], "o-", ms=3, lw=1, color=cmap(i % 10), label=run)
    refs = references[references["task"] == "val_loss"]
    for _, r in refs.iterrows():
        ax.axhline(r["value"], color="0.6", lw=0.8, ls=":" if r["model"] == "unigram" else "--")
        ax.text(ax.get_xlim()[0], r["value"], f" {r['recipe']} {r['model']}", fontsize=6, va="bottom", color="0.4")
    ax.set_xscale("log")
    ax.set_xlabel("training tokens")
    ax.set_ylabel("validation loss (nats/token)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_figure(fig, pd.concat([losses.assign(kind="run"), refs.assign(kind="reference")], ignore_index=True),
                out_dir, "miniladder_losses")
    return fig


def plot_paradigm_grid(series: list[Series], tasks: list[str], out_dir: Path | str, name: str) -> plt.Figure:
    """A grid of BLiMP paradigms: accuracy against tokens, one line per run (colour = run)."""
    cols = 4
    rows_n = int(np.ceil(len(tasks) / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(3 * cols, 2.3 * rows_n), squeeze=False, sharex=True)
    runs = sorted({s.run for s in series})
    cmap = plt.get_cmap("tab10")
    rows = []
    for ax, task in zip(axes.flat, tasks):
        for s in (s for s in series if s.task == task):
            ax.plot(s.tokens, s.values, lw=1, color=cmap(runs.index(s.run) % 10), label=s.run)
            rows += [{"task": task, "run": s.run, "tokens": t, "value": v} for t, v in zip(s.tokens, s.values)]
        ax.set_title(task.removeprefix("blimp_"), fontsize=7)
        ax.set_xscale("log")
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes[0][0].legend(fontsize=5)
    fig.supxlabel("training tokens", fontsize=8)
    fig.supylabel("accuracy", fontsize=8)
    fig.tight_layout()
    save_figure(fig, pd.DataFrame(rows), out_dir, name)
    return fig


METHOD_COLORS = {"neuneu": "#1f77b4", "paper-logistic": "0.35", "run-logistic": "#9467bd", "power-law": "#8c564b",
                 "two-stage": "#e377c2", "last-value": "#7f7f7f", "linear-logcompute": "#bcbd22", "ets": "#17becf"}


def _method_color(name: str) -> str:
    return METHOD_COLORS.get(name, METHOD_COLORS["neuneu"] if name.startswith("neuneu") else "#ff7f0e")


def plot_forecasts(series: Series, context_end: int, forecasts: dict[str, tuple[np.ndarray, np.ndarray | None]],
                   out_dir: Path | str, name: str, *, ax: plt.Axes | None = None, band: tuple[int, int] = (0, 4),
                   x: str = "flops") -> plt.Figure:
    """The paper's HellaSwag-750M figure on any series: truth as black dots, a dashed line at the context end, and
    per method the median forecast (NeuNeu with its q10–q90 band shaded). ``forecasts`` maps a method name to
    (median, quantiles or None) for targets context_end+1 … end. The x-axis is training FLOPs (or tokens)."""
    own = ax is None
    fig, ax = plt.subplots(figsize=(6, 3.4)) if own else (ax.figure, ax)
    xs = np.asarray(getattr(series, x), float)
    tx = xs[context_end + 1 :]
    ax.scatter(xs, series.values, s=9, color="black", zorder=5, label="truth")
    ax.axvline(xs[context_end], color="0.5", ls="--", lw=1)
    rows = [{"method": "truth", "x": a, "median": v} for a, v in zip(xs, series.values)]
    for method, (median, quantiles) in forecasts.items():
        colour = _method_color(method)
        dashed = not method.startswith("neuneu")
        ax.plot(tx, median, color=colour, lw=1.6 if not dashed else 1.1, ls="--" if dashed else "-", label=method)
        if quantiles is not None and not dashed:
            ax.fill_between(tx, quantiles[:, band[0]], quantiles[:, band[1]], color=colour, alpha=0.2, lw=0)
        for i, (a, m) in enumerate(zip(tx, median)):
            row = {"method": method, "x": a, "median": m}
            if quantiles is not None:
                row.update({f"q{j}": quantiles[i, j] for j in range(quantiles.shape[1])})
            rows.append(row)
    ax.set_xscale("log")
    ax.set_xlabel("training FLOPs" if x == "flops" else "training tokens")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{series.run} · {series.task}", fontsize=9)
    if own:
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
    save_figure(fig, pd.DataFrame(rows), out_dir, name)
    return fig


def plot_paper_logistic(train: list[Series], law, task: str, out_dir: Path | str) -> plt.Figure:
    """Accuracy against mean validation loss for one task, pooled over training runs, with the fitted logistic
    ``law`` of the paper's baseline (a :class:`neuneu.baselines.LossLogistic`: loss → (median, quantiles))."""
    chosen = [s for s in train if s.task == task]
    loss = np.concatenate([s.losses["mean"] for s in chosen])
    acc = np.concatenate([s.values for s in chosen])
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.scatter(loss, acc, s=4, alpha=0.4, color="0.4", label="training checkpoints")
    grid = np.linspace(loss.min(), loss.max(), 200)
    median, quantiles = law(grid)
    ax.plot(grid, median, color="#d62728", lw=1.5, label="pooled logistic fit")
    ax.fill_between(grid, quantiles[:, 0], quantiles[:, -1], color="#d62728", alpha=0.15, lw=0, label="q10–q90")
    ax.invert_xaxis()
    ax.set_xlabel("mean validation loss (nats)")
    ax.set_ylabel(f"{task} accuracy")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, pd.DataFrame({"loss": loss, "acc": acc}), out_dir, f"paper_logistic_{task}")
    return fig


def plot_error_by_horizon(horizon: pd.DataFrame, out_dir: Path | str, name: str) -> plt.Figure:
    """MAE (top row) and mean signed error (bottom row, when ``horizon`` has a ``bias`` column) against forecast
    horizon (checkpoints after the context end), one line per method, one column per setting (``horizon`` from
    :func:`neuneu.evaluate.horizon_table`, one split)."""
    settings = list(dict.fromkeys(horizon["setting"]))
    rows = [("mae", "MAE (accuracy points)")]
    if "bias" in horizon.columns:
        rows.append(("bias", "mean signed error\n(forecast − truth, points)"))
    fig, axes = plt.subplots(len(rows), len(settings), figsize=(5 * len(settings), 3.2 * len(rows)), squeeze=False,
                             sharey="row", sharex="col")
    for col, setting in enumerate(settings):
        for row, (column, label) in enumerate(rows):
            ax = axes[row][col]
            for method, g in horizon[horizon["setting"] == setting].groupby("method"):
                ours = method.startswith("neuneu")
                default = method in ("neuneu", "neuneu-given")  # its variants (e.g. the mean-loss model) dotted
                ax.plot(g["horizon"], g[column], lw=1.8 if ours else 1, color=_method_color(method),
                        ls="-" if default else ":" if ours else "--", label=method)
            if column == "bias":
                ax.axhline(0.0, color="0.5", lw=0.8)
            ax.set_xscale("log")
            if col == 0:
                ax.set_ylabel(label)
        axes[0][col].set_title(setting, fontsize=9)
        axes[-1][col].set_xlabel("horizon (checkpoints after the context end)")
    for ax in axes[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, horizon, out_dir, name)
    return fig


def plot_method_bars(summary: pd.DataFrame, metric: str, out_dir: Path | str, name: str) -> plt.Figure:
    """One bar per method and setting for ``metric`` on one split (``summary`` rows of that split)."""
    table = summary.pivot_table(index="method", columns="setting", values=metric)
    table = table.loc[table.mean(axis=1).sort_values().index]
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(table) + 1.2))
    height = 0.8 / max(1, table.shape[1])
    for j, setting in enumerate(table.columns):
        y = np.arange(len(table)) + j * height
        ax.barh(y, table[setting], height=height, label=setting,
                color=["#1f77b4", "#ff7f0e"][j % 2], alpha=0.85)
    ax.set_yticks(np.arange(len(table)) + height * (table.shape[1] - 1) / 2, table.index, fontsize=8)
    ax.set_xlabel(metric)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, table.reset_index(), out_dir, name)
    return fig


def plot_run_forecast(series: list[Series], frame: pd.DataFrame, out_dir: Path | str, name: str,
                      max_panels: int = 12) -> plt.Figure:
    """One run's forecasts, one panel per task (at most ``max_panels``): the observed accuracy (context black,
    later checkpoints grey), NeuNeu's median with its q10–q90 and q25–q75 bands, the context end dashed, and any
    baseline in ``frame`` as a dashed line. ``frame``: rows of :func:`neuneu.predict.predict` for this run."""
    tasks = list(dict.fromkeys(frame["task"]))[:max_panels]
    cols = min(4, len(tasks))
    rows_n = int(np.ceil(len(tasks) / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.3 * cols, 2.6 * rows_n), squeeze=False)
    by_task = {s.task: s for s in series}
    model = frame["method"].iloc[0]
    for ax, task in zip(axes.flat, tasks):
        s, g = by_task[task], frame[frame["task"] == task]
        end = int(g["context_end_step"].iloc[0])
        seen = np.asarray(s.steps) <= end
        ax.scatter(np.asarray(s.tokens)[seen], np.asarray(s.values)[seen], s=8, color="black", zorder=5)
        ax.scatter(np.asarray(s.tokens)[~seen], np.asarray(s.values)[~seen], s=8, color="0.6", zorder=5)
        ax.axvline(float(np.asarray(s.tokens)[seen][-1]), color="0.5", ls="--", lw=1)
        ours = g[g["method"] == model]
        ax.fill_between(ours["tokens"], ours["q10"], ours["q90"], color="#1f77b4", alpha=0.15, lw=0)
        ax.fill_between(ours["tokens"], ours["q25"], ours["q75"], color="#1f77b4", alpha=0.3, lw=0)
        ax.plot(ours["tokens"], ours["median"], color="#1f77b4", lw=1.6, label=model)
        for method, b in g[g["method"] != model].groupby("method", sort=False):
            ax.plot(b["tokens"], b["median"], ls="--", lw=1, color=_method_color(method), label=method)
        ax.set_xscale("log")
        ax.set_title(task, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes[0][0].legend(fontsize=6, loc="best")
    fig.suptitle(f"{name}: context (black) and forecast (median, q25–q75, q10–q90)", fontsize=9)
    fig.supxlabel("training tokens", fontsize=8)
    fig.supylabel("accuracy", fontsize=8)
    fig.tight_layout()
    save_figure(fig, frame, out_dir, name)
    plt.close(fig)
    return fig


def curve_statistics(series: list[Series]) -> pd.DataFrame:
    """Per series: the statistics the prior is checked on — total gain, largest drop below the running maximum
    (non-monotonicity), checkpoint-to-checkpoint noise, final mean loss and number of checkpoints — and its
    shape class (:func:`neuneu.shapes.classify_shape`)."""
    rows = []
    for s in series:
        y = np.asarray(s.values, float)
        x = np.log(np.maximum(np.asarray(s.tokens, float), 1.0))
        loss = np.asarray(s.losses["mean"], float) if "mean" in s.losses else np.full(len(y), np.nan)
        rows.append({"gain": y[-1] - y[0], "drawdown": float(np.max(np.maximum.accumulate(y) - y)),
                     "noise": checkpoint_noise_sd(x, y), "final_loss": loss[-1], "checkpoints": len(y),
                     "shape": classify_shape(s)})
    return pd.DataFrame(rows)


def plot_prior_check(real: list[Series], synthetic: list[Series], out_dir: Path | str,
                     name: str = "prior_check") -> plt.Figure:
    """Side by side, real training-side series and synthetic prior series: the distributions of their curve
    statistics (:func:`curve_statistics`) and the shares of each shape class."""
    stats = pd.concat([curve_statistics(real).assign(source="real (training sides)"),
                       curve_statistics(synthetic).assign(source="prior")], ignore_index=True)
    columns = ["gain", "drawdown", "noise", "final_loss", "checkpoints"]
    fig, axes = plt.subplots(1, len(columns) + 1, figsize=(3.0 * (len(columns) + 1), 2.8))
    colors = {"real (training sides)": "#333333", "prior": "#1f77b4"}
    for ax, col in zip(axes, columns):
        values = stats[col].replace([np.inf, -np.inf], np.nan).dropna()
        lo, hi = np.quantile(values, [0.01, 0.99])
        bins = np.linspace(lo, hi, 30)
        for source, g in stats.groupby("source", sort=False):
            ax.hist(np.clip(g[col].dropna(), lo, hi), bins=bins, density=True, histtype="step", lw=1.4,
                    color=colors[source], label=source)
        ax.set_title(col, fontsize=9)
        ax.tick_params(labelsize=7)
    shares = stats.groupby("source")["shape"].value_counts(normalize=True).unstack(fill_value=0.0)
    shapes = [s for s in SHAPE_COLORS if s in shares.columns]
    width = 0.4
    for j, source in enumerate(shares.index):
        axes[-1].bar(np.arange(len(shapes)) + j * width, shares.loc[source, shapes], width,
                     color=colors.get(source, "0.5"), label=source)
    axes[-1].set_xticks(np.arange(len(shapes)) + width / 2, shapes, rotation=45, fontsize=7)
    axes[-1].set_title("shape class", fontsize=9)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, stats, out_dir, name)
    return fig


def plot_prior_samples(real: list[Series], synthetic: list[Series], out_dir: Path | str, name: str = "prior_samples",
                       n: int = 4, seed: int = 0) -> plt.Figure:
    """``n`` random real series next to ``n`` random prior series: accuracy (top) and mean loss (bottom) against
    training tokens."""
    rng = np.random.default_rng(seed)
    chosen = {"real": [real[i] for i in rng.choice(len(real), n, replace=False)],
              "prior": [synthetic[i] for i in rng.choice(len(synthetic), n, replace=False)]}
    fig, axes = plt.subplots(2, 2 * n, figsize=(2.2 * 2 * n, 4.2), squeeze=False)
    rows = []
    for col, (source, group) in enumerate((k, s) for k, v in chosen.items() for s in v):
        ax_acc, ax_loss = axes[0][col], axes[1][col]
        colour = "#333333" if source == "real" else "#1f77b4"
        ax_acc.plot(group.tokens, group.values, ".-", ms=2, lw=0.8, color=colour)
        ax_loss.plot(group.tokens, group.losses["mean"], "-", lw=1, color=colour)
        for ax in (ax_acc, ax_loss):
            ax.set_xscale("log")
            ax.tick_params(labelsize=6)
        ax_acc.set_title(f"{source}: {group.task}"[:28], fontsize=7)
        rows += [{"source": source, "run": group.run, "task": group.task, "tokens": t, "accuracy": v, "loss": loss}
                 for t, v, loss in zip(group.tokens, group.values, group.losses["mean"])]
    axes[0][0].set_ylabel("accuracy", fontsize=8)
    axes[1][0].set_ylabel("mean loss (nats)", fontsize=8)
    fig.tight_layout()
    save_figure(fig, pd.DataFrame(rows), out_dir, name)
    return fig
