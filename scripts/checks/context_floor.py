"""Nested check of a context floor (pre-registered in neuneu/zoo.py before it ran; rejected, 5 of 8 cells).

Every quantile of the nested refit ensembles' forecasts is raised to at least the lowest accuracy the question's
context shows: no forecast below everything the run has already scored. Needs the nested models
(`python -m neuneu.zoo --nested`). Run: `TQDM_DISABLE=1 .venv/bin/python scripts/checks/context_floor.py`
(a few minutes).
"""
from __future__ import annotations

from typing import Sequence

import nested
import numpy as np

from neuneu.contract import Prediction, Query, Series


class Floored(nested.Wrapped):
    """``inner``'s quantiles, each raised to at least the context's lowest accuracy."""

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]:
        answers = self.inner.predict_many(pairs)
        return [nested.answer(np.maximum(answer.quantiles, float(np.min(context.values))))
                for (context, _), answer in zip(pairs, answers)]


def main() -> None:
    nested.wrapper_check("floored", Floored)


if __name__ == "__main__":
    main()
