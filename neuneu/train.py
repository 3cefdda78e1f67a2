"""The training loop of NeuNeu (paper-spec §5, with the fixes of §9.12 and §9.20) and the files it writes.

The forecaster that wraps a trained model behind the common protocol lives in :mod:`neuneu.forecaster`.

* Loss: pinball loss averaged over quantiles and targets.
* Optimiser: AdamW; weight decay only on matrices (not on LayerNorm/GroupNorm weights, biases, BOS or the other
  learned vectors). Learning rate: linear warm-up from 0.1·lr, then cosine down to ``min_lr_ratio``·lr; it is a
  pure function of the step, so resuming needs no scheduler object. Gradient-norm clipping.
* Samples: drawn afresh for every batch from ``numpy.random.default_rng((seed, epoch, batch))``, so an epoch is a
  fixed, seed-determined set that a resumed run regenerates exactly (see :mod:`neuneu.samples`).
* Validation: whole replica groups of runs are held out (the paper split random samples, which leaks
  neighbouring windows of the same run, §9.12) — a split's own validation side (:mod:`neuneu.splits`) when
  given; the validation samples follow the evaluation protocol (context ratio 0.2, every later checkpoint a
  target), each trajectory weighted equally. The best model by validation pinball loss is kept.
* Files in ``out_dir``: ``model.safetensors`` + ``config.json`` (best model, with the sha256 of the weights file,
  checked at load, and whatever record the caller adds, e.g. what the model was trained on), ``checkpoint/``
  (last state: weights, AdamW moments, RNG, step/epoch/batch, best-so-far; ``resume=True`` continues from it bit
  for bit) and ``history.json``.
* One seed makes CPU runs bitwise repeatable (at a fixed thread count); on CUDA the forward runs under bf16
  autocast.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from neuneu import atomic, profiles
from neuneu.contract import Series
from neuneu.model import POOLED_KIND, ConfigError, NeuNeu, NeuNeuConfig
from neuneu.profiles import show_progress
from neuneu.samples import (
    LawSource,
    SampleSpec,
    Trajectory,
    anchored_context_end,
    anchored_specs,
    collate,
    draw_training_sample,
    prepare_all,
    trainable,
    training_context_ends,
    with_feature_stats,
)
from neuneu.splits import validation_by_run

FORMAT = "neuneu-model"
FORMAT_VERSION = 1
# filled from data, so resume may not compare them
STAT_FIELDS = ("loss_dim", "feature_kinds", "feature_center", "feature_scale", "tasks")
WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"


class TrainError(RuntimeError):
    """Training cannot start or continue (no usable data, mismatched resume, unreadable checkpoint)."""


class WeightsError(TrainError):
    """A weights folder that cannot be trusted: a file missing or truncated, or weights whose sha256 differs from
    the one recorded when they were written."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and sampling settings. ``samples_per_epoch`` counts contexts; each context carries up to
    ``targets_per_context`` targets, which share one encoding of the context."""

    seed: int = 0
    epochs: int = 3
    samples_per_epoch: int = 16_384
    batch_size: int = 256
    targets_per_context: int = 4
    lr: float = 6e-4
    weight_decay: float = 0.033
    warmup_frac: float = 0.1
    min_lr_ratio: float = 0.01
    grad_clip: float = 1.0
    drop_prob: float = 0.4
    max_horizon: int | None = None  # checkpoints ahead; None = to the end of the trajectory (covers evaluation)
    max_context_fraction: float = 1.0  # latest context end, as a fraction of the trajectory
    context_ends_per_trajectory: int | None = None  # parametric: tabulate at most this many context ends (None: all)
    task_drop_prob: float = 0.2  # share of samples whose task is hidden (models with task identity only)
    val_fraction: float = 0.2  # share of replica groups held out when no validation series are given
    val_context_ratio: float = 0.2
    max_val_trajectories: int = 512
    eval_every: int = 0  # optimiser steps between validations; 0 = at the end of every epoch only
    max_steps: int | None = None  # end after this many optimiser steps, at the full schedule's learning rates
    device: str | None = None  # None: CUDA when present, else CPU
    num_threads: int | None = None  # torch CPU threads while training (restored after); None: leave as is
    progress: bool = True

    @property
    def steps_per_epoch(self) -> int:
        """Optimiser steps per epoch (full batches only)."""
        return max(1, self.samples_per_epoch // self.batch_size)

    @property
    def total_steps(self) -> int:
        """Optimiser steps of the schedule (the learning rate's warm-up and cosine span them)."""
        return self.epochs * self.steps_per_epoch

    @property
    def last_step(self) -> int:
        """Optimiser steps actually run: the whole schedule, or ``max_steps`` of it (a refit that stops where its
        selection model's validation loss was lowest, on the same learning rates)."""
        return self.total_steps if self.max_steps is None else min(self.max_steps, self.total_steps)

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict` (unknown keys are ignored so old files stay readable)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def config_for(profile: str) -> TrainConfig:
    """Training settings of a run profile (:data:`neuneu.profiles.PROFILES`)."""
    return TrainConfig(**profiles.profile(profile).train)


# --------------------------------------------------------------------------------------------------------------
# Loss, schedule, optimiser


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles: Sequence[float], *,
                 per_row: bool = False) -> torch.Tensor:
    """Pinball (quantile) loss of ``pred`` (B, T, Q) against ``target`` (B, T), ignoring NaN targets (padding).

    With e = y − ŷ_q the loss is q·e for e ≥ 0 and (q − 1)·e otherwise. Averaged over quantiles and real targets;
    with ``per_row`` first within each row, then over rows, so every trajectory counts once (as in evaluation).
    """
    real = ~torch.isnan(target)
    error = torch.where(real, target, 0.0)[..., None] - pred.float()
    q = torch.tensor(quantiles, dtype=error.dtype, device=error.device)
    per_target = torch.maximum(q * error, (q - 1) * error).mean(dim=-1) * real
    if per_row:
        return (per_target.sum(dim=1) / real.sum(dim=1).clamp(min=1)).mean()
    return per_target.sum() / real.sum().clamp(min=1)


def learning_rate(step: int, config: TrainConfig) -> float:
    """Learning rate for optimiser step ``step`` (0-based): linear warm-up from 0.1·lr, then cosine decay."""
    total = config.total_steps
    warmup = max(1, math.ceil(config.warmup_frac * total))
    if step < warmup:
        return config.lr * (0.1 + 0.9 * step / warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    floor = config.min_lr_ratio
    return config.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and convolution kernels only (§9.20: the paper also decayed norms,
    biases and BOS)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` torch CPU threads inside the block, then restore the previous count (None: change nothing)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def pick_device(name: str | None) -> torch.device:
    """The requested device, or CUDA when present, else CPU."""
    if name is not None:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# --------------------------------------------------------------------------------------------------------------
# Files


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    host = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic.atomic_write(path, lambda tmp: save_file(host, str(tmp), metadata=metadata))


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(model: NeuNeu, directory: Path, extra: dict[str, Any] | None = None) -> None:
    """Write ``model.safetensors`` and ``config.json`` (model config incl. feature statistics, the weights file's
    sha256, and ``extra``) into ``directory``, each atomically; the config last, so it never names other weights."""
    directory = Path(directory)
    _save_tensors(model.state_dict(), directory / WEIGHTS_FILE)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "model": model.config.to_dict(),
            "weights_sha256": sha256_of(directory / WEIGHTS_FILE), **(extra or {})}
    atomic.write_json(directory / CONFIG_FILE, meta, sort_keys=False)


def read_config(directory: Path) -> dict[str, Any]:
    """``config.json`` of a weights folder, or a :class:`WeightsError` naming the file."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise WeightsError(f"{path} is missing: not a NeuNeu weights folder (train one with `neuneu train`)")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path} is not valid JSON (truncated or damaged): {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise WeightsError(f"{path} is not a NeuNeu model file (format "
                           f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    return meta


def load_model(directory: Path, device: torch.device | str = "cpu") -> tuple[NeuNeu, dict[str, Any]]:
    """Rebuild the model saved by :func:`save_model`; returns it (eval mode) and the whole config.json dict.

    The weights file must match the sha256 recorded in config.json: a flipped bit would otherwise load silently
    and change every forecast.
    """
    directory = Path(directory)
    meta = read_config(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise WeightsError(f"{weights} is missing")
    recorded = meta.get("weights_sha256")
    if recorded is None:
        raise WeightsError(f"{directory / CONFIG_FILE} records no weights_sha256, so {weights} cannot be verified")
    if sha256_of(weights) != recorded:
        raise WeightsError(f"{weights} does not match the sha256 recorded in {directory / CONFIG_FILE} "
                           f"(damaged or replaced); retrain or restore it")
    try:
        config = NeuNeuConfig.from_dict(meta["model"])
        model = NeuNeu(config)
        model.load_state_dict(load_file(str(weights)))
    except (SafetensorError, ConfigError, KeyError, RuntimeError) as exc:
        raise WeightsError(f"{directory}: cannot rebuild the model: {exc}") from None
    return model.to(device).eval(), meta


@dataclass
class TrainState:
    """Everything besides tensors that a resumed run needs to continue exactly."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_val: float = math.inf
    best_step: int = -1
    loss_sum: float = 0.0  # training loss accumulated since the last validation
    loss_count: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def save_checkpoint(directory: Path, model: NeuNeu, optimizer: torch.optim.Optimizer, state: TrainState,
                    train_config: TrainConfig) -> None:
    """Write ``checkpoint/state.safetensors`` (weights, AdamW moments, torch RNG) and ``checkpoint/state.json``."""
    ckpt = Path(directory) / "checkpoint"
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    optim = optimizer.state_dict()
    for index, slots in optim["state"].items():
        tensors.update({f"optim.{index}.{name}": value for name, value in slots.items()})
    tensors["rng.torch"] = torch.get_rng_state()
    _save_tensors(tensors, ckpt / "state.safetensors", metadata={"step": str(state.step)})
    meta = {"state": asdict(state), "param_groups": optim["param_groups"], "train": train_config.to_dict(),
            "model": model.config.to_dict()}
    atomic.write_json(ckpt / "state.json", meta, indent=None, sort_keys=False)


def load_checkpoint(directory: Path, model: NeuNeu, optimizer: torch.optim.Optimizer) -> TrainState:
    """Restore what :func:`save_checkpoint` wrote into ``model`` and ``optimizer``, and the torch RNG."""
    ckpt = Path(directory) / "checkpoint"
    meta = json.loads((ckpt / "state.json").read_text())
    tensors = load_file(str(ckpt / "state.safetensors"))
    state = TrainState(**meta["state"])
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            slots.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": slots, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    return state


def merged_feature_stats(pretrained: NeuNeuConfig, new: NeuNeuConfig) -> NeuNeuConfig:
    """``pretrained``'s config (architecture and its statistics per loss kind, including the pooled ones) with the
    statistics of every loss kind of ``new`` that it lacks or that the new data measures again. The two must
    describe the same architecture (every field but the data statistics equal)."""
    for f in fields(pretrained):
        if f.name not in STAT_FIELDS and getattr(pretrained, f.name) != getattr(new, f.name):
            raise TrainError(f"cannot fine-tune: the pretrained model has {f.name}={getattr(pretrained, f.name)!r}, "
                             f"this run asks for {getattr(new, f.name)!r}")
    if pretrained.loss_dim != new.loss_dim:
        raise TrainError(f"cannot fine-tune: loss width {new.loss_dim} differs from the pretrained {pretrained.loss_dim}")
    stats = {k: (c, s) for k, c, s in zip(pretrained.feature_kinds, pretrained.feature_center, pretrained.feature_scale)}
    for kind, center, scale in zip(new.feature_kinds, new.feature_center, new.feature_scale):
        if kind != POOLED_KIND:
            stats[kind] = (center, scale)
    kinds = [k for k in pretrained.feature_kinds] + sorted(k for k in stats if k not in pretrained.feature_kinds)
    return replace(pretrained, feature_kinds=tuple(kinds), feature_center=tuple(stats[k][0] for k in kinds),
                   feature_scale=tuple(stats[k][1] for k in kinds), tasks=new.tasks)


def best_step_of(history: Sequence[dict[str, Any]]) -> int | None:
    """The optimiser step of the lowest validation loss in a training ``history`` (the first such row, as training
    keeps it); None when no row was validated."""
    rows = [(row["val_loss"], row["step"]) for row in history if not math.isnan(row.get("val_loss", math.nan))]
    return min(rows, key=lambda r: r[0])[1] if rows else None


def _check_resumable(directory: Path, model_config: NeuNeuConfig, train_config: TrainConfig) -> NeuNeuConfig:
    """The saved model config (with its feature statistics), after checking both configs match this call's."""
    meta = json.loads((Path(directory) / "checkpoint" / "state.json").read_text())
    saved_model = NeuNeuConfig.from_dict(meta["model"])
    saved_train = TrainConfig.from_dict(meta["train"])
    for name, saved, wanted, skip in (("model", saved_model, model_config, STAT_FIELDS),
                                      ("train", saved_train, train_config, ("progress",))):
        for f in fields(saved):
            if f.name not in skip and getattr(saved, f.name) != getattr(wanted, f.name):
                raise TrainError(f"cannot resume: the checkpoint's {name} config has {f.name}="
                                 f"{getattr(saved, f.name)!r}, this run asks for {getattr(wanted, f.name)!r}")
    return saved_model


# --------------------------------------------------------------------------------------------------------------
# Training


@dataclass
class TrainResult:
    """A trained model (best validation checkpoint, eval mode) and how it got there."""

    model: NeuNeu
    config: NeuNeuConfig
    train_config: TrainConfig
    history: list[dict[str, Any]]
    best_step: int
    best_val_loss: float
    train_runs: list[str]
    val_runs: list[str]
    seconds: float
    finished: bool  # False when stopped early by ``stop_after_steps``
    fills: dict[str, int] = field(default_factory=dict)  # values the input preparation filled in (never silent)


@dataclass
class _Run:
    """What the loop needs, bundled so the helpers stay short."""

    model: NeuNeu
    optimizer: torch.optim.Optimizer
    config: TrainConfig
    trajs: list[Trajectory]
    eligible: np.ndarray
    val_trajs: list[Trajectory]
    val_specs: list[SampleSpec]
    device: torch.device
    out_dir: Path | None
    state: TrainState
    best_weights: dict[str, torch.Tensor] | None = None
    record: dict[str, Any] = field(default_factory=dict)  # written into every saved config.json
    fine_tuning: bool = False  # started from a trained model


def _autocast(device: torch.device) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def _batch_specs(run: _Run, epoch: int, batch: int) -> list[SampleSpec]:
    cfg = run.config
    rng = np.random.default_rng([cfg.seed, epoch, batch])
    return [draw_training_sample(run.trajs, run.eligible, rng, drop_prob=cfg.drop_prob, max_horizon=cfg.max_horizon,
                                 targets_per_context=cfg.targets_per_context,
                                 max_context=run.model.config.max_context,
                                 max_context_fraction=cfg.max_context_fraction,
                                 task_drop_prob=cfg.task_drop_prob if run.model.config.task_identity else 0.0)
            for _ in range(cfg.batch_size)]


def _train_step(run: _Run, specs: list[SampleSpec]) -> float:
    inputs, target = collate(run.trajs, specs, run.model.config)
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate(run.state.step, run.config)
    run.model.train()
    with _autocast(run.device):
        pred = run.model(inputs.to(run.device))
    loss = pinball_loss(pred, target.to(run.device), run.model.config.quantiles)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.config.grad_clip)
    run.optimizer.step()
    return float(loss.detach())


@torch.no_grad()
def validation_loss(model: NeuNeu, trajs: Sequence[Trajectory], specs: Sequence[SampleSpec],
                    device: torch.device, chunk: int = 64) -> float:
    """Mean over trajectories of the per-trajectory pinball loss on the anchored validation samples."""
    model.eval()
    total = 0.0
    for start in range(0, len(specs), chunk):
        part = specs[start : start + chunk]
        inputs, target = collate(trajs, part, model.config)
        with _autocast(device):
            pred = model(inputs.to(device))
        total += float(pinball_loss(pred, target.to(device), model.config.quantiles, per_row=True)) * len(part)
    return total / len(specs)


def _validate_and_keep_best(run: _Run) -> None:
    state = run.state
    val = validation_loss(run.model, run.val_trajs, run.val_specs, run.device) if run.val_specs else math.nan
    train_loss = state.loss_sum / state.loss_count if state.loss_count else math.nan
    state.history.append({"step": state.step, "epoch": state.epoch, "lr": learning_rate(state.step - 1, run.config),
                          "train_loss": train_loss, "val_loss": val})
    state.loss_sum, state.loss_count = 0.0, 0
    if run.val_specs and val < state.best_val:
        state.best_val, state.best_step = val, state.step
        run.best_weights = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
        if run.out_dir is not None:
            save_model(run.model, run.out_dir, {**run.record, "train": run.config.to_dict(),
                                                "best_step": state.step, "val_loss": val})
    if run.out_dir is not None:
        save_checkpoint(run.out_dir, run.model, run.optimizer, state, run.config)


def _loop(run: _Run, stop_after_steps: int | None) -> bool:
    """Train until the schedule's last step (:attr:`TrainConfig.last_step`; True) or until ``stop_after_steps``
    optimiser steps are done (False)."""
    cfg, state = run.config, run.state
    bar = tqdm(total=cfg.last_step, initial=state.step, disable=not show_progress(cfg.progress), desc="train NeuNeu")
    if run.fine_tuning and state.step == 0 and run.val_specs:
        _validate_and_keep_best(run)  # the pretrained model itself competes: fine-tuning must earn its place
    try:
        while state.epoch < cfg.epochs and state.step < cfg.last_step:
            while state.batch_in_epoch < cfg.steps_per_epoch and state.step < cfg.last_step:
                loss = _train_step(run, _batch_specs(run, state.epoch, state.batch_in_epoch))
                state.step, state.batch_in_epoch = state.step + 1, state.batch_in_epoch + 1
                state.loss_sum, state.loss_count = state.loss_sum + loss, state.loss_count + 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", best_val=f"{state.best_val:.4f}")
                epoch_end = state.batch_in_epoch == cfg.steps_per_epoch
                if epoch_end:
                    state.epoch, state.batch_in_epoch = state.epoch + 1, 0
                # a truncated schedule (max_steps) also closes its history with a row where it ended
                if epoch_end or (cfg.eval_every and state.step % cfg.eval_every == 0) or state.step == cfg.last_step:
                    _validate_and_keep_best(run)
                if stop_after_steps is not None and state.step >= stop_after_steps and state.step < cfg.last_step:
                    if run.out_dir is not None:
                        save_checkpoint(run.out_dir, run.model, run.optimizer, state, cfg)
                    return False
                if epoch_end:
                    break
    finally:
        bar.close()
    return True


def train(series: Sequence[Series], model_config: NeuNeuConfig, train_config: TrainConfig, *,
          val_series: Sequence[Series] | None = None, out_dir: Path | str | None = None, resume: bool = False,
          stop_after_steps: int | None = None, record: dict[str, Any] | None = None,
          laws: LawSource | None = None, val_laws: LawSource | None = None,
          init: NeuNeu | None = None) -> TrainResult:
    """Train NeuNeu on ``series`` and return the best model by validation loss.

    Validation uses ``val_series`` when given, else ``train_config.val_fraction`` of the replica groups of
    ``series`` (:func:`neuneu.splits.validation_by_run`). ``record`` (e.g. what the model was trained on) is
    written into every config.json the run saves. A parametric model needs each training series' law (``laws``,
    cross-fitted: never fitted on the series itself) and each validation series' (``val_laws``). ``init`` starts
    from a trained model (fine-tuning a pretrained one): same architecture, its feature statistics kept and those
    of the new data's loss kinds added (:func:`merged_feature_stats`).
    With ``resume=True`` and a checkpoint in ``out_dir``, training continues from it and ends exactly where an
    uninterrupted run would. ``stop_after_steps`` ends early after that many optimiser steps (a checkpoint is
    written), e.g. to split a long run.
    """
    started = time.perf_counter()
    out = None if out_dir is None else Path(out_dir)
    if resume and out is None:
        raise TrainError("resume=True needs out_dir (the directory of the interrupted run)")
    train_series, held_out = (list(series), list(val_series)) if val_series is not None else \
        validation_by_run(series, fraction=train_config.val_fraction, seed=train_config.seed)
    with torch_threads(train_config.num_threads):
        run = _setup(train_series, held_out, model_config, train_config, out, resume, laws, val_laws, init)
        run.record = dict(record or {})
        finished = _loop(run, stop_after_steps)
    if finished and (run.best_weights is None or not run.val_specs):
        run.best_weights = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
        if out is not None:
            save_model(run.model, out, {**run.record, "train": train_config.to_dict(), "best_step": run.state.step})
    model = run.model
    if finished:
        model.load_state_dict(run.best_weights)
    if out is not None:
        atomic.write_json(out / "history.json", run.state.history, indent=1, sort_keys=False)
    fills = Counter()
    for traj in [*run.trajs, *run.val_trajs]:
        fills.update(traj.fills or {})
    return TrainResult(model.eval(), model.config, train_config, run.state.history, run.state.best_step,
                       run.state.best_val, sorted({s.run for s in train_series}), sorted({s.run for s in held_out}),
                       time.perf_counter() - started, finished, {k: v for k, v in fills.items() if v})


def time_steps(series: Sequence[Series], model_config: NeuNeuConfig, train_config: TrainConfig, *,
               laws: LawSource | None = None, steps: int = 20, warmup: int = 3) -> dict[str, float]:
    """How long one optimiser step of ``model_config`` under ``train_config`` takes on its device, training on
    ``series`` exactly as :func:`train` does (same batches, collation, autocast, clipping, thread count), with the
    set-up (input preparation, law fits) and validation left out: ``seconds_per_step`` over ``steps`` steps after
    ``warmup`` uncounted ones (allocation, kernel selection), and ``sampling_seconds_per_step``, the part spent
    drawing the batch's samples on the CPU. Nothing is written; the model is thrown away."""
    if steps < 1 or warmup < 0:
        raise TrainError(f"time_steps needs steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    with torch_threads(train_config.num_threads):
        run = _setup(list(series), [], model_config, train_config, None, False, laws)
        sampling = 0.0
        for i in range(warmup + steps):
            if i == warmup:
                if run.device.type == "cuda":
                    torch.cuda.synchronize(run.device)
                started, sampling = time.perf_counter(), 0.0
            drawn = time.perf_counter()
            specs = _batch_specs(run, 0, i)
            sampling += time.perf_counter() - drawn
            _train_step(run, specs)  # returns the loss as a float: the device has finished the step
        seconds = time.perf_counter() - started
    return {"seconds_per_step": seconds / steps, "sampling_seconds_per_step": sampling / steps, "steps": steps,
            "warmup": warmup}


def _setup(train_series: list[Series], held_out: list[Series], model_config: NeuNeuConfig,
           train_config: TrainConfig, out: Path | None, resume: bool, laws: LawSource | None = None,
           val_laws: LawSource | None = None, init: NeuNeu | None = None) -> _Run:
    """Seed, normalise, build model and optimiser, and restore a checkpoint when resuming."""
    resuming = resume and out is not None and (out / "checkpoint" / "state.json").exists()
    config = _check_resumable(out, model_config, train_config) if resuming else \
        with_feature_stats(model_config, train_series)
    if init is not None and not resuming:
        config = merged_feature_stats(init.config, config)
    if config.parametric and (laws is None or (held_out and val_laws is None)):
        raise TrainError("a parametric model needs the laws of its training and validation series")
    trajs = prepare_all(train_series, config, laws=laws,
                        context_ends=training_context_ends(train_config.max_context_fraction,
                                                           train_config.context_ends_per_trajectory))
    eligible = trainable(trajs)
    if len(eligible) == 0:
        raise TrainError("no training trajectory has two usable checkpoints")
    val_trajs = prepare_all(held_out, config, laws=val_laws,
                            context_ends=anchored_context_end(train_config.val_context_ratio))
    val_specs = anchored_specs(val_trajs, train_config.val_context_ratio, config.max_context)
    if len(val_specs) > train_config.max_val_trajectories:  # a fixed, seed-chosen subset
        keep = np.random.default_rng([train_config.seed, 11]).choice(len(val_specs), train_config.max_val_trajectories,
                                                                      replace=False)
        val_specs = [val_specs[i] for i in np.sort(keep)]
    device = pick_device(train_config.device)
    torch.manual_seed(train_config.seed)
    model = NeuNeu(config).to(device)
    if init is not None and not resuming:
        model.load_state_dict(init.state_dict())
    optimizer = make_optimizer(model, train_config)
    run = _Run(model, optimizer, train_config, trajs, eligible, val_trajs, val_specs, device, out, TrainState(),
               fine_tuning=init is not None)
    if resuming:
        run.state = load_checkpoint(out, model, optimizer)
        if (out / "model.safetensors").exists() and run.state.best_step >= 0:
            run.best_weights = {k: v.to(device) for k, v in load_file(str(out / "model.safetensors")).items()}
    return run
