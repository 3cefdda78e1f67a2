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

import nested

from neuneu import splits, zoo

PROFILE = nested.PROFILE


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
    for spec in nested.refit_members()[k - 1::n]:
        zoo.obtain(spec, series, PROFILE, root=root)
        print("trained", spec.name, flush=True)


def score(root: Path) -> list[dict]:
    """Per nested split, setting and rule: the MAE of the committed refit ensemble and of the one under ``root``."""
    series = splits.load_pool("public")
    rows = []
    for name in zoo.NESTED_SPLITS:
        test = splits.make_split(series, name).test
        for setting in ("forecast", "loss_given"):
            models = {label: nested.refit_ensemble(name, setting, series, where)
                      for label, where in (("committed", None), ("rehearsal", root))}
            for rule in ("compute", "index"):
                row = {"split": name, "setting": setting, "rule": rule,
                       **{label: nested.mae(m, test, setting=setting, split=name, rule=rule)
                          for label, m in models.items()}}
                row["better"] = row["rehearsal"] < row["committed"]
                rows.append(row)
    return rows


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
        nested.print_verdict(score(args.root))


if __name__ == "__main__":
    main()
