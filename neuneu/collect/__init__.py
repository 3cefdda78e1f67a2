"""Collecting accuracy trajectories and validation-loss features from training runs we control.

The mini-ladder trains tiny Llama models from scratch and scores every checkpoint; :mod:`.pretrained` applies the
same scoring to any transformers causal-LM checkpoint. Public API:

* :func:`collect` — run a profile (``smoke`` / ``cpu`` / ``full``), resumably, and write ``data/miniladder/``.
* :func:`load_miniladder`, :func:`to_series` — read the outputs back as tables or :class:`neuneu.contract.Series`.
* :func:`config_for` / :data:`PROFILES` — the frozen per-profile configs.
* :func:`register_cli` — the ``neuneu collect`` subcommand.

Collecting at scale
-------------------
All work is one ordered **checkpoint manifest** of units ``(model, revision)`` (:mod:`.shards`): for the
mini-ladder every (run, ``step<N>``) of the profile (:func:`miniladder_units`), for pretrained suites every
(model, revision) of a checkpoint list (:func:`collect_checkpoints`; DataDecide's JSON-lines lists are read as
they are). ``--shard K/N`` (counted from 1) gives a process every N-th item from the K-th:

* mini-ladder, ``--stage train --shard K/N``: every N-th *run* is trained (training is sequential within a run),
  saving each checkpoint's weights; then ``--stage score --shard K/N``: every N-th *checkpoint* is scored from
  those weights. The default ``--stage all`` does both in one process, as before.
* pretrained, ``--checkpoints FILE --shard K/N``: every N-th checkpoint is scored.

Each shard is resumable (atomic writes; rerun the same command). ``--merge N`` (:func:`merge_shards`,
:func:`merge_checkpoints`) refuses with :class:`IncompleteShardsError`, naming each missing or incomplete shard and
writing nothing, until all are done, and then writes tables byte-identical to a single-process run. The SLURM
launchers are in ``scripts/slurm/`` (``submit.sh N <collect arguments>`` chains the arrays and the merge);
``book/reproducibility.md`` ("Collecting at scale") gives the commands.
"""

from neuneu.collect.cli import register_cli
from neuneu.collect.config import (
    PROFILES,
    CollectConfig,
    ModelSize,
    RunSpec,
    config_for,
)
from neuneu.collect.errors import (
    CollectError,
    IncompleteShardsError,
    ManifestError,
    MissingWeightsError,
    ShardError,
)
from neuneu.collect.pipeline import collect, merge_shards, miniladder_units
from neuneu.collect.pretrained import (
    collect_checkpoints,
    collect_pretrained,
    merge_checkpoints,
)
from neuneu.collect.shards import (
    Shard,
    Unit,
    parse_shard,
    read_checkpoints,
    read_manifest,
    write_manifest,
)
from neuneu.collect.store import MiniLadder, MiniLadderError, load_miniladder, to_series

__all__ = [
    "PROFILES", "CollectConfig", "ModelSize", "RunSpec", "config_for", "CollectError", "collect",
    "MiniLadder", "MiniLadderError", "load_miniladder", "to_series", "register_cli",
    "IncompleteShardsError", "ManifestError", "MissingWeightsError", "ShardError", "Shard", "Unit", "parse_shard",
    "read_checkpoints", "read_manifest", "write_manifest", "merge_shards", "miniladder_units",
    "collect_checkpoints", "collect_pretrained", "merge_checkpoints",
]
