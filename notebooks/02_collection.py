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
# # The mini-ladder: per-token losses from our own runs
#
# ## Overview
# NeuNeu's key input is the per-token validation loss of every checkpoint, which no public log has (the paper
# computed it for every DataDecide checkpoint; that data is on the hub, out of reach here). So we make it: a
# *mini-ladder* of tiny Llama models trained from scratch on public-domain text, every checkpoint scored on a fixed
# held-out shard (one loss per token, aligned to the token it scores) and on all 67 BLiMP paradigms through
# lm-eval. The same collector runs on any transformers checkpoint, so a reader with internet can point it at the
# DataDecide suite.
#
# **You will learn:** how the collection works and what it stores; what the committed suite looks like (loss
# curves against unigram and bigram references, BLiMP trajectories per paradigm); and which shapes appear.
#
# ## Prerequisites
# Chapter 1 for the data sources (`nltk-corpora`, `tinyshakespeare`, `blimp`). The committed suite in
# `data/miniladder/` was made by `python -m neuneu collect --profile cpu`; this chapter reads it and runs a live
# `smoke` collection (one micro run, well under a minute) to show the machinery.

# %% tags=["parameters"]
PROFILE = "cpu"

# %% [markdown]
# ## Imports

# %%
import json

import pandas as pd

from neuneu import collect, plots, shapes
from neuneu.paths import BUILD_DIR, DATA_DIR
from neuneu.profiles import check_profile

check_profile(PROFILE)
FIG_DIR = BUILD_DIR / "figures" / "02_collection"

# %% [markdown]
# ## A live collection
# `collect.collect(profile)` trains each run of the profile, and at each checkpoint (i) scores the held-out shard
# — the loss at position *j* scores token *j* given the tokens before it, so a document's first token has no loss
# and padding is never counted — and (ii) runs lm-eval's BLiMP tasks through a batched scorer registered as an
# lm-eval model. Everything is resumable: killed at any point, it restarts from the last finished checkpoint with
# identical results. Here is the whole `smoke` profile:

# %%
smoke_dir = collect.collect("smoke", out_dir=BUILD_DIR / "miniladder-smoke", progress=False)
smoke = collect.load_miniladder(smoke_dir)
smoke.losses.pivot_table(index="step", columns="run", values="value").round(3)

# %%
smoke.accuracy.groupby(["run", "step"])["value"].mean().round(3).rename("BLiMP mean accuracy").to_frame().T

# %% [markdown]
# ## The committed suite
# The `cpu` profile (manifest below) trains three sizes spanning about 9× in parameters on two text recipes —
# *prose* (Brown, ABC, State of the Union, inaugural addresses) and *informal* (movie reviews, web text, chat) —
# with a second data-order seed. Runs are appended to `data/miniladder/` as they finish; `complete` says whether
# every planned run is in.

# %%
manifest = json.loads((DATA_DIR / "miniladder" / "manifest.json").read_text())
suite = collect.load_miniladder()
print("complete:", manifest["complete"], "| runs present:", suite.losses["run"].nunique(),
      "of", len(manifest["config"]["runs"]), "planned")
final = suite.losses.sort_values("step").groupby("run").last()
blimp = suite.accuracy.groupby(["run", "step"])["value"].mean().groupby("run").last()
runs = suite.accuracy.groupby("run")[["size_params", "recipe", "seed"]].first()
runs.assign(tokens=final["tokens"], val_loss=final["value"].round(3), blimp_mean=blimp.round(3))

# %% [markdown]
# References: an add-one unigram and a Dirichlet-smoothed bigram fitted on each recipe's training text, scored on
# the same shard and on BLiMP. A language model that cannot beat the bigram on loss has learned little syntax.

# %%
references = pd.read_csv(DATA_DIR / "miniladder" / "references.csv")
references.pivot_table(index="task", columns=["recipe", "model"], values="value").loc[["val_loss"]].round(3)

# %%
fig = plots.plot_miniladder_losses(suite.losses, references, FIG_DIR)

# %% [markdown]
# ## BLiMP trajectories
# Each paradigm is a two-choice task (the grammatical sentence must get the higher probability). Tiny models pass
# some paradigms early by frequency heuristics, fail others systematically, and wander on the rest — the same
# variety of shapes as the public suites of chapter 1, at a scale we can afford to log.

# %%
series = collect.to_series(suite)
table = pd.DataFrame([{"run": s.run, "shape": shapes.classify_shape(s)} for s in series])
table.value_counts().unstack(fill_value=0).reindex(columns=list(shapes.SHAPES), fill_value=0)

# %%
examples = shapes.pick_examples(series)
chosen = [s.task for s in examples.values()] + ["blimp_anaphor_number_agreement", "blimp_determiner_noun_agreement_1",
                                                "blimp_irregular_past_participle_adjectives"]
fig = plots.plot_paradigm_grid(series, list(dict.fromkeys(chosen))[:8], FIG_DIR, "blimp_paradigms")

# %% [markdown]
# ## Summary
# * The collector trains, checkpoints and scores a suite of tiny LMs resumably; per-token losses are aligned to
#   the token they score, stored with document offsets, and summarised per checkpoint as a 64-bin histogram of
#   p = e^-loss plus a fixed subsample of 4,096 token losses (the CNN input).
# * The committed suite is small and its models are weak (their losses sit near the bigram reference), so read
#   its numbers as a working demonstration of the pipeline, not as a stand-in for DataDecide's magnitudes.
#
# ### What's next
# Chapter 3 turns the per-token losses into DiffHist features.
