"""Rerunning one notebook as README.md and book/reproducibility.md document it.

Both ways, ``make notebook`` and the jupytext | papermill one-liner, run as written from a fresh shell: none of the
variables that the runner and the repository's conftest.py set (progress bars off, fixed hash seed) are inherited.
The one-liner runs in a temporary directory laid out like a checkout (``.venv`` is the venv running these tests,
``notebooks/<name>.py`` the chapter), on the cheapest chapter under ``PROFILE=smoke``: 03_diffhist took 5 s here,
against 16 s for 06_results and 21 s for 01_data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from neuneu.paths import REPO_ROOT
from neuneu.runbook import NOTEBOOK_DIR, QUIET_ENV

DOCS = (REPO_ROOT / "README.md", REPO_ROOT / "book" / "reproducibility.md")
CHEAP = "03_diffhist"
DOCUMENTED = "06_results"
SANITIZE = REPO_ROOT / "tests" / "sanitize.cfg"
VENV = Path(sys.prefix)

# A chapter stand-in that draws a progress bar and prints a string hash: what strict nbval cannot tolerate.
PROGRESS_NOTEBOOK = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
PROFILE = "cpu"

# %%
from tqdm import tqdm

for _ in tqdm(range(3), desc="work"):
    pass
print(hash("neuneu"))
'''


def documented_one_liner() -> str:
    """The papermill line of the docs; README.md and the reproducibility page must give the same one."""
    found = []
    for doc in DOCS:
        lines = [ln.strip() for ln in doc.read_text().splitlines()
                 if ln.startswith(".venv/bin/jupytext ") and " | " in ln]
        assert len(lines) == 1, f"{doc.name}: expected one jupytext | papermill line, found {lines}"
        found.append(lines[0])
    assert found[0] == found[1], f"README.md and reproducibility.md differ:\n{found[0]}\n{found[1]}"
    line = found[0]
    assert f"notebooks/{DOCUMENTED}.py" in line and "PROFILE cpu" in line, line
    return line


def fresh_env() -> dict[str, str]:
    """This process's environment without the quiet variables (conftest.py and make set them; a shell does not)."""
    return {k: v for k, v in os.environ.items() if k not in QUIET_ENV}


def stderr_outputs(nb: dict) -> list[str]:
    return ["".join(o["text"]) for c in nb["cells"] for o in c.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == "stderr"]


def injected_parameters(nb: dict) -> str:
    cells = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1, "papermill injected no parameters cell"
    return "".join(cells[0]["source"])


def run_one_liner(tmp_path: Path, name: str, *, line: str | None = None) -> dict:
    """Run the documented line for ``notebooks/<name>.py`` under smoke in ``tmp_path``; return the notebook."""
    if not (VENV / "bin" / "papermill").is_file():
        pytest.skip(f"the tests run outside a venv with papermill ({VENV}); make test provides one")
    line = (line or documented_one_liner()).replace(DOCUMENTED, name).replace("PROFILE cpu", "PROFILE smoke")
    if not (tmp_path / ".venv").exists():
        (tmp_path / ".venv").symlink_to(VENV)
    proc = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=fresh_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"{line}\nfailed:\n{proc.stdout}\n{proc.stderr}"
    out = tmp_path / f"{name}.ipynb"
    assert out.is_file(), f"{line} wrote no {out.name}"
    return json.loads(out.read_text())


def test_one_liner_reruns_a_chapter_that_passes_nbval(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / f"{CHEAP}.py").symlink_to(NOTEBOOK_DIR / f"{CHEAP}.py")
    nb = run_one_liner(tmp_path, CHEAP)
    assert stderr_outputs(nb) == []
    assert 'PROFILE = "smoke"' in injected_parameters(nb)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    # The check the docs give, run from the repository root, where conftest.py sets QUIET_ENV for nbval's kernels;
    # this notebook lies outside the checkout, so the same variables are passed explicitly.
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
                           "--nbval-sanitize-with", str(SANITIZE), f"{CHEAP}.ipynb"], cwd=tmp_path,
                          env={**fresh_env(), **QUIET_ENV}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"nbval rejected the rerun notebook:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"


def test_one_liner_keeps_progress_bars_out_and_fixes_the_hash_seed(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "zz_progress.py").write_text(PROGRESS_NOTEBOOK)
    line = documented_one_liner()
    nb = run_one_liner(tmp_path, "zz_progress", line=line)
    assert stderr_outputs(nb) == []
    expected = subprocess.run([sys.executable, "-c", 'print(hash("neuneu"))'], env={**fresh_env(), "PYTHONHASHSEED": "0"},
                              capture_output=True, text=True, check=True).stdout
    printed = "".join("".join(o["text"]) for c in nb["cells"] for o in c.get("outputs", [])
                      if o.get("output_type") == "stream" and o.get("name") == "stdout")
    assert printed == expected
    # Control: without TQDM_DISABLE the same notebook stores a progress bar, so the check above means something.
    assert "TQDM_DISABLE=1 " in line
    nb = run_one_liner(tmp_path, "zz_progress", line=line.replace("TQDM_DISABLE=1 ", ""))
    assert any("work:" in text for text in stderr_outputs(nb))


def test_make_notebook_executes_one_chapter_quietly(tmp_path):
    # The venv and the data are those running this test: -o keeps make from rebuilding either.
    cmd = ["make", "--no-print-directory", "-o", ".venv/.installed", "-o", "data/cache/.fetched", "notebook",
           f"NB={CHEAP}", "PROFILE=smoke", f"NB_DEST={tmp_path}", f"PY={sys.executable}"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=fresh_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}\nfailed:\n{proc.stdout}\n{proc.stderr}"
    assert f"{CHEAP}: executed" in proc.stdout
    nb = json.loads((tmp_path / f"{CHEAP}.ipynb").read_text())
    assert stderr_outputs(nb) == []
    assert 'PROFILE = "smoke"' in injected_parameters(nb)


def test_make_notebook_requires_a_name():
    proc = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "-o", "data/cache/.fetched",
                           "notebook"], cwd=REPO_ROOT, env=fresh_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "name the notebook: make notebook NB=06_results" in proc.stderr
