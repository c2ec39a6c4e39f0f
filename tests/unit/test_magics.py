"""%duragraph in an IPython shell: help, parsing, user errors as one line (no traceback, the shell
goes on), and the kernel's input transformer that awaits top-level magics."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from duragraph_lab.notebook import magics, session
from duragraph_lab.runtime.processes import free_port


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    for name in ("DURAGRAPH_URL", "DURAGRAPH_TOKEN", "DURAGRAPH_DATABASE_URL", "DURAGRAPH_NATS_URL"):
        monkeypatch.delenv(name, raising=False)
    # No Jupyter server runtime files: stale ones left by killed servers can name a pid since
    # reused by this process's parent, which discovery would take for "the server of this kernel".
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setattr(session, "_SESSION", None)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "duragraph_lab")
    yield ip
    ip.run_line_magic("unload_ext", "duragraph_lab")


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    lines = [line for line in out.err.splitlines() if line.startswith("%duragraph")]
    assert len(lines) == 1, out.err
    return lines[0]


def test_load_ext_registers_line_and_cell_magics(shell: Any) -> None:
    assert "duragraph" in shell.magics_manager.magics["line"]
    assert "duragraph" in shell.magics_manager.magics["cell"]


def test_help_lists_every_subcommand(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert shell.run_line_magic("duragraph", "--help") is None
    out = capsys.readouterr().out
    assert out.startswith("usage: %duragraph")
    for command in ("connect", "serve", "run", "runs", "events", "spans", "replay", "fork", "status"):
        assert f"    {command} " in out


def test_subcommand_help(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_line_magic("duragraph", "run --help")
    out = capsys.readouterr().out
    assert "usage: %duragraph run" in out
    for option in ("--input JSON", "--thread ID", "--wait", "ASSISTANT"):
        assert option in out
    shell.run_line_magic("duragraph", "serve --help")
    assert "--lease-ttl SECONDS" in capsys.readouterr().out


def test_unknown_subcommand_is_one_line_and_the_shell_goes_on(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert shell.run_line_magic("duragraph", "launch rockets") is None
    assert "invalid choice: 'launch'" in one_error_line(capsys)
    assert shell.run_cell("1 + 1").result == 2


def test_missing_arguments_and_bad_numbers(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_line_magic("duragraph", "fork 1234")
    assert "one of the arguments --at --seq is required" in one_error_line(capsys)
    shell.run_line_magic("duragraph", "fork 1234 --at 1 --seq 5")
    assert "not allowed with argument" in one_error_line(capsys)
    shell.run_line_magic("duragraph", "runs --limit many")
    assert "invalid int value: 'many'" in one_error_line(capsys)
    shell.run_line_magic("duragraph", 'run chat --input \'{"a": 1}')
    assert "cannot split the line" in one_error_line(capsys)


def test_invalid_json_input_is_reported_before_connecting(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert shell.run_line_magic("duragraph", "run chat --input '{not json}'") is None
    assert "--input is not valid JSON" in one_error_line(capsys)
    shell.run_cell_magic("duragraph", "run chat", "[1, 2,\n")
    assert "--input is not valid JSON" in one_error_line(capsys)
    shell.run_cell_magic("duragraph", "run chat --input '{}'", '{"a": 1}')
    assert "either as --input or as the cell body" in one_error_line(capsys)
    shell.run_line_magic("duragraph", "fork 123 --at 4 --update '[1]'")
    assert "--update must be a JSON object" in one_error_line(capsys)


def test_cell_body_only_where_it_means_something(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_cell_magic("duragraph", "status", "anything")
    assert "takes no cell body" in one_error_line(capsys)


def test_no_server_reachable(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    assert shell.run_line_magic("duragraph", f"connect {url} --token nope") is None
    assert url.rstrip("/") in one_error_line(capsys)
    assert shell.run_cell("2 * 21").result == 42


def test_connect_without_url_or_environment(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # Outside a kernel, nothing is discovered (no parent Jupyter server, no kernel id).
    shell.run_line_magic("duragraph", "connect")
    assert "no server found" in one_error_line(capsys)
    # Every command that needs the server says so too, in one line.
    shell.run_line_magic("duragraph", "runs")
    assert "no server found" in one_error_line(capsys)


def test_serve_errors(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_line_magic("duragraph", "serve")
    assert "name the graphs to serve" in one_error_line(capsys)
    shell.run_line_magic("duragraph", "serve nothing_here")
    assert "no variable 'nothing_here'" in one_error_line(capsys)
    shell.run_cell("not_a_graph = 3")
    shell.run_line_magic("duragraph", "serve not_a_graph")
    assert "not_a_graph is a int, not a StateGraph" in one_error_line(capsys)
    shell.run_line_magic("duragraph", "serve --lease-ttl 0 x")
    assert "--lease-ttl must be positive" in one_error_line(capsys)


def test_serve_outside_a_kernel_needs_only_a_server(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The worker brings its own thread and loop: a terminal IPython serves too, once connected."""
    shell.run_cell(
        "from duragraph_lab import StateGraph, START, END\n"
        "from typing import TypedDict\n"
        "class S(TypedDict):\n    n: int\n"
        "g = StateGraph(S)\ng.add_node('a', lambda s: {'n': 1})\ng.add_edge(START, 'a')\ng.add_edge('a', END)\n"
    )
    shell.run_line_magic("duragraph", "serve g")
    assert "no server found" in one_error_line(capsys)


def test_magics_parse_into_the_expected_namespace() -> None:
    args = magics.parse("run chat --input '{\"x\": [1, 2]}' --thread t1 --wait --timeout 5")
    assert args is not None
    assert (args.command, args.assistant, args.input, args.thread, args.wait, args.timeout) == (
        "run",
        "chat",
        '{"x": [1, 2]}',
        "t1",
        True,
        5.0,
    )
    args = magics.parse('fork abc --at 12 --update \'{"topic": "wind"}\'')
    assert args is not None and (args.run, args.at, args.update) == ("abc", "12", '{"topic": "wind"}')
    args = magics.parse("fork abc --at -1")
    assert args is not None and (args.at, args.seq) == ("-1", None)
    args = magics.parse("fork abc --seq 812")
    assert args is not None and (args.at, args.seq) == (None, 812)
    args = magics.parse("runs --status success --limit 3")
    assert args is not None and (args.thread, args.status, args.limit) == (None, "success", 3)


def test_the_transformer_awaits_top_level_magics(shell: Any) -> None:
    code = shell.transform_cell(
        "r = %duragraph run g --wait\n%duragraph status\nif True:\n    %duragraph runs\n"
    )
    lines = magics.await_magics(code.splitlines(keepends=True))
    assert lines[0].startswith("r = await __import__('duragraph_lab.notebook.magics'")
    assert lines[0].rstrip().endswith(".run_magic_async(get_ipython(), 'run g --wait')")
    assert lines[1].startswith("await ") and "'status'" in lines[1]
    assert lines[3] == code.splitlines(keepends=True)[3]  # indented: left alone (no await in a block)
    cell = shell.transform_cell('%%duragraph run g\n{"n": 1}\n')
    (line,) = magics.await_magics([cell])
    assert line.startswith("await ") and "run_magic_async(get_ipython(), 'run g', '{\"n\": 1}\\n')" in line


def test_the_transformer_is_installed_only_in_a_kernel(shell: Any) -> None:
    # A terminal IPython has no kernel loop to await on: the magics run synchronously there.
    assert magics.await_magics not in shell.input_transformers_post


def test_importing_the_package_does_not_import_ipython_or_the_magics() -> None:
    code = "import sys, duragraph_lab; print(any(m in sys.modules for m in ('IPython', 'duragraph_lab.notebook')))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_worker_endpoints_come_from_arguments_environment_the_server_or_runtime_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from duragraph_lab.notebook.kernel_worker import ServeError, resolve_endpoints

    for name in ("DURAGRAPH_DATABASE_URL", "DURAGRAPH_NATS_URL"):
        monkeypatch.delenv(name, raising=False)
    info = {"data_dir": str(tmp_path), "nats": {"subject_prefix": "lab"}}
    # /info redacts the credentials; without a readable runtime.json a kernel is told what to set
    with pytest.raises(ServeError, match="DURAGRAPH_DATABASE_URL and DURAGRAPH_NATS_URL"):
        resolve_endpoints(info)
    got = resolve_endpoints(info, database_url="postgresql://db/x", nats_url="nats://bus:4222")
    assert (got.database_url, got.nats_url, got.subject_prefix) == (
        "postgresql://db/x",
        "nats://bus:4222",
        "lab",
    )
    # the server's GET /worker/connection comes next (given URLs still win, one by one)
    shared = {"database_url": "postgresql://srv/x", "nats_url": "nats://srv:4222", "subject_prefix": "srv"}
    got = resolve_endpoints(info, connection={**shared, "local_only": True})
    assert (got.database_url, got.nats_url, got.subject_prefix, got.source, got.local_only) == (
        "postgresql://srv/x",
        "nats://srv:4222",
        "srv",
        "GET /worker/connection",
        True,
    )
    got = resolve_endpoints(info, database_url="postgresql://mine/x", connection=shared)
    assert (got.database_url, got.nats_url, got.local_only) == (
        "postgresql://mine/x",
        "nats://srv:4222",
        False,
    )
    monkeypatch.setenv("DURAGRAPH_DATABASE_URL", "postgresql://env/x")
    monkeypatch.setenv("DURAGRAPH_NATS_URL", "nats://env:4222")
    assert resolve_endpoints(info).source == "configured"
    assert resolve_endpoints(info, connection=shared).source == "configured"


def test_discovery_prefers_the_parent_jupyter_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from duragraph_lab.notebook.discover import discover

    monkeypatch.delenv("DURAGRAPH_URL", raising=False)
    parent = {"url": "http://localhost:9999/", "token": "t", "pid": os.getppid()}
    other = {"url": "http://localhost:9998/", "token": "u", "pid": -1}
    found = discover([other, parent])
    assert found is not None and (found.url, found.token) == ("http://localhost:9999/", "t")
    assert discover([other]) is None  # not in a kernel: no kernel id to match
    monkeypatch.setenv("DURAGRAPH_URL", "http://elsewhere:8888/")
    monkeypatch.setenv("DURAGRAPH_TOKEN", "env-token")
    found = discover([other])
    assert found is not None and (found.url, found.token, found.source) == (
        "http://elsewhere:8888/",
        "env-token",
        "$DURAGRAPH_URL",
    )


# -- evaluations: dataset, experiment, compare, export-eval (issue 8) ------------------------------


def test_help_lists_the_evaluation_subcommands(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_line_magic("duragraph", "--help")
    out = capsys.readouterr().out
    for command in ("dataset", "experiment", "export-eval", "compare"):
        assert f"    {command}" in out
    shell.run_line_magic("duragraph", "dataset create --help")
    out = capsys.readouterr().out
    for option in (
        "--assistant A",
        "--status S",
        "--since 7d|ISO",
        "--metadata K=V",
        "--runs ID,...",
        "--new-version",
    ):
        assert option in out
    shell.run_line_magic("duragraph", "export-eval --help")
    assert "-o FILE.ipynb" in capsys.readouterr().out


def test_dataset_selection_errors_are_one_line_before_connecting(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {
        "dataset create qa": "say which runs to freeze",
        "dataset create qa --status done": "--status: unknown done",
        "dataset create qa --since yesterday": "--since 'yesterday': a duration ago",
        "dataset create qa --metadata team": "--metadata 'team': write KEY=VALUE",
        "dataset create qa --metadata =x": "the key is empty",
        "dataset create qa --metadata 'n:={x'": "--metadata n is not valid JSON",
        "dataset create qa --runs 12,34": "--runs: not an id: 12, 34",
        "dataset create qa --limit 0": "--limit must be at least 1",
        "dataset create qa --limit 5000": "at most 1000 runs",
        "dataset show qa --version 0": "--version must be at least 1",
        "dataset frobnicate": "invalid choice: 'frobnicate'",
        "experiment qa": "required: --assistant",
        "experiment qa --assistant chat --concurrency 0": "--concurrency must be at least 1",
        "compare only-one": "required: CANDIDATE",
    }
    for line, message in cases.items():
        assert shell.run_line_magic("duragraph", line) is None
        assert message in one_error_line(capsys), line


def test_since_takes_a_duration_ago_or_a_date() -> None:
    now = magics.dt.datetime(2025, 3, 10, 12, 0, tzinfo=magics.dt.UTC)
    assert magics.since("7d", now=now) == magics.dt.datetime(2025, 3, 3, 12, 0, tzinfo=magics.dt.UTC)
    assert magics.since("90m", now=now) == magics.dt.datetime(2025, 3, 10, 10, 30, tzinfo=magics.dt.UTC)
    assert magics.since("2w", now=now).day == 24
    assert magics.since("2025-01-31") == magics.dt.datetime(2025, 1, 31, tzinfo=magics.dt.UTC)
    assert magics.since("2025-01-31T08:00+02:00").utcoffset() == magics.dt.timedelta(hours=2)
    with pytest.raises(magics.MagicError):
        magics.since("7 days")


def test_evaluator_specs_on_the_command_line(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from duragraph_lab.evals.specs import evaluator_spec

    def spec(text: str) -> dict[str, Any]:
        return evaluator_spec(magics.evaluator_from_arg(shell, text))

    assert spec("exact_match:answer")["kwargs"] == {"path": "answer", "expected": None}
    assert spec("contains:Paris")["kwargs"]["text"] == "Paris"
    assert spec("latency_budget:500")["kwargs"] == {"max_ms": 500.0}
    assert spec("step_budget:4")["kwargs"] == {"max_steps": 4}
    assert spec("trajectory_match:agent,tools")["kwargs"]["expected"] == ["agent", "tools"]
    assert spec("json_field_match:a, b.c")["kwargs"] == {"fields": ["a", "b.c"]}
    assert spec('contains:{"text": "Paris", "path": "answer", "case": true}')["kwargs"] == {
        "text": "Paris",
        "path": "answer",
        "case": True,
    }
    assert spec("exact_match")["kwargs"] == {"path": None, "expected": None}
    # A name in the notebook: the user's evaluator (a built-in factory imported there is the built-in).
    shell.run_cell("def polite(example, outcome):\n    return 'please' in str(outcome.outputs)\n")
    shell.run_cell("from duragraph_lab.evals import exact_match")
    assert magics.evaluator_from_arg(shell, "polite") is shell.user_ns["polite"]
    assert spec("exact_match")["builtin"] == "exact_match"
    for text, message in (
        ("nope", "no evaluator 'nope' in this notebook and no such built-in"),
        ("fuzzy:x", "no built-in 'fuzzy'"),
        ("latency_budget:fast", "max_ms must be a number"),
        ("step_budget", "step_budget needs its max_steps"),
        ("regex:(", "regex('('): missing )"),
        ("contains:{nope", "is not valid JSON"),
        ('contains:{"txt": 1}', "bad kwargs"),
    ):
        with pytest.raises(magics.MagicError, match=re.escape(message)):
            magics.evaluator_from_arg(shell, text)
    # Through the magic: one line, no traceback.
    shell.run_line_magic("duragraph", "experiment qa --assistant chat --evaluator nope")
    assert "no evaluator 'nope'" in one_error_line(capsys)


def test_export_eval_writes_the_notebook_without_a_server(
    shell: Any, capsys: pytest.CaptureFixture[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shell.run_cell("def polite(example, outcome):\n    return 'please' in str(outcome.outputs)\n")
    exported = shell.run_line_magic(
        "duragraph",
        "export-eval qa --assistant chat --evaluator exact_match:answer --evaluator polite "
        "--baseline exp-1 --dataset-version 2 --concurrency 3",
    )
    assert isinstance(exported, session.ExportedNotebook)
    path = tmp_path / "eval-qa-chat.ipynb"
    assert exported.path == "eval-qa-chat.ipynb" and path.exists()
    text = path.read_text()
    assert "def polite(example, outcome):" in text and 'exact_match(\\"answer\\")' in text
    assert 'BASELINE = \\"exp-1\\"' in text and "DATASET_VERSION = 2" in text and "CONCURRENCY = 3" in text
    html = exported._repr_html_()
    assert "href='eval-qa-chat.ipynb'" in html and "chat" in html
    # The same line again: the same bytes.
    again = shell.run_line_magic(
        "duragraph",
        "export-eval qa --assistant chat --evaluator exact_match:answer --evaluator polite "
        "--baseline exp-1 --dataset-version 2 --concurrency 3 -o again.ipynb",
    )
    assert again.path == "again.ipynb" and (tmp_path / "again.ipynb").read_bytes() == path.read_bytes()
    # A baseline given as a variable holding an experiment report.
    shell.run_cell("class Report:\n    experiment_id = 'exp-from-var'\nbase = Report()\n")
    shell.run_line_magic(
        "duragraph", "export-eval qa --assistant chat --evaluator polite --baseline base -o b.ipynb"
    )
    assert 'BASELINE = \\"exp-from-var\\"' in (tmp_path / "b.ipynb").read_text()

    shell.run_cell("check = lambda example, outcome: True")
    assert (
        shell.run_line_magic("duragraph", "export-eval qa --assistant chat --evaluator check -o x.ipynb")
        is None
    )
    assert "a lambda has no source" in one_error_line(capsys)
    assert shell.run_line_magic("duragraph", "export-eval qa --assistant chat -o x.ipynb") is None
    assert "at least one evaluator" in one_error_line(capsys)
    assert not (tmp_path / "x.ipynb").exists()
