"""Every evaluation split, next to the data it cuts, with the promise it makes and a check that it keeps it.

A split turns a pool of series into a **training side** (what methods may fit on), a **test side** (what they are
scored on) and, inside the training side, a **validation** subset that learned methods hold out for early stopping
and interval calibration. Three rules hold for every split, and :func:`leaks` checks each one (the tests run it on
the real corpus):

1. **Nothing on both sides** in the sense the split promises (:attr:`Split.holds_out`): no run, no replica group
   (reruns, seed and init replicas of one size × training length), and — as promised — no dataset in any format,
   no training corpus, no model family, no size or training length.
2. **Validation is independent of the rest of training**: near-duplicates go to one side together, so early
   stopping never rewards memorising a replica.
3. **Validation mimics the test**: extrapolation splits validate on the most extreme training size or length
   (the one closest to the test's extrapolation), zero-shot splits on a held-out family or held-out datasets, so
   early stopping and conformal calibration see the kind of shift the test does.

The held-out-task split also drops OLMo's MMLU category averages (:data:`MMLU_AGGREGATES`): each mixes held-out
and trained subjects, so on either side it would leak.

Pools: ``public`` is the public corpus (:mod:`neuneu.trajectories`), ``miniladder`` our own collected suite
(:mod:`neuneu.collect`). The OLMo-2 7B/13B logs (:data:`EXCLUDED_RUNS`) are left out of every pool: they are
stitched from overlapping segment files of long production runs (one of them a medium-learning-rate branch), their
first logged checkpoint (≥ 20B tokens) is already a trained model, and their multiple-choice-format tasks rise
while the loss is flat — a regime no test run of any split is in. A model that trains on them learns "flat loss,
rising MC accuracy → a late rise", which it then applies to Pythia's untrained early checkpoints.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from neuneu import trajectories
from neuneu.collect import store as miniladder
from neuneu.contract import MC_SUFFIX, Series, family_of

POOLS: tuple[str, ...] = ("public", "miniladder")  # and "user": a suite file (neuneu.suite)
EXCLUDED_RUNS: frozenset[str] = frozenset({"olmo-2-peteish7", "olmo-2-peteish7_medlr", "olmo-2-peteish13"})
LADDER_FAMILY = "olmo-2-ladder"  # the 190M–3B × 0.5–10×C ladder runs

# The 13 tasks the paper holds out ("randomly sampled with seed 42", paper-spec §2.1). Only those present in the
# data are used; the OLMo ladder has no MMLU subjects, so there the held-out set is the 4 non-MMLU datasets.
HELDOUT_TASKS: tuple[str, ...] = (
    "csqa", "openbookqa", "piqa", "winogrande", "mmlu_college_biology", "mmlu_college_chemistry",
    "mmlu_high_school_mathematics", "mmlu_high_school_microeconomics", "mmlu_high_school_psychology",
    "mmlu_international_law", "mmlu_management", "mmlu_professional_psychology", "mmlu_world_religions",
)
# OLMo logs MMLU as category averages (RC and MC format); each mixes held-out and trained subjects.
MMLU_AGGREGATES: frozenset[str] = frozenset({"mmlu_stem", "mmlu_humanities", "mmlu_social_sciences", "mmlu_other"})
# A training corpus under all its names: deduplicated or filtered releases are still the same corpus.
CORPUS_OF_RECIPE: dict[str, str] = {
    "pile": "pile", "pile-deduped": "pile", "oscar": "oscar", "oscar-en-filtered": "oscar",
    "oscar-en-filtered-dedup": "oscar", "c4": "c4", "olmo-mix": "olmo-mix",
}
VALIDATION_FRACTION = 0.2
VALIDATION_SEED = 0


class SplitError(ValueError):
    """A split that is unknown or cannot be formed from the given series (empty train or test side)."""


# --------------------------------------------------------------------------------------------- identities


def _text(s: Series, key: str) -> str:
    return str(s.meta.get(key, "")).lower()


def dataset_of(task: str) -> str:
    """The dataset behind a task name, whatever its format: ``piqa_mc`` (multiple-choice format) → ``piqa``,
    ``lambada_openai`` (another release of LAMBADA) → ``lambada``. A held-out task holds out its dataset."""
    name = task.lower()
    name = re.sub(rf"{MC_SUFFIX}$", "", name)
    return "lambada" if name.startswith("lambada") else name


def corpus_of(series: Series) -> str:
    """The training corpus of a series' run (its recipe, with variants of one corpus under one name)."""
    recipe = _text(series, "recipe")
    return CORPUS_OF_RECIPE.get(recipe, recipe)


def replica_group(series: Series) -> str:
    """Runs that differ only by seed, initialisation or a rerun share a group: same source, family, size, training
    length and corpus. Such near-duplicates must land on one side of every split and of every validation cut."""
    size = float(series.meta.get("size_params", float("nan")))
    mult = float(series.meta.get("compute_multiplier", float("nan")))
    length = f"{mult:g}xC" if math.isfinite(mult) else f"{float(np.asarray(series.tokens)[-1]):.3g}tok"
    return "|".join([_text(series, "source"), family_of(series), f"{size:.4g}", length, corpus_of(series)])


def law_fold_group(holds_out: Sequence[str]) -> Callable[[Series], str]:
    """How to cross-fit the laws a parametric NeuNeu reads on a split's training side so that a training series'
    law is as (un)available as a test series' law: a held-out dataset has only its family's law pooled over the
    other tasks (fold by dataset), a held-out family or training corpus (a family of its own here) has no law at
    all (fold by family); on the ladder splits a test run reads its own task's law fitted on other runs (fold by
    replica group)."""
    if "dataset" in holds_out:
        return lambda s: dataset_of(s.task)
    if "family" in holds_out or "corpus" in holds_out:
        return family_of
    return replica_group


def runs_of(series: Iterable[Series]) -> set[str]:
    """The run names in ``series``."""
    return {s.run for s in series}


# --------------------------------------------------------------------------------------------- the split type


@dataclass(frozen=True)
class Split:
    """(train, test) of one split, the validation subset of train, and what the split promises to hold out.

    ``validation`` holds (run, task) keys of training series. Baselines fit on all of ``train``; learned methods
    fit on :meth:`fit_side` and use :meth:`validation_series` for early stopping and interval calibration.
    ``holds_out`` names the identities that never occur on both sides: any of "run", "replica", "dataset",
    "corpus", "family", "size", "multiplier".
    """

    name: str
    train: list[Series]
    test: list[Series]
    validation: frozenset[tuple[str, str]] = frozenset()
    holds_out: tuple[str, ...] = ("run", "replica")
    pool: str = "public"

    def fit_side(self) -> list[Series]:
        """Training series that are not held out for validation."""
        return [s for s in self.train if s.key not in self.validation]

    def validation_series(self) -> list[Series]:
        """Training series held out for validation."""
        return [s for s in self.train if s.key in self.validation]

    def law_group(self) -> Callable[[Series], str]:
        """The cross-fitting group of the laws a parametric model reads (:func:`law_fold_group`)."""
        return law_fold_group(self.holds_out)

    def __iter__(self):  # ``train, test = make_split(...)`` keeps working
        return iter((self.train, self.test))


def _checked(split: Split) -> Split:
    if not split.train or not split.test:
        raise SplitError(f"split {split.name!r} has {len(split.train)} training and {len(split.test)} test series; "
                         "both must be > 0")
    return split


def _keys(series: Iterable[Series]) -> frozenset[tuple[str, str]]:
    return frozenset(s.key for s in series)


# --------------------------------------------------------------------------------------------- validation rules


def validate_on_extreme(train: Sequence[Series], key: Callable[[Series], float]) -> frozenset[tuple[str, str]]:
    """Validation = every training series whose ``key`` (size, training length) is the largest on the training
    side — the extrapolation closest to the test's — when at least two values exist; else nothing."""
    values = sorted({key(s) for s in train if math.isfinite(key(s))})
    if len(values) < 2:
        return frozenset()
    return _keys(s for s in train if key(s) == values[-1])


def validate_on_groups(train: Sequence[Series], group: Callable[[Series], str], *,
                       fraction: float = VALIDATION_FRACTION, seed: int = VALIDATION_SEED,
                       ) -> frozenset[tuple[str, str]]:
    """Validation = a seeded ``fraction`` of the distinct ``group`` values (at least one, never all), every series
    of a chosen group together."""
    groups = sorted({group(s) for s in train})
    if len(groups) < 2 or fraction <= 0:
        return frozenset()
    n = min(len(groups) - 1, max(1, round(fraction * len(groups))))
    chosen = set(np.random.default_rng([seed, 7]).permutation(groups)[:n].tolist())
    return _keys(s for s in train if group(s) in chosen)


def split_by_runs(series: Sequence[Series], *, name: str = "user", test_fraction: float = 0.3,
                  seed: int = VALIDATION_SEED) -> Split:
    """A by-run split of any suite (``neuneu evaluate --data``): a seeded share of the replica groups (at least one,
    never all) is the test side, the rest the training side, with a validation fifth of its groups."""
    test_keys = validate_on_groups(series, replica_group, fraction=test_fraction, seed=seed)
    train = [s for s in series if s.key not in test_keys]
    test = [s for s in series if s.key in test_keys]
    return _checked(Split(name, train, test, validate_on_groups(train, replica_group, seed=seed),
                          ("run", "replica"), pool="user"))


def validation_by_run(series: Sequence[Series], *, fraction: float = VALIDATION_FRACTION,
                      seed: int = VALIDATION_SEED) -> tuple[list[Series], list[Series]]:
    """(fit side, validation) of any series list by whole replica groups — for training outside a named split."""
    held = validate_on_groups(series, replica_group, fraction=fraction, seed=seed)
    return [s for s in series if s.key not in held], [s for s in series if s.key in held]


# --------------------------------------------------------------------------------------------- the splits


def _size(s: Series) -> float:
    return float(s.meta.get("size_params", float("nan")))


def _multiplier(s: Series) -> float:
    return float(s.meta.get("compute_multiplier", float("nan")))


def _pool(series: Sequence[Series]) -> list[Series]:
    return [s for s in series if s.run not in EXCLUDED_RUNS]


def _ladder(series: Sequence[Series]) -> list[Series]:
    return [s for s in _pool(series) if s.meta.get("source") == "olmo-ladder" and family_of(s) == LADDER_FAMILY]


def split_heldout_sizes(series: Sequence[Series], *, min_test_params: float = 9e8) -> Split:
    """OLMo ladder by size: train on runs below ``min_test_params`` (190M–760M), test on the rest (1B, 3B);
    validate on the largest training size (760M)."""
    pool = _ladder(series)
    train = [s for s in pool if _size(s) < min_test_params]
    test = [s for s in pool if _size(s) >= min_test_params]
    return _checked(Split("heldout-sizes", train, test, validate_on_extreme(train, _size),
                          ("run", "replica", "size")))


def split_heldout_sizes_nested(series: Sequence[Series]) -> Split:
    """Held-out sizes one level in, to check a model-selection choice where its test cannot answer: the training
    side is held-out sizes' fit side (190M, 370M), the test side its validation runs (760M), the validation side
    the largest training size (370M). No headline table uses it (chapter 8 does)."""
    outer = split_heldout_sizes(series)
    train = outer.fit_side()
    return _checked(Split("heldout-sizes-nested", train, outer.validation_series(), validate_on_extreme(train, _size),
                          ("run", "replica", "size")))


def split_heldout_tasks_nested(series: Sequence[Series]) -> Split:
    """Held-out tasks one level in (like :func:`split_heldout_sizes_nested`): the training side is held-out tasks'
    fit side, the test side its validation datasets, the validation side a seeded fifth of the remaining datasets.
    No headline table uses it (chapter 8 does)."""
    outer = split_heldout_tasks(series)
    train = outer.fit_side()
    validation = validate_on_groups(train, lambda s: dataset_of(s.task))
    if not validation:
        raise SplitError(f"split 'heldout-tasks-nested' validates on a training dataset, but held-out tasks' fit "
                         f"side holds {len({dataset_of(s.task) for s in train})} (needs at least 2)")
    return _checked(Split("heldout-tasks-nested", train, outer.validation_series(), validation, ("dataset",)))


def split_heldout_multiplier(series: Sequence[Series], *, multiplier: float = 10.0) -> Split:
    """OLMo ladder by training length: test on runs at ``multiplier`` × Chinchilla compute, train on the shorter
    ones (0.5–5×C); validate on the longest training multiplier (5×C)."""
    pool = _ladder(series)
    train = [s for s in pool if _multiplier(s) < multiplier and not math.isclose(_multiplier(s), multiplier)]
    test = [s for s in pool if math.isclose(_multiplier(s), multiplier)]
    return _checked(Split("heldout-multiplier", train, test, validate_on_extreme(train, _multiplier),
                          ("run", "replica", "multiplier")))


def split_unseen_family(series: Sequence[Series], *, family: str = "pythia",
                        validation_family: str = "bigscience-1b3") -> Split:
    """A model family never seen in training (Pythia): train on every other family; validate on another family
    (BigScience, whose loss input is LAMBADA log-perplexity like Pythia's), so validation is a family shift too."""
    pool = _pool(series)
    test = [s for s in pool if family_of(s).startswith(family)]
    train = [s for s in pool if not family_of(s).startswith(family) and s.meta.get("source") != "miniladder"]
    validation = _keys(s for s in train if family_of(s) == validation_family)
    return _checked(Split("unseen-family", train, test, validation, ("run", "replica", "family")))


def split_unseen_recipe(series: Sequence[Series], *, source: str = "bigscience") -> Split:
    """Training corpora never seen in training: test = the BigScience 1.3B runs (OSCAR and two filtered OSCAR
    releases, C4, the Pile); train = every other run whose corpus is none of those (so Pythia, trained on the Pile,
    is out); validate on a seeded fifth of the replica groups."""
    pool = [s for s in _pool(series) if s.meta.get("source") != "miniladder"]
    test = [s for s in pool if s.meta.get("source") == source]
    test_corpora = {corpus_of(s) for s in test}
    train = [s for s in pool if s.meta.get("source") != source and corpus_of(s) not in test_corpora]
    return _checked(Split("unseen-recipe", train, test, validate_on_groups(train, replica_group),
                          ("run", "replica", "corpus")))


def split_heldout_tasks(series: Sequence[Series], *, tasks: Iterable[str] = HELDOUT_TASKS) -> Split:
    """Datasets never seen in training: test = every series whose dataset (in any format: ``piqa`` and
    ``piqa_mc``) is one of the paper's held-out tasks; train = every other dataset; validate on a seeded fifth of
    the training datasets (all their formats), so validation asks about unseen tasks too."""
    held = {dataset_of(t) for t in tasks}
    pool = [s for s in _pool(series) if s.meta.get("source") != "miniladder" and dataset_of(s.task) not in MMLU_AGGREGATES]
    test = [s for s in pool if dataset_of(s.task) in held]
    train = [s for s in pool if dataset_of(s.task) not in held]
    validation = validate_on_groups(train, lambda s: dataset_of(s.task))
    return _checked(Split("heldout-tasks", train, test, validation, ("dataset",)))


def _miniladder(series: Sequence[Series]) -> list[Series]:
    return [s for s in series if s.meta.get("source") == "miniladder"]


def split_miniladder_size(series: Sequence[Series]) -> Split:
    """Mini-ladder by size: test on the largest model size, train on the smaller ones; validate on the largest
    training size."""
    pool = _miniladder(series)
    largest = max((_size(s) for s in pool), default=0.0)
    train = [s for s in pool if _size(s) < largest]
    test = [s for s in pool if _size(s) == largest]
    return _checked(Split("miniladder-size", train, test, validate_on_extreme(train, _size),
                          ("run", "replica", "size"), pool="miniladder"))


def split_miniladder_recipe(series: Sequence[Series], *, recipe: str = "informal") -> Split:
    """Mini-ladder by training text: test on every run of ``recipe``, train on the other recipe(s); validate on a
    seeded fifth of the replica groups."""
    pool = _miniladder(series)
    train = [s for s in pool if _text(s, "recipe") != recipe]
    test = [s for s in pool if _text(s, "recipe") == recipe]
    return _checked(Split("miniladder-recipe", train, test, validate_on_groups(train, replica_group),
                          ("run", "replica", "corpus"), pool="miniladder"))


SPLITS: dict[str, Callable[..., Split]] = {
    "heldout-sizes": split_heldout_sizes,
    "heldout-sizes-nested": split_heldout_sizes_nested,
    "heldout-multiplier": split_heldout_multiplier,
    "unseen-family": split_unseen_family,
    "unseen-recipe": split_unseen_recipe,
    "heldout-tasks": split_heldout_tasks,
    "heldout-tasks-nested": split_heldout_tasks_nested,
    "miniladder-size": split_miniladder_size,
    "miniladder-recipe": split_miniladder_recipe,
}
PUBLIC_SPLITS: tuple[str, ...] = ("heldout-sizes", "heldout-multiplier", "unseen-family", "unseen-recipe",
                                  "heldout-tasks")
MINILADDER_SPLITS: tuple[str, ...] = ("miniladder-size", "miniladder-recipe")


def pool_of(name: str) -> str:
    """Which pool of series split ``name`` cuts (``public`` or ``miniladder``)."""
    check_split(name)
    return "miniladder" if name in MINILADDER_SPLITS else "public"


def load_pool(name: str) -> list[Series]:
    """Every series of pool ``name``: the public corpus (fetched and verified on first use) or the mini-ladder."""
    if name == "public":
        return trajectories.to_series(trajectories.load_corpus())
    if name == "miniladder":
        return miniladder.to_series()
    raise SplitError(f"unknown pool {name!r}; expected one of {', '.join(POOLS)}")


def check_split(name: str) -> str:
    """Return ``name`` if it is a known split, else raise :class:`SplitError`."""
    if name not in SPLITS:
        raise SplitError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
    return name


def make_split(series: Sequence[Series], name: str, **options) -> Split:
    """The :class:`Split` ``name`` of ``series``; ``options`` go to the split function."""
    return SPLITS[check_split(name)](series, **options)


# --------------------------------------------------------------------------------------------- leak checks


def _overlap(name: str, a: Iterable[Series], b: Iterable[Series], key: Callable[[Series], object]) -> list[str]:
    shared = sorted({str(key(s)) for s in a} & {str(key(s)) for s in b})
    return [f"{name} on both sides: {', '.join(shared[:5])}{' …' if len(shared) > 5 else ''}"] if shared else []


_IDENTITIES: dict[str, Callable[[Series], object]] = {
    "run": lambda s: s.run, "replica": replica_group, "dataset": lambda s: dataset_of(s.task),
    "corpus": corpus_of, "family": family_of, "multiplier": _multiplier,
}


def leaks(split: Split) -> list[str]:
    """Every broken promise of ``split`` (empty when it is clean): identities on both sides, sizes not strictly
    separated, excluded runs or MMLU aggregates present, validation not inside train or not independent of the
    fit side."""
    found = _overlap("series", split.train, split.test, lambda s: s.key)
    for what in split.holds_out:
        if what == "size":
            if max(map(_size, split.train)) >= min(map(_size, split.test)):
                found.append("size: the largest training size is not below the smallest test size")
        else:
            found += _overlap(what, split.train, split.test, _IDENTITIES[what])
    everything = [*split.train, *split.test]
    found += [f"excluded run present: {r}" for r in sorted(runs_of(everything) & EXCLUDED_RUNS)]
    if "dataset" in split.holds_out:
        found += [f"MMLU aggregate present: {t}" for t in sorted({s.task for s in everything
                                                                  if dataset_of(s.task) in MMLU_AGGREGATES})]
    if not split.validation <= _keys(split.train):
        found.append("validation holds series that are not on the training side")
    fit, val = split.fit_side(), split.validation_series()
    if val:
        inner = ("dataset",) if "dataset" in split.holds_out else ("run", "replica")
        for what in inner:
            found += [f"validation: {msg}" for msg in _overlap(what, fit, val, _IDENTITIES[what])]
    return found
