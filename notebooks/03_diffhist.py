# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # From per-token losses to DiffHist
#
# How NeuNeu turns a checkpoint's validation losses into the features its soft prompt reads.

# %% tags=["parameters"]
PROFILE = "cpu"

# %% [markdown]
# ## Overview
#
# A logistic scaling law squeezes a checkpoint's validation set into one number, the mean loss. NeuNeu keeps more:
# it maps every per-token loss $\ell_i$ to the probability the model gave the observed token, $p_i = e^{-\ell_i}$,
# and reads either the raw sequence of these probabilities (the CNN soft prompt of the main model) or their
# histogram. The *DiffHist* feature is the change of that histogram between two checkpoints.
#
# In this notebook you will
#
# 1. follow the transform loss → $p$ → histogram → DiffHist on the small worked example of the method spec,
#    once with the reference code's handling of padding and once with ours;
# 2. see which $K$ probabilities the CNN soft prompt receives;
# 3. look at the histograms shipped with the reference repository for the DataDecide c4-300M run over training,
#    and at their DiffHist as a heatmap (bins × checkpoints).
#
# ## Prerequisites
#
# * Notebook `01_data` explains where the external files come from; this one fetches the small
#   `datadecide-histograms` source (two 10 kB `.npz` files, sha256-verified) by itself.
# * Cross-entropy: the per-token loss is $-\log$ of the probability of the observed next token.
# * The functions used here live in `neuneu/features.py`; the figures in `neuneu/plots_features.py`.

# %% [markdown]
# ## Imports

# %%
# %matplotlib inline
import numpy as np
import pandas as pd

from neuneu import features as F
from neuneu.paths import BUILD_DIR, REPO_ROOT
from neuneu.plots_features import plot_diffhist_heatmap, plot_histograms_over_training, plot_worked_example

CFG = F.config_for(PROFILE)
FIG_DIR = BUILD_DIR / "figures" / "03_diffhist"
pd.set_option("display.width", 120)
print(f"profile {PROFILE}: {CFG}")
print(f"figures and their CSVs go to {FIG_DIR.relative_to(REPO_ROOT)}/")

# %% [markdown]
# ## 1. The transform, step by step
#
# Two checkpoints A (earlier) and B (later) of the same model, scored on the same eight validation positions.
# Position 6 has no target: the reference pipeline writes NaN there (a document cut at the scoring length) or
# 0 (a padded position).

# %%
losses_a = np.array([0.05, 0.4, 1.2, 2.5, 4.0, 9.0, np.nan, 0.9])
losses_b = np.array([0.02, 0.2, 0.6, 1.8, 3.0, 7.0, np.nan, 0.3])
BINS = 4  # four bins on [0, 1] keep the example readable; NeuNeu uses 64

# %% [markdown]
# **Reference mode.** The reference code turns NaN into loss 0 (so $p = 1$), clips losses to $[0, 20]$ and $p$
# to $[0, 1 - 10^{-6}]$, then counts $p$ in left-closed bins $[b/B, (b+1)/B)$.

# %%
def transform_table(losses: np.ndarray, *, reference: bool) -> pd.DataFrame:
    """Loss, p and bin of every kept position (NaN rows vanish in clean mode)."""
    kept = np.arange(losses.size) if reference else np.flatnonzero(~np.isnan(losses))
    clean = F.sanitize_losses(losses, reference=reference)
    p = F.loss_to_prob(clean, reference=reference)
    return pd.DataFrame({"position": kept, "raw loss": losses[kept], "loss used": clean, "p": p,
                         "bin": F.bin_index(p, BINS)})


print("checkpoint A, reference mode")
print(transform_table(losses_a, reference=True).to_string(index=False, float_format="{:.4f}".format))
print("\ncheckpoint B, reference mode")
print(transform_table(losses_b, reference=True).to_string(index=False, float_format="{:.4f}".format))

# %% [markdown]
# Counting each bin and dividing by the number of values gives the histograms; DiffHist is their difference,
# $\Delta = h(B) - h(A)$. These are the numbers of paper-spec §3.

# %%
def histogram_table(*, reference: bool) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """h(A), h(B) and Δ side by side, one row per bin."""
    h_a = F.prob_histogram(losses_a, BINS, reference=reference)
    h_b = F.prob_histogram(losses_b, BINS, reference=reference)
    table = pd.DataFrame({"bin": F.bin_labels(BINS), "h(A)": h_a, "h(B)": h_b, "delta": F.diff_hist(h_b, h_a)})
    return table, h_a, h_b


ref_table, ref_a, ref_b = histogram_table(reference=True)
print(ref_table.to_string(index=False, float_format="{:+.4f}".format))

# %% [markdown]
# The NaN at position 6 became a "perfectly predicted" token in the top bin of *both* checkpoints: a fake item
# that carries no information (paper-spec §9.8). With ~0.16% of the real validation stream made of such
# positions, this shifts every histogram the reference pipeline built.
#
# **Our default: drop NaN and padding.** Seven real tokens remain, so every count is divided by 7.

# %%
print("checkpoint A, NaN dropped")
print(transform_table(losses_a, reference=False).to_string(index=False, float_format="{:.4f}".format))
clean_table, clean_a, clean_b = histogram_table(reference=False)
print()
print(clean_table.to_string(index=False, float_format="{:+.4f}".format))

# %% [markdown]
# Both versions tell the same story: mass leaves the low-$p$ bins and arrives in the high-$p$ bins as the model
# improves. Each histogram sums to 1, so each $\Delta$ sums to 0.

# %%
fig = plot_worked_example(clean_a, clean_b, FIG_DIR, name="worked_example_nan_dropped")
fig

# %% [markdown]
# **Bin edges.** Paper appendix A writes right-closed bins $((b-1)/B, b/B]$; the reference code and we use
# left-closed bins $[b/B, (b+1)/B)$ with $p = 1$ in the top bin, i.e. bin $= \min(\lfloor pB \rfloor, B-1)$.
# The two conventions disagree only for a $p$ lying exactly on an interior edge:

# %%
edge_probe = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
print(pd.DataFrame({"p": edge_probe, "bin (ours, left-closed)": F.bin_index(edge_probe, BINS)}).to_string(index=False))

# %% [markdown]
# ## 2. The CNN input: which $K$ probabilities the soft prompt sees
#
# The main NeuNeu model does not read a histogram but the raw sequence of $K$ probabilities (256,000 word-level
# values in the paper), through a 1-D CNN. The reference code takes the **first** $K$ values of the validation
# stream, about the first 5% of its documents, so the model is tied to those documents and their order
# (paper-spec §9.10). `cnn_input(losses, k, seed)` offers both: `seed=None` is that prefix; an integer seed draws
# $K$ positions uniformly from the whole stream, kept in corpus order, and the same seed picks the same positions at
# every checkpoint.
#
# A synthetic validation stream shows the difference: documents of random length, each ending with a NaN.

# %%
rng = np.random.default_rng(0)
doc_lengths = rng.integers(50, 400, size=max(40, 8 * CFG.cnn_tokens // 200))
stream = np.concatenate([np.append(rng.gamma(1.5, 2.0, size=n - 1), np.nan) for n in doc_lengths])
doc_of_token = np.repeat(np.arange(doc_lengths.size), doc_lengths - 1)  # NaNs are dropped before choosing
k = CFG.cnn_tokens
prefix = F.cnn_input(stream, k, seed=None)
subsample = F.cnn_input(stream, k, seed=CFG.cnn_seed)
positions = F.cnn_positions(doc_of_token.size, k, CFG.cnn_seed)  # the indices cnn_input kept
print(f"stream: {stream.size:,} entries, {doc_lengths.size:,} documents; K = {k:,}")
print(f"prefix     : documents covered {np.unique(doc_of_token[:k]).size:,}, mean p {prefix.mean():.4f}")
print(f"subsample  : documents covered {np.unique(doc_of_token[positions]).size:,}, mean p {subsample.mean():.4f}")
print(f"whole stream mean p {F.loss_to_prob(F.sanitize_losses(stream)).mean():.4f}; dtype {subsample.dtype}")

# %% [markdown]
# ## 3. The real thing: DataDecide c4-300M over training
#
# The reference repository ships, for the DataDecide c4-300M run, one 64-bin $p$-histogram per checkpoint
# (38 checkpoints, step 0 to 45,787). They were built in reference mode, from token and word losses mixed
# together (paper-spec §2.5, §9.9), so they are a picture of the idea rather than features to reuse as they are.

# %%
steps, hist = F.load_datadecide_histograms(F.datadecide_histogram_path("invp"))
print(f"{len(steps)} checkpoints, {hist.shape[1]} bins; rows sum to 1 within {np.abs(hist.sum(1) - 1).max():.1e}")
summary = F.hist_summary_table(steps, hist)
shown = summary[summary["step"].isin([0, 1250, 10000, 45787])]
print(shown.to_string(index=False, float_format="{:.4f}".format))

# %% [markdown]
# The bin-centre mean $p$ climbs 0.009 → 0.200 (step 1,250) → 0.242 (10k) → 0.266 (final), as paper-spec §2.5
# states. Most of the change happens in the first 1,250 steps; after that a third of all values still sit in the
# lowest bin ($p < 1/64$), while the top bin slowly fills.

# %%
fig = plot_histograms_over_training(
    steps, hist, FIG_DIR, show_steps=[0, 1250, 10000, 45787], run_label="DataDecide c4-300M (reference histograms)"
)
fig

# %% [markdown]
# **The padding shows.** A randomly initialised model gives every token $p \approx 1/50{,}000$, yet the step-0
# histogram has mass in the *top* bin: those are the NaN/padding positions turned into $p = 1$. Padding sits at
# fixed positions of the fixed validation corpus, so the same share is in every row; removing it from the top bin
# changes the later summaries a little.

# %%
padding_share = float(hist[0, -1])
print(f"top-bin mass at step 0 (fake p = 1 items): {padding_share:.4%}")
corrected = F.remove_padding_mass(hist, padding_share)
corrected_summary = F.hist_summary_table(steps, corrected)
compare = pd.DataFrame({
    "step": summary["step"], "mean_p shipped": summary["mean_p"], "mean_p padding removed": corrected_summary["mean_p"],
    "top bin shipped": summary["mass_top"], "top bin padding removed": corrected_summary["mass_top"],
})
print(compare[compare["step"].isin([0, 1250, 10000, 45787])].to_string(index=False, float_format="{:.4f}".format))

# %% [markdown]
# ## 4. DiffHist over training
#
# NeuNeu's Δ-histogram soft prompt is $\Delta = h(s_t) - h(s_c)$: the histogram at the *target* checkpoint minus
# the one at the last observed checkpoint. Below, $c$ is fixed at step 1,250 (step 0 is never used) and $t$ runs
# over every later checkpoint. Blue is mass gained, red mass lost; the colour scale is symmetric-log because the
# lowest bin moves about fifty times more mass than any other.

# %%
anchored = F.diff_hist_series(hist[1:], anchor=0)
fig = plot_diffhist_heatmap(
    steps[1:], anchored, FIG_DIR, title="DataDecide c4-300M: DiffHist relative to step 1,250"
)
fig

# %%
moved = 0.5 * np.abs(anchored).sum(axis=1)  # total variation: the share of values that changed bin, net
cdf_never_rises = bool(np.all(np.cumsum(anchored, axis=1) <= 1e-6))
print("share of mass moved since step 1,250:",
      ", ".join(f"step {s:,}: {m:.4f}" for s, m in zip(steps[1:], moved) if s in (2500, 10000, 25000, 45787)))
print(f"CDF of p at every later checkpoint lies below the step-1,250 CDF in every bin: {cdf_never_rises}")

# %% [markdown]
# Every later checkpoint *stochastically dominates* step 1,250: in every bin the cumulative share of values below
# it only drops, so training moves mass upward all along the $p$ axis, most of it out of the lowest bin.
#
# Because $\Delta$ needs the validation losses of the target checkpoint, a model fed with it is not forecasting: it
# maps a *known* loss change to an accuracy change. Our evaluation labels this the `loss_given` setting and keeps it
# apart from the `forecast` setting, where only losses up to the context end may be used (paper-spec §9.15).

# %% [markdown]
# ## Summary
#
# * Per-token losses become probabilities $p = e^{-\ell}$; a $B$-bin histogram of $p$ on $[0, 1]$ keeps the shape of
#   the loss distribution; DiffHist is the difference of two such histograms and sums to 0.
# * We drop NaN and padding positions instead of counting them as $p = 1$; `reference=True` reproduces the
#   reference pipeline exactly, as the worked example shows. Bins are left-closed, with $p = 1$ in the top bin.
# * The CNN input is a fixed set of $K$ probabilities: the reference prefix, or a seeded subsample spread over the
#   whole validation stream.
# * On the shipped DataDecide c4-300M histograms, mean $p$ climbs from 0.009 to 0.266, and every checkpoint after
#   step 1,250 moves mass upward in every bin.
#
# ### What's next
#
# `04_training` feeds these features to NeuNeu's soft prompt and trains the meta-model; `08_ablations` compares the
# loss representations (none / mean loss / DiffHist / CNN).
