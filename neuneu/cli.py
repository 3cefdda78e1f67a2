"""The ``neuneu`` command line: one subcommand per step of the data flow.

Each module that offers subcommands defines ``register_cli(subparsers)``; this module, the top of the package,
imports them and registers each (``fetch``, ``collect``, ``train``, ``evaluate``, ``predict``).
"""

from __future__ import annotations

import argparse
import sys

from neuneu import bench, collect, predict, sources, zoo

_COMMAND_MODULES = (sources, collect, zoo, bench, predict)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="neuneu", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for module in _COMMAND_MODULES:
        module.register_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; its return value is the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (RuntimeError, ValueError) as exc:  # our named errors: a clean message, not a traceback
        print(f"neuneu {args.command}: error: {exc}", file=sys.stderr)
        return 1
