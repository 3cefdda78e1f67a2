"""The mini-ladder collection: prepare text once, then train every run and score every checkpoint, resumably.

Work files live in ``<work>/`` (default ``data/cache/miniladder/<profile>-<config hash>``): the tokenizer and token
arrays (``text/``, built in a temporary directory and renamed into place whole), the checkpoint manifest
``checkpoints.tsv``, and per run a ``state.safetensors`` (weights + optimizer, overwritten at each checkpoint) and
one ``eval_<step>.npz`` per scored checkpoint. Every file is written to a temp name and renamed, so a collection
killed at any point leaves only complete files and resumes at the last saved checkpoint; reruns give identical
numbers on CPU. When every run is done the compact tables are written to ``data/miniladder/`` (see :mod:`.store`);
run times, which differ on every run, go to ``<work>/timings.json`` instead, so the tables are the same bytes
whenever the numbers are.

Scaling out: stages, shards, merge
----------------------------------
The work is one ordered **checkpoint manifest** (:func:`miniladder_units`): every (run, checkpoint step), runs in
profile order, steps ascending. Training a run is sequential (checkpoint t+1 is trained from checkpoint t), but
scoring a checkpoint needs only its weights. So a collection runs in one of three *stages*:

* ``all`` (the default): one process trains each run and scores each checkpoint in memory as training passes it.
* ``train``: train only, saving the weights at every checkpoint step (``runs/<run>/weights_<step>.safetensors``).
  With ``shard="k/n"`` the process trains every n-th *run* of the profile starting at the k-th.
* ``score``: score checkpoints from the saved weights, then delete the weights. With ``shard="k/n"`` the process
  scores every n-th *checkpoint* of the manifest starting at the k-th. It refuses (:class:`MissingWeightsError`,
  before doing any work) when a checkpoint it owns has neither scores nor weights yet.

:func:`merge_shards` (``neuneu collect --merge N``) then checks that every run finished training and every
checkpoint was scored -- otherwise :class:`IncompleteShardsError` names each missing or incomplete shard and
nothing is written -- and writes the tables. Scoring reloaded weights gives the same numbers as scoring the model
in memory, and every output file is deterministic, so the merged tables are byte-identical to a single-process
``stage="all"`` collection -- on CPU, with the same thread count and package versions (GPU training is not bitwise
reproducible, so two GPU collections, sharded or not, agree only to within training noise). Shards share
one work directory (a shared file system on a cluster); each per-checkpoint file has one writer, and the few shared
files (prepared text, reference scores, the manifest) are deterministic and written under unique temp names. Each
shard resumes where it stopped: rerun the same command.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from neuneu.collect.config import (
    RECIPES,
    CollectConfig,
    RunSpec,
    checkpoint_steps,
    config_for,
)
from neuneu.collect.errors import (
    CollectError,
    ManifestError,
    MissingWeightsError,
    ShardError,
)
from neuneu.collect.files import (
    atomic_directory,
    save_npy_atomic,
    save_npz_atomic,
    write_json_atomic,
)
from neuneu.collect.harness import ScorerLM, blimp_tasks, evaluate_blimp
from neuneu.collect.scoring import token_losses
from neuneu.collect.shards import (
    Shard,
    Unit,
    check_complete,
    check_shard_count,
    manifest_text,
    owner,
    parse_shard,
    revision_step,
    write_manifest,
)
from neuneu.collect.store import collection_timings, reference_scores, write_outputs
from neuneu.collect.text import (
    Prepared,
    interleave,
    load_split,
    read_blimp,
    train_tokenizer,
    training_stream,
    validation_documents,
)
from neuneu.collect.training import (
    Trainer,
    build_model,
    count_params,
    load_weights,
    make_optimizer,
    save_weights,
    window_order,
)
from neuneu.paths import BUILD_DIR, CACHE_DIR, DATA_DIR
from neuneu.profiles import show_progress

DEFAULT_OUT = DATA_DIR / "miniladder"  # the committed cpu-profile collection


class OverwriteError(CollectError):
    """Writing a collection where another profile's collection lives (the committed cpu one), without asking."""


def default_out(profile: str) -> Path:
    """Where a profile's tables go by default: the committed folder for ``cpu``, a build folder otherwise — so a
    quick smoke collection never replaces the committed suite."""
    return DEFAULT_OUT if profile == "cpu" else BUILD_DIR / f"miniladder-{profile}"


def check_target(target: Path, profile: str, overwrite: bool = False) -> None:
    """Raise :class:`OverwriteError` when ``target`` holds a collection of another profile (unless ``overwrite``)."""
    manifest = Path(target) / "manifest.json"
    if overwrite or not manifest.is_file():
        return
    held = json.loads(manifest.read_text()).get("profile")
    if held is not None and held != profile:
        raise OverwriteError(f"{target} holds the {held!r} collection; writing the {profile!r} profile there would "
                             f"replace it: choose another --out, or pass --overwrite")
STAGES = ("all", "train", "score")
MANIFEST_FILE = "checkpoints.tsv"

__all__ = [  # CollectError is defined in .errors and re-exported here, where it has always been imported from
    "DEFAULT_OUT", "STAGES", "CollectError", "Prepared", "collect", "collect_run", "config_hash", "default_work_dir",
    "eval_path", "merge_shards", "miniladder_units", "parse_shard", "pick_device", "prepare", "run_plan",
    "sample_positions", "score_checkpoint", "select_runs", "select_units", "weights_path",
]


def config_hash(cfg: CollectConfig) -> str:
    """Short hash of everything that decides the numbers; it names the work directory."""
    return hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True, default=str).encode()).hexdigest()[:10]


def default_work_dir(cfg: CollectConfig) -> Path:
    return CACHE_DIR / "miniladder" / f"{cfg.profile}-{config_hash(cfg)}"


def _check_recipes(cfg: CollectConfig) -> None:
    for _, recipe, _ in cfg.runs:
        if recipe not in RECIPES:
            raise CollectError(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)}")
        missing = [s for s in RECIPES[recipe] if s not in cfg.corpus_sources]
        if missing:
            raise CollectError(f"recipe {recipe!r} uses {', '.join(missing)}, which is not in corpus_sources")


def prepare(cfg: CollectConfig, work: Path) -> Prepared:
    """Build (or reload) the tokenizer, the validation shard and one training stream per recipe.

    The text directory is built under a temporary name and renamed into place whole, so shards that start at the
    same time on a shared work directory never read a half-written tokenizer (each may build its own copy; the
    copies are identical and the first rename wins)."""
    from transformers import PreTrainedTokenizerFast

    _check_recipes(cfg)
    text_dir = work / "text"
    recipes = sorted({r for _, r, _ in cfg.runs})
    if not (text_dir / "prepared.json").exists():
        if text_dir.exists():
            raise CollectError(f"{text_dir} holds a partial text preparation from an interrupted older version of "
                               f"the collector (no prepared.json): delete it and rerun")
        with atomic_directory(text_dir) as tmp:
            _prepare_text(cfg, recipes, tmp)
    tok = PreTrainedTokenizerFast.from_pretrained(str(text_dir / "tokenizer"))
    val = np.load(text_dir / "val.npz")
    streams = {r: np.load(text_dir / f"train_{r}.npy").astype(np.int64) for r in recipes}
    blimp = read_blimp(cfg.blimp_pairs, cfg.blimp_paradigms)
    return Prepared(tok, val["tokens"], val["offsets"], streams, blimp,
                    sample_positions(val["offsets"], cfg.sample_size, cfg.split_seed))


def _prepare_text(cfg: CollectConfig, recipes: list[str], text_dir: Path) -> None:
    split = load_split(cfg.corpus_sources, cfg.heldout_every, cfg.split_seed)
    train_text = [b for s in cfg.corpus_sources for b in split[s].train]
    if cfg.tokenizer_chars is not None:
        train_text = _cap_chars(train_text, cfg.tokenizer_chars)
    tok = train_tokenizer(train_text, cfg.vocab_size, text_dir / "tokenizer")
    heldout = interleave({s: split[s].heldout for s in cfg.corpus_sources})
    tokens, offsets = validation_documents(tok, heldout, cfg.seq_len, cfg.val_tokens)
    save_npz_atomic(text_dir / "val.npz", tokens=tokens, offsets=offsets)
    sizes = {}
    for recipe in recipes:
        stream = training_stream(tok, [b for s in RECIPES[recipe] for b in split[s].train])
        save_npy_atomic(text_dir / f"train_{recipe}.npy", stream.astype(np.uint16))
        sizes[recipe] = int(len(stream))
    write_json_atomic(text_dir / "prepared.json", {"val_tokens": int(len(tokens)), "val_docs": int(len(offsets) - 1),
                                                   "train_tokens": sizes})


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


def miniladder_units(cfg: CollectConfig) -> list[Unit]:
    """The collection's checkpoint manifest: ``(run, "step<N>")`` for every checkpoint of every run, runs in profile
    order and steps ascending -- the order of the output tables and the list ``--stage score --shard`` splits."""
    return [Unit(spec.name, f"step{step}") for spec in cfg.run_specs() for step in run_plan(spec, cfg)[1]]


def sync_manifest(work: Path, units: list[Unit]) -> Path:
    """Write the manifest to ``<work>/checkpoints.tsv``, or check that the one there is the same (a work directory
    holds exactly one collection; a different manifest means ``--work`` points at another collection's files)."""
    path = work / MANIFEST_FILE
    if path.exists():
        if path.read_text() != manifest_text(units):
            raise ManifestError(f"{path} lists other checkpoints than this collection: {work} belongs to another "
                                f"profile or config (use another --work)")
        return path
    return write_manifest(path, units)


def eval_path(work: Path, run: str, step: int) -> Path:
    """Where the scores of checkpoint ``step`` of ``run`` are saved."""
    return work / "runs" / run / f"eval_{step:08d}.npz"


def weights_path(work: Path, run: str, step: int) -> Path:
    """Where stage ``train`` saves the weights of checkpoint ``step`` of ``run`` for a scoring shard."""
    return work / "runs" / run / f"weights_{step:08d}.safetensors"


def _unit_step(unit: Unit) -> int:
    step = revision_step(unit.revision)
    if step is None:
        raise ManifestError(f"mini-ladder checkpoint {unit.label()} does not name a step")
    return step


def _save_eval(path: Path, result: dict, *, train_seconds: float, eval_seconds: float, device: torch.device) -> None:
    save_npz_atomic(path, train_seconds=train_seconds, eval_seconds=eval_seconds, device=np.asarray(str(device)),
                    torch_threads=np.asarray(torch.get_num_threads()), **result)


def collect_run(spec: RunSpec, cfg: CollectConfig, prep: Prepared, tasks: dict | None, work: Path,
                device: torch.device, *, score: bool = True, progress: bool = True,
                on_checkpoint: Callable[[str, int], None] | None = None) -> dict:
    """Train one run to its last checkpoint, resuming from ``state.safetensors`` when present; return its info.

    ``score=True`` (stage ``all``) scores each checkpoint in memory as training passes it, and scores from saved
    weights any checkpoint an earlier ``train`` stage left unscored. ``score=False`` (stage ``train``) saves each
    checkpoint's weights for a scoring shard instead."""
    run_dir = work / "runs" / spec.name
    done = run_dir / "done.json"
    if done.exists():
        info = json.loads(done.read_text())
    else:
        info = _train_run(spec, cfg, prep, tasks if score else None, work, device, progress, on_checkpoint)
    if score:
        for step in info["checkpoints"]:
            if not eval_path(work, spec.name, step).exists():
                score_checkpoint(spec, step, cfg, prep, tasks, work, device)
    return info


def _train_run(spec: RunSpec, cfg: CollectConfig, prep: Prepared, tasks: dict | None, work: Path,
               device: torch.device, progress: bool, on_checkpoint: Callable[[str, int], None] | None) -> dict:
    run_dir = work / "runs" / spec.name
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
        scores = eval_path(work, spec.name, step)
        if tasks is not None:
            result = evaluate_checkpoint(model, prep, tasks, cfg, progress=False)
            _save_eval(scores, result, train_seconds=t1 - t0, eval_seconds=time.perf_counter() - t1, device=device)
            bar.set_postfix(val=f"{np.nanmean(result['losses']):.3f}", blimp=f"{result['acc'].mean():.3f}")
        elif not scores.exists():
            save_weights(model, weights_path(work, spec.name, step), {"train_seconds": repr(t1 - t0)})
        trainer.save(state)
        if on_checkpoint is not None:
            on_checkpoint(spec.name, step)
    bar.close()
    info = _run_info(spec, cfg, count_params(model), total, ckpts)
    write_json_atomic(run_dir / "done.json", info)
    state.unlink(missing_ok=True)  # weights are not an output; the eval files are
    return info


def score_checkpoint(spec: RunSpec, step: int, cfg: CollectConfig, prep: Prepared, tasks: dict, work: Path,
                     device: torch.device) -> None:
    """Score one checkpoint from the weights stage ``train`` saved, then delete the weights (the scores are the
    output; a crash between the two only leaves a weights file behind)."""
    weights = weights_path(work, spec.name, step)
    if not weights.exists():
        raise MissingWeightsError(f"checkpoint {spec.name}@step{step} has neither scores nor saved weights in "
                                  f"{weights.parent}")
    model = build_model(spec.size, len(prep.tokenizer), cfg.seq_len, spec.seed)
    meta = load_weights(model, weights)
    model = model.to(device).eval()
    t0 = time.perf_counter()
    result = evaluate_checkpoint(model, prep, tasks, cfg, progress=False)
    _save_eval(eval_path(work, spec.name, step), result, train_seconds=float(meta.get("train_seconds", "nan")),
               eval_seconds=time.perf_counter() - t0, device=device)
    weights.unlink(missing_ok=True)


def _run_info(spec: RunSpec, cfg: CollectConfig, n_params: int, total: int, ckpts: list[int]) -> dict:
    """What a finished run records in ``done.json``: only what decides its numbers (timings live with the evals)."""
    return {"run": spec.name, "size": spec.size.name, "recipe": spec.recipe, "seed": spec.seed,
            "size_params": n_params, "total_steps": total, "checkpoints": ckpts,
            "tokens": total * cfg.batch_size * cfg.seq_len, "lr": spec.size.lr}


def _check_only(cfg: CollectConfig, only: list[str] | None) -> None:
    names = [s.name for s in cfg.run_specs()]
    unknown = [n for n in only or () if n not in names]
    if unknown:
        raise CollectError(f"unknown run(s) {', '.join(unknown)}; this profile has: {', '.join(sorted(names))}")


def _as_shard(shard: str | Shard | None) -> Shard | None:
    return shard if isinstance(shard, Shard) or shard is None else parse_shard(shard)


def select_runs(cfg: CollectConfig, only: list[str] | None, shard: str | Shard | None = None) -> list[RunSpec]:
    """The profile's runs, or the named subset (unknown names are an error listing the valid ones).

    ``shard="k/n"`` keeps every n-th run starting at the k-th: the training stage's share of a sharded collection."""
    _check_only(cfg, only)
    part = _as_shard(shard)
    specs = cfg.run_specs() if part is None else part.take(cfg.run_specs())
    return [s for s in specs if not only or s.name in only]


def select_units(cfg: CollectConfig, only: list[str] | None, shard: str | Shard | None = None) -> list[Unit]:
    """The manifest's checkpoints (of the named runs only, if given); ``shard="k/n"`` keeps every n-th checkpoint
    starting at the k-th: the scoring stage's share of a sharded collection."""
    _check_only(cfg, only)
    part = _as_shard(shard)
    units = miniladder_units(cfg)
    units = units if part is None else part.take(units)
    return [u for u in units if not only or u.model in only]


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
    stage: str = "all",
    shard: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Collect the mini-ladder of ``profile`` and write its tables to ``out_dir`` (None: leave them in the work dir).

    Resumable: rerunning after an interruption continues from the last saved checkpoint of the unfinished run.
    ``on_checkpoint(run, step)`` is called after each checkpoint is saved (tests use it to simulate a crash).
    ``tables_only`` rewrites the tables from the runs already finished, training nothing (useful while a long
    collection is still running elsewhere, or after a change to the table code).

    ``stage`` is ``"all"`` (train and score; returns the tables' directory), or ``"train"`` / ``"score"`` for one
    stage of a sharded collection (``shard="k/n"``; returns the work directory, writes no tables; join the shards
    with :func:`merge_shards`). See the module docstring."""
    cfg = config or config_for(profile)
    if stage not in STAGES:
        raise CollectError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    part = parse_shard(shard)
    if part is not None and stage == "all":
        raise ShardError("a shard is one stage's share of the work: use --shard with --stage train or "
                         "--stage score, then --merge N")
    if tables_only and stage != "all":
        raise CollectError("--tables-only writes the tables of the whole collection: it takes no --stage")
    work = Path(work_dir) if work_dir is not None else default_work_dir(cfg)
    if stage == "train":
        _collect_train(cfg, work, select_runs(cfg, runs, part), device, progress, on_checkpoint)
        return work
    if stage == "score":
        _collect_score(cfg, work, select_units(cfg, runs, part), part, device, progress, on_checkpoint)
        return work
    specs = select_runs(cfg, runs)
    started = time.time()
    dev = pick_device(device)
    prep = prepare(cfg, work)
    sync_manifest(work, miniladder_units(cfg))
    tasks = blimp_tasks(prep.blimp)
    refs = reference_scores(cfg, prep, work)
    target = Path(out_dir) if out_dir is not None else work / "tables"
    check_target(target, profile)
    check_target(target, cfg.profile, overwrite)
    planned = [s.name for s in specs]
    infos = []
    for spec in specs:  # tables are rewritten after every finished run, so a long collection is usable early
        if tables_only:
            done = work / "runs" / spec.name / "done.json"
            if done.exists():
                infos.append(json.loads(done.read_text()))
            continue
        infos.append(collect_run(spec, cfg, prep, tasks, work, dev, progress=progress, on_checkpoint=on_checkpoint))
        _write_tables(cfg, prep, work, target, infos, refs, planned, started)
    if tables_only:
        if not infos:
            raise CollectError(f"no finished runs in {work}")
        _write_tables(cfg, prep, work, target, infos, refs, planned, started)
    return target


def _write_tables(cfg: CollectConfig, prep: Prepared, work: Path, target: Path, infos: list[dict], refs,
                  planned: list[str], started: float) -> None:
    write_outputs(cfg, prep, work, target, infos, refs, planned=planned)
    timings = collection_timings(cfg, work, infos)
    write_json_atomic(work / "timings.json", {**timings, "wall_seconds_last_invocation": time.time() - started})


def _collect_train(cfg: CollectConfig, work: Path, specs: list[RunSpec], device: str | None, progress: bool,
                   on_checkpoint: Callable[[str, int], None] | None) -> None:
    """Stage ``train``: train ``specs``, saving every checkpoint's weights (and nothing else) for the scorers."""
    if not specs:  # more shards than runs: this one has nothing to train
        return
    dev = pick_device(device)
    prep = prepare(cfg, work)
    sync_manifest(work, miniladder_units(cfg))
    for spec in specs:
        collect_run(spec, cfg, prep, None, work, dev, score=False, progress=progress, on_checkpoint=on_checkpoint)


def _collect_score(cfg: CollectConfig, work: Path, units: list[Unit], part: Shard | None, device: str | None,
                   progress: bool, on_checkpoint: Callable[[str, int], None] | None) -> None:
    """Stage ``score``: score the checkpoints in ``units`` that are not scored yet, from their saved weights.

    Every owned checkpoint must be scored already or have weights; otherwise nothing is scored and
    :class:`MissingWeightsError` says which runs still need their training stage."""
    specs = {s.name: s for s in cfg.run_specs()}
    todo = [(specs[u.model], _unit_step(u)) for u in units if not eval_path(work, u.model, _unit_step(u)).exists()]
    missing = [(spec, step) for spec, step in todo if not weights_path(work, spec.name, step).exists()]
    if missing:
        who = f"shard {part}" if part is not None else "this collection"
        shown = ", ".join(f"{spec.name}@step{step}" for spec, step in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        runs = ", ".join(dict.fromkeys(spec.name for spec, _ in missing))
        raise MissingWeightsError(f"{who} cannot score {len(missing)} checkpoint(s) that have no saved weights in "
                                  f"{work} ({shown}{more}): finish --stage train for run(s) {runs} first")
    if not todo:
        return
    dev = pick_device(device)
    prep = prepare(cfg, work)
    sync_manifest(work, miniladder_units(cfg))
    tasks = blimp_tasks(prep.blimp)
    desc = f"score {part}" if part is not None else "score"
    for spec, step in tqdm(todo, desc=desc, unit="ckpt", disable=not show_progress(progress)):
        score_checkpoint(spec, step, cfg, prep, tasks, work, dev)
        if on_checkpoint is not None:
            on_checkpoint(spec.name, step)


def merge_shards(profile: str = "cpu", shards: int = 1, *, out_dir: Path | str | None = DEFAULT_OUT,
                 work_dir: Path | str | None = None, config: CollectConfig | None = None) -> Path:
    """Join a sharded collection: check that all ``shards`` shards of both stages finished, then write the tables.

    The result is byte-identical to a single-process ``collect(profile)`` (see the module docstring). If any run
    has not finished training or any checkpoint is not scored, :class:`IncompleteShardsError` names each missing
    or incomplete shard (attributing runs to training shards and checkpoints to scoring shards, for ``shards``
    shards of each) and nothing is written. Returns the tables' directory."""
    cfg = config or config_for(profile)
    check_shard_count(shards)
    work = Path(work_dir) if work_dir is not None else default_work_dir(cfg)
    started = time.time()
    specs = cfg.run_specs()
    units = miniladder_units(cfg)
    unfinished = [f"run {spec.name} has not finished training (shard {owner(i, shards)}/{shards} of --stage train)"
                  for i, spec in enumerate(specs) if not (work / "runs" / spec.name / "done.json").exists()]
    check_complete(units, lambda u: eval_path(work, u.model, _unit_step(u)).exists(), shards, where=work,
                   also=unfinished)
    if (work / MANIFEST_FILE).exists():
        sync_manifest(work, units)
    prep = prepare(cfg, work)
    refs = reference_scores(cfg, prep, work)
    infos = [json.loads((work / "runs" / spec.name / "done.json").read_text()) for spec in specs]
    target = Path(out_dir) if out_dir is not None else work / "tables"
    check_target(target, profile)
    _write_tables(cfg, prep, work, target, infos, refs, [s.name for s in specs], started)
    return target
