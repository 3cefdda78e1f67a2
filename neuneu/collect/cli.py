"""``neuneu collect``: train and score the mini-ladder of a profile (resumable), or score a pretrained model."""

from __future__ import annotations

import argparse


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add the ``collect`` subcommand to the ``neuneu`` parser."""
    p = sub.add_parser("collect", help="train and score the mini-ladder (resumable)")
    p.add_argument("--profile", default="cpu", help="smoke | cpu | full (default cpu)")
    p.add_argument("--out", default=None, help="output directory (default data/miniladder)")
    p.add_argument("--work", default=None, help="work directory (default data/cache/miniladder/<profile>-<hash>)")
    p.add_argument("--runs", nargs="*", default=None, help="only these runs (names like xs-prose-s0)")
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="silence progress bars")
    p.add_argument("--shard", default=None, help="k/n: train only every n-th run from the k-th (parallel processes)")
    p.add_argument("--tables-only", action="store_true", help="only rewrite the tables from finished runs")
    p.set_defaults(func=_cli_collect)


def _cli_collect(args: argparse.Namespace) -> int:
    import torch

    from neuneu.collect.pipeline import DEFAULT_OUT, collect

    if args.threads:
        torch.set_num_threads(args.threads)
    out = collect(args.profile, out_dir=args.out or DEFAULT_OUT, work_dir=args.work, runs=args.runs,
                  device=args.device, progress=not args.no_progress, tables_only=args.tables_only, shard=args.shard)
    print(out)
    return 0
