"""Every figure of the book: one function per figure, returning the Figure and saving PNG + the CSV it plots.

Saving the plotted numbers beside the picture lets a reader check any value without re-plotting (a habit of the
OLMo ladder paper folder). Files are written atomically, so an interrupted run never leaves half a PNG.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from neuneu.series import Series  # noqa: E402

SHAPE_COLORS = {"steady": "#1f77b4", "plateau": "#2ca02c", "emergent": "#d62728", "non-monotone": "#9467bd",
                "inverse": "#ff7f0e", "flat": "#7f7f7f"}


def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` on a temp file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; figures are meant to be read by others
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_figure(fig: plt.Figure, data: pd.DataFrame, out_dir: Path | str, name: str) -> tuple[Path, Path]:
    """Write ``fig`` as ``out_dir/name.png`` and ``data`` as ``out_dir/name.csv`` atomically; return both paths.

    No "Software" stamp in the PNG: its bytes then depend only on the plotted data and the matplotlib version.
    """
    out = Path(out_dir)
    png, csv = out / f"{name}.png", out / f"{name}.csv"
    _atomic_write(png, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png",
                                               metadata={"Software": None}))
    _atomic_write(csv, lambda tmp: data.to_csv(tmp, index=False))
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
