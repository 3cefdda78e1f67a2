"""BLiMP through lm-eval's task and metric machinery, with a fast model side.

* :func:`blimp_tasks` builds one lm-eval ``multiple_choice`` task per paradigm from the local BLiMP files: empty
  context, choices ``[sentence_good, sentence_bad]``, gold 0, ``target_delimiter: ""`` (so no space is prepended).
* :class:`ScorerLM` is an ``lm_eval.api.model.LM`` (registered as ``neuneu-scorer``) whose ``loglikelihood``
  encodes requests exactly as lm-eval's ``hf`` model does (an empty context becomes the BOS/EOS prefix token) and
  scores them all in length-sorted batches through :func:`neuneu.collect.scoring.continuation_logprobs`.
* :func:`evaluate_blimp` runs lm-eval's ``evaluate`` and returns accuracy and the gold-minus-foil log-prob margin
  per paradigm (the margin is read from lm-eval's logged samples).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import numpy as np
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from neuneu.collect.scoring import continuation_logprobs


class HarnessError(RuntimeError):
    """lm-eval returned something the collector cannot read."""


@register_model("neuneu-scorer")
class ScorerLM(LM):
    """A transformers causal LM + tokenizer behind lm-eval's ``LM`` interface, scored in large sorted batches."""

    def __init__(self, model=None, tokenizer=None, batch_size: int = 64, max_length: int | None = None,
                 progress: bool = False) -> None:
        super().__init__()
        if model is None or tokenizer is None:
            raise HarnessError("ScorerLM needs an in-memory model and tokenizer")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = int(batch_size)
        self.max_length = int(max_length or getattr(model.config, "max_position_embeddings", 2048))
        self.progress = progress

    @property
    def prefix_token_id(self) -> int:
        """The token an empty context becomes (BOS if the tokenizer has one, else EOS), as in lm-eval's ``hf``."""
        bos = self.tokenizer.bos_token_id
        return bos if bos is not None else self.tokenizer.eos_token_id

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Token ids of (context, continuation) with lm-eval's rules: trailing context spaces move to the
        continuation; the continuation ids are the tail of ``encode(context + continuation)``."""
        if context == "":
            cont = self._encode(continuation)
            if cont and cont[0] == self.prefix_token_id:
                return cont[:1], cont[1:]
            return [self.prefix_token_id], cont
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        whole = self._encode(context + continuation)
        ctx = self._encode(context)
        return ctx, whole[len(ctx):]

    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        pairs = [self.encode_pair(*req.args) for req in requests]
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.prefix_token_id
        return continuation_logprobs(self.model, pairs, max_length=self.max_length, pad_id=pad,
                                     batch_size=self.batch_size, progress=self.progress and not disable_tqdm)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("neuneu-scorer only scores loglikelihood requests")

    def generate_until(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("neuneu-scorer does not generate")


def _empty_context(doc: dict) -> str:
    return ""


def _good_then_bad(doc: dict) -> list[str]:
    return [doc["sentence_good"], doc["sentence_bad"]]


def blimp_task_config(paradigm: str, rows: list[dict]) -> dict:
    """lm-eval task config (a dict) of one BLiMP paradigm over in-memory rows."""
    import datasets

    return {
        "task": f"blimp_{paradigm}",
        "custom_dataset": lambda **_: {"test": datasets.Dataset.from_list(rows)},
        "test_split": "test",
        "output_type": "multiple_choice",
        # Python callables rather than Jinja strings: lm-eval recompiles a Jinja template for every document at
        # every call, which cost more than scoring the pairs with these tiny models.
        "doc_to_text": _empty_context,
        "doc_to_choice": _good_then_bad,
        "doc_to_target": 0,
        "target_delimiter": "",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
    }


def _cached_task_class():
    from lm_eval.api.task import ConfigurableTask

    class CachedRequestsTask(ConfigurableTask):
        """A ConfigurableTask that builds its request instances once and reuses them at every checkpoint.

        The requests of a task do not depend on the model, so rebuilding them (Jinja templating per document) at
        each checkpoint only costs time; lm-eval's own ``cache_requests`` does the same through a disk cache. The
        model responses stored on the instances are cleared before each reuse."""

        def build_all_requests(self, *args, **kwargs) -> None:
            if getattr(self, "_neuneu_instances", None) is None:
                super().build_all_requests(*args, **kwargs)
                self._neuneu_instances = list(self._instances)
            for inst in self._neuneu_instances:
                inst.resps = []
                inst.filtered_resps = {}
            self._instances = list(self._neuneu_instances)

    return CachedRequestsTask


def blimp_tasks(blimp: dict[str, list[dict]]) -> dict:
    """lm-eval task objects for every paradigm (build once per collection; docs are loaded here, not per call)."""
    quiet_lm_eval()
    cls = _cached_task_class()
    return {f"blimp_{p}": cls(config=blimp_task_config(p, rows)) for p, rows in blimp.items()}


@contextmanager
def _quiet_request_bars():
    """lm-eval shows one unconditional tqdm bar per task while building requests; hide those bars only."""
    import lm_eval.api.task as task_module

    original = task_module.tqdm
    task_module.tqdm = partial(original, disable=True)
    try:
        yield
    finally:
        task_module.tqdm = original


def quiet_lm_eval() -> None:
    """lm-eval logs a warning per task and per call; keep our progress output readable."""
    for name in ("lm-eval", "lm_eval", "lm_eval.api.task", "lm_eval.evaluator"):
        logging.getLogger(name).setLevel(logging.ERROR)


@dataclass(frozen=True)
class BlimpScores:
    """Per-paradigm accuracy and mean margin (log p(good) - log p(bad)), plus every pair's margin."""

    tasks: list[str]
    acc: np.ndarray
    margin: np.ndarray
    pair_margins: dict[str, np.ndarray]


def evaluate_blimp(lm: LM, tasks: dict) -> BlimpScores:
    """Run lm-eval's ``evaluate`` on the BLiMP tasks and read accuracy (from lm-eval's metric) and margins."""
    from lm_eval import evaluator

    with _quiet_request_bars():
        res = evaluator.evaluate(lm, tasks, log_samples=True, bootstrap_iters=0, verbosity="ERROR")
    if res is None:
        raise HarnessError("lm-eval returned no results")
    names = sorted(tasks)
    acc, margin, pairs = [], [], {}
    for name in names:
        acc.append(float(res["results"][name]["acc,none"]))
        samples = sorted(res["samples"][name], key=lambda s: s["doc_id"])
        m = np.asarray([s["filtered_resps"][0][0] - s["filtered_resps"][1][0] for s in samples], dtype=np.float64)
        pairs[name] = m
        margin.append(float(m.mean()))
    return BlimpScores(names, np.asarray(acc), np.asarray(margin), pairs)
