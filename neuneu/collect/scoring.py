"""Fast batched scoring of a causal LM: per-token validation losses and summed continuation log-probabilities.

Alignment convention (tested in tests/test_collect.py): for a document ``t_0 … t_{n-1}`` the loss stored at
position ``j`` is ``-log p(t_j | t_0 … t_{j-1})`` for ``j >= 1``; position 0 has no context and is stored as NaN.
Documents are right-padded inside a batch; padded positions are masked out of attention and never scored.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA (the speed path), nothing on CPU (bitwise-repeatable float32)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[np.ndarray]:
    """Indices grouped into batches of similar length (longest first), so padding stays small."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def _pad(seqs: list[np.ndarray], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.from_numpy(np.asarray(s, dtype=np.int64))
        mask[i, : len(s)] = 1
    return ids.to(device), mask.to(device)


#: Causal-LM classes whose logits are exactly ``lm_head(model.model(...).last_hidden_state)`` — no logit scale,
#: soft-capping or bias — so the scorer may apply the head itself, in cache-sized row chunks.
PLAIN_HEAD_MODELS = frozenset({"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"})
#: Rows of logits per chunk: 512 × a 4,096-token vocabulary is 8 MB of float32, which stays in cache.
ROW_CHUNK = 512


def _plain_head(model) -> tuple[torch.nn.Module, torch.Tensor] | None:
    """``(body, head weight)`` when the logits are a plain linear map of the body's last hidden state, else None."""
    if type(model).__name__ not in PLAIN_HEAD_MODELS:
        return None
    head = model.get_output_embeddings()
    if not isinstance(head, torch.nn.Linear) or head.bias is not None:
        return None
    return model.model, head.weight


def _next_token_nll(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T-1) float32 ``-log p(ids[:, j+1] | ids[:, :j+1])``; NaN at padded targets.

    For plain-head models the head and the cross-entropy run together on chunks of ROW_CHUNK scored positions:
    the (B·T, V) logits are never materialised (the bare forward writes them all), and padded positions get no
    logits at all. Other models go through their own forward and one cross-entropy over the full logits."""
    b, t = ids.shape
    scored = torch.zeros_like(mask, dtype=torch.bool)
    scored[:, :-1] = (mask[:, 1:] > 0) & (mask[:, :-1] > 0)
    rows = scored.reshape(-1).nonzero().squeeze(1)
    targets = torch.roll(ids, -1, dims=1).reshape(-1)[rows]
    nll = torch.full((b * t,), float("nan"), dtype=torch.float32, device=ids.device)
    plain = _plain_head(model)
    with autocast_for(ids.device):
        if plain is None:  # per position: the model's own logits
            per_position, weight = model(input_ids=ids, attention_mask=mask).logits.reshape(b * t, -1), None
        else:  # per position: the last hidden state, the head applied below
            body, weight = plain
            per_position = body(input_ids=ids, attention_mask=mask).last_hidden_state.reshape(b * t, -1)
        for start in range(0, len(rows), ROW_CHUNK):
            chunk = rows[start : start + ROW_CHUNK]
            logits = per_position[chunk] if weight is None else F.linear(per_position[chunk], weight)
            nll[chunk] = F.cross_entropy(logits.float(), targets[start : start + ROW_CHUNK], reduction="none")
    return nll.view(b, t)[:, :-1]


@torch.no_grad()
def token_losses(
    model,
    tokens: np.ndarray,
    offsets: np.ndarray,
    *,
    pad_id: int = 0,
    batch_size: int = 32,
    progress: bool = False,
) -> np.ndarray:
    """Per-token losses of every validation document, aligned with ``tokens`` (float32, NaN at each doc's start).

    ``tokens`` is the flat int array of all documents and ``offsets`` (D+1,) their starts; every document must fit
    the model's context (the validation shard is built that way)."""
    device = next(model.parameters()).device
    out = np.full(len(tokens), np.nan, dtype=np.float32)
    lengths = np.diff(offsets)
    batches = list(length_batches(lengths, batch_size))
    for batch in tqdm(batches, desc="val loss", unit="batch", disable=not progress, leave=False):
        seqs = [tokens[offsets[d] : offsets[d + 1]] for d in batch]
        ids, mask = _pad(seqs, pad_id, device)
        nll = _next_token_nll(model, ids, mask).cpu().numpy()
        for row, d in enumerate(batch):
            n = lengths[d]
            out[offsets[d] + 1 : offsets[d] + n] = nll[row, : n - 1]
    return out


@torch.no_grad()
def continuation_logprobs(
    model,
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    *,
    max_length: int,
    pad_id: int = 0,
    batch_size: int = 64,
    progress: bool = False,
) -> list[tuple[float, bool]]:
    """For each (context ids, continuation ids): (sum of log p(continuation | context), continuation is greedy).

    Same semantics as lm-eval's ``loglikelihood``: the input is ``(context + continuation)[-(max_length+1):][:-1]``
    and only the continuation tokens are scored."""
    device = next(model.parameters()).device
    seqs, n_cont = [], []
    for ctx, cont in pairs:
        if len(cont) == 0:
            raise ValueError("continuation is empty: nothing to score")
        full = (list(ctx) + list(cont))[-(max_length + 1) :]
        seqs.append(np.asarray(full, dtype=np.int64))
        n_cont.append(len(cont))
    results: list[tuple[float, bool]] = [(0.0, False)] * len(seqs)
    batches = list(length_batches([len(s) for s in seqs], batch_size))
    for batch in tqdm(batches, desc="loglikelihood", unit="batch", disable=not progress, leave=False):
        batch_seqs = [seqs[i] for i in batch]
        ids, mask = _pad(batch_seqs, pad_id, device)
        with autocast_for(device):
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
        logp = torch.log_softmax(logits.float(), dim=-1)
        target_logp = logp.gather(-1, ids[:, 1:, None]).squeeze(-1)
        greedy = logp.argmax(-1) == ids[:, 1:]
        for row, i in enumerate(batch):
            end = len(seqs[i]) - 1
            start = end - n_cont[i]
            results[i] = (float(target_logp[row, start:end].sum()), bool(greedy[row, start:end].all()))
    return results


@torch.no_grad()
def bare_forward(model, tokens: np.ndarray, offsets: np.ndarray, *, pad_id: int = 0, batch_size: int = 32) -> int:
    """The baseline for the overhead benchmark: the same batches through ``model`` with nothing computed on top.

    Returns the number of tokens processed."""
    device = next(model.parameters()).device
    lengths = np.diff(offsets)
    n = 0
    for batch in length_batches(lengths, batch_size):
        ids, mask = _pad([tokens[offsets[d] : offsets[d + 1]] for d in batch], pad_id, device)
        with autocast_for(device):
            model(input_ids=ids, attention_mask=mask)
        n += int(mask.sum())
    return n


