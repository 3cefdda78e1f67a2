"""``python -m neuneu …`` is the same as the ``neuneu`` console script."""

from neuneu.cli import main

raise SystemExit(main())
