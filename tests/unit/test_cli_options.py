"""What `dev` and `serve` pass through to Jupyter is checked before anything starts, against a
list of Jupyter's options that must cover those of the installed Jupyter."""

from __future__ import annotations

import importlib.util

import pytest
from jupyter_server.serverapp import ServerApp
from jupyterlab.labapp import LabApp

from duragraph_lab.runtime import cli
from duragraph_lab.runtime.cli_options import JUPYTER_ALIASES, JUPYTER_FLAGS, unknown_options


def test_the_list_covers_every_flag_and_alias_of_the_installed_jupyter() -> None:
    for app in (ServerApp(), LabApp()):
        assert set(app.flags) <= JUPYTER_FLAGS, set(app.flags) - JUPYTER_FLAGS
        assert set(app.aliases) <= JUPYTER_ALIASES, set(app.aliases) - JUPYTER_ALIASES


OWN = ["--data-dir", "--port", "--ip", "--no-browser"]


@pytest.mark.parametrize(
    "extra",
    [
        ["--ServerApp.base_url=/x/"],
        ["--ServerApp.base_url", "/x/"],
        ["--DuraGraphApp.graphs=a:b", "--debug", "--notebook-dir", "/tmp"],
        ["--log-level=DEBUG", "--y", "--IdentityProvider.token=abc"],
    ],
)
def test_jupyter_options_pass(extra: list[str]) -> None:
    assert unknown_options(extra, OWN, positionals=False) == []


def test_typos_are_caught_with_the_closest_option() -> None:
    (bad,) = unknown_options(["--no-browswer"], OWN, positionals=False)
    assert str(bad) == "unknown option --no-browswer (did you mean --no-browser?)"
    (bad,) = unknown_options(["--notebok-dir=/x"], OWN, positionals=False)
    assert str(bad) == "unknown option --notebok-dir (did you mean --notebook-dir?)"
    (bad,) = unknown_options(["--debug=yes"], OWN, positionals=False)  # a flag takes no value
    assert bad.option == "--debug"
    (bad,) = unknown_options(["--zzzzzz"], OWN, positionals=False)
    assert str(bad) == "unknown option --zzzzzz"


def test_positionals_only_where_jupyter_takes_them() -> None:
    assert unknown_options(["notebooks/a.ipynb"], OWN, positionals=True) == []
    (bad,) = unknown_options(["notebooks/a.ipynb"], OWN, positionals=False)
    assert bad.option == "notebooks/a.ipynb"


def test_windows_is_refused_at_once_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    monkeypatch.setattr(cli.sys, "platform", "win32")
    monkeypatch.setenv("DURAGRAPH_DATA_DIR", str(tmp_path))
    assert cli.main(["dev", "--no-browser"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "WSL2" in err[0], err


@pytest.mark.parametrize(
    ("command", "module", "extra"), [("dev", "jupyterlab", "lab"), ("serve", "jupyter_server", "server")]
)
def test_a_missing_extra_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str, module: str, extra: str
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == module else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert cli.main([command, "--no-browser"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"duragraph-lab: error: duragraph-lab {command} needs {module}, which this install lacks: "
        f"pip install 'duragraph-lab[{extra}]'"
    ]
