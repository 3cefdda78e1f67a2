"""The speed probe: seconds per training step of a profile's member, the workload it prices, and its record."""

from __future__ import annotations

import json

import pytest

from neuneu import speed, zoo
from neuneu.profiles import ProfileError
from neuneu.samples import synthetic_series
from neuneu.model import config_for as model_config_for
from neuneu.train import TrainError, config_for as train_config_for, time_steps


def test_step_speed_times_the_profiles_member_on_its_prior() -> None:
    entry = speed.step_speed("smoke", device="cpu", steps=2, warmup=1)
    assert entry["profile"] == "smoke" and entry["device_type"] == "cpu" and entry["device"].startswith("CPU ")
    assert entry["batch_size"] == 64 and entry["threads"] == 1 and entry["steps"] == 2 and entry["warmup"] == 1
    assert 0 < entry["sampling_seconds_per_step"] < entry["seconds_per_step"]
    assert entry["encoder_parameters"] == zoo.workload("smoke")[0]["encoder_parameters"]


def test_estimate_prices_every_stage_of_the_workload() -> None:
    entry = {"profile": "smoke", "device": "test", "seconds_per_step": 1.8}
    rows = speed.estimate(entry)
    assert [r["stage"] for r in rows] == [r["stage"] for r in zoo.workload("smoke")]
    total = rows[-1]
    assert total["stage"] == "total" and total["hours"] == pytest.approx(total["steps"] * 1.8 / 3600)


def test_record_keeps_one_entry_per_profile_and_device(tmp_path) -> None:
    path = tmp_path / "speed.json"
    assert speed.read_record(path) == []
    speed.record({"profile": "full", "device": "gpu", "seconds_per_step": 0.5}, path)
    speed.record({"profile": "cpu", "device": "box", "seconds_per_step": 0.1}, path)
    speed.record({"profile": "full", "device": "gpu", "seconds_per_step": 0.4}, path)
    assert [(e["profile"], e["seconds_per_step"]) for e in json.loads(path.read_text())["entries"]] == [
        ("cpu", 0.1), ("full", 0.4)]


def test_price_table_has_one_row_per_measurement_and_a_column_per_stage() -> None:
    entries = [{"profile": "smoke", "device": "box", "threads": 1, "batch_size": 64, "seconds_per_step": 0.09,
                "sampling_seconds_per_step": 0.009}]
    table = speed.price_table(entries)
    assert list(table.columns[:6]) == ["profile", "device", "threads", "batch", "s / step", "drawing samples"]
    assert table.loc[0, "drawing samples"] == "10%"
    assert table.loc[0, "total"] == speed.duration(speed.estimate(entries[0])[-1]["hours"])


def test_needed_speed_divides_the_budget_by_each_stages_steps() -> None:
    needed = speed.needed_speed("smoke", 30)
    assert needed.keys() == {r["stage"] for r in zoo.workload("smoke")}
    assert needed["total"] == pytest.approx(1800 / zoo.workload("smoke")[-1]["steps"])
    with pytest.raises(ValueError, match=r"^a time budget must be positive, got 0 minutes$"):
        speed.needed_speed("smoke", 0)


def test_duration_reads_like_a_person_would_say_it() -> None:
    assert [speed.duration(h) for h in (0.01, 0.5, 3.25)] == ["36 s", "30 min", "3.2 h"]


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ProfileError, match=r"^unknown profile 'huge'; expected one of smoke, cpu, full$"):
        speed.step_speed("huge")
    with pytest.raises(TrainError, match=r"^time_steps needs steps >= 1 and warmup >= 0, got steps=0, warmup=3$"):
        time_steps(synthetic_series(), model_config_for("smoke"), train_config_for("smoke"), steps=0)
