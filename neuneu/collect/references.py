"""Count-based reference models scored exactly like the LMs: an add-one unigram and a Dirichlet-smoothed bigram.

They answer "how good is good?" for the tiny LMs: a transformer that has not beaten a count bigram on validation
loss has not yet learned anything beyond adjacent-token statistics.
"""

from __future__ import annotations

import numpy as np

BIGRAM_PRIOR = 20.0  # Dirichlet prior strength: p(w|v) = (c(v,w) + a p_uni(w)) / (c(v) + a)


class CountLM:
    """Unigram (``order=1``) or bigram (``order=2``) log-probabilities estimated from a training token stream."""

    def __init__(self, stream: np.ndarray, vocab_size: int, order: int) -> None:
        if order not in (1, 2):
            raise ValueError(f"order must be 1 or 2, got {order}")
        self.order = order
        counts = np.bincount(stream, minlength=vocab_size).astype(np.float64) + 1.0
        self.unigram = counts / counts.sum()
        if order == 2:
            pair = stream[:-1].astype(np.int64) * vocab_size + stream[1:]
            table = np.bincount(pair, minlength=vocab_size * vocab_size).reshape(vocab_size, vocab_size)
            probs = (table + BIGRAM_PRIOR * self.unigram[None, :]) / (table.sum(1, keepdims=True) + BIGRAM_PRIOR)
            self.log_bigram = np.log(probs).astype(np.float32)
        self.log_unigram = np.log(self.unigram)

    def logprobs(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """log p(nxt | prev) for aligned arrays of token ids."""
        if self.order == 1:
            return self.log_unigram[nxt]
        return self.log_bigram[prev, nxt].astype(np.float64)

    def token_losses(self, tokens: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Per-token losses in the LM layout: NaN at each document's first token."""
        out = -self.logprobs(tokens[:-1], tokens[1:]).astype(np.float32)
        out = np.concatenate([[np.nan], out]).astype(np.float32)
        out[offsets[:-1]] = np.nan
        return out

    def sentence_logprob(self, ids: list[int], prefix_id: int) -> float:
        """log p(sentence | prefix token), the count-model version of an lm-eval empty-context request."""
        seq = np.asarray([prefix_id] + list(ids))
        return float(self.logprobs(seq[:-1], seq[1:]).sum())


def blimp_accuracy(model: CountLM, tokenizer, blimp: dict[str, list[dict]]) -> dict[str, float]:
    """Accuracy per paradigm (task name ``blimp_<paradigm>``) with ties counted as correct, as lm-eval's argmax."""
    out = {}
    prefix = tokenizer.eos_token_id
    for paradigm, rows in blimp.items():
        good = tokenizer([r["sentence_good"] for r in rows], add_special_tokens=False)["input_ids"]
        bad = tokenizer([r["sentence_bad"] for r in rows], add_special_tokens=False)["input_ids"]
        wins = [model.sentence_logprob(g, prefix) >= model.sentence_logprob(b, prefix) for g, b in zip(good, bad)]
        out[f"blimp_{paradigm}"] = float(np.mean(wins))
    return out
