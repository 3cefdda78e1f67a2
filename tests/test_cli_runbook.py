"""The command line and the notebook runner: wiring, parameters cells, clear errors."""

import jupytext
import pytest

from neuneu import cli, runbook
from neuneu.profiles import ProfileError, check_profile


def test_cli_fetch_list(capsys):
    assert cli.main(["fetch", "--list"]) == 0
    out = capsys.readouterr().out
    assert "olmo-ladder" in out and "pythia" in out and "Apache-2.0" in out


def test_cli_reports_named_errors(capsys):
    assert cli.main(["fetch", "no-such-source"]) == 1
    assert "neuneu fetch: error: unknown source(s): no-such-source" in capsys.readouterr().err


def test_check_profile():
    assert check_profile("smoke") == "smoke"
    with pytest.raises(ProfileError, match=r"^unknown profile 'fast'; expected one of smoke, cpu, full$"):
        check_profile("fast")


def test_unknown_notebook_name():
    with pytest.raises(FileNotFoundError, match=r"^no notebook named 99_nope in "):
        runbook.notebook_sources(["99_nope"])


@pytest.mark.parametrize("path", runbook.notebook_sources(), ids=lambda p: p.stem)
def test_notebook_has_profile_parameter_and_skeleton(path):
    nb = jupytext.read(path)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "PROFILE" in params[0].source
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert markdown.lstrip().startswith("# "), "first cell must be the chapter title"
    for heading in ("## Overview", "## Summary"):
        assert heading in markdown, f"{path.name} lacks {heading!r}"


def test_executed_notebooks_hide_their_parameters_cells(tmp_path) -> None:
    import nbformat

    from neuneu.runbook import hide_parameters

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('PROFILE = "cpu"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('PROFILE = "smoke"', metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("1 + 1")])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    hide_parameters(path)
    tags = [c.metadata.get("tags", []) for c in nbformat.read(path, as_version=4).cells]
    assert tags == [["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], []]
