"""Collecting accuracy trajectories and validation-loss features from training runs we control.

The mini-ladder trains tiny Llama models from scratch and scores every checkpoint; :mod:`.pretrained` applies the
same scoring to any transformers causal-LM checkpoint. Public API:

* :func:`collect` — run a profile (``smoke`` / ``cpu`` / ``full``), resumably, and write ``data/miniladder/``.
* :func:`load_miniladder`, :func:`to_series` — read the outputs back as tables or :class:`neuneu.contract.Series`.
* :func:`config_for` / :data:`PROFILES` — the frozen per-profile configs.
* :func:`register_cli` — the ``neuneu collect`` subcommand.
"""

from neuneu.collect.config import PROFILES, CollectConfig, ModelSize, RunSpec, config_for
from neuneu.collect.pipeline import CollectError, collect
from neuneu.collect.store import MiniLadder, MiniLadderError, load_miniladder, to_series
from neuneu.collect.cli import register_cli

__all__ = [
    "PROFILES", "CollectConfig", "ModelSize", "RunSpec", "config_for", "CollectError", "collect",
    "MiniLadder", "MiniLadderError", "load_miniladder", "to_series", "register_cli",
]
