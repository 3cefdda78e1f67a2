"""The trained NeuNeu models the book uses: what each is trained on, where its weights live, how to rebuild it.

Every model is named by a :class:`ModelSpec` — the evaluation split whose *train* side it sees, the information
setting and the loss input. Weights trained under the ``cpu`` profile are committed under ``data/weights/<name>/``
(safetensors + JSON config + training history), so ``make book`` reads them instead of retraining; the notebooks
retrain on request, and under ``smoke`` (CI) and ``full`` (GPU) they always train into ``_build/weights-<profile>``.
``python -m neuneu.zoo`` (``make weights``) retrains every committed model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from neuneu.paths import BUILD_DIR, DATA_DIR
from neuneu.profiles import check_profile
from neuneu.series import Series

WEIGHTS_DIR = DATA_DIR / "weights"


@dataclass(frozen=True)
class ModelSpec:
    """One trained model: trained on the train side of ``split``, for ``setting``, reading ``loss_input``."""

    split: str
    setting: str = "forecast"
    loss_input: str = "mean"
    time_axis: str = "tokens"
    budget: float = 1.0  # share of the profile's training samples (the small mini-ladder needs fewer)
    task_identity: bool = False  # a learned task embedding (beyond the paper; unseen tasks read "unknown")

    @property
    def name(self) -> str:
        """Directory name, e.g. ``heldout-sizes__vector-loss_given`` or ``heldout-sizes__mean-forecast-task``."""
        axis = "" if self.time_axis == "tokens" else f"-{self.time_axis}"
        return f"{self.split}__{self.loss_input}-{self.setting}{axis}{'-task' if self.task_identity else ''}"

    @property
    def method(self) -> str:
        """The method name in result tables, e.g. ``neuneu-mean-given`` or ``neuneu-mean-task``."""
        return (f"neuneu-{self.loss_input}" + ("-given" if self.setting == "loss_given" else "")
                + ("" if self.time_axis == "tokens" else f"-{self.time_axis}")
                + ("-task" if self.task_identity else ""))


SPLITS = ("heldout-sizes", "heldout-multiplier", "unseen-family", "unseen-recipe", "heldout-tasks")
#: The committed models: per split, one model for each information setting. The loss input is the per-checkpoint
#: mean validation loss, the one loss every public suite has (OLMo: mean of 11 domains; Pythia, BigScience:
#: LAMBADA log-perplexity).
DEFAULT_SPECS: tuple[ModelSpec, ...] = tuple(
    ModelSpec(split, setting, "mean") for split in SPLITS for setting in ("forecast", "loss_given")
)
#: Ablations on held-out sizes (chapter 8): no loss input; the paper's index gaps instead of log-compute; a task
#: embedding (paper-spec §9.18); and NeuNeu reading the pooled paper law ("law", :mod:`neuneu.hybrid`; its
#: forecast variant is the loss_given model fed extrapolated losses, so it has no weights of its own).
ABLATION_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("heldout-sizes", "forecast", "none"),
    ModelSpec("heldout-sizes", "forecast", "none", "index"),
    ModelSpec("heldout-sizes", "forecast", "mean", task_identity=True),
    ModelSpec("heldout-sizes", "loss_given", "mean", task_identity=True),
    ModelSpec("heldout-sizes", "loss_given", "law"),
    ModelSpec("heldout-sizes", "forecast", "law"),
)


def has_own_weights(spec: ModelSpec) -> bool:
    """False for the forecast "law" model, which reuses the loss_given model's weights."""
    return not (spec.loss_input == "law" and spec.setting == "forecast")


#: The paper's central ablation on the mini-ladder (chapter 8), on held-out sizes and on a held-out training
#: recipe: which loss representation helps? Per-token losses exist only there. "hist" is the p-histogram at the context end (forecast) or its DiffHist to the target
#: (loss_given); "sample" is the CNN over a fixed subsample of per-token losses.
MINILADDER_SPLITS = ("miniladder-size", "miniladder-recipe")
MINILADDER_SPECS: tuple[ModelSpec, ...] = tuple(
    spec for split in MINILADDER_SPLITS for spec in (
        ModelSpec(split, "forecast", "none", budget=0.25),
        *(ModelSpec(split, setting, loss_input, budget=0.25)
          for setting in ("forecast", "loss_given") for loss_input in ("mean", "hist", "sample"))))


def weights_dir(spec: ModelSpec, profile: str, root: Path | None = None) -> Path:
    """Where the model lives: ``root`` when given, else the committed weights (cpu profile) or a build folder."""
    if root is None:
        root = WEIGHTS_DIR if check_profile(profile) == "cpu" else BUILD_DIR / f"weights-{profile}"
    return Path(root) / spec.name


def _forecaster(spec: ModelSpec, profile: str, out_dir: Path | None):
    from neuneu.model import config_for as model_config_for
    from neuneu.train import NeuNeuForecaster
    from neuneu.train import config_for as train_config_for

    config = dataclasses.replace(model_config_for(profile), loss_input=spec.loss_input, setting=spec.setting,
                                 time_axis=spec.time_axis, task_identity=spec.task_identity)
    train_config = train_config_for(profile)
    if spec.budget != 1.0:
        train_config = dataclasses.replace(
            train_config, samples_per_epoch=max(train_config.batch_size, int(train_config.samples_per_epoch * spec.budget)))
    forecaster = NeuNeuForecaster(config, train_config, profile=profile, out_dir=out_dir, name=spec.method)
    if spec.loss_input == "law":
        from neuneu.hybrid import LawNeuNeu

        return LawNeuNeu(forecaster)
    return forecaster


def train_spec(spec: ModelSpec, series: Sequence[Series], profile: str, out_dir: Path | None = None):
    """Train the model ``spec`` names on the train side of its split; write it to ``out_dir`` when given."""
    from neuneu.evaluate import make_split

    train, _ = make_split(series, spec.split)
    forecaster = _forecaster(spec, profile, out_dir)
    forecaster.fit(train)
    if out_dir is not None:
        forecaster.save(out_dir)
        history = forecaster.result.history if forecaster.result is not None else []
        (Path(out_dir) / "history.json").write_text(json.dumps(history, indent=1, default=float))
    return forecaster


def obtain(spec: ModelSpec, series: Sequence[Series], profile: str, *, retrain: bool = False,
           root: Path | None = None):
    """The model for ``spec``: loaded from its weights folder when present (and not ``retrain``), else trained
    there. Under the smoke and full profiles the folder is a build folder, so a fresh clone trains them."""
    from neuneu.train import NeuNeuForecaster

    if spec.loss_input == "law" and spec.setting == "forecast":  # the loss_given model, fed extrapolated losses
        from neuneu.hybrid import LawNeuNeuForecast

        given = obtain(dataclasses.replace(spec, setting="loss_given"), series, profile, retrain=retrain, root=root)
        return LawNeuNeuForecast(given, name=spec.method)
    folder = weights_dir(spec, profile, root)
    if not retrain and (folder / "model.safetensors").is_file():
        loaded = NeuNeuForecaster.load(folder)
        loaded._name = spec.method
        if spec.loss_input == "law":  # the weights were trained with the law of the split's training series
            from neuneu.evaluate import make_split
            from neuneu.hybrid import LawNeuNeu

            return LawNeuNeu(loaded).fit_law(make_split(series, spec.split)[0])
        return loaded
    if folder.exists():
        shutil.rmtree(folder)
    return train_spec(spec, series, profile, folder)


def history(spec: ModelSpec, profile: str, root: Path | None = None) -> list[dict]:
    """The training history (one dict per evaluation: step, train and validation pinball loss, lr)."""
    path = weights_dir(spec, profile, root) / "history.json"
    return json.loads(path.read_text()) if path.is_file() else []


def main(argv: list[str] | None = None) -> int:
    """``python -m neuneu.zoo [--profile cpu] [--only NAME…]``: (re)train the committed models."""
    from neuneu.trajectories import load_corpus, to_series

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--only", nargs="*", default=None, help="model names (default: all)")
    args = parser.parse_args(argv)
    series = to_series(load_corpus())
    specs = [s for s in DEFAULT_SPECS + ABLATION_SPECS
             if has_own_weights(s) and (args.only is None or s.name in args.only)]
    for spec in specs:
        model = obtain(spec, series, args.profile, retrain=True)
        result = model.result
        print(f"{spec.name}: best val pinball {result.best_val_loss:.5f} at step {result.best_step} "
              f"({result.seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
