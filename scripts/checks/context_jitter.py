"""Nested check of test-time context jitter (pre-registered in neuneu/zoo.py before it ran; rejected, 2 of 8 cells).

Each forecast of the nested refit ensembles is averaged, quantile by quantile, with the forecasts from the same
context cut one and two checkpoints earlier. Needs the nested models (`python -m neuneu.zoo --nested`).
Run: `TQDM_DISABLE=1 .venv/bin/python scripts/checks/context_jitter.py` (about a minute).
"""
from __future__ import annotations

from typing import Sequence

import nested
import numpy as np

from neuneu.contract import ForecasterBase, Prediction, Query, Series, cut_context


class Jitter(nested.Wrapped):
    """``inner`` asked from the context and from the context cut ``drops`` checkpoints earlier (the dropped
    checkpoints become targets and are discarded), its quantiles averaged level by level."""

    def __init__(self, inner: ForecasterBase, drops: Sequence[int] = (0, 1, 2)) -> None:
        super().__init__(inner)
        self.drops = tuple(drops)

    @staticmethod
    def _cut(context: Series, query: Query, j: int) -> tuple[Series, Query]:
        if j == 0:
            return context, query

        def grow(last: np.ndarray, later: np.ndarray) -> np.ndarray:
            return np.concatenate([np.asarray(last)[-j:], np.asarray(later)])

        losses = None if query.losses is None else {k: grow(context.losses[k], v) for k, v in query.losses.items()}
        return cut_context(context, len(context) - 1 - j), Query(
            grow(context.steps, query.steps), grow(context.tokens, query.tokens), grow(context.flops, query.flops),
            losses, query.final_tokens)

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]:
        asked = [(i, j) for i, (context, _) in enumerate(pairs) for j in self.drops if len(context) > j]
        answers = self.inner.predict_many([self._cut(*pairs[i], j) for i, j in asked])
        per_pair: list[list[np.ndarray]] = [[] for _ in pairs]
        for (i, j), answer in zip(asked, answers):
            per_pair[i].append(answer.quantiles[j:])
        return [nested.answer(np.sort(np.mean(quantiles, axis=0), axis=1)) for quantiles in per_pair]


def main() -> None:
    nested.wrapper_check("jitter", Jitter)


if __name__ == "__main__":
    main()
