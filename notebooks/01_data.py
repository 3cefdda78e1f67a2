# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The data: public accuracy trajectories
#
# ## Overview
# NeuNeu learns how downstream accuracy evolves during pretraining from many real training runs. The paper
# trains on the DataDecide suite, whose evaluation results and per-token losses live only on the Hugging Face
# hub, which this project cannot reach. This chapter assembles the closest public substitute — the OLMo-2 model
# ladder, the Pythia suite and five BigScience 1.3B data ablations — into one tidy table, says where every number
# comes from, and shows why a single scaling curve cannot describe them all.
#
# **You will learn:** which logs we use and under which license; how they become one table of
# (run, task, checkpoint, accuracy) rows plus a table of validation losses; and which shapes real downstream
# trajectories take (steady, plateau, emergent, non-monotone, inverse).
#
# ## Prerequisites
# Nothing beyond the repository: `make book` (or `python -m neuneu fetch`) downloads the files listed in
# `data/sources.toml`, or copies them from a mirror named by `NEUNEU_MIRROR`, and checks their sha256.

# %% tags=["parameters"]
PROFILE = "cpu"

# %% [markdown]
# ## Imports

# %%
import pandas as pd

from neuneu import plots, shapes, sources, trajectories
from neuneu.paths import BUILD_DIR
from neuneu.profiles import check_profile

check_profile(PROFILE)
FIG_DIR = BUILD_DIR / "figures" / "01_data"
pd.set_option("display.width", 140)

# %% [markdown]
# ## Where every number comes from
# Each source is a group of files with a URL, a sha256, a license and a citation in `data/sources.toml`.
# The table lists all of them, including those used by later chapters (BLiMP and the text corpora train and
# evaluate our own mini-ladder; the DataDecide histograms are the one piece of the paper's own data we can read).

# %%
catalog = sources.load_catalog()
pd.DataFrame(
    [{"source": s.name, "files": len(s.files), "MB": round(sum(f.bytes for f in s.files) / 1e6, 1),
      "license": s.license, "citation": s.citation.split(", \"")[0]} for s in catalog.values()]
).set_index("source")

# %% [markdown]
# ## One table for three suites
# `trajectories.load_corpus()` fetches the logs (verifying every checksum), parses them with one loader per
# suite and caches the result as parquet. The choices the loaders make — one metric per task, the test split
# where there is one, multiple-choice formats as their own tasks, step 0 dropped, duplicate files recognised —
# are listed in the module docstring of `neuneu.trajectories`; the short version:
#
# | suite | runs | metric | validation loss |
# |---|---|---|---|
# | OLMo-2 ladder | 5 sizes × 5 compute multipliers (+ reruns, seed replicas, 600M, OLMo-2 7B/13B) | RC 5-shot `len_norm` (`acc` for BoolQ); MC 5-shot as `<task>_mc` | 11 domain losses and their mean |
# | Pythia | 8 sizes × {Pile, deduplicated Pile} | `acc_norm` where present, else `acc` | log-perplexity on LAMBADA |
# | BigScience | 1.3B on 5 data recipes | `acc_norm` where present, else `acc` | log-perplexity on LAMBADA |

# %%
corpus = trajectories.load_corpus()
counts = corpus.counts()
counts

# %%
acc = corpus.accuracy
print(f"{counts.loc['total', 'runs']} runs, {counts.loc['total', 'trajectories']} (run, task) trajectories, "
      f"{counts.loc['total', 'points']} accuracy points")
acc.groupby("family").agg(runs=("run", "nunique"), min_params=("size_params", "min"),
                          max_params=("size_params", "max"), tasks=("task", "nunique"))

# %% [markdown]
# The tidy accuracy table has one row per (run, task, checkpoint); the loss table one row per
# (run, loss, checkpoint):

# %%
acc.sample(5, random_state=0).sort_values(["run", "task"])

# %%
corpus.losses.groupby(["source", "loss_name"]).size().rename("rows").to_frame().T

# %% [markdown]
# ## Downstream scaling has many shapes
# Every method in this book turns the first part of a trajectory into a forecast of the rest. A logistic or power
# law assumes the rest looks like one smooth rise. Real trajectories do not agree. We name each trajectory's shape
# with a few transparent rules on a smoothed copy (`neuneu.shapes.classify_shape`: *inverse* if accuracy ends
# lower than it started, *non-monotone* if it rises then falls (or dips then recovers) by 4+ points, *flat* if it
# moves less than 2 points, *plateau* if 75% of the gain comes in the first 30% of log-compute, *emergent* if less
# than 25% comes in the first 60%, *steady* otherwise) and show the clearest real example of each.

# %%
series = trajectories.to_series(corpus, require_loss=False)
examples = shapes.pick_examples(series)
fig = plots.plot_shape_examples(examples, FIG_DIR)

# %%
shape_table = pd.DataFrame(
    [{"source": s.meta["source"], "shape": shapes.classify_shape(s)} for s in series]
).value_counts().unstack(fill_value=0).reindex(columns=list(shapes.SHAPES), fill_value=0)
shape_table

# %%
fig = plots.plot_shape_counts(shape_table, FIG_DIR)

# %% [markdown]
# Multiple-choice formats (`*_mc` tasks of the OLMo ladder) are where the *emergent* shape lives: the model sits
# at chance until it learns to map an answer to its letter, then rises. The same task in ranked-classification
# format rises steadily from the start. Below, HellaSwag in both formats across the OLMo ladder, coloured by model
# size: larger models reach a given accuracy at lower compute, but not along one shared curve.

# %%
olmo = [s for s in series if s.meta["family"] == "olmo-2-ladder" and s.meta["seed"] == "default"]
fig = plots.plot_family_trajectories(olmo, "hellaswag", FIG_DIR, "olmo_hellaswag")

# %%
fig = plots.plot_family_trajectories(olmo, "hellaswag_mc", FIG_DIR, "olmo_hellaswag_mc")

# %% [markdown]
# ## How this differs from the paper's data
# | | paper (DataDecide) | here |
# |---|---|---|
# | training runs | 144 (24 recipes × 6 sizes, 90M–1B) | OLMo ladder, Pythia and BigScience runs (counts above) |
# | tasks | 66 (OLMES RC: 9 + 57 MMLU) | OLMo: 13 RC + 13 MC; Pythia: 65 incl. 57 MMLU; BigScience: 27 |
# | metric | `acc_raw` | `len_norm` / `acc_norm` / `acc` (see table above) |
# | validation loss | per-token losses on a WebOrganizer shard | per-domain mean losses (OLMo), LAMBADA log-perplexity (Pythia, BigScience); per-token losses come from our own mini-ladder (chapter 2) |
#
# The public logs have no per-token losses, so the loss encoders that need them (DiffHist, CNN) are trained on
# our own mini-ladder; on this corpus NeuNeu reads the mean or per-domain losses.
#
# ## Summary
# * Three public suites give the run and task counts printed above, in one tidy table with a companion loss
#   table, all from sha256-verified files.
# * Real downstream trajectories are steady, plateauing, emergent, non-monotone or inverse — the motivation for a
#   learned rather than a fixed-form scaling law.
#
# ### What's next
# Chapter 2 trains a mini-ladder of tiny language models to get what the public logs lack: per-token validation
# losses at every checkpoint.
