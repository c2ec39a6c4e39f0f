"""%duragraph against a real server (``api_server``) from an IPython shell: connect, run the chat
demo and wait, the run's frames, runs, replay, fork, status, and user errors as one line."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from duragraph_lab.client.models import ReplayReport
from duragraph_lab.notebook import session
from duragraph_lab.notebook.session import Connection, DatasetView, RunHandle, Status
from tests.apiserver import ApiServer

HELLO = json.dumps({"messages": [{"role": "user", "content": "what is 6 * 7"}]})


@pytest.fixture
def shell(api_server: ApiServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(session, "_SESSION", None)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "duragraph_lab")
    conn = ip.run_line_magic(
        "duragraph", f"connect http://127.0.0.1:{api_server.port}/ --token {api_server.token}"
    )
    assert isinstance(conn, Connection)
    yield ip
    ip.run_line_magic("unload_ext", "duragraph_lab")


def errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return [line for line in out.err.splitlines() if line.startswith("%duragraph")]


def test_connect_shows_the_server(shell: Any, api_server: ApiServer) -> None:
    conn = session.current().connection
    assert conn is not None
    assert conn.api_url == f"http://127.0.0.1:{api_server.port}/duragraph/api/v1/"
    assert conn.health.ok and "chat" in conn.health.graphs
    assert "chat" in conn._repr_html_() and conn.info.version in repr(conn) + conn._repr_html_()


def test_run_chat_and_wait(shell: Any) -> None:
    run = shell.run_line_magic("duragraph", f"run chat --input '{HELLO}' --wait --timeout 60")
    assert isinstance(run, RunHandle)
    assert run.status == "success"
    assert run.values["messages"][-1]["content"] == "The result is 42."
    bundle = run._repr_mimebundle_()
    assert run.run_id in bundle["text/html"] and "success" in bundle["text/html"]
    view = run.view()  # the RunView widget, when the widgets' front-end is built
    if view is not None:
        assert view.run_id == run.run_id and view.run_status == "success"
        assert "application/vnd.jupyter.widget-view+json" in bundle

    # the cell body as the input, on the same thread
    again = shell.run_cell_magic("duragraph", f"run chat --thread {run.thread_id} --wait", HELLO)
    assert again.thread_id == run.thread_id and again.run_id != run.run_id
    assert again.status == "success"

    runs = shell.run_line_magic("duragraph", f"runs --thread {run.thread_id}")
    assert list(runs["run_id"]) == [again.run_id, run.run_id]
    assert set(runs["status"]) == {"success"}
    assert str(runs["created_at"].dtype) == "datetime64[ns, UTC]"
    recent = shell.run_line_magic("duragraph", "runs --limit 50 --status success")
    assert run.run_id in set(recent["run_id"])


def test_frames_replay_and_fork(shell: Any) -> None:
    shell.run_cell(
        "r = get_ipython().run_line_magic('duragraph', 'run map_reduce --input \\'{\"topic\": \"solar\"}\\' --wait')"
    )
    run = shell.user_ns["r"]
    assert isinstance(run, RunHandle) and run.status == "success"

    events = shell.run_line_magic("duragraph", "events r")  # a variable holding a run works too
    assert list(events["seq"]) == sorted(events["seq"]) and len(events) > 5
    assert "node_completed" in set(events["type"])
    assert events.equals(run.events())
    spans = shell.run_line_magic("duragraph", f"spans {run.run_id}")
    assert len(spans) > 0 and set(spans["status"]) == {"ok"}

    report = shell.run_line_magic("duragraph", "replay r")
    assert isinstance(report, ReplayReport) and report.identical and report.tasks_checked > 0

    # --at: a position in this run's events (the frame's row), not a server-wide seq.
    planned = events[(events["type"] == "step_planned") & (events["step"] == 1)]
    position, seq = int(planned.index[0]), int(planned["seq"].iloc[0])
    assert position != seq  # the server's other runs came first: the two differ
    fork = shell.run_line_magic(
        "duragraph", f'fork r --at {position} --update \'{{"topic": "wind power"}}\' --wait --timeout 60'
    )
    assert isinstance(fork, RunHandle) and fork.run_id != run.run_id
    assert fork.status == "success" and "wind" in json.dumps(fork.values)
    created = fork.events()
    origin = created[created["type"] == "run_created"]["data"].iloc[0]
    assert origin["base"]["seq"] == seq, origin  # branched after that very event
    by_seq = shell.run_line_magic("duragraph", f"fork r --seq {seq} --wait")
    assert by_seq.status == "success"
    # a position outside the run: said in one line
    assert shell.run_line_magic("duragraph", "fork r --at 100000") is None


def test_status(shell: Any) -> None:
    status = shell.run_line_magic("duragraph", "status")
    assert isinstance(status, Status) and status.ok
    assert status.worker["serving"] == []
    assert "this kernel serves" in status._repr_html_()


def test_user_errors_against_the_server(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert shell.run_line_magic("duragraph", "run chat --input '{\"messages\": [}'") is None
    (line,) = errors(capsys)
    assert "--input is not valid JSON" in line

    assert shell.run_line_magic("duragraph", "events 00000000-0000-0000-0000-000000000000") is None
    (line,) = errors(capsys)
    assert "does not exist" in line

    assert shell.run_line_magic("duragraph", "run no_such_assistant --input '{}'") is None
    (line,) = errors(capsys)
    assert "no_such_assistant" in line

    assert shell.run_line_magic("duragraph", "frobnicate") is None
    (line,) = errors(capsys)
    assert "invalid choice" in line
    assert shell.run_cell("40 + 2").result == 42


def test_datasets_experiments_and_comparison(
    shell: Any, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    tag = uuid.uuid4().hex[:10]
    recent = []
    for text in ("what is 6 * 7", "hello there"):
        payload = json.dumps({"messages": [{"role": "user", "content": text}]})
        recent.append(shell.run_line_magic("duragraph", f"run chat --input '{payload}' --wait"))
    name = f"magic-{tag}"
    ids = ",".join(r.run_id for r in recent)

    created = shell.run_line_magic("duragraph", f"dataset create {name} --assistant chat --runs {ids}")
    assert isinstance(created, DatasetView), errors(capsys)
    assert created.version == 1 and created.example_count == 2
    assert name in created._repr_html_() and "2 examples" in repr(created)
    again = shell.run_line_magic("duragraph", f"dataset create {name} --runs {recent[0].run_id}")
    assert again is None and "exists: --new-version freezes a new version" in errors(capsys)[0]
    v2 = shell.run_line_magic("duragraph", f"dataset create {name} --runs {recent[0].run_id} --new-version")
    assert v2.version == 2 and v2.example_count == 1 and v2.dataset_id == created.dataset_id

    listed = shell.run_line_magic("duragraph", f"dataset list --name {tag}")
    assert list(listed["name"]) == [name] and list(listed["version"]) == [2]
    examples = shell.run_line_magic("duragraph", f"dataset show {name} --version 1")
    assert sorted(examples["run_id"]) == sorted(r.run_id for r in recent)

    shell.run_cell("def polite(example, outcome):\n    return 'please' not in str(outcome.outputs)\n")
    line = (
        f"experiment {name} --assistant chat --dataset-version 1 --evaluator exact_match:messages.-1.content"
    )
    shell.run_cell(f"first = get_ipython().run_line_magic('duragraph', {line + ' --evaluator polite'!r})")
    shell.run_cell(
        f"second = get_ipython().run_line_magic('duragraph', {line + ' --name again --on-server'!r})"
    )
    first, second = shell.user_ns["first"], shell.user_ns["second"]
    assert first is not None and second is not None, errors(capsys)
    assert first.experiment.result_count == 2 and first.experiment.status == "completed"
    assert {e["name"] for e in first.experiment.evaluators} == {"exact_match(messages.-1.content)", "polite"}
    assert second.experiment.name == "again"
    assert (second.experiment.runner, second.experiment.status) == ("server", "completed")
    # A function of this kernel cannot run on the server: said, and nothing is started.
    assert shell.run_line_magic("duragraph", line + " --evaluator polite --on-server") is None
    assert "built-in evaluators only" in errors(capsys)[0]

    comparison = shell.run_line_magic("duragraph", "compare first second")  # variables holding reports
    assert comparison is not None, errors(capsys)
    assert comparison.summary["regressed"] == 0 and len(comparison.frame()) == 2
    assert "regressed" in comparison._repr_html_()

    path = tmp_path / "eval.ipynb"
    exported = shell.run_line_magic(
        "duragraph", f"export-eval {name} --assistant chat --evaluator polite --baseline first -o {path}"
    )
    assert exported is not None and path.exists(), errors(capsys)
    assert first.experiment_id in path.read_text()

    assert shell.run_line_magic("duragraph", "dataset show no-such-dataset") is None
    assert "no-such-dataset" in errors(capsys)[0]
    assert shell.run_line_magic("duragraph", f"experiment {name} --assistant no_such_assistant") is None
    assert "no_such_assistant" in errors(capsys)[0]
