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
# # The baselines NeuNeu has to beat
#
# ## Overview
# A forecast is only as impressive as the simplest method it beats. This chapter fits seven baselines, each behind
# the same interface as NeuNeu (`predict(context, query) → median (+ quantiles)`), and shows them on real
# trajectories. They fall into the two information settings that the evaluation keeps apart:
#
# * **forecast** — only what is known at the context end: *last value*; a *linear trend* in log-compute; a
#   *per-run logistic* and a *saturating power law* in log-compute fitted to the context; *ETS* (exponential
#   smoothing, statsmodels); and the *two-stage* law (extrapolate the mean loss with a power law in compute, then
#   map it to accuracy through the pooled logistic below).
# * **loss_given** — the target checkpoint's validation loss is known: the *paper's logistic*, one 4-parameter
#   logistic in log mean loss per task, fitted on all training runs pooled, fed the test run's true future losses
#   and none of its accuracies (paper-spec §6).
#
# A task never seen in training (chapter 7's held-out tasks) has no law of its own. Both law-based baselines then
# read the law pooled over the training tasks of its answer format (multiple choice or ranked classification) and,
# since a pooled law knows how accuracy moves with the loss but not the task's level, shift it through the
# context's last accuracy: the law NeuNeu starts from on those tasks, so the comparison is like for like.
#
# **You will learn:** what each baseline assumes, where each fails, and how often a fit has to fall back.
#
# ## Prerequisites
# Chapter 1 (the corpus); the method page for the two settings.

# %% tags=["parameters"]
PROFILE = "cpu"

# %% [markdown]
# ## Imports

# %%
import numpy as np
import pandas as pd

from neuneu import baselines, bench, evaluate, plots, profiles, report, splits
from neuneu.contract import context_end
from neuneu.paths import BUILD_DIR

profiles.check_profile(PROFILE)
FIG_DIR = BUILD_DIR / "figures" / "05_baselines"
series = splits.load_pool("public")
train, test = splits.make_split(series, "heldout-sizes")
print(f"held-out sizes: fit on {len(train)} series of {len({s.run for s in train})} runs (190M–760M); "
      f"forecast {len(test)} series of {len({s.run for s in test})} runs (1B, 3B)")

# %% [markdown]
# ## Fitting
# Every baseline is fitted once on the training side (only the paper's logistic and the two-stage law learn from
# it; the others fit each test trajectory's own context).

# %%
methods = baselines.default_baselines()
for method in methods:
    method.fit(train)
report.markdown(pd.DataFrame([{"method": m.name, "setting": m.capabilities.setting,
                               "learns from training runs": m.capabilities.learned,
                               "quantiles": m.capabilities.quantiles} for m in methods]), index=False)

# %% [markdown]
# ## The paper's logistic law
# Per task, accuracy against mean validation loss pooled over the training runs, with the fitted law and the
# q10–q90 band of its training residuals. The law is tight where the task improves steadily with loss and says
# nothing where accuracy hovers at chance until late.

# %%
paper = methods[0]
for task in ("hellaswag", "mmlu_humanities"):
    law, _ = paper.law_for(task)
    fig = plots.plot_paper_logistic(train, law, task, FIG_DIR)

# %% [markdown]
# ## Each baseline on real trajectories
# The context is the first 20% of checkpoints (dashed line); every later checkpoint is a target.

# %%
examples = [("olmo-1B-1xC", "hellaswag"), ("olmo-3B-1xC", "arc_challenge"), ("olmo-3B-5xC", "mmlu_humanities")]
by_key = {s.key: s for s in test}
for run, task in examples:
    s = by_key[(run, task)]
    end = context_end(s)
    forecasts = {}
    for m in methods:
        setting = "loss_given" if m.capabilities.setting == "loss_given" else "forecast"
        forecasts[m.name] = evaluate.forecast_series(m, s, end, setting)
    fig = plots.plot_forecasts(s, end, forecasts, FIG_DIR, f"baselines_{run}_{task}")

# %% [markdown]
# ## Scores on the held-out sizes
# All methods on the same targets (every checkpoint after the context end of every test trajectory), scored by
# the harness of chapter 6. MAE is in accuracy points (%); the noise floor (chapter 6 defines it) is the error of
# a smoother that sees the whole trajectory, a reference no forecaster can beat by much.

# %%
chosen = profiles.keep_tasks(series, PROFILE)
results = bench.run_benchmark(methods, chosen, splits=["heldout-sizes"], rules=("index",))
report.markdown(report.results_table(results.summary, "mae", splits=["heldout-sizes"]))

# %% [markdown]
# ## When fits fall back
# A fit that fails (too few context points, no convergence) never returns a silent NaN: it falls back to a simpler
# forecast (last value, a pooled law) and counts the event.

# %%
report.markdown(pd.DataFrame([{"method": m.name, "fallbacks": sum(m.fallbacks.values()), **dict(m.fallbacks)}
                              for m in methods]).set_index("method").fillna(0).astype(int))

# %% [markdown]
# ## Summary
# * Forecasting baselines extrapolate the context; the paper's logistic instead reads the true future loss and maps
#   it through a per-task law fitted on other runs.
# * Both kinds fail in characteristic places: extrapolation cannot anticipate a late rise, and a pooled loss law
#   cannot see a run-specific offset.
#
# ### What's next
# Chapter 6 puts NeuNeu and every baseline through one harness on every split.
