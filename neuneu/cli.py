"""The ``neuneu`` command line: one subcommand per step of the data flow.

Each module that offers a subcommand defines ``register_cli(subparsers)``; the modules are imported only when
they exist, so the CLI grows with the package instead of being edited in one central place.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

_COMMAND_MODULES = ("neuneu.sources", "neuneu.collect", "neuneu.zoo", "neuneu.bench", "neuneu.predict")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(prog="neuneu", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        if hasattr(module, "register_cli"):
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
