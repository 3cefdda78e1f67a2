"""``neuneu collect``: train and score the mini-ladder of a profile (resumable), or score pretrained checkpoints;
in one process, or sharded over many (``--stage``, ``--shard K/N``) and joined with ``--merge N``."""

from __future__ import annotations

import argparse

import torch

from neuneu.collect.config import config_for
from neuneu.collect.errors import CollectError
from neuneu.collect.pipeline import (
    STAGES,
    collect,
    default_out,
    merge_shards,
    miniladder_units,
)
from neuneu.collect.pretrained import collect_checkpoints, merge_checkpoints
from neuneu.collect.shards import read_checkpoints, write_manifest

# the options a sharded collection's launchers pass (scripts/slurm/*.sbatch); tests check that these exist
SHARD_OPTIONS = ("--stage", "--shard", "--merge", "--checkpoints", "--work", "--out", "--threads", "--no-progress")


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add the ``collect`` subcommand to the ``neuneu`` parser."""
    p = sub.add_parser("collect", help="train and score the mini-ladder, or score pretrained checkpoints (resumable, "
                                       "shardable)")
    p.add_argument("--profile", default="cpu", help="smoke | cpu | full (default cpu)")
    p.add_argument("--out", default=None, help="output directory (default: data/miniladder for the cpu profile, "
                                               "_build/miniladder-<profile> otherwise; with --checkpoints "
                                               "<work>/tables)")
    p.add_argument("--overwrite", action="store_true",
                   help="allow replacing a collection of another profile in --out (never needed by default)")
    p.add_argument("--work", default=None, help="work directory, shared by all shards (default "
                                                "data/cache/miniladder/<profile>-<hash>)")
    p.add_argument("--runs", nargs="*", default=None, help="only these runs (names like xs-prose-s0)")
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="silence progress bars")
    p.add_argument("--stage", choices=STAGES, default="all",
                   help="all: train and score in one process (default); train: train runs, saving each "
                        "checkpoint's weights; score: score saved checkpoints")
    p.add_argument("--shard", default=None, metavar="K/N",
                   help="do only the K-th of N shares of the stage (counted from 1): every N-th run from the K-th "
                        "(--stage train) or every N-th checkpoint of the manifest (--stage score, --checkpoints)")
    p.add_argument("--merge", type=int, default=None, metavar="N",
                   help="check that all N shards finished and write the tables (the same bytes as one process); "
                        "writes nothing and names the shards if any is missing or incomplete")
    p.add_argument("--checkpoints", default=None, metavar="FILE",
                   help="score the pretrained checkpoints listed in FILE (a model<TAB>revision manifest, or .jsonl "
                        "lines with model or checkpoints_location, and revisions) instead of the mini-ladder")
    p.add_argument("--write-manifest", default=None, metavar="FILE",
                   help="write the ordered checkpoint manifest that --shard splits to FILE and exit")
    p.add_argument("--tables-only", action="store_true", help="only rewrite the tables from finished runs")
    p.set_defaults(func=_cli_collect)


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse option combinations that mean nothing (each with its own :class:`CollectError` message)."""
    if args.merge is not None and args.shard is not None:
        raise CollectError("--merge joins the shards' results: it takes no --shard")
    if args.merge is not None and args.stage != "all":
        raise CollectError("--merge joins both stages' results: it takes no --stage")
    if args.checkpoints is not None and args.stage == "train":
        raise CollectError("--checkpoints scores pretrained checkpoints: there is nothing to train")
    if args.checkpoints is not None and (args.runs is not None or args.tables_only):
        raise CollectError("--runs and --tables-only are for the mini-ladder, not for --checkpoints")


def _cli_collect(args: argparse.Namespace) -> int:
    check_arguments(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    progress = not args.no_progress
    if args.write_manifest is not None:
        units = read_checkpoints(args.checkpoints) if args.checkpoints else miniladder_units(config_for(args.profile))
        print(f"{write_manifest(args.write_manifest, units)}: {len(units)} checkpoints")
        return 0
    if args.checkpoints is not None:
        if args.merge is not None:
            out = merge_checkpoints(args.checkpoints, args.merge, profile=args.profile, out_dir=args.out,
                                    work_dir=args.work)
        else:
            out = collect_checkpoints(args.checkpoints, profile=args.profile, out_dir=args.out, work_dir=args.work,
                                      device=args.device, progress=progress, shard=args.shard)
    elif args.merge is not None:
        out = merge_shards(args.profile, args.merge, out_dir=args.out or default_out(args.profile), work_dir=args.work)
    else:
        out = collect(args.profile, out_dir=args.out or default_out(args.profile), work_dir=args.work, runs=args.runs,
                      overwrite=args.overwrite,
                      device=args.device, progress=progress, tables_only=args.tables_only, stage=args.stage,
                      shard=args.shard)
    print(out)
    return 0
