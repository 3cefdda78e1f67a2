"""The shared contract: declared capabilities, the training record and the refusal to score seen series, context
rules and query building, the one atomic writer and the one profile table."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from neuneu import atomic, profiles
from neuneu.contract import (
    Capabilities,
    EvaluationError,
    ForecasterBase,
    Prediction,
    TrainedOnTestError,
    TrainingRecord,
    anchored_question,
    check_unseen,
    compute_context_end,
    context_end,
    format_pools,
    task_format,
)
from neuneu.paths import BUILD_DIR
from neuneu.samples import synthetic_series


def test_capabilities_are_checked_and_answer_valid_in() -> None:
    both = Capabilities(setting="both")
    assert both.valid_in("forecast") and both.valid_in("loss_given")
    assert not Capabilities(setting="loss_given").valid_in("forecast")
    with pytest.raises(EvaluationError, match=r"^unknown method setting 'future'; expected one of forecast, "
                                              r"loss_given, both$"):
        Capabilities(setting="future")
    with pytest.raises(EvaluationError, match=r"^unknown method kind 'oracle'; expected one of baseline, neuneu, "
                                              r"reference$"):
        Capabilities(setting="both", kind="oracle")


def test_training_record_fingerprints_the_data_and_round_trips() -> None:
    series = synthetic_series(n_runs=3, n_tasks=2, n_points=8)
    record = TrainingRecord.of(series, split="s", profile="smoke", seed=1)
    assert record.runs == ("run0", "run1", "run2") and record.n_series == 6
    assert TrainingRecord.of(reversed(series), split="s", profile="smoke", seed=1) == record  # order-free
    changed = [series[0].__class__(**{**series[0].__dict__, "values": series[0].values * 0.9}), *series[1:]]
    assert TrainingRecord.of(changed, split="s", profile="smoke", seed=1).fingerprint != record.fingerprint
    assert TrainingRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record


class Learned(ForecasterBase):
    name, seed = "neuneu-x", 2

    def predict(self, context, query):
        return Prediction(median=np.zeros(len(query)))


def test_check_unseen_refuses_a_model_that_saw_the_test() -> None:
    series = synthetic_series(n_runs=3, n_tasks=2, n_points=8)
    model = Learned()
    check_unseen(model, series, "any")  # no record: fitted by the harness itself
    model.trained_on = TrainingRecord.of(series[:4], split=None, profile="cpu", seed=2)
    check_unseen(model, series[4:], "s")  # run2 never seen
    with pytest.raises(TrainedOnTestError, match=r"^neuneu-x \(seed 2\) was trained on 2 of the 4 test series of "
                                                 r"split 's' \(e\.g\. run1/task0\); it was trained on a custom series "
                                                 r"list: train it with `neuneu train --split s`$"):
        check_unseen(model, series[2:], "s")


def test_context_rules_and_the_anchored_question() -> None:
    s = synthetic_series(n_runs=1, n_tasks=1, n_points=20)[0]
    assert context_end(s, 0.2, "index") == 4
    assert compute_context_end(np.array([1.0, 5, 10, 50, 100]), 0.2) == 2
    assert compute_context_end(np.array([50.0, 100]), 0.2) == 0  # even the first is past 20%: one point
    context, query = anchored_question(s, 4, "forecast")
    assert len(context) == 5 and len(query) == 15 and query.losses is None
    with pytest.raises(EvaluationError, match=r"^unknown context rule 'tokens'; expected one of index, compute$"):
        context_end(s, 0.2, "tokens")


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    atomic.write_json(target, {"a": 1})
    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    with pytest.raises(RuntimeError, match="interrupted"):
        atomic.atomic_write(target, fail)
    assert json.loads(target.read_text()) == {"a": 1} and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_locked_makes_a_second_holder_wait_and_leaves_no_file_beside_its_target(tmp_path: Path) -> None:
    target, events, inside = tmp_path / "model", [], threading.Event()

    def first() -> None:
        with atomic.locked(target):
            events.append("first in")
            inside.set()
            time.sleep(0.3)
            events.append("first out")

    def second() -> None:
        inside.wait()
        with atomic.locked(target):
            events.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert events == ["first in", "first out", "second in"]
    assert list(tmp_path.iterdir()) == [] and atomic.lock_file(target).parent == BUILD_DIR / "locks"
    assert atomic.lock_file(target) != atomic.lock_file(tmp_path / "other" / "model")  # by full path, not name


def test_one_profile_table_decides_every_size() -> None:
    from neuneu import features, model, train

    for name in profiles.PROFILE_NAMES:
        p = profiles.profile(name)
        assert model.config_for(name).d_model == p.model["d_model"]
        assert train.config_for(name).samples_per_epoch == p.train["samples_per_epoch"]
        assert features.config_for(name).cnn_tokens == p.features["cnn_tokens"]
        assert len(p.seeds) >= (1 if name == "smoke" else 3)
    series = synthetic_series(n_runs=1, n_tasks=3, n_points=6)
    assert profiles.keep_tasks(series, "cpu") == series and profiles.keep_tasks(series, "smoke") == []
    with pytest.raises(profiles.ProfileError, match=r"^unknown profile 'huge'; expected one of smoke, cpu, full$"):
        profiles.profile("huge")


def test_task_format_reads_the_mc_suffix() -> None:
    assert [task_format(t) for t in ("piqa_mc", "ARC_EASY_MC", "piqa", "mmlu_management", "mcqa")] == [
        "mc", "mc", "rc", "rc", "rc"]


def test_format_pools_need_two_formats_and_two_tasks_of_a_format() -> None:
    assert format_pools(["a_mc", "b_mc", "c", "d", "e"]) == {"mc": ["a_mc", "b_mc"], "rc": ["c", "d", "e"]}
    assert format_pools(["a_mc", "c", "d"]) == {"rc": ["c", "d"]}  # a lone MC task reads the law over all
    assert format_pools(["c", "d", "c"]) == {}  # one format: the law over all tasks is that format's
