"""The collector's named errors. They live in one leaf module so every other module can raise them without
importing the pipeline (and the CLI can catch them all as :class:`CollectError`)."""

from __future__ import annotations


class CollectError(RuntimeError):
    """A collection that cannot run as asked (unknown recipe, too little text, bad run filter…)."""


class ShardError(CollectError):
    """A ``--shard k/n`` or shard count that does not name a valid shard."""


class ManifestError(CollectError):
    """A checkpoint manifest (or checkpoint list) that cannot be read, or does not belong to this work directory."""


class MissingWeightsError(CollectError):
    """A scoring shard asked to score checkpoints whose weights the training stage has not saved yet."""


class IncompleteShardsError(CollectError):
    """A merge refused because some shard has not finished (the message names each such shard)."""
