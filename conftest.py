"""Repository-wide pytest set-up. The nbval kernels inherit this process's environment, so the variables that
keep notebook output deterministic (no progress bars, nothing from the hub) are set here, as the notebook runner
(neuneu.runbook) sets them when it executes the notebooks."""

import os

from neuneu.runbook import QUIET_ENV

for _key, _value in QUIET_ENV.items():
    os.environ.setdefault(_key, _value)
