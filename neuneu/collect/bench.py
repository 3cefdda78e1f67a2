"""Overhead of the collector, as numbers for ``make bench``.

* ``scoring_slowdown`` — time of our per-token loss scoring (:func:`token_losses`: forward + cross-entropy +
  alignment) over a bare forward loop on the same model and batches. Target <= 1.2.
* ``blimp_slowdown`` — time of BLiMP through lm-eval (``evaluate`` with our :class:`ScorerLM`, requests built once
  as in a collection) over direct batched scoring of the same sentence pairs. Target <= 1.5.

Each time is the best of ``repeats`` runs, so background load on a shared machine inflates the ratios less.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from neuneu.collect.config import config_for
from neuneu.collect.harness import ScorerLM, blimp_tasks, evaluate_blimp
from neuneu.collect.pipeline import default_work_dir, pick_device, prepare
from neuneu.collect.scoring import bare_forward, continuation_logprobs, token_losses
from neuneu.collect.training import build_model, count_params


def _best_of(repeats: int, fn) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def collection_overhead(profile: str = "smoke", *, size: str | None = None, repeats: int = 3,
                        work_dir: Path | str | None = None, device: str | None = None) -> dict:
    """Measure the two overhead ratios on a freshly initialised model of ``size`` (default: the profile's largest)."""
    cfg = config_for(profile)
    prep = prepare(cfg, Path(work_dir) if work_dir is not None else default_work_dir(cfg))
    spec = next(s for s in cfg.sizes if s.name == size) if size else cfg.sizes[-1]
    dev = pick_device(device)
    model = build_model(spec, len(prep.tokenizer), cfg.seq_len, 0).to(dev).eval()
    pad = prep.tokenizer.pad_token_id
    n_tokens = int(len(prep.val_tokens))

    t_bare = _best_of(repeats, lambda: bare_forward(model, prep.val_tokens, prep.val_offsets, pad_id=pad,
                                                    batch_size=cfg.eval_batch_size))
    t_score = _best_of(repeats, lambda: token_losses(model, prep.val_tokens, prep.val_offsets, pad_id=pad,
                                                     batch_size=cfg.eval_batch_size))
    lm = ScorerLM(model, prep.tokenizer, batch_size=max(64, cfg.eval_batch_size), max_length=cfg.seq_len)
    tasks = blimp_tasks(prep.blimp)
    evaluate_blimp(lm, tasks)  # builds the request instances once, as a collection does before its checkpoints
    pairs = [lm.encode_pair("", r[k]) for rows in prep.blimp.values() for r in rows
             for k in ("sentence_good", "sentence_bad")]
    t_direct = _best_of(repeats, lambda: continuation_logprobs(model, pairs, max_length=cfg.seq_len,
                                                               pad_id=pad, batch_size=lm.batch_size))
    t_lmeval = _best_of(repeats, lambda: evaluate_blimp(lm, tasks))
    return {
        "profile": profile, "size": spec.name, "params": count_params(model), "device": str(dev),
        "torch_threads": torch.get_num_threads(), "val_tokens": n_tokens, "blimp_sentences": len(pairs),
        "bare_tokens_per_s": n_tokens / t_bare, "scoring_tokens_per_s": n_tokens / t_score,
        "scoring_slowdown": t_score / t_bare,
        "blimp_direct_s": t_direct, "blimp_lmeval_s": t_lmeval, "blimp_slowdown": t_lmeval / t_direct,
    }
