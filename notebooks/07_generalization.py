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
# # Zero-shot: unseen families, data recipes and tasks
#
# ## Overview
# The paper's second claim is that one frozen meta-model transfers without fine-tuning: to model families it never
# saw (Pythia; OLMo-Hybrid in v2), to unseen parameter counts and to unseen tasks. This chapter runs the same
# harness as chapter 6 on three zero-shot splits of the public corpus:
#
# * **unseen family** — train on OLMo and BigScience runs, test on all 16 Pythia runs (other tokenizer, other
#   data, log-spaced checkpoints, and LAMBADA log-perplexity instead of OLMo's domain losses as the loss input);
# * **unseen recipe** — train on the OLMo ladder, test on the five BigScience 1.3B runs (OSCAR, C4, the Pile and
#   two filtered OSCAR variants; Pythia trained on the Pile, so it is on neither side);
# * **held-out tasks** — the paper's 13 held-out tasks (those present in each suite) never appear in training.
#
# **You will learn:** how far each method transfers, and where the paper's zero-shot story does and does not
# survive on public data.
#
# ## Prerequisites
# Chapter 6 (the harness and the two information settings).

# %% tags=["parameters"]
PROFILE = "cpu"
RETRAIN = False

# %% [markdown]
# ## Imports

# %% tags=["hide-input"]
import pandas as pd

from neuneu import bench, plots, profiles, report, splits
from neuneu.contract import family_of
from neuneu.paths import BUILD_DIR

profiles.check_profile(PROFILE)
FIG_DIR = BUILD_DIR / "figures" / "07_generalization"
SPLITS = ("unseen-family", "unseen-recipe", "heldout-tasks")
series = profiles.keep_tasks(splits.load_pool("public"), PROFILE)

# %% [markdown]
# ## Who trains on what, and why
# Each split promises what never occurs on both sides, and `neuneu.splits.leaks` checks it (the tests run it on
# this corpus): no run, replica group (reruns, seed and init replicas), model family (Pythia), training corpus
# (the Pile, deduplicated or not, counts as one corpus, so Pythia is out of the unseen-recipe training side) or
# dataset in any format (`piqa` and `piqa_mc` are one dataset; OLMo's MMLU category averages mix held-out and
# trained subjects, so this split drops them). Inside the training side a **validation** subset is held out for
# early stopping and interval calibration, chosen to look like the test: another family (BigScience) for the
# family split, held-out datasets for the task split. The OLMo-2 7B/13B logs are in no split: they are stitched
# from segment files of long production runs, start after ≥ 20B tokens (already-trained models) and show
# multiple-choice accuracies rising while the loss is flat — a regime no test run is in, from which a model learns
# "flat loss, rising MC accuracy → a late rise" and applies it to Pythia's untrained early checkpoints.

# %% tags=["hide-input"]
rows = []
for name in SPLITS:
    split = splits.make_split(series, name)
    rows.append({"split": name, "holds out": ", ".join(split.holds_out),
                 "fit runs": len(splits.runs_of(split.fit_side())),
                 "validation runs": len(splits.runs_of(split.validation_series())),
                 "fit series": len(split.fit_side()), "validation series": len(split.validation_series()),
                 "test runs": len(splits.runs_of(split.test)), "test series": len(split.test),
                 "test tasks": len({s.task for s in split.test}), "leaks": len(splits.leaks(split))})
report.markdown(report.records_table(rows), index=False)

# %% [markdown]
# ## The zero-shot tables
# MAE (accuracy points, mean ± sd over NeuNeu's seeds, best forecaster in bold) under the paper's index rule, then
# under the compute rule, which on Pythia's log-spaced checkpoints is the difference between a context of
# untrained models (steps 1–32) and one of the first 20% of training.

# %%
results = bench.evaluate_all(series, PROFILE, splits=SPLITS, retrain=RETRAIN)
summary = results.summary
report.markdown(report.results_table(bench.headline(summary), "mae", splits=SPLITS))

# %% tags=["hide-input"]
report.markdown(report.results_table(bench.headline(summary), "mae", rule="compute", splits=SPLITS))

# %% [markdown]
# As ratios to the noise floor (index rule):

# %% tags=["hide-input"]
report.markdown(report.results_table(bench.headline(summary), "mae_ratio", splits=SPLITS, spread=False))

# %% [markdown]
# Per setting, split and context rule: the best forecaster, NeuNeu's best model against the best baseline, and
# the same change in the error above the noise floor (chapter 6).

# %% tags=["hide-input"]
report.markdown(report.records_table(bench.winners(summary).to_dict("records")), index=False)

# %% tags=["hide-input"]
bench.plot_mae_bars(summary, FIG_DIR)

# %% [markdown]
# ## Calibration and decisions under transfer
# q10–q90 coverage (nominal 0.80; bold = closest to it; methods without quantiles are left out):

# %% tags=["hide-input"]
report.markdown(report.results_table(bench.headline(summary), "coverage80", splits=SPLITS))

# %% [markdown]
# As in chapter 6, the default's coverage on each split's validation side, where its intervals are calibrated
# (index rule), beside its test coverage, under both context rules: here the test runs bring other datasets, another
# model family or another training corpus, a shift no calibration on training-side data can see. On unseen
# recipes the intervals are about as wide on every task while the noisy ones (sst, wsc) err far more; intervals
# that also read the noise the context shows were checked one level in and rejected (chapter 8, item 10):

# %% tags=["hide-input"]
coverage = bench.coverage_shift(summary, series, PROFILE, SPLITS)
report.markdown(report.records_table(coverage.round(3).to_dict("records")), index=False)

# %% [markdown]
# The targets set for the default (chapter 6): below every baseline, and q10–q90 coverage within 0.75–0.85, on
# these splits:

# %% tags=["hide-input"]
goals = bench.targets(summary)
print(f"targets met on {', '.join(SPLITS)}: {int(goals['met'].sum())} of {len(goals)}")
report.markdown(report.records_table(goals.to_dict("records")), index=False)

# %% [markdown]
# Decision accuracy over all decision pairs (bold = best), with the pair counts:

# %% tags=["hide-input"]
report.markdown(report.count_table(summary, "n_pairs", splits=SPLITS))

# %% tags=["hide-input"]
report.markdown(report.results_table(bench.headline(summary), "decision_accuracy", splits=SPLITS))

# %% [markdown]
# The recipe split is the data-choice question DataDecide asks: at equal size and length, which corpus gives the
# higher accuracy (`decision_recipe`, the recipe pairs only):

# %% tags=["hide-input"]
report.markdown(report.results_table(bench.headline(summary), "decision_recipe", splits=("unseen-recipe",)))

# %% [markdown]
# ## Where NeuNeu loses: the held-out tasks, task by task
# Held-out tasks are where the default NeuNeu fares worst against the baselines (index rule). Per task (MAE in
# accuracy points, mean over the runs that report the task; `last-value`'s error is also how far the accuracy
# moves after the context end), sorted by how much worse NeuNeu is than the better of the two baselines:

# %% tags=["hide-input"]
report.markdown(bench.task_table(results.predictions, split="heldout-tasks", setting="forecast",
                                 methods=("neuneu", "power-law", "last-value", "neuneu-mean")))

# %% [markdown]
# The same cells grouped by model family (`cells` counts (run, task) cells): the families' checkpoint grids differ,
# and with them what the index rule's context holds.

# %% tags=["hide-input"]
report.markdown(bench.group_table(results.predictions, {s.run: family_of(s) for s in series}, split="heldout-tasks",
                                  setting="forecast", methods=("neuneu", "power-law", "last-value", "neuneu-mean")))

# %% [markdown]
# One of those Pythia cells, piqa on pythia-1.4b under the index rule (truth as dots, NeuNeu's median with its
# q10–q90 band):

# %% tags=["hide-input"]
by_key = {s.key: s for s in series}
end, forecasts = bench.forecasts_for(results.predictions, "pythia-1.4b", "piqa", split="heldout-tasks",
                                     setting="forecast", methods=("power-law", "last-value"), rule="index")
fig = plots.plot_forecasts(by_key[("pythia-1.4b", "piqa")], end, forecasts, FIG_DIR,
                           "forecast_heldout_tasks_pythia-1.4b_piqa_index", x="tokens")

# %% [markdown]
# The multiple-choice formats (`_mc`) of the held-out datasets stay at chance on every OLMo ladder run. They
# used to head this list, when a task never seen read one law pooled over all training tasks: that law rises as
# the loss falls, because most training tasks do, and NeuNeu forecast the rise for tasks where it never comes.
# A task never seen now reads the law pooled over the training tasks of its own answer format (method page), and
# on these tasks NeuNeu sits within a few tenths of a point of the baselines. What is left is mostly Pythia under
# the index rule (the family table), whose context is its first six checkpoints (steps 1–32, all untrained): one
# MMLU subject (international law) and the two 2-choice tasks (piqa, winogrande), whose accuracy keeps rising long
# after the context. The power law fitted to the context follows part of the rise; NeuNeu forecasts the two
# 2-choice tasks to *fall*, a little below chance (piqa on pythia-1.4b from 0.53 to about 0.46, the figure above).
# That is what Pythia's training side teaches: its only 2-choice training task is wsc, which sits at 0.635 at the
# end of the index context on all 16 Pythia runs and ends training near 0.4 on most of them, so from an untrained
# context a 2-choice task on Pythia has only ever been seen to fall.
# Raising every forecast to at least the context's lowest accuracy was checked one level in, by a rule fixed before
# the check ran, and rejected (chapter 8, item 9): on the nested split's Pythia questions the truth itself ends below
# that floor on most targets where it would bind, so a falling forecast from an untrained context is usually right.
#
# Those two 2-choice tasks used to cost far more: NeuNeu forecast piqa on Pythia to fall to about 0.33. A task never seen reads its family's law pooled over other tasks of its format, shifted
# through the context's last accuracy; but the law's value at the context end and the context points' residuals
# from it were read unshifted, so they carried the pool's level — on Pythia mostly 4-choice MMLU subjects near
# 0.25 — and a 2-choice task at 0.5 looked like a run 0.28 above its law, which the model had learned to pull back
# down. Every input a pooled law gives is now read from the shifted law (`neuneu.parametric.pooled_level`), as the
# method page always said; the held-out-task models were retrained, their selection models no longer stop at step
# 250 of 1,500, and the whole split gained (the benchmark record, `make bench`, has both). What is left is not
# visible to model selection: the same models and baselines on this split's *validation* side (held-out training
# datasets, members reading the laws fitted without them) tell the opposite story:

# %% tags=["hide-input"]
validation = bench.validation_benchmark("heldout-tasks", series, PROFILE)
report.markdown(bench.mae_table(validation).round(2))

# %% [markdown]
# A blend of NeuNeu with the power law, its weight chosen on these validation series (grid 0, 0.1, …, 1):

# %% tags=["hide-input"]
report.markdown(report.records_table(bench.blend_table(validation).to_dict("records")), index=False)

# %% [markdown]
# With the committed cpu weights the validation side prefers NeuNeu to both baselines, most clearly under the
# index rule, where a blend weighted on validation error keeps NeuNeu alone. A choice made honestly on
# training-side data therefore cannot recover the index-rule test loss: it comes from how the paper's held-out
# tasks differ from the training tasks, not from a choice that over-fitted.

# %% [markdown]
# ### Which law a task never seen reads
# A held-out task has no law of its own; NeuNeu reads its family's law pooled over other tasks and corrects the
# forecast that law makes (the two-stage anchor, shifted through the last value). Pooled over *all* training
# tasks, that law rises as the loss falls, because most tasks do; pooled over the tasks of the task's *answer
# format* (multiple choice, `_mc`, or ranked classification), it stays flat for a multiple-choice task, as the
# OLMo ladder's multiple-choice tasks do at every size. Each law scored alone as a forecast (MAE in accuracy
# points; `series` counts the (run, task) cells), on the validation side — what model selection sees, laws
# fitted on the fit side — and on the test side:

# %% tags=["hide-input"]
report.markdown(report.records_table(
    bench.law_pooling_table(splits.make_split(series, "heldout-tasks")).to_dict("records")), index=False)

# %% [markdown]
# On the public corpus the format's law is the better anchor for both formats on both sides, by far for the
# multiple-choice tasks. The default reads it, and the paper-logistic and two-stage baselines read a law pooled the
# same way and shifted the same way for a task they never saw — pooled over every training family, as the paper's
# law is fitted per task over all training runs, where NeuNeu's is its family's. Set beside the tables above, this
# one also shows where NeuNeu's learned correction stops paying: on the validation side NeuNeu is well below the
# anchor it starts from, while on the test side, under the index rule, the format's law alone does better than
# NeuNeu — the same shift between the training datasets and the paper's held-out tasks that the validation tables
# could not see.

# %% [markdown]
# ## Where NeuNeu loses on the unseen family: tasks that barely move
# The unseen family's test is Pythia alone. Under the compute rule its context ends at a fifth of the training
# tokens, well into training, and there the forecast default errs more than the last value (the compute-rule table
# above). Per task (MAE in accuracy points, mean over the Pythia runs; `last-value`'s error is also how far the
# accuracy moves after the context end), the ten tasks where NeuNeu loses most to the better baseline and the five
# where it wins most:

# %% tags=["hide-input"]
flat = bench.task_table(results.predictions, split="unseen-family", setting="forecast",
                        methods=("neuneu", "last-value", "power-law"), rule="compute")
report.markdown(flat if len(flat) <= 15 else pd.concat([flat.head(10), flat.tail(5)]))

# %% [markdown]
# With the committed cpu weights, most of the tasks where NeuNeu loses most are MMLU subjects whose accuracy moves
# little after the context end (the last value errs by one to four points on them): on some NeuNeu forecasts a
# rise of a few points that never comes. Two other tasks sit near the top: sciq, whose late rise NeuNeu
# underestimates more than the last value does, and wsc, a very small task whose accuracy jumps from checkpoint to
# checkpoint. Its wins are tasks that still rise (winogrande, the ARC pair). The loss_given default, which reads
# Pythia's own losses, errs about as little as the last value under this rule.

# %% [markdown]
# ## A Pythia forecast
# Pythia's checkpoints are log-spaced (1, 2, 4, … 512, then every 10k steps), so the index rule's context covers
# only the first steps; the compute rule's reaches 20% of training.

# %% tags=["hide-input"]
run, task = "pythia-1.4b", "piqa"
for rule in ("index", "compute"):
    end, forecasts = bench.forecasts_for(results.predictions, run, task, split="unseen-family", setting="forecast",
                                         methods=("two-stage", "ets"), rule=rule)
    fig = plots.plot_forecasts(by_key[(run, task)], end, forecasts, FIG_DIR, f"forecast_{run}_{task}_{rule}",
                               x="tokens")

# %% [markdown]
# ## Reading the zero-shot tables
# Transfer to Pythia is hard for every method that reads losses or extrapolates far: under the index rule the
# context is a handful of untrained checkpoints, and the loss input is LAMBADA log-perplexity (standardised with
# the statistics of BigScience, the one training family that reports it) where training mostly saw OLMo's
# domain cross-entropy. Most of Pythia's tasks (57 MMLU subjects) do not exist in training, so the paper's
# logistic falls back to one law pooled over the training tasks of their format, shifted through the context's last
# accuracy (counted in its fallbacks). NeuNeu reads no law for a family it has not seen (a law is fitted per family
# and loss kind) and was trained that way on this split, so its forecasts for Pythia rest on the context and on
# what the synthetic prior taught it. Read these rows as a stress test of the protocol, not as the paper's zero-shot
# result, which used per-token losses of one shared validation corpus for every family.
#
# On the unseen recipe and the unseen family the test runs' loss input (LAMBADA log-perplexity) is a kind the fit
# side never had (OLMo only; on the family split BigScience, the other LAMBADA family, is the validation side), so
# the loss_given default answers them with the forecast default of the split: losses in units the model never
# learned are not information it can use (the method page explains the rule; it is counted in the fallbacks).
# Its loss_given rows therefore equal its forecast rows there. The rule was prompted by the recipe test table, so
# here is the evidence model selection can see: the validation side of each split, with and without the fallback.

# %% tags=["hide-input"]
checks = pd.concat([bench.fallback_check(name, series, PROFILE) for name in ("unseen-family", "unseen-recipe")])
report.markdown(report.records_table(checks.to_dict("records")), index=False)

# %% [markdown]
# ## Summary
# * Each zero-shot split is leak-checked, and its validation side is a held-out family or held-out datasets.
# * The tables show, per split, setting and context rule, how NeuNeu compares with each baseline on the same
#   targets, and how far everything is from the noise floor.
# * Where NeuNeu loses on held-out tasks (index rule), the per-task table locates the loss and the validation side
#   shows that model selection could not have seen it. A task never seen reads the law pooled over the training
#   tasks of its answer format; under the compute rule NeuNeu wins this split, but only ties the format's law
#   alone (the law-pooling table), so that win is the law's more than the learned correction's.
# * On the unseen family NeuNeu loses both rules: under the index rule to the two-stage law, on Pythia's MMLU
#   subjects (tasks the law never saw, whose pooled law, shifted to each run's level, stays near the last value
#   where NeuNeu strays from it) and on its other tasks alike; under the compute rule narrowly to the last value.
# * The loss_given default answers series whose loss kind its fit side never had with the forecast default. The
#   validation side of the unseen family, all of such a kind, is the check model selection can see; with the current
#   weights it barely separates the two, so the rule rests on its reason (losses in units the model never learned
#   carry nothing it can use) more than on that evidence.
#
# ### What's next
# Chapter 8 asks which loss representation helps: none, the mean loss, DiffHist or a CNN over per-token losses.
