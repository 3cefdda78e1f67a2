"""Nested check of the rehearsal ratio (pre-registered in neuneu/zoo.py before any model was trained for it).

Retrains the nested checks' refit members (and their selection models) with ``--ratio`` times as many prior series
rehearsed while fine-tuning, into ``--root`` (outside the repository: never committed), from the committed prior
models; then scores their ensembles beside the committed ones on both nested splits, both settings and both rules.

    python scripts/checks/rehearsal_ratio.py train --part 1/2 &   # one process per core
    python scripts/checks/rehearsal_ratio.py train --part 2/2
    python scripts/checks/rehearsal_ratio.py score
"""
from __future__ import annotations

import argparse
import functools
import shutil
from pathlib import Path

import pandas as pd

from neuneu import bench, evaluate, splits, zoo

PROFILE = "cpu"


def jobs() -> list[zoo.ModelSpec]:
    return [s for s in zoo.nested_specs(PROFILE) if s.refit and s.refit_schedule == "full"]


def train(root: Path, ratio: float, part: str) -> None:
    k, n = (int(x) for x in part.split("/"))
    zoo.rehearsal_series = functools.partial(zoo.rehearsal_series, ratio=ratio)  # read by zoo.train_spec
    print(f"rehearsing {len(zoo.rehearsal_series(PROFILE, 0, 100))} prior series per 100 real ones", flush=True)
    root.mkdir(parents=True, exist_ok=True)
    for setting in ("forecast", "loss_given"):
        for seed in (0, 1, 2):
            prior = zoo.weights_dir(zoo.pretrained_spec(setting, seed), PROFILE)
            if not (root / prior.name).exists():
                shutil.copytree(prior, root / prior.name)
    series = splits.load_pool("public")
    for spec in jobs()[k - 1::n]:
        zoo.obtain(spec, series, PROFILE, root=root)
        print("trained", spec.name, flush=True)


def mae(predictions: pd.DataFrame) -> float:
    """The cell-averaged MAE of the one method in ``predictions`` (:func:`neuneu.evaluate.cell_scores`)."""
    return float(evaluate.cell_scores(predictions)["mae"].mean())


def score(root: Path) -> pd.DataFrame:
    series = splits.load_pool("public")
    rows = []
    for name in zoo.NESTED_SPLITS:
        split = splits.make_split(series, name)
        for setting in ("forecast", "loss_given"):
            members = tuple(s for s in jobs() if s.split == name and s.setting == setting)
            ensemble = zoo.EnsembleSpec(name, setting, members)
            models = {label: bench.neuneu_models(name, series, PROFILE, (), (ensemble,), weights_root=where)[0][0]
                      for label, where in (("committed", None), ("rehearsal", root))}
            for rule in ("compute", "index"):
                row = {"split": name, "setting": setting, "rule": rule}
                for label, model in models.items():
                    row[label] = mae(evaluate.evaluate([model], split.test, setting=setting, split=name,
                                                       context_rule=rule, reference=False).predictions)
                row["better"] = row["rehearsal"] < row["committed"]
                rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("train", "score"))
    parser.add_argument("--ratio", type=float, default=2.0)
    parser.add_argument("--root", type=Path, default=Path("/tmp/neuneu-rehearsal-2"))
    parser.add_argument("--part", default="1/1")
    args = parser.parse_args()
    if args.stage == "train":
        train(args.root, args.ratio, args.part)
    else:
        table = score(args.root)
        print(table.round(3).to_string())
        print(f"cells won: {int(table['better'].sum())} of {len(table)}")


if __name__ == "__main__":
    main()
