"""How fast a profile's NeuNeu trains on the machine at hand, and what rebuilding the profile's models costs there.

Chapter 4 counts the optimiser steps of every model a profile trains (:func:`neuneu.zoo.workload`); steps are not
seconds. This module measures seconds per step of the profile's default member — the parametric, mean-loss
encoder of the profile's size, on batches of its synthetic prior, with the pretraining stage's settings — and
multiplies the workload by it:

* :func:`step_speed` — one measurement (:func:`neuneu.train.time_steps`: the training loop's own step, set-up and
  validation left out), with the device, thread count, batch and encoder size it was taken with.
* :func:`estimate` — the workload of a measured profile in hours at that speed, per stage. A lower bound: input
  preparation, law fits, validation and calibration come on top.
* :func:`record` / :func:`read_record` — ``data/bench/speed.json``, one entry per (profile, device), committed
  like the benchmark record, so the book shows measured numbers without timing anything itself.
* :func:`needed_speed` — the other way round: the step time a time budget allows, per stage.
* :func:`price_table` / :func:`duration` — the measurements as chapter 4 shows them.

``python -m neuneu.speed --profile full --device cuda --record`` is the measurement a GPU session makes first (23
optimiser steps after drawing three prior ladders): it turns the `full` profile's step count into a time before
anything long is started.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from neuneu import atomic, prior, profiles, zoo
from neuneu.forecaster import ladder_laws
from neuneu.model import NeuNeu, count_parameters
from neuneu.paths import DATA_DIR
from neuneu.train import pick_device, time_steps

SPEED_RECORD = DATA_DIR / "bench" / "speed.json"
PROBE_LADDERS = 3  # synthetic ladders the probe trains on: enough for full batches, drawn in seconds


def device_name(device: torch.device) -> str:
    """A readable name of ``device``: the GPU's model, or the CPU's architecture and core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.machine()}, {os.cpu_count()} cores"


def step_speed(profile: str, *, device: str | None = None, steps: int = 20, warmup: int = 3,
               seed: int = 0) -> dict[str, Any]:
    """Seconds per optimiser step of ``profile``'s default member while pretraining (its batch size, targets per
    context, context length and thread count), on ``device`` (default: CUDA when present), over ``steps`` steps
    after ``warmup``; with what it was measured with."""
    series = prior.sample_prior(dataclasses.replace(prior.config_for(profile), n_ladders=PROBE_LADDERS), seed=seed)
    model_config, train_config = zoo.training_configs(zoo.pretrained_spec("forecast", seed), profile)
    train_config = dataclasses.replace(train_config, device=device, progress=False)
    timing = time_steps(series, model_config, train_config, laws=ladder_laws(series), steps=steps, warmup=warmup)
    resolved = pick_device(device)
    return {"profile": profile, "device": device_name(resolved), "device_type": resolved.type,
            "threads": train_config.num_threads if train_config.num_threads is not None else torch.get_num_threads(),
            "batch_size": train_config.batch_size, "targets_per_context": train_config.targets_per_context,
            "encoder_parameters": count_parameters(NeuNeu(dataclasses.replace(model_config, loss_dim=1))),
            "torch": torch.__version__, "date": datetime.date.today().isoformat(), **timing}


def estimate(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The workload of ``entry``'s profile (:func:`neuneu.zoo.workload`, one row per stage and a total) in hours at
    the entry's measured seconds per step (a lower bound: set-up and validation are not counted)."""
    return [{"profile": row["profile"], "device": entry["device"], "stage": row["stage"], "models": row["models"],
             "steps": row["steps"], "hours": row["steps"] * entry["seconds_per_step"] / 3600}
            for row in zoo.workload(entry["profile"])]


def needed_speed(profile: str, minutes: float) -> dict[str, float]:
    """Per stage of ``profile``'s workload, the seconds per step at which it would train in ``minutes`` on one
    process: what a device must reach for a time budget, before anyone measures it."""
    if minutes <= 0:
        raise ValueError(f"a time budget must be positive, got {minutes} minutes")
    return {row["stage"]: 60.0 * minutes / row["steps"] for row in zoo.workload(profile)}


def price_table(entries: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per measured entry: where it was measured, seconds per step and the share of it spent drawing the
    batch's samples (what would starve the device if it grew), and the duration of each stage of its profile's
    workload at that speed (:func:`estimate`)."""
    rows = []
    for entry in entries:
        row = {"profile": entry["profile"], "device": entry["device"], "threads": entry["threads"],
               "batch": entry["batch_size"], "s / step": round(entry["seconds_per_step"], 4),
               "drawing samples": f"{entry['sampling_seconds_per_step'] / entry['seconds_per_step']:.0%}"}
        rows.append({**row, **{stage["stage"]: duration(stage["hours"]) for stage in estimate(entry)}})
    return pd.DataFrame(rows)


def duration(hours: float) -> str:
    """``hours`` as a person reads it: seconds, minutes or hours."""
    seconds = hours * 3600
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else f"{hours:.1f} h"


def read_record(path: Path = SPEED_RECORD) -> list[dict[str, Any]]:
    """The measured entries in ``path`` (none when the file does not exist)."""
    return json.loads(Path(path).read_text())["entries"] if Path(path).is_file() else []


def record(entry: dict[str, Any], path: Path = SPEED_RECORD) -> Path:
    """Add ``entry`` to ``path``, replacing an earlier one of the same profile and device; written atomically."""
    kept = [e for e in read_record(path) if (e["profile"], e["device"]) != (entry["profile"], entry["device"])]
    entries = sorted([*kept, entry], key=lambda e: (profiles.PROFILE_NAMES.index(e["profile"]), e["device"]))
    return atomic.write_json(path, {"entries": entries}, sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    """``python -m neuneu.speed [--profile P] [--device D] [--steps N] [--record]``: measure, print the estimate,
    and (``--record``) store the measurement in ``data/bench/speed.json``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--profile", default="cpu", choices=profiles.PROFILE_NAMES)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, … (default: CUDA when present)")
    parser.add_argument("--steps", type=int, default=20, help="timed optimiser steps (after 3 uncounted ones)")
    parser.add_argument("--record", action="store_true", help=f"store the measurement in {SPEED_RECORD}")
    args = parser.parse_args(argv)
    entry = step_speed(args.profile, device=args.device, steps=args.steps)
    print(f"{entry['profile']} on {entry['device']} (torch threads: {entry['threads']}): "
          f"{entry['seconds_per_step']:.4f} s per step of {entry['batch_size']} contexts "
          f"({entry['sampling_seconds_per_step']:.4f} s of it drawing samples), "
          f"{entry['encoder_parameters']:,} encoder parameters")
    for row in estimate(entry):
        print(f"  {row['stage']}: {row['models']} models, {row['steps']:,} steps, {duration(row['hours'])}")
    if args.record:
        print(record(entry))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
