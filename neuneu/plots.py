"""Every figure of the book: one function per figure, returning the Figure and saving PNG + the CSV it plots.

Saving the plotted numbers beside the picture lets a reader check any value without re-plotting (a habit of the
OLMo ladder paper folder). Files are written atomically, so an interrupted run never leaves half a PNG.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from neuneu.series import Series  # noqa: E402

SHAPE_COLORS = {"steady": "#1f77b4", "plateau": "#2ca02c", "emergent": "#d62728", "non-monotone": "#9467bd",
                "inverse": "#ff7f0e", "flat": "#7f7f7f"}


def save_figure(fig: plt.Figure, data: pd.DataFrame, out_dir: Path | str, name: str) -> Path:
    """Write ``<name>.png`` and ``<name>.csv`` into ``out_dir`` atomically; return the PNG path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png, csv = out / f"{name}.png", out / f"{name}.csv"
    for final, write in ((png, lambda p: fig.savefig(p, dpi=120, bbox_inches="tight", format="png",
                                                      metadata={"Software": None})),
                         (csv, lambda p: data.to_csv(p, index=False))):
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        write(tmp)
        os.replace(tmp, final)
    return png


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
