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
# # Your own runs: a new suite, a new task
#
# ## Overview
# Everything in this book runs on one data type, a trajectory of accuracies with its checkpoints' compute and
# losses. Your own training logs become such trajectories through one long-format table; from there `neuneu
# predict` forecasts them and `neuneu evaluate` scores NeuNeu and every baseline on them. This chapter does it end
# to end on a table we can publish — the mini-ladder of chapter 2, exported to the format — and shows how to add a
# task or a whole suite to the book.
#
# **You will learn:** the long format; how to forecast your runs and read the plot; how to score NeuNeu on your
# suite; and the dozen lines that add a suite to the book.
#
# ## Prerequisites
# Chapter 2 (the mini-ladder) and chapter 6 (what the scores mean). Every command shown here is executed by this
# notebook, through the same entry point as the shell (`neuneu.cli.main`).

# %% tags=["parameters"]
PROFILE = "cpu"

# %% [markdown]
# ## Imports

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import Image

from neuneu import cli, profiles, report, splits, suite
from neuneu.paths import BUILD_DIR

profiles.check_profile(PROFILE)
WORK = BUILD_DIR / "09_new_task"

# %% [markdown]
# ## The long format
# One row per (run, task, checkpoint): `run`, `task`, `step` and `accuracy` (a fraction, not a percentage) are
# required; `tokens` (or `tokens_per_step`), `flops`, `params`, `loss` or several `loss_<domain>` columns, and
# `family`, `recipe`, `seed` are optional. `neuneu.suite` documents every column and rule and names every error
# (a percentage where a fraction belongs, an empty cell, a step that goes backwards, …) with the file, line and fix.
# Here the mini-ladder (8 tiny Llama runs × 67 BLiMP paradigms) goes out to a CSV:

# %%
ladder = splits.load_pool("miniladder")
tasks = sorted({s.task for s in ladder})
keep = tasks if profiles.profile(PROFILE).tasks is None else tasks[:4]  # the smoke profile keeps a few tasks
csv = suite.write_suite([s for s in ladder if s.task in keep], WORK / "miniladder.csv")
table = pd.read_csv(csv)
print(f"{csv.name}: {len(table):,} rows, {table['run'].nunique()} runs, {table['task'].nunique()} tasks")
table.head(3)

# %% [markdown]
# ## Forecast a run
# Say where the context ends and where to forecast. Here every run is cut after its first 15% of training tokens
# and forecast to its end; the plot per run shows the context (black), the later truth (grey), NeuNeu's median and
# its 50% and 80% intervals, and the baselines dashed. Without `--context-until`, the context is every checkpoint
# in the file and `--until-tokens X` or `--steps …` name the future.
#
# ```bash
# neuneu predict --data miniladder.csv --context-until 1200 --with-baselines --out predictions/
# ```

# %%
first_run = table[table["run"] == table["run"].iloc[0]]
cut = int(first_run["step"].quantile(0.15))
status = cli.main(["predict", "--data", str(csv), "--context-until", str(cut), "--with-baselines",
                   "--out", str(WORK / "predictions")])
predictions = pd.read_csv(WORK / "predictions" / "predictions.csv")
report.markdown(report.records_table(predictions.head(4).to_dict("records")), index=False)

# %%
Image(filename=str(WORK / "predictions" / f"{table['run'].iloc[0]}.png"))

# %% [markdown]
# ## Score NeuNeu on your suite
# `neuneu evaluate --data` splits the file by run (a seeded 30% of the runs, replicas together, is the test side),
# fits every baseline on the rest and scores everything with the harness of chapter 6, noise floor included.
#
# ```bash
# neuneu evaluate --data miniladder.csv --context-rule index --out scores/
# ```

# %%
status = cli.main(["evaluate", "--data", str(csv), "--context-rule", "index", "--no-progress",
                   "--out", str(WORK / "scores")])
scores = pd.read_csv(WORK / "scores" / "summary.csv")
report.markdown(report.results_table(scores, "mae", splits=["user"], settings=("forecast",), spread=False))

# %% [markdown]
# The mini-ladder's tasks are BLiMP paradigms at tiny scale, far from anything NeuNeu was trained on, and its
# losses come in units of their own (the laws NeuNeu reads are fitted on the file's observed points): read this
# table as a test of transfer, as chapter 7's.
#
# ## Add a task or a suite to the book
# A new **task** of an existing suite needs nothing: every task in the data is a trajectory (`neuneu.trajectories`
# reads every task column of the OLMo logs, every task of Pythia's and BigScience's files). A new **suite**:
#
# 1. write it in the long format (one CSV per suite, or per run and concatenated);
# 2. either keep it local and use `neuneu predict --data` / `neuneu evaluate --data` as above, or publish it and
#    add its URL, size and sha256 to `data/sources.toml` (`neuneu fetch` verifies it) with a few lines in
#    `neuneu.splits.load_pool` that read it with `neuneu.suite.read_suite`;
# 3. add a split to `neuneu.splits.SPLITS` that says what it holds out (`leaks` checks the promise) and a line
#    to `neuneu.zoo.MEMBER_SPECS` so the benchmark trains NeuNeu on its training side;
# 4. rerun the chapter (`make notebook NB=06_results`) or the whole book (`make book`).
#
# ## Summary
# * One table in, one table and a plot per run out: `neuneu predict`; the same file, scored against every
#   baseline: `neuneu evaluate --data`.
# * The default model is general-purpose: pretrained on the synthetic prior and fine-tuned on every public series
#   (its card: `data/weights/MODEL_CARD.md`).
#
# ### What's next
# The reproducibility page says how to rerun every number of the book, on CPU or on a GPU.
