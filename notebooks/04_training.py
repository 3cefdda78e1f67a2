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

from neuneu import model, plots, prior, profiles, report, samples, speed, splits, train, zoo
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
# ## A synthetic scaling prior
# Our real training sides are small: the held-out-size split fits on 14 runs (the paper trained on 144). So NeuNeu
# first learns from a **synthetic prior** (`neuneu.prior`): ladders of runs with Chinchilla-form losses under
# cosine, constant or warmup-stable-decay schedules, checkpoint grids like OLMo's, Pythia's or the mini-ladder's,
# and per-task loss → accuracy laws with the deviations real suites show — tasks that stay at chance across the
# whole ladder (multiple-choice formats and MMLU below 1B parameters), plateaus, late emergence, saturation,
# bumps, inverse scaling, and BoolQ-like regime switching — plus binomial and correlated checkpoint noise. Each
# run's law is offset from its ladder's and drifts with size, so a law fitted on the small runs errs on the large
# ones, as on the OLMo ladder. The prior never contains a real run, so one pretrained model serves every split.
#
# The check: the prior's ranges are broad on purpose; their distributions of curve statistics and shape classes
# should cover the real training sides' (test runs are not used). The check changed the prior once: about a third
# of the real training series are *flat*, most of them at chance, and the prior had far fewer, so it now draws a
# "chance" task kind (18% of its tasks, taken from its surplus of steady and plateau tasks; `prior.TASK_KINDS`).

# %%
prior_config = prior.config_for(PROFILE)
synthetic = prior.sample_prior(dataclasses.replace(prior_config, n_ladders=min(prior_config.n_ladders, 60)), seed=0)
print(f"{len(synthetic):,} synthetic series from {min(prior_config.n_ladders, 60)} ladders "
      f"(the {PROFILE} profile pretrains on {prior_config.n_ladders}); sampling speed: "
      f"{prior.sampling_rate()['series_per_s']:,.0f} series/s")
training_sides = [s for name in splits.PUBLIC_SPLITS for s in splits.make_split(series, name).fit_side()]
fig = plots.plot_prior_check(list({s.key: s for s in training_sides}.values()), synthetic, FIG_DIR)

# %%
fig = plots.plot_prior_samples(fit, synthetic, FIG_DIR)

# %% [markdown]
# ## Reading the laws, correcting the law
# The default model (`parametric=True`, beyond the paper) also reads, for every target, what the parametric laws
# predict (`neuneu.parametric`): the paper's per-task logistic at the loss the two-stage law extrapolates from the
# context (or at the true target loss in `loss_given`), a power law fitted to the context's accuracies, and how
# far the run's context sat from the law. Its median is that law forecast plus a learned correction whose head
# starts at zero, so an untrained model *is* the law. For training runs the law is fitted without the run's own
# fold (cross-fitting), as a test run's law is fitted without it; in the prior, on the other runs of its ladder.
# A target also carries where it sits in its run (the run's planned length is known when it starts).
#
# **Which law a series may read** is decided as its split's test will face it. Laws are fitted per model family
# and loss kind, because the same loss maps to different accuracies in different families: a family never seen
# in training reads no law (its anchor is then the last value), and a task never seen reads its family's law
# pooled over the other tasks of its answer format (multiple choice or ranked classification,
# `neuneu.contract.task_format`), used only for the change it predicts (every input it gives is read from the law
# shifted through the context's last accuracy: the pool's level is no task's level). So on held-out tasks the
# training side's laws are cross-fitted by *dataset* (each training series sees the pooled law, as a held-out task
# does), and on the unseen-family and unseen-recipe splits by *family* (each sees no law, as the test family does).
#
# ## Training on the public corpus
# The default NeuNeu of each split and setting averages three members, one per training seed: each starts from
# the prior model of its seed and is fine-tuned on the split's fit side (for held-out sizes: OLMo ladder runs of
# 190M–370M, validated on 760M; 1B and 3B stay unseen), the pretrained model itself competing at step 0 of early
# stopping. Fine-tuning also *rehearses* the prior: its training samples come as much from prior ladders as from
# real runs, so the model keeps what only the prior shows it (log-spaced checkpoint grids, contexts at chance).
# That model selects and calibrates; the member itself is then *refit*: fine-tuned again from the same prior model
# on the whole training side (760M included) for the full schedule, keeping its selection model's interval
# calibration (chapter 8 shows the check that adopted this). Every weights folder records what it was trained on
# (`neuneu.zoo`). Below, the mean-loss model of the paper's design (no prior, no laws) on held-out sizes, and the
# training curve of a member's selection model (a refit model holds out nothing, so it has no validation curve).

# %%
default_spec = zoo.ModelSpec("heldout-sizes", "forecast", "mean")
forecaster = zoo.obtain(default_spec, series, PROFILE, retrain=RETRAIN)
print(forecaster.name, f"{model.count_parameters(forecaster.model):,} parameters; trained on split "
      f"{forecaster.trained_on.split!r}: {forecaster.trained_on.n_series} series of {len(forecaster.trained_on.runs)} runs")
history = pd.DataFrame(zoo.history(default_spec, PROFILE))
fig = plots.plot_training_curves(history, FIG_DIR, "training_curves")

# %%
member = zoo.ModelSpec("heldout-sizes", "forecast", "mean", parametric=True, pretrained=True)
member_model = zoo.obtain(member, series, PROFILE, split=split)
print(member.method, f"{model.count_parameters(member_model.model):,} parameters")
fig = plots.plot_training_curves(pd.DataFrame(zoo.history(member, PROFILE)), FIG_DIR, "training_curves_member")

# %% [markdown]
# ## What each profile trains
# Rebuilding the book's models (`make weights`; `make bench` does it into a build folder) trains every model the
# chapters read: the prior models, the fine-tuned members of each default, the models trained from scratch for the
# paper's design and the ablations. Their optimiser steps, counted from each model's own training config:

# %% tags=["hide-input"]
workload = pd.DataFrame([row for profile in ("smoke", "cpu", "full") for row in zoo.workload(profile)])
for column in ("steps", "contexts", "encoder_parameters"):
    workload[column] = [f"{v:,}" for v in workload[column]]
report.markdown(workload, index=False)

# %% [markdown]
# Steps become time at a measured speed: `python -m neuneu.speed
# --profile P --record` (`make speed`) times the optimiser step of profile P's default member — its encoder, batch
# and thread count, on batches of its prior, set-up and validation left out — on the machine at hand, and stores
# it in `data/bench/speed.json`, with the share of the step spent drawing the batch's samples on the CPU (the part
# that would starve a GPU). Each recorded measurement prices its profile's workload on one process (a lower
# bound: input preparation, law fits and validation come on top; `make weights` runs two processes):

# %% tags=["hide-input"]
measured = speed.read_record()
report.markdown(speed.price_table(measured), index=False) if measured else print("no speed measured yet")

# %% tags=["hide-input"]
on_gpu = [e for e in measured if e["device_type"] == "cuda"]
print(f"GPU measurements recorded: {len(on_gpu)}" + ("" if on_gpu else " — the `full` profile's time on a GPU is "
      "unmeasured; `python -m neuneu.speed --profile full --device cuda --record` measures it in 23 steps"))
needed = speed.needed_speed("full", 30)
print("to fit 30 minutes of one GPU, a step of the `full` profile may take at most: "
      + "; ".join(f"{stage} {1000 * seconds:.1f} ms" for stage, seconds in needed.items())
      + " (each stage alone; total: all of them)")

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
# * Rebuilding every model is counted in optimiser steps per profile; the `full` profile's GPU time is unmeasured.
#
# ### What's next
# Chapter 5 fits the baselines NeuNeu has to beat, and chapter 6 scores everything on the same targets.
