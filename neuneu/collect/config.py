"""Sizes and schedules of the mini-ladder, one frozen config per profile.

A *mini-ladder* is a small suite of tiny Llama-style causal LMs trained from scratch on mixtures of public-domain
text ("recipes"), with every checkpoint scored on a fixed held-out shard (per-token losses) and on BLiMP through
lm-eval. The three profiles trade fidelity for time:

* ``smoke`` — one micro model on one small source, 4 checkpoints; seconds. Tests and CI.
* ``cpu``   — 3 sizes spanning ~9x parameters, 2 recipes, 2 data-order seeds on ``prose``, 16 checkpoints per run.
* ``full``  — 5 sizes spanning ~50x, 3 recipes, 2 seeds, 24 checkpoints, 24M tokens per run, all 1,000 BLiMP pairs
  (one GPU).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neuneu.profiles import check_profile

# Text sources that `neuneu.sources` names; the nltk corpora all live in the one `nltk-corpora` source.
NLTK_CORPORA: tuple[str, ...] = ("brown", "abc", "state_union", "inaugural", "movie_reviews", "webtext", "nps_chat")
TEXT_SOURCES: tuple[str, ...] = NLTK_CORPORA + ("tinyshakespeare",)

RECIPES: dict[str, tuple[str, ...]] = {
    "prose": ("brown", "abc", "state_union", "inaugural"),
    "informal": ("movie_reviews", "webtext", "nps_chat"),
    "mixed": TEXT_SOURCES,
    "smoke": ("inaugural",),
}


@dataclass(frozen=True)
class ModelSize:
    """One rung of the ladder: a Llama shape plus the peak learning rate tuned for it.

    Learning rates fall with width (as in the OLMo/Chinchilla ladders) so that at equal tokens the validation loss
    falls with size; ``collect`` records the check in its manifest.
    """

    name: str
    hidden: int
    layers: int
    heads: int
    intermediate: int
    lr: float
    max_tokens: int | None = None  # per-size token budget; None = the profile's tokens_per_run


@dataclass(frozen=True)
class RunSpec:
    """One training run: a size, a recipe and a data-order seed (the seed also fixes the initialisation)."""

    size: ModelSize
    recipe: str
    seed: int

    @property
    def name(self) -> str:
        """Run identifier used in every table: ``<size>-<recipe>-s<seed>``."""
        return f"{self.size.name}-{self.recipe}-s{self.seed}"


@dataclass(frozen=True)
class CollectConfig:
    """Everything that decides a collection's numbers (it is hashed into the cache key and the manifest)."""

    profile: str
    sizes: tuple[ModelSize, ...]
    runs: tuple[tuple[str, str, int], ...]  # (size name, recipe, seed)
    corpus_sources: tuple[str, ...]  # sources that make the tokenizer and the validation shard
    vocab_size: int = 4096
    seq_len: int = 128
    batch_size: int = 16
    tokens_per_run: int = 4_000_000
    n_checkpoints: int = 16
    val_tokens: int = 120_000  # cap on the held-out shard (all held-out text is used up to this many tokens)
    blimp_pairs: int = 100  # pairs per paradigm (first n of each file); 1000 = all
    blimp_paradigms: int | None = None  # None = all 67
    heldout_every: int = 50  # every 50th text block is held out (2%)
    split_seed: int = 0  # the data split and tokenizer never change with the run seed
    warmup_frac: float = 0.05
    final_lr_frac: float = 0.1
    weight_decay: float = 0.01
    eval_batch_size: int = 32
    sample_size: int = 4096  # fixed subsample of per-token losses kept per checkpoint (CNN input)
    hist_bins: int = 64
    tokenizer_chars: int | None = None  # cap on characters used to train the tokenizer (smoke only)
    extra: dict = field(default_factory=dict)

    def run_specs(self) -> list[RunSpec]:
        """The runs to train, in order (small sizes first, so partial collections are still useful)."""
        by_name = {s.name: s for s in self.sizes}
        return [RunSpec(by_name[size], recipe, seed) for size, recipe, seed in self.runs]


_CPU_SIZES = (
    ModelSize("xs", hidden=48, layers=2, heads=4, intermediate=128, lr=5e-3),
    ModelSize("s", hidden=96, layers=3, heads=4, intermediate=256, lr=3e-3),
    ModelSize("m", hidden=176, layers=4, heads=4, intermediate=472, lr=2e-3, max_tokens=2_000_000),
)
# Ordered so that an interrupted collection is still useful: first a 3-size ladder on one recipe, then the second
# recipe and the second data-order seed at the small sizes, then the rest.
_CPU_RUNS = (
    ("xs", "prose", 0), ("s", "prose", 0), ("m", "prose", 0), ("xs", "informal", 0), ("xs", "prose", 1),
    ("s", "informal", 0), ("s", "prose", 1), ("m", "informal", 0),
)
_FULL_SIZES = (
    ModelSize("xs", hidden=64, layers=2, heads=4, intermediate=172, lr=3e-3),
    ModelSize("s", hidden=128, layers=4, heads=4, intermediate=344, lr=2e-3),
    ModelSize("m", hidden=256, layers=6, heads=8, intermediate=688, lr=1.2e-3),
    ModelSize("l", hidden=384, layers=8, heads=8, intermediate=1024, lr=8e-4),
    ModelSize("xl", hidden=512, layers=12, heads=8, intermediate=1376, lr=6e-4),
)


def _grid(sizes: tuple[ModelSize, ...], recipes: tuple[str, ...], seeds_on_first: tuple[int, ...]):
    runs = []
    for size in sizes:
        for i, recipe in enumerate(recipes):
            for seed in seeds_on_first if i == 0 else (seeds_on_first[0],):
                runs.append((size.name, recipe, seed))
    return tuple(runs)


PROFILES: dict[str, CollectConfig] = {
    "smoke": CollectConfig(
        profile="smoke",
        sizes=(ModelSize("micro", hidden=32, layers=1, heads=2, intermediate=64, lr=3e-3),),
        runs=(("micro", "smoke", 0),),
        corpus_sources=("inaugural",),
        vocab_size=512,
        seq_len=64,
        batch_size=8,
        tokens_per_run=32 * 8 * 64,
        n_checkpoints=4,
        val_tokens=4_000,
        blimp_pairs=8,
        blimp_paradigms=6,
        heldout_every=20,
        tokenizer_chars=200_000,
        sample_size=256,
    ),
    "cpu": CollectConfig(
        profile="cpu",
        sizes=_CPU_SIZES,
        runs=_CPU_RUNS,
        corpus_sources=TEXT_SOURCES,
        n_checkpoints=14,
        val_tokens=102_400,
    ),
    "full": CollectConfig(
        profile="full",
        sizes=_FULL_SIZES,
        runs=_grid(_FULL_SIZES, ("prose", "informal", "mixed"), (0, 1)),
        corpus_sources=TEXT_SOURCES,
        batch_size=64,
        tokens_per_run=24_000_000,
        n_checkpoints=24,
        val_tokens=200_000,
        blimp_pairs=1000,
        eval_batch_size=256,
    ),
}


def config_for(profile: str) -> CollectConfig:
    """The collection config of a profile (raises ``ProfileError`` for an unknown name)."""
    return PROFILES[check_profile(profile)]


def checkpoint_steps(total_steps: int, n: int) -> list[int]:
    """``n`` checkpoint steps in (0, total_steps], denser early (power 1.5 spacing) where accuracy moves fastest.

    Duplicates (tiny runs) are pushed one step later so the list stays strictly increasing and ends at the last step.
    """
    if total_steps < n:
        raise ValueError(f"cannot place {n} checkpoints in {total_steps} steps")
    steps: list[int] = []
    for i in range(1, n + 1):
        step = max(1, round(total_steps * (i / n) ** 1.5))
        steps.append(step)
    for i in range(1, n):  # enforce strict increase from the left, then clamp from the right
        steps[i] = max(steps[i], steps[i - 1] + 1)
    for i in range(n - 2, -1, -1):
        steps[i] = min(steps[i], steps[i + 1] - 1)
    return steps
