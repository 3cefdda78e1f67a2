"""Figures of the loss featurization (notebook 03). Each function draws one figure, writes ``<name>.png`` and the
CSV of exactly the plotted numbers (``<name>.csv``) into ``out_dir`` (atomically), and returns the Figure.

Figures are built with :class:`matplotlib.figure.Figure`, not pyplot, so nothing is left in a global figure
registry and a notebook shows a figure only where it asks to (by ending a cell with it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize, SymLogNorm, TwoSlopeNorm
from matplotlib.figure import Figure

from neuneu.features import (
    bin_centres,
    bin_edges,
    bin_labels,
    check_histogram,
    hist_summary_table,
)
from neuneu.plots import save_figure


def plot_worked_example(
    h_earlier: np.ndarray,
    h_later: np.ndarray,
    out_dir: Path | str,
    *,
    labels: tuple[str, str] = ("A (earlier)", "B (later)"),
    name: str = "worked_example",
) -> Figure:
    """Two panels: the two p-histograms side by side as bars, and their DiffHist Δ = later − earlier."""
    earlier, later = check_histogram(h_earlier), check_histogram(h_later)
    edges = bin_edges(earlier.size)
    ticks = bin_labels(earlier.size)
    x = np.arange(earlier.size)
    delta = later - earlier
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax_h, ax_d = fig.subplots(1, 2)
    ax_h.bar(x - 0.2, earlier, width=0.4, label=labels[0], color="tab:gray")
    ax_h.bar(x + 0.2, later, width=0.4, label=labels[1], color="tab:blue")
    ax_h.set(title="p-histograms", ylabel="fraction of tokens", xlabel="p = exp(-loss) bin")
    ax_h.legend(frameon=False)
    ax_d.bar(x, delta, color=np.where(delta >= 0, "tab:blue", "tab:red"))
    ax_d.axhline(0.0, color="black", lw=0.8)
    ax_d.set(title="DiffHist Δ = later − earlier", ylabel="change in fraction", xlabel="p = exp(-loss) bin")
    for ax in (ax_h, ax_d):
        ax.set_xticks(x, ticks, fontsize=8)
    data = pd.DataFrame(
        {"bin": x, "p_lo": edges[:-1], "p_hi": edges[1:], "h_earlier": earlier, "h_later": later, "delta": delta}
    )
    save_figure(fig, data, out_dir, name)
    return fig


def plot_histograms_over_training(
    steps: np.ndarray,
    hist: np.ndarray,
    out_dir: Path | str,
    *,
    show_steps: Sequence[int] | None = None,
    run_label: str = "",
    name: str = "histograms_over_training",
) -> Figure:
    """Left: the p-histogram at a few checkpoints (log scale: bin 0 holds a third or more of the mass; empty bins
    are drawn at the floor 1e-6, the CSV keeps their true 0). Right: the bin-centre mean p at every checkpoint.
    ``show_steps`` defaults to first, second, middle, last."""
    h = check_histogram(hist)
    steps = np.asarray(steps)
    if show_steps is None:
        idx = sorted({0, min(1, len(steps) - 1), len(steps) // 2, len(steps) - 1})
    else:
        idx = [int(np.flatnonzero(steps == s)[0]) for s in show_steps]
    centres = bin_centres(h.shape[1])
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax_h, ax_m = fig.subplots(1, 2)
    colours = [f"C{i}" for i in range(len(idx))]
    for colour, i in zip(colours, idx):
        ax_h.step(centres, np.maximum(h[i], 1e-6), where="mid", color=colour, label=f"step {int(steps[i]):,}")
    ax_h.set(yscale="log", xlabel="p = exp(-loss)", ylabel="fraction of values (log)", title="p-histogram")
    ax_h.legend(frameon=False, fontsize=8)
    summary = hist_summary_table(steps, h)
    ax_m.plot(summary["step"], summary["mean_p"], marker="o", ms=3, color="tab:blue")
    ax_m.set(xlabel="training step", ylabel="bin-centre mean p", title="mean p over training")
    if run_label:
        fig.suptitle(run_label)
    shown = pd.DataFrame(
        [
            {"panel": "histogram", "step": int(steps[i]), "x": float(c), "y": float(v)}
            for i in idx
            for c, v in zip(centres, h[i])
        ]
    )
    means = pd.DataFrame({"panel": "mean_p", "step": summary["step"], "x": summary["step"], "y": summary["mean_p"]})
    save_figure(fig, pd.concat([shown, means], ignore_index=True), out_dir, name)
    return fig


def plot_diffhist_heatmap(
    steps: np.ndarray,
    delta: np.ndarray,
    out_dir: Path | str,
    *,
    title: str = "DiffHist",
    linthresh: float | None = 1e-3,
    name: str = "diffhist_heatmap",
) -> Figure:
    """Heatmap of an (n_checkpoints, B) DiffHist sequence: bins (p) on the y-axis, checkpoints on the x-axis,
    red = mass lost, blue = mass gained, colour scale symmetric about 0.

    The lowest bin usually moves ~50x more mass than any other, so by default the colour scale is symmetric-log,
    linear within ±``linthresh``; ``linthresh=None`` gives a plain linear scale."""
    d = np.asarray(delta, dtype=np.float64)
    steps = np.asarray(steps)
    if d.ndim != 2 or steps.shape != (d.shape[0],):
        raise ValueError(f"steps has shape {steps.shape} but delta has shape {d.shape}")
    edges = bin_edges(d.shape[1])
    vmax = float(np.abs(d).max()) or 1.0
    fig = Figure(figsize=(9, 4), layout="constrained")
    ax = fig.subplots()
    cols = np.arange(len(steps) + 1) - 0.5
    norm: Normalize = (
        TwoSlopeNorm(0.0, -vmax, vmax)
        if linthresh is None
        else SymLogNorm(linthresh=linthresh, vmin=-vmax, vmax=vmax, base=10)
    )
    mesh = ax.pcolormesh(cols, edges, d.T, cmap="RdBu", norm=norm)
    tick_idx = np.unique(np.linspace(0, len(steps) - 1, min(8, len(steps))).round().astype(int))
    ax.set_xticks(tick_idx, [f"{int(steps[i]):,}" for i in tick_idx], fontsize=8)
    ax.set(xlabel="checkpoint (training step)", ylabel="p = exp(-loss) bin", title=title)
    fig.colorbar(mesh, ax=ax, label="change in fraction of values")
    data = pd.DataFrame(
        [
            {"step": int(s), "bin": b, "p_lo": edges[b], "p_hi": edges[b + 1], "delta": float(d[i, b])}
            for i, s in enumerate(steps)
            for b in range(d.shape[1])
        ]
    )
    save_figure(fig, data, out_dir, name)
    return fig
