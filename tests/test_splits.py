"""Every split keeps its promise on the real data (no run, replica, dataset, corpus or family on both sides), its
validation is independent and mimics the test, and the identity rules behave on hand-made series."""

from __future__ import annotations

import numpy as np
import pytest

from neuneu import splits
from neuneu.contract import Series
from neuneu.samples import synthetic_series


@pytest.fixture(scope="module")
def public() -> list[Series]:
    return splits.load_pool("public")


@pytest.fixture(scope="module")
def miniladder() -> list[Series]:
    return splits.load_pool("miniladder")


@pytest.mark.parametrize("name", splits.PUBLIC_SPLITS)
def test_every_public_split_is_leak_free(public: list[Series], name: str) -> None:
    split = splits.make_split(public, name)
    assert splits.leaks(split) == []
    assert split.validation and split.fit_side() and split.validation_series()


@pytest.mark.parametrize("name", splits.MINILADDER_SPLITS)
def test_every_miniladder_split_is_leak_free(miniladder: list[Series], name: str) -> None:
    split = splits.make_split(miniladder, name)
    assert splits.leaks(split) == [] and split.pool == "miniladder" == splits.pool_of(name)


def test_heldout_tasks_holds_out_every_format_of_a_dataset(public: list[Series]) -> None:
    split = splits.make_split(public, "heldout-tasks")
    test_tasks, train_tasks = {s.task for s in split.test}, {s.task for s in split.train}
    assert {"piqa", "piqa_mc", "csqa", "csqa_mc", "winogrande_mc", "openbookqa_mc"} <= test_tasks
    assert not {splits.dataset_of(t) for t in test_tasks} & {splits.dataset_of(t) for t in train_tasks}
    assert not {t for t in test_tasks | train_tasks if splits.dataset_of(t) in splits.MMLU_AGGREGATES}
    # validation holds out whole datasets too, so it asks about unseen tasks like the test
    val_datasets = {splits.dataset_of(s.task) for s in split.validation_series()}
    assert not val_datasets & {splits.dataset_of(s.task) for s in split.fit_side()}


def test_unseen_recipe_keeps_no_corpus_on_both_sides(public: list[Series]) -> None:
    split = splits.make_split(public, "unseen-recipe")
    assert {splits.corpus_of(s) for s in split.test} == {"oscar", "c4", "pile"}
    assert not any(s.meta["source"] == "pythia" for s in split.train)  # Pythia trained on the Pile


def test_extrapolation_splits_validate_on_the_most_extreme_training_runs(public: list[Series]) -> None:
    sizes = splits.make_split(public, "heldout-sizes")
    assert {s.meta["size_params"] for s in sizes.validation_series()} == {760e6}
    assert max(s.meta["size_params"] for s in sizes.fit_side()) == 370e6
    mult = splits.make_split(public, "heldout-multiplier")
    assert {s.meta["compute_multiplier"] for s in mult.validation_series()} == {5.0}
    family = splits.make_split(public, "unseen-family")
    assert {splits.family_of(s) for s in family.validation_series()} == {"bigscience-1b3"}


def test_replicas_share_a_group_and_land_on_one_side(public: list[Series]) -> None:
    groups = {}
    for s in public:
        groups.setdefault(splits.replica_group(s), set()).add(s.run)
    assert {"olmo-760M-1xC", "olmo-760M-1xC-rerun"} <= groups[splits.replica_group(
        next(s for s in public if s.run == "olmo-760M-1xC"))]
    assert {"pythia-70m", "pythia-70m-deduped"} <= groups[splits.replica_group(
        next(s for s in public if s.run == "pythia-70m"))]
    for name in splits.PUBLIC_SPLITS:
        split = splits.make_split(public, name)
        fit = {splits.replica_group(s) for s in split.fit_side()}
        val = {splits.replica_group(s) for s in split.validation_series()}
        assert not (fit & val) or "dataset" in split.holds_out, name


def test_excluded_runs_are_in_no_split(public: list[Series]) -> None:
    for name in splits.PUBLIC_SPLITS:
        split = splits.make_split(public, name)
        assert not splits.runs_of([*split.train, *split.test]) & splits.EXCLUDED_RUNS, name


def test_leaks_reports_every_broken_promise() -> None:
    base = synthetic_series(n_runs=3, n_tasks=2, n_points=8)
    same_run = splits.Split("bad", base[:4], base[3:], holds_out=("run",))
    assert splits.leaks(same_run)[0].startswith("series on both sides: ")
    assert any(msg.startswith("run on both sides: run1") for msg in splits.leaks(same_run))
    foreign = splits.Split("bad", base[:2], base[4:], validation=frozenset({("nope", "x")}))
    assert "validation holds series that are not on the training side" in splits.leaks(foreign)


def test_identities() -> None:
    assert [splits.dataset_of(t) for t in ("piqa_mc", "piqa", "lambada_openai", "mmlu_stem_mc")] == \
        ["piqa", "piqa", "lambada", "mmlu_stem"]
    s = synthetic_series(n_runs=1, n_tasks=1, n_points=6)[0]
    assert splits.corpus_of(s) == "" and splits.family_of(s) == "synthetic"


def test_validation_by_run_keeps_replica_groups_whole() -> None:
    series = synthetic_series(n_runs=5, n_tasks=2, n_points=8)
    fit, val = splits.validation_by_run(series)
    assert val and not splits.runs_of(fit) & splits.runs_of(val)
    assert splits.validation_by_run(series) == (fit, val)  # seeded: always the same


def test_unknown_split_pool_and_empty_sides_raise_named_errors() -> None:
    with pytest.raises(splits.SplitError, match=r"^unknown split 'random'; expected one of heldout-sizes, "):
        splits.make_split([], "random")
    with pytest.raises(splits.SplitError, match=r"^unknown pool 'web'; expected one of public, miniladder$"):
        splits.load_pool("web")
    only = synthetic_series(n_runs=1, n_tasks=1, n_points=6)
    with pytest.raises(splits.SplitError, match=r"^split 'unseen-family' has 1 training and 0 test series; both "
                                                r"must be > 0$"):
        splits.make_split(only, "unseen-family")
    np.testing.assert_equal(len(only), 1)


def test_training_laws_are_cross_fitted_as_the_test_reads_its_law(public: list[Series]) -> None:
    """A test series of held-out tasks reads its family's law pooled over other tasks, of an unseen family or
    corpus no law at all: the training side's laws are cross-fitted by dataset / family so that they match."""
    by_split = {name: splits.make_split(public, name) for name in splits.PUBLIC_SPLITS}
    piqa, piqa_mc = (next(s for s in public if s.task == t) for t in ("piqa", "piqa_mc"))
    group = by_split["heldout-tasks"].law_group()
    assert group(piqa) == group(piqa_mc) == "piqa"
    for name in ("unseen-family", "unseen-recipe"):
        assert by_split[name].law_group()(piqa) == splits.family_of(piqa)
        fit_families = {splits.family_of(s) for s in by_split[name].train}
        assert not fit_families & {splits.family_of(s) for s in by_split[name].test}  # so the test reads no law
    assert by_split["heldout-sizes"].law_group() is splits.replica_group


def test_the_nested_split_is_heldout_sizes_one_level_in(public: list[Series]) -> None:
    outer = splits.make_split(public, "heldout-sizes")
    inner = splits.make_split(public, "heldout-sizes-nested")
    assert {s.key for s in inner.train} == {s.key for s in outer.fit_side()}
    assert {s.key for s in inner.test} == set(outer.validation) and splits.leaks(inner) == []
    sizes = {splits._size(s) for s in inner.train}
    assert {splits._size(s) for s in inner.validation_series()} == {max(sizes)} and len(sizes) == 2
    assert splits.pool_of("heldout-sizes-nested") == "public" and "heldout-sizes-nested" not in splits.PUBLIC_SPLITS


def test_the_nested_tasks_split_is_heldout_tasks_one_level_in(public: list[Series]) -> None:
    outer = splits.make_split(public, "heldout-tasks")
    inner = splits.make_split(public, "heldout-tasks-nested")
    assert {s.key for s in inner.train} == {s.key for s in outer.fit_side()}
    assert {s.key for s in inner.test} == set(outer.validation) and splits.leaks(inner) == []
    datasets = lambda ss: {splits.dataset_of(s.task) for s in ss}  # noqa: E731
    assert datasets(inner.validation_series()) and datasets(inner.validation_series()) < datasets(inner.train)
    assert not datasets(inner.test) & datasets(inner.train)  # every test task is unseen, as one level out
    assert inner.holds_out == outer.holds_out == ("dataset",)
    few = [s for s in public if splits.dataset_of(s.task) in {"hellaswag", "arc_easy", "piqa", "winogrande"}]
    with pytest.raises(splits.SplitError, match=r"^split 'heldout-tasks-nested' validates on a training dataset, "
                                                r"but held-out tasks' fit side holds 1 \(needs at least 2\)$"):
        splits.make_split(few, "heldout-tasks-nested")
