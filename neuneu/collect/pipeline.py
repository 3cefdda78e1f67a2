"""The mini-ladder collection: prepare text once, then train every run and score every checkpoint, resumably.

Work files live in ``<work>/`` (default ``data/cache/miniladder/<profile>-<config hash>``): the tokenizer and token
arrays, and per run a ``state.safetensors`` (weights + optimizer, overwritten at each checkpoint) and one
``eval_<step>.npz`` per scored checkpoint. Every file is written to a temp name and renamed, so a collection killed
at any point leaves only complete files and resumes at the last saved checkpoint; reruns give identical numbers
on CPU. When every run is done the compact tables are written to ``data/miniladder/`` (see :mod:`.store`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from neuneu.collect.config import RECIPES, CollectConfig, RunSpec, checkpoint_steps, config_for
from neuneu.collect.harness import ScorerLM, blimp_tasks, evaluate_blimp
from neuneu.collect.scoring import token_losses
from neuneu.collect.text import (
    interleave,
    load_split,
    read_blimp,
    train_tokenizer,
    training_stream,
    validation_documents,
)
from neuneu.collect.training import Trainer, build_model, count_params, make_optimizer, window_order, write_json_atomic
from neuneu.paths import CACHE_DIR, DATA_DIR
from neuneu.profiles import show_progress

DEFAULT_OUT = DATA_DIR / "miniladder"


class CollectError(RuntimeError):
    """A collection that cannot run as asked (unknown recipe, too little text, bad run filter…)."""


def config_hash(cfg: CollectConfig) -> str:
    """Short hash of everything that decides the numbers; it names the work directory."""
    return hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True, default=str).encode()).hexdigest()[:10]


def default_work_dir(cfg: CollectConfig) -> Path:
    return CACHE_DIR / "miniladder" / f"{cfg.profile}-{config_hash(cfg)}"


def _save_npz_atomic(path: Path, **arrays) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


@dataclass
class Prepared:
    """Text, tokenizer and BLiMP pairs shared by every run of a collection."""

    tokenizer: object
    val_tokens: np.ndarray
    val_offsets: np.ndarray
    streams: dict[str, np.ndarray]
    blimp: dict[str, list[dict]]
    sample_index: np.ndarray  # fixed positions (into val_tokens) of the per-token loss subsample


def _check_recipes(cfg: CollectConfig) -> None:
    for _, recipe, _ in cfg.runs:
        if recipe not in RECIPES:
            raise CollectError(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)}")
        missing = [s for s in RECIPES[recipe] if s not in cfg.corpus_sources]
        if missing:
            raise CollectError(f"recipe {recipe!r} uses {', '.join(missing)}, which is not in corpus_sources")


def prepare(cfg: CollectConfig, work: Path) -> Prepared:
    """Build (or reload) the tokenizer, the validation shard and one training stream per recipe."""
    from transformers import PreTrainedTokenizerFast

    _check_recipes(cfg)
    text_dir = work / "text"
    done = text_dir / "prepared.json"
    recipes = sorted({r for _, r, _ in cfg.runs})
    if not done.exists():
        text_dir.mkdir(parents=True, exist_ok=True)
        split = load_split(cfg.corpus_sources, cfg.heldout_every, cfg.split_seed)
        train_text = [b for s in cfg.corpus_sources for b in split[s].train]
        if cfg.tokenizer_chars is not None:
            train_text = _cap_chars(train_text, cfg.tokenizer_chars)
        tok = train_tokenizer(train_text, cfg.vocab_size, text_dir / "tokenizer")
        heldout = interleave({s: split[s].heldout for s in cfg.corpus_sources})
        tokens, offsets = validation_documents(tok, heldout, cfg.seq_len, cfg.val_tokens)
        _save_npz_atomic(text_dir / "val.npz", tokens=tokens, offsets=offsets)
        sizes = {}
        for recipe in recipes:
            stream = training_stream(tok, [b for s in RECIPES[recipe] for b in split[s].train])
            _save_npy_atomic(text_dir / f"train_{recipe}.npy", stream.astype(np.uint16))
            sizes[recipe] = int(len(stream))
        write_json_atomic(done, {"val_tokens": int(len(tokens)), "val_docs": int(len(offsets) - 1),
                                 "train_tokens": sizes})
    tok = PreTrainedTokenizerFast.from_pretrained(str(text_dir / "tokenizer"))
    val = np.load(text_dir / "val.npz")
    streams = {r: np.load(text_dir / f"train_{r}.npy").astype(np.int64) for r in recipes}
    blimp = read_blimp(cfg.blimp_pairs, cfg.blimp_paradigms)
    return Prepared(tok, val["tokens"], val["offsets"], streams, blimp,
                    sample_positions(val["offsets"], cfg.sample_size, cfg.split_seed))


def _cap_chars(texts: list[str], limit: int) -> list[str]:
    out, total = [], 0
    for t in texts:
        if total >= limit:
            break
        out.append(t)
        total += len(t)
    return out


def sample_positions(offsets: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` fixed, sorted positions of scored tokens (never a document's first token) for the loss subsample."""
    scored = np.ones(int(offsets[-1]), dtype=bool)
    scored[offsets[:-1]] = False
    candidates = np.flatnonzero(scored)
    k = min(k, len(candidates))
    return np.sort(np.random.default_rng(seed).choice(candidates, size=k, replace=False))


def pick_device(device: str | None = None) -> torch.device:
    """CUDA when present (bf16 autocast is applied there), else CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def run_plan(spec: RunSpec, cfg: CollectConfig) -> tuple[int, list[int]]:
    """(total optimizer steps, checkpoint steps) of one run."""
    tokens = spec.size.max_tokens or cfg.tokens_per_run
    total = tokens // (cfg.batch_size * cfg.seq_len)
    return total, checkpoint_steps(total, cfg.n_checkpoints)


def evaluate_checkpoint(model, prep: Prepared, tasks: dict, cfg: CollectConfig, progress: bool) -> dict:
    """Per-token validation losses and BLiMP scores of the model as it is now."""
    losses = token_losses(model, prep.val_tokens, prep.val_offsets, pad_id=prep.tokenizer.pad_token_id,
                          batch_size=cfg.eval_batch_size, progress=progress)
    lm = ScorerLM(model, prep.tokenizer, batch_size=max(64, cfg.eval_batch_size), max_length=cfg.seq_len)
    scores = evaluate_blimp(lm, tasks)
    return {"losses": losses, "acc": scores.acc, "margin": scores.margin, "tasks": np.asarray(scores.tasks),
            "pair_margins": np.stack([scores.pair_margins[t] for t in scores.tasks]).astype(np.float32)}


def collect_run(spec: RunSpec, cfg: CollectConfig, prep: Prepared, tasks: dict, work: Path, device: torch.device,
                *, progress: bool = True, on_checkpoint: Callable[[str, int], None] | None = None) -> dict:
    """Train one run to the end, scoring each checkpoint; resume from ``state.safetensors`` when present."""
    from tqdm import tqdm

    run_dir = work / "runs" / spec.name
    done = run_dir / "done.json"
    if done.exists():
        return json.loads(done.read_text())
    run_dir.mkdir(parents=True, exist_ok=True)
    total, ckpts = run_plan(spec, cfg)
    stream = prep.streams[spec.recipe]
    n_windows = (len(stream) - 1) // cfg.seq_len
    if n_windows < cfg.batch_size:
        raise CollectError(f"recipe {spec.recipe!r} has {n_windows} training windows, fewer than one batch")
    model = build_model(spec.size, len(prep.tokenizer), cfg.seq_len, spec.seed).to(device)
    trainer = Trainer(model, make_optimizer(model, spec.size, cfg), stream,
                      window_order(n_windows, total, cfg.batch_size, spec.seed), spec.size, cfg)
    state = run_dir / "state.safetensors"
    if state.exists():
        trainer.load(state)
    bar = tqdm(total=total, initial=trainer.step, desc=spec.name, unit="step", disable=not show_progress(progress))
    for step in ckpts:
        if step <= trainer.step:
            continue
        t0 = time.perf_counter()
        trainer.advance_to(step, bar)
        t1 = time.perf_counter()
        result = evaluate_checkpoint(model, prep, tasks, cfg, progress=False)
        t2 = time.perf_counter()
        _save_npz_atomic(run_dir / f"eval_{step:08d}.npz", train_seconds=t1 - t0, eval_seconds=t2 - t1, **result)
        trainer.save(state)
        bar.set_postfix(val=f"{np.nanmean(result['losses']):.3f}", blimp=f"{result['acc'].mean():.3f}")
        if on_checkpoint is not None:
            on_checkpoint(spec.name, step)
    bar.close()
    info = _run_info(spec, cfg, count_params(model), total, ckpts, run_dir)
    write_json_atomic(done, info)
    state.unlink(missing_ok=True)  # weights are not an output; the eval files are
    return info


def _run_info(spec: RunSpec, cfg: CollectConfig, n_params: int, total: int, ckpts: list[int], run_dir: Path) -> dict:
    evals = [np.load(run_dir / f"eval_{s:08d}.npz") for s in ckpts]
    train_s = float(sum(e["train_seconds"] for e in evals))
    return {
        "run": spec.name, "size": spec.size.name, "recipe": spec.recipe, "seed": spec.seed,
        "size_params": n_params, "total_steps": total, "checkpoints": ckpts,
        "tokens": total * cfg.batch_size * cfg.seq_len, "lr": spec.size.lr,
        "train_seconds": train_s, "eval_seconds": float(sum(e["eval_seconds"] for e in evals)),
        "train_tokens_per_second": total * cfg.batch_size * cfg.seq_len / max(train_s, 1e-9),
    }


def parse_shard(shard: str | None) -> tuple[int, int] | None:
    """``"k/n"`` (1-based k) -> (k, n); None stays None."""
    if shard is None:
        return None
    try:
        k, n = (int(x) for x in shard.split("/"))
    except ValueError:
        k, n = 0, 0
    if not 1 <= k <= n:
        raise CollectError(f"shard must look like k/n with 1 <= k <= n, got {shard!r}")
    return k, n


def select_runs(cfg: CollectConfig, only: list[str] | None, shard: str | None = None) -> list[RunSpec]:
    """The profile's runs, or the named subset (unknown names are an error listing the valid ones).

    ``shard="k/n"`` keeps every n-th run starting at the k-th, so n processes (e.g. sharing one GPU, whose tiny
    models leave it idle most of the time) can split a collection; a final ``tables_only`` call joins them."""
    specs = cfg.run_specs()
    parts = parse_shard(shard)
    if parts is not None:
        specs = specs[parts[0] - 1 :: parts[1]]
    if not only:
        return specs
    names = {s.name for s in specs}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise CollectError(f"unknown run(s) {', '.join(unknown)}; this profile has: {', '.join(sorted(names))}")
    return [s for s in specs if s.name in only]


def collect(
    profile: str = "cpu",
    *,
    out_dir: Path | str | None = DEFAULT_OUT,
    work_dir: Path | str | None = None,
    runs: list[str] | None = None,
    device: str | None = None,
    progress: bool = True,
    on_checkpoint: Callable[[str, int], None] | None = None,
    config: CollectConfig | None = None,
    tables_only: bool = False,
    shard: str | None = None,
) -> Path:
    """Collect the mini-ladder of ``profile`` and write its tables to ``out_dir`` (None: leave them in the work dir).

    Resumable: rerunning after an interruption continues from the last saved checkpoint of the unfinished run.
    ``on_checkpoint(run, step)`` is called after each checkpoint is saved (tests use it to simulate a crash).
    ``shard="k/n"`` trains only that share of the runs (see :func:`select_runs`). ``tables_only`` rewrites the tables from the runs already finished, training nothing (useful while a long
    collection is still running elsewhere, or after a change to the table code). Returns the tables' directory."""
    from neuneu.collect.store import reference_scores, write_outputs

    cfg = config or config_for(profile)
    work = Path(work_dir) if work_dir is not None else default_work_dir(cfg)
    specs = select_runs(cfg, runs, None if tables_only else shard)
    started = time.time()
    dev = pick_device(device)
    prep = prepare(cfg, work)
    tasks = blimp_tasks(prep.blimp)
    refs = reference_scores(cfg, prep, work)
    target = Path(out_dir) if out_dir is not None else work / "tables"
    infos = []
    for spec in specs:  # tables are rewritten after every finished run, so a long collection is usable early
        if tables_only:
            done = work / "runs" / spec.name / "done.json"
            if done.exists():
                infos.append(json.loads(done.read_text()))
            continue
        infos.append(collect_run(spec, cfg, prep, tasks, work, dev, progress=progress, on_checkpoint=on_checkpoint))
        write_outputs(cfg, prep, work, target, infos, refs, device=dev, wall_seconds=time.time() - started,
                      planned=[s.name for s in specs])
    if tables_only:
        if not infos:
            raise CollectError(f"no finished runs in {work}")
        write_outputs(cfg, prep, work, target, infos, refs, device=dev, wall_seconds=time.time() - started,
                      planned=[s.name for s in specs])
    return target
