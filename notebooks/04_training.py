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
# # Training NeuNeu
#
# ## Overview
# NeuNeu reads the accuracies observed so far, each tagged with where it sits in training, plus a soft prompt
# made from validation losses, and answers with five quantiles of the accuracy at a later checkpoint. This chapter
# builds the model, shows what one training sample looks like, and trains it on the public corpus of chapter 1.
#
# **You will learn:** the architecture and its size at each profile (and against the paper's 19.2M parameters);
# how training samples are cut from trajectories; what the training curves look like; and that training is
# bitwise repeatable on CPU.
#
# ## Prerequisites
# Chapter 1 (the corpus) and the method page. Under the `cpu` profile this chapter reads the committed weights in
# `data/weights/` (set `RETRAIN = True` to retrain them; `python -m neuneu.zoo` retrains all of them); under
# `smoke` it trains a toy model in seconds; under `full` it trains the paper-size model (use a GPU).

# %% tags=["parameters"]
PROFILE = "cpu"
RETRAIN = False

# %% [markdown]
# ## Imports

# %%
import dataclasses

import numpy as np
import pandas as pd
import torch

from neuneu import model, plots, profiles, samples, splits, train, zoo
from neuneu.paths import BUILD_DIR

profiles.check_profile(PROFILE)
FIG_DIR = BUILD_DIR / "figures" / "04_training"
series = profiles.keep_tasks(splits.load_pool("public"), PROFILE)
len(series)

# %% [markdown]
# ## The architecture
# One file, `neuneu/model.py`, holds the whole model (paper-spec §4), with two deliberate changes:
#
# * **Where a point sits in training** is its log training-tokens relative to the context end (the paper feeds a
#   raw checkpoint-index gap, which means different compute at each model size and does not extrapolate to the
#   long horizons of evaluation). The index gap stays available as `time_axis="index"` for the ablation.
# * **Quantiles cannot cross**: the head predicts the median and softplus-positive steps outward from it, and the
#   median starts from the last observed accuracy, so an untrained model already forecasts "last value".
#
# Each target gets its own query token that reads the context (bidirectional attention among context tokens, one
# forward pass for all targets of a trajectory). Loss inputs: `none`, `mean` (mean validation loss per checkpoint),
# `vector` (per-domain losses), `hist` (a p = e^-loss histogram or its DiffHist in the `loss_given` setting) and
# `sample` (a CNN over per-token losses).

# %%
rows = []
for profile in ("smoke", "cpu", "full"):
    for loss_input in ("none", "mean", "hist", "sample"):
        cfg = dataclasses.replace(model.config_for(profile), loss_input=loss_input,
                                  loss_dim=64 if loss_input == "hist" else 1)
        rows.append({"profile": profile, "loss_input": loss_input, "d_model": cfg.d_model, "layers": cfg.n_layers,
                     "heads": cfg.n_heads, "parameters": model.count_parameters(model.NeuNeu(cfg))})
sizes = pd.DataFrame(rows).pivot(index=["profile", "d_model", "layers", "heads"], columns="loss_input", values="parameters")
sizes

# %% [markdown]
# The `full` profile is the paper's encoder (6 layers, d = 512, 8 heads, FFN 2048): its no-loss variant has about
# the paper's 18.9M parameters (paper-spec §4.7: 18,919,429); the paper's CNN variant adds a 4-block CNN over 256k
# per-token values (19.2M in all), which our CNN approximates with a smaller stack and pooling.

# %% [markdown]
# ## Training samples
# A training sample is a trajectory, a context end drawn at random (from a single point up to a share of the
# trajectory), interior context points dropped at random (so the model learns from irregular spacing), and several
# targets after the context end, up to the end of the trajectory so that training covers evaluation's long
# horizons. Validation holds out whole replica groups of runs, chosen to look like the test: on held-out sizes,
# the largest training size (760M), so early stopping and interval calibration see an extrapolation in size.

# %%
split = splits.make_split(series, "heldout-sizes")
fit, validation = split.fit_side(), split.validation_series()
print(f"held-out sizes: fit on {len(fit)} series ({len(splits.runs_of(fit))} runs), validate on "
      f"{len(validation)} ({len(splits.runs_of(validation))} runs: {sorted(splits.runs_of(validation))[:3]} …), "
      f"test on {len(split.test)} ({len(splits.runs_of(split.test))} runs)")
cfg = dataclasses.replace(model.config_for(PROFILE), loss_input="mean")
example = next(s for s in fit if s.run == "olmo-370M-1xC" and s.task == "hellaswag")
traj = samples.prepare(example, samples.with_feature_stats(cfg, fit))
rng = np.random.default_rng(0)
spec = samples.draw_training_sample([traj], np.array([0]), rng, drop_prob=0.4, max_horizon=None,
                                    targets_per_context=6, max_context=cfg.max_context, max_context_fraction=0.6)
fig = plots.plot_training_sample(traj, spec, FIG_DIR)

# %% [markdown]
# ## Training on the public corpus
# The committed default model is trained on the fit side of the held-out-sizes split (OLMo ladder runs of
# 190M–370M, validated on 760M; 1B and 3B stay unseen) with the mean validation loss as its loss input, once per
# training seed. Every other split has its own models trained the same way (`neuneu.zoo.default_specs`), and
# every weights folder records what it was trained on.

# %%
default_spec = zoo.ModelSpec("heldout-sizes", "forecast", "mean")
forecaster = zoo.obtain(default_spec, series, PROFILE, retrain=RETRAIN or PROFILE != "cpu")
print(forecaster.name, f"{model.count_parameters(forecaster.model):,} parameters; trained on split "
      f"{forecaster.trained_on.split!r}: {forecaster.trained_on.n_series} series of {len(forecaster.trained_on.runs)} runs")
history = pd.DataFrame(zoo.history(default_spec, PROFILE))
history.tail(3)

# %%
fig = plots.plot_training_curves(history, FIG_DIR, "training_curves")

# %% [markdown]
# ## Bitwise repeatable on CPU
# One seed controls sampling, dropout and initialisation; at a fixed thread count two CPU runs give identical
# weights. We check it on a short smoke-size run (seconds):

# %%
def tiny_run() -> dict[str, torch.Tensor]:
    tiny = dataclasses.replace(model.config_for("smoke"), loss_input="mean")
    result = train.train(fit[:60], tiny, train.config_for("smoke"), val_series=validation[:20])
    return result.model.state_dict()


first, second = tiny_run(), tiny_run()
print("identical weights:", all(torch.equal(first[k], second[k]) for k in first))

# %% [markdown]
# ## Summary
# * NeuNeu is a bidirectional RoPE transformer over [BOS; loss prompt; context tokens; query tokens] with a
#   monotone five-quantile head; the `full` profile matches the paper's encoder size.
# * Training samples cover the whole forecast horizon; validation holds out whole runs; CPU training is bitwise
#   repeatable.
#
# ### What's next
# Chapter 5 fits the baselines NeuNeu has to beat, and chapter 6 scores everything on the same targets.
