"""A synthetic scaling prior: families of training runs whose losses and downstream accuracies behave like real
ladders, to pretrain NeuNeu on before it sees a single real run.

Why: our real training sides are small (the held-out-size split fits on 14 runs), while the paper trained on 144.
A prior can show the model every situation a ladder can be in — sizes and token budgets beyond the training runs,
other checkpoint grids and schedules, tasks that plateau, emerge late, fall or switch between two regimes — and,
crucially, how far the parametric laws (:mod:`neuneu.parametric`) can be trusted when they extrapolate. The same
pretrained weights then serve every split: the prior never sees a real run, so it cannot see a test run.

One **ladder** (a family of runs sharing a data recipe and a schedule family) is drawn as follows; every range is
broad on purpose and checked against the training sides of our splits in chapter 4 (never fitted to a test run):

* **Sizes and budgets.** 3–7 sizes, geometrically spaced (ratio 1.5–3, smallest 10M–1B parameters); per size 1–4
  training lengths from {0.5, 1, 2, 5, 10} × 20 tokens per parameter, and a replica (another seed) at rate
  ``replica_rate``.
* **Checkpoint grids.** 15–120 checkpoints per run: evenly spaced (OLMo), log-spaced early then even (Pythia) or
  denser early (power 1.5, the mini-ladder), at the rates in :class:`PriorConfig`.
* **Loss.** L = E + A/N^α + B/D^β (the Chinchilla form; E 1.3–2.3 nats, α 0.25–0.42, β 0.22–0.35, and A, B
  such that the size term is 0.6–1.8 nats at 100M parameters and the data term 0.4–1.4 nats at 2B tokens), plus a
  learning-rate term κ·lr(t)·B/D^β — the loss a run has not yet annealed away; the schedule is cosine, constant or
  warmup-stable-decay (WSD, its sharp drop in the last 10–20%) — and a warm-up transient W·exp(−D/D_w), softly
  capped at an untrained model's loss (≈ 10.8 nats). Gaussian evaluation noise of 0.002–0.01 nats.
* **Accuracy.** Per task a chance level (0.25, 0.5, 0.2, 0.33), a ceiling, a slope and a midpoint in loss:
  acc = chance + (ceiling − chance)·σ(k·(L0 − L)), with the deviations real suites show at the rates of
  :data:`TASK_KINDS` — staying at chance (a task that emerges far beyond the ladder, like the multiple-choice
  formats and MMLU below 1B parameters), plateau, late emergence, saturation, a non-monotone bump, inverse
  scaling, and regime switching (BoolQ-like: accuracy jumps between two levels from one checkpoint to the next).
  Each run's law is offset from the family's (per run, per run and task) and drifts with size, so a law fitted on
  the small runs errs on the large ones, as on the OLMo ladder.
* **Noise.** Binomial with task sizes of real suites (300–10,000 items) plus AR(1) checkpoint jitter.

Loss features are the mean loss in nats, loss kind "prior" (standardised with the prior's own statistics, as each
real kind is with its own). The parametric inputs of a prior series come from laws fitted on the *other* runs of
its ladder (``neuneu.parametric.cross_fitted`` with the ladder as the family), exactly as a real training series'
come from laws fitted without its fold.
Sampling is vectorised per ladder; :func:`sampling_rate` measures it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
from scipy.special import expit

from neuneu import profiles
from neuneu.contract import Series

SOURCE = "prior"
MAX_LOSS = 10.8  # ≈ log of a 50k vocabulary: the loss of an untrained model
LOSS_KIND = "prior"
MULTIPLIERS = (0.5, 1.0, 2.0, 5.0, 10.0)
CHANCE_LEVELS = ((0.25, 0.5), (0.5, 0.3), (0.2, 0.1), (1 / 3, 0.1))  # (chance, probability)
TASK_SIZES = (300, 500, 1000, 1200, 2400, 3000, 10000)
#: How often each task behaviour occurs (probabilities; they sum to 1). Matched to the shape classes of the real
#: training sides (chapter 4; never a test run): about a third of their series stay flat, mostly at chance, so
#: "chance" takes 0.18 (from "steady" and "plateau", which the prior had in excess).
TASK_KINDS: Mapping[str, float] = {"steady": 0.34, "chance": 0.18, "plateau": 0.06, "late": 0.12,
                                   "saturating": 0.08, "bump": 0.06, "inverse": 0.04, "switching": 0.12}
SCHEDULES: Mapping[str, float] = {"cosine": 0.6, "constant": 0.1, "wsd": 0.3}
GRIDS: Mapping[str, float] = {"uniform": 0.6, "log-then-uniform": 0.2, "power": 0.2}


@dataclass(frozen=True)
class PriorConfig:
    """How much prior to draw (sizes come from the profile table, :data:`neuneu.profiles.PROFILES`)."""

    n_ladders: int = 200
    tasks: tuple[int, int] = (4, 9)  # tasks per ladder (inclusive range)
    sizes: tuple[int, int] = (3, 7)
    checkpoints: tuple[int, int] = (15, 120)
    replica_rate: float = 0.15
    law_folds: int = 3  # cross-fitting folds of a ladder's runs for the parametric inputs
    extra: dict = field(default_factory=dict)


def config_for(profile: str) -> PriorConfig:
    """The prior's size under a run profile."""
    return PriorConfig(**profiles.profile(profile).prior)


def _choice(rng: np.random.Generator, table: Mapping[str, float]) -> str:
    names = list(table)
    return names[int(rng.choice(len(names), p=np.asarray(list(table.values())) / sum(table.values())))]


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


# --------------------------------------------------------------------------------------------- runs and losses


@dataclass(frozen=True)
class _Ladder:
    index: int
    E: float
    A: float
    alpha: float
    B: float
    beta: float
    kappa: float
    warm: float
    warm_tokens: float
    schedule: str
    wsd_fraction: float
    loss_noise: float
    tokens_per_step: float


REFERENCE_SIZE, REFERENCE_TOKENS = 1e8, 2e9  # where the reducible terms are drawn in nats


def _draw_ladder(rng: np.random.Generator, index: int) -> _Ladder:
    alpha, beta = rng.uniform(0.25, 0.42), rng.uniform(0.22, 0.35)
    A = rng.uniform(0.6, 1.8) * REFERENCE_SIZE**alpha  # the size term is 0.6–1.8 nats at 100M parameters
    B = rng.uniform(0.4, 1.4) * REFERENCE_TOKENS**beta  # the data term is 0.4–1.4 nats at 2B tokens
    return _Ladder(index=index, E=rng.uniform(1.3, 2.3), A=A, alpha=alpha, B=B, beta=beta, kappa=rng.uniform(0.1, 0.5),
                   warm=rng.uniform(1.5, 6.0), warm_tokens=_log_uniform(rng, 2e7, 5e8),
                   schedule=_choice(rng, SCHEDULES), wsd_fraction=rng.uniform(0.1, 0.2),
                   loss_noise=rng.uniform(0.002, 0.01), tokens_per_step=_log_uniform(rng, 2.5e5, 4.2e6))


def learning_rate_shape(progress: np.ndarray, schedule: str, wsd_fraction: float = 0.15) -> np.ndarray:
    """lr / peak lr at training progress p ∈ (0, 1]: cosine to 10%, constant, or WSD (constant, then linear decay
    to zero over the last ``wsd_fraction``); a 1% linear warm-up in all three."""
    p = np.clip(progress, 0.0, 1.0)
    warm = np.clip(p / 0.01, 0.0, 1.0)
    if schedule == "cosine":
        shape = 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * p))
    elif schedule == "constant":
        shape = np.ones_like(p)
    else:
        shape = np.clip((1.0 - p) / wsd_fraction, 0.0, 1.0)
    return warm * shape


def checkpoint_grid(rng: np.random.Generator, final_tokens: float, n: int, kind: str) -> np.ndarray:
    """Token counts of ``n`` checkpoints ending at ``final_tokens``, strictly increasing."""
    if kind == "uniform":
        grid = final_tokens * np.arange(1, n + 1) / n
    elif kind == "power":
        grid = final_tokens * (np.arange(1, n + 1) / n) ** 1.5
    else:  # Pythia-like: 10 log-spaced early checkpoints, then evenly spaced
        early = final_tokens * np.geomspace(1e-5, 3e-3, 10)
        grid = np.concatenate([early, final_tokens * np.arange(1, n - 9) / (n - 10)])
    return np.unique(grid)


def run_losses(ladder: _Ladder, size: float, tokens: np.ndarray, final_tokens: float,
               rng: np.random.Generator) -> np.ndarray:
    """The mean validation loss of one run at each checkpoint (see the module docstring)."""
    data_term = ladder.B / tokens**ladder.beta
    lr = learning_rate_shape(tokens / final_tokens, ladder.schedule, ladder.wsd_fraction)
    clean = (ladder.E + ladder.A / size**ladder.alpha + data_term * (1 + ladder.kappa * lr)
             + ladder.warm * np.exp(-tokens / ladder.warm_tokens))
    capped = MAX_LOSS - np.logaddexp(0.0, MAX_LOSS - clean)  # a soft cap near an untrained model's loss
    return capped + rng.normal(0.0, ladder.loss_noise, len(tokens))


# --------------------------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class _Task:
    name: str
    kind: str
    chance: float
    ceiling: float
    slope: float
    midpoint: float
    items: int
    size_drift: float
    bump: tuple[float, float, float]  # height, centre (log tokens), width
    switch: tuple[float, float]  # amplitude, switch probability


def _draw_task(rng: np.random.Generator, name: str, loss_range: tuple[float, float]) -> _Task:
    kind = _choice(rng, TASK_KINDS)
    chance = CHANCE_LEVELS[int(rng.choice(len(CHANCE_LEVELS), p=[p for _, p in CHANCE_LEVELS]))][0]
    lo, hi = loss_range
    ceiling = rng.uniform(chance + 0.1, min(0.98, chance + 0.7))
    midpoint = rng.uniform(lo - 0.3, hi + 0.3)
    slope = _log_uniform(rng, 0.8, 8.0)
    if kind == "plateau":
        ceiling = chance + rng.uniform(0.02, 0.08)
    elif kind == "late":
        midpoint, slope = rng.uniform(lo - 0.6, lo + 0.05), _log_uniform(rng, 3.0, 12.0)
    elif kind == "chance":  # emerges far beyond the ladder: at most ~1.5 points above chance at its lowest loss
        midpoint, slope = rng.uniform(lo - 1.6, lo - 0.8), _log_uniform(rng, 4.0, 12.0)
        ceiling = chance + rng.uniform(0.1, 0.4)
    elif kind == "saturating":
        midpoint = rng.uniform(hi + 0.2, hi + 1.2)
    elif kind == "inverse":
        slope, ceiling = -slope, chance + rng.uniform(0.05, 0.2)
    bump = (rng.choice([-1, 1]) * rng.uniform(0.03, 0.09), rng.uniform(0.3, 0.8), rng.uniform(0.05, 0.2)) \
        if kind == "bump" else (0.0, 0.5, 0.1)
    switch = (rng.uniform(0.05, 0.14), rng.uniform(0.15, 0.6)) if kind == "switching" else (0.0, 0.0)
    return _Task(name, kind, float(chance), float(ceiling), float(slope), float(midpoint),
                 int(rng.choice(TASK_SIZES)), float(rng.normal(0.0, 0.008)), bump, switch)


def task_accuracy(task: _Task, loss: np.ndarray, log_tokens: np.ndarray, log_size_ratio: float,
                  offset: float, rng: np.random.Generator) -> np.ndarray:
    """Clean accuracy of one task along one run, then its observation noise (binomial + AR(1) jitter)."""
    clean = task.chance + (task.ceiling - task.chance) * expit(task.slope * (task.midpoint - loss))
    clean = clean + offset + task.size_drift * log_size_ratio
    if task.bump[0]:
        span = log_tokens[-1] - log_tokens[0] + 1e-9
        centre = log_tokens[0] + task.bump[1] * span
        clean = clean + task.bump[0] * np.exp(-0.5 * ((log_tokens - centre) / (task.bump[2] * span)) ** 2)
    if task.switch[0]:
        state, states = 1.0, []
        for _ in range(len(loss)):
            if rng.random() < task.switch[1]:
                state = -state
            states.append(state)
        clean = clean + task.switch[0] * np.asarray(states)
    clean = np.clip(clean, 0.0, 1.0)
    binomial = rng.normal(0.0, 1.0, len(loss)) * np.sqrt(clean * (1 - clean) / task.items)
    rho, jitter_sd = rng.uniform(0.0, 0.8), rng.uniform(0.0, 0.006)
    jitter = np.zeros(len(loss))
    for i in range(1, len(loss)):
        jitter[i] = rho * jitter[i - 1] + rng.normal(0.0, jitter_sd)
    return np.clip(clean + binomial + jitter, 0.0, 1.0)


# --------------------------------------------------------------------------------------------- a ladder


def sample_ladder(seed: int, index: int, config: PriorConfig = PriorConfig()) -> list[Series]:
    """Every (run, task) series of one synthetic ladder, drawn from ``numpy.random.default_rng([seed, index])``."""
    rng = np.random.default_rng([seed, index])
    ladder = _draw_ladder(rng, index)
    n_sizes = int(rng.integers(config.sizes[0], config.sizes[1] + 1))
    sizes = _log_uniform(rng, 1e7, 1e9) * rng.uniform(1.5, 3.0) ** np.arange(n_sizes)
    grid_kind = _choice(rng, GRIDS)
    runs = []
    for size in sizes:
        chosen = rng.choice(MULTIPLIERS, size=int(rng.integers(1, 5)), replace=False)
        for mult in sorted(chosen):
            replicas = 2 if rng.random() < config.replica_rate else 1
            runs += [(float(size), float(mult), r) for r in range(replicas)]
    finals = np.array([20.0 * m * n for n, m, _ in runs])
    grids = [checkpoint_grid(rng, final, int(rng.integers(*config.checkpoints)), grid_kind) for final in finals]
    losses = [run_losses(ladder, n, grid, final, rng) for (n, _, _), grid, final in zip(runs, grids, finals)]
    final_losses = np.array([loss[-1] for loss in losses])
    loss_range = (float(final_losses.min()), float(final_losses.max()))
    tasks = [_draw_task(rng, f"t{k}", loss_range) for k in range(int(rng.integers(config.tasks[0],
                                                                               config.tasks[1] + 1)))]
    run_offsets = rng.normal(0.0, rng.uniform(0.0, 0.015), len(runs))
    out = []
    for r, ((size, mult, replica), grid, loss) in enumerate(zip(runs, grids, losses)):
        name = f"prior{seed}-{index}-{size:.3g}-{mult:g}x" + (f"-r{replica}" if replica else "")
        steps = np.maximum(1, np.round(grid / ladder.tokens_per_step)).astype(np.int64)
        steps = steps + np.arange(len(steps)) * (np.diff(np.r_[0, steps]) <= 0).cumsum()  # strictly increasing
        log_tokens = np.log(grid)
        for task in tasks:
            offset = run_offsets[r] + rng.normal(0.0, 0.006)
            values = task_accuracy(task, loss, log_tokens, float(np.log(size / sizes[0])), offset, rng)
            meta = {"source": SOURCE, "family": f"prior-{index}", "size_params": size, "recipe": f"prior-{index}",
                    "seed": str(replica), "compute_multiplier": mult, "loss_kind": LOSS_KIND, "shape": task.kind,
                    "schedule": ladder.schedule, "grid": grid_kind}
            out.append(Series(run=name, task=task.name, steps=steps, tokens=grid, flops=6.0 * size * grid,
                              values=values, losses={"mean": loss}, meta=meta))
    return out


def sample_prior(config: PriorConfig, seed: int = 0, *, first: int = 0) -> list[Series]:
    """``config.n_ladders`` ladders (numbered from ``first``), every series of each."""
    return [s for i in range(first, first + config.n_ladders) for s in sample_ladder(seed, i, config)]


def sampling_rate(config: PriorConfig = PriorConfig(n_ladders=20), seed: int = 0) -> dict[str, float]:
    """Measured speed of the prior: series and checkpoints drawn per second (one process)."""
    start = time.perf_counter()
    series = sample_prior(config, seed)
    seconds = time.perf_counter() - start
    return {"series_per_s": len(series) / seconds, "checkpoints_per_s": sum(len(s) for s in series) / seconds,
            "series": len(series), "seconds": seconds}
