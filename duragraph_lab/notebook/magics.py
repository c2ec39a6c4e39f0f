"""``%duragraph`` / ``%%duragraph``: the notebook's commands (``%duragraph --help``).

Each subcommand calls :mod:`duragraph_lab.notebook.session` and returns its object, so that the
cell shows it richly and code can keep it (``run = %duragraph run chat``). A user error (bad
arguments, invalid JSON, no server, an unknown run) prints one line to stderr and returns None;
the kernel goes on.

The kernel's worker (``serve``) runs on its own thread and event loop, so every magic may block,
at the top level of a cell or inside a block. In an ipykernel, ``%duragraph`` lines at the top
level of a cell are still run as ``await``-ed coroutines on the kernel's event loop (an input
transformer rewrites them), so that live widgets displayed earlier keep updating while
``run --wait`` waits.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import inspect
import json
import re
import shlex
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from IPython.core.magic import Magics, line_cell_magic, magics_class

from duragraph_lab.client import DuraGraphAPIError
from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.domain.run import RunStatus
from duragraph_lab.evals.evaluators import EvaluatorError
from duragraph_lab.evals.specs import BUILTINS, evaluator_from_spec
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.langgraph.sources import maybe_graph, served_source
from duragraph_lab.notebook.session import RunHandle, Session, current

MAGIC = "duragraph"


class MagicError(DuraGraphError):
    """A user error in a ``%duragraph`` line: reported in one line, no traceback."""

    code = "magic_usage"


class _HelpShown(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise MagicError(f"{message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message, file=sys.stderr)
        raise _HelpShown


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"%{MAGIC}",
        description="DuraGraph Lab in the notebook: connect, serve graphs from this kernel, run them, "
        "look at their event log, evaluate them on datasets of earlier runs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("connect", help="connect to a server (default: the Jupyter server of this kernel)")
    p.add_argument(
        "url",
        nargs="?",
        metavar="URL",
        help="the Jupyter server's URL (default: discovered, else $DURAGRAPH_URL)",
    )
    p.add_argument("--token", help="the server's token (default: discovered, else $DURAGRAPH_TOKEN)")

    p = sub.add_parser("serve", help="serve graphs defined in this notebook from this kernel")
    p.add_argument(
        "graphs",
        nargs="*",
        metavar="GRAPH_VAR",
        help="variables holding a StateGraph "
        "(served under the variable's name) or a compiled graph (under its name)",
    )
    p.add_argument(
        "--lease-ttl",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long a run stays leased to this kernel without a heartbeat (default 30); "
        "after a kernel restart its runs resume once this has passed",
    )
    p.add_argument("--concurrency", type=int, default=8, help="runs executed at once (default 8)")
    p.add_argument(
        "--database-url",
        help="PostgreSQL URL (default: $DURAGRAPH_DATABASE_URL, else the server's runtime.json)",
    )
    p.add_argument("--nats-url", help="NATS URL (default: $DURAGRAPH_NATS_URL, else runtime.json)")
    p.add_argument(
        "--replace",
        action="store_true",
        help="serve only these graphs (default: add them to those served already)",
    )
    p.add_argument("--stop", action="store_true", help="stop serving")

    p = sub.add_parser("run", help="start a run; the cell body (%%%%duragraph) is its input")
    p.add_argument("assistant", metavar="ASSISTANT", help="an assistant or graph id, or a graph variable")
    p.add_argument("--input", metavar="JSON", help="the run's input (JSON)")
    p.add_argument("--resume", metavar="JSON", help="resume an interrupted run of --thread with this value")
    p.add_argument("--thread", metavar="ID", help="the thread (default: a new one)")
    p.add_argument("--wait", action="store_true", help="wait until the run is at rest")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS", help="for --wait (300)")

    p = sub.add_parser("runs", help="runs as a DataFrame, newest first")
    p.add_argument("--thread", metavar="ID", help="runs of this thread (default: the recent threads)")
    p.add_argument("--status", metavar="S", help="pending, running, success, error, interrupted, ...")
    p.add_argument("--limit", type=int, default=20, metavar="N")

    for name, text in (
        ("events", "a run's event log as a DataFrame"),
        ("spans", "a run's node executions as a DataFrame"),
        ("replay", "re-execute a run with the graph's current code; report the first divergence"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("run", metavar="RUN", help="a run id, or a variable holding a run")

    p = sub.add_parser("fork", help="a new run branching from a point of RUN; the cell body is --update")
    p.add_argument("run", metavar="RUN", help="a run id, or a variable holding a run")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--at",
        metavar="POS|CHECKPOINT",
        help="where in RUN: a position in its event log (0 the first event, -1 the last: the rows "
        "of `%%duragraph events RUN`) or one of its checkpoint ids",
    )
    where.add_argument("--seq", type=int, metavar="SEQ", help="the global seq of the event to branch after")
    p.add_argument("--update", metavar="JSON", help="a state update applied at the fork (JSON object)")
    p.add_argument("--wait", action="store_true", help="wait until the new run is at rest")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS")

    sub.add_parser("status", help="server health and what this kernel serves")
    _eval_parsers(sub)
    return parser


EVALUATOR_HELP = (
    "an evaluator: a built-in with its first argument (exact_match:answer, contains:Paris, "
    "latency_budget:500, trajectory_match:agent,tools, llm_judge:'is it polite?'), a built-in with "
    'JSON keyword arguments (contains:\'{"text": "Paris", "path": "answer"}\'), or the name of an '
    "evaluator in this notebook; repeat for several"
)


def _eval_parsers(sub: Any) -> None:
    p = sub.add_parser("dataset", help="datasets of examples frozen from runs: create, list, show")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("create", help="freeze the matching runs into a dataset (oldest first)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--assistant", metavar="A", help="runs of this assistant (an id) or graph")
    p.add_argument("--status", nargs="+", metavar="S", help="runs in these statuses (default: at rest)")
    p.add_argument("--since", metavar="7d|ISO", help="runs created since: 30m, 12h, 7d, 2w ago, or a date")
    p.add_argument(
        "--metadata", nargs="+", metavar="K=V", help="runs with this metadata (k=v a string, k:=JSON)"
    )
    p.add_argument("--runs", action="append", metavar="ID,...", help="these runs")
    p.add_argument("--threads", action="append", metavar="ID,...", help="the runs of these threads")
    p.add_argument("--limit", type=int, metavar="N", help="at most N runs (1-1000, default 100)")
    p.add_argument("--new-version", action="store_true", help="NAME exists: freeze a new version of it")
    p = actions.add_parser("list", help="datasets as a DataFrame, most recently changed first")
    p.add_argument("--name", metavar="TEXT", help="datasets whose name contains TEXT")
    p.add_argument("--limit", type=int, default=50, metavar="N")
    p = actions.add_parser("show", help="a dataset's examples as a DataFrame")
    p.add_argument("dataset", metavar="DATASET", help="a dataset id or name")
    p.add_argument("--version", type=int, metavar="N", help="default: the latest")

    for name, text in (
        ("experiment", "re-run a dataset against an assistant and score every example"),
        ("export-eval", "write a notebook that re-runs a dataset against an assistant and scores it"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("dataset", metavar="DATASET", help="a dataset id or name")
        p.add_argument("--assistant", required=True, metavar="A", help="an assistant id or graph id")
        p.add_argument("--evaluator", action="append", default=[], metavar="SPEC", help=EVALUATOR_HELP)
        p.add_argument("--dataset-version", type=int, metavar="N", help="default: the latest")
        p.add_argument("--assistant-version", type=int, metavar="N", help="default: the latest")
        p.add_argument("--name", metavar="X", help="the experiment's name")
        p.add_argument("--concurrency", type=int, default=4, metavar="N", help="runs at once (default 4)")
        if name == "experiment":
            p.add_argument(
                "--on-server",
                action="store_true",
                help="the server runs it (built-in evaluators only): it goes on if the kernel dies",
            )
    p.add_argument("-o", "--output", metavar="FILE.ipynb", help="default: eval-DATASET-ASSISTANT.ipynb")
    p.add_argument("--baseline", metavar="EXP", help="an experiment id to compare the new one with")
    p.add_argument("--title", metavar="TEXT", help="the notebook's title")

    p = sub.add_parser("compare", help="two experiments example by example: regressions, improvements")
    p.add_argument("base", metavar="BASE", help="an experiment id, or a variable holding a report")
    p.add_argument("candidate", metavar="CANDIDATE")


PARSER = build_parser()


def parse(line: str) -> argparse.Namespace | None:
    """The parsed line, or None when help was printed."""
    try:
        argv = shlex.split(line)
    except ValueError as err:
        raise MagicError(f"cannot split the line: {err} (quote JSON with single quotes)") from None
    try:
        return PARSER.parse_args(argv)
    except _HelpShown:
        return None


# -- running a line ------------------------------------------------------------------------------


def execute(shell: Any, line: str, cell: str | None = None) -> Any:
    """Run one magic synchronously; user errors are printed, not raised."""
    try:
        args = parse(line)
        if args is None:
            return None
        return _dispatch(shell, args, cell)
    except (DuraGraphError, OSError) as err:
        report(err)
        return None


async def run_magic_async(shell: Any, line: str, cell: str | None = None) -> Any:
    """Run one magic on the running event loop (what the kernel's input transformer calls)."""
    # IPython's run_line_magic expands $name and {expr} in the line; the rewritten call must too
    # (depth 1: the frame of the cell that awaits this).
    line = shell.var_expand(line, 1)
    try:
        args = parse(line)
        if args is None:
            return None
        session = current()
        if args.command == "serve" and not args.stop:
            options = _serve_options(args)
            return await session.serve_async(_graphs(shell, args.graphs), **options)
        if args.command == "serve":
            await asyncio.to_thread(session.stop_serving)
            return session.worker
        if args.command == "replay":
            # The server asks the graph's worker to re-execute the run: maybe this kernel's, which
            # needs the loop free while the request waits.
            return await asyncio.to_thread(session.replay, _run_id(shell, args.run))
        if args.command == "experiment":
            # Blocks until every example is scored: off the loop, which this kernel's worker
            # (maybe serving the assistant's graph) needs.
            return await asyncio.to_thread(_dispatch, shell, args, cell)
        if args.command in ("run", "fork") and args.wait:
            args.wait = False
            handle: RunHandle = _dispatch(shell, args, cell)
            await handle.wait_async(args.timeout)
            return handle
        return _dispatch(shell, args, cell)
    except (DuraGraphError, OSError) as err:
        report(err)
        return None


def report(err: BaseException) -> None:
    message = str(err) or type(err).__name__
    print(f"%{MAGIC}: {message}", file=sys.stderr)


def _dispatch(shell: Any, args: argparse.Namespace, cell: str | None) -> Any:
    session = current()
    body = cell.strip() if cell and cell.strip() else None
    if body is not None and args.command not in ("run", "fork"):
        raise MagicError(f"%%{MAGIC} {args.command} takes no cell body")
    command = args.command
    if command == "connect":
        return session.connect(args.url, args.token)
    if command == "serve":
        return _serve_sync(shell, session, args)
    if command == "run":
        return _run(shell, session, args, body)
    if command == "runs":
        return session.runs(args.thread, status=args.status, limit=args.limit)
    if command == "events":
        return session.events(_run_id(shell, args.run))
    if command == "spans":
        return session.spans(_run_id(shell, args.run))
    if command == "replay":
        return session.replay(_run_id(shell, args.run))
    if command == "fork":
        if args.update is not None and body is not None:
            raise MagicError("give the update either as --update or as the cell body, not both")
        text = args.update if args.update is not None else body
        update = _json(text, "--update") if text is not None else None
        if update is not None and not isinstance(update, dict):
            raise MagicError("--update must be a JSON object")
        if args.at is not None:
            handle = session.handle(_run_id(shell, args.run)).fork(args.at, update=update)
        else:
            handle = session.fork(_run_id(shell, args.run), args.seq, update=update)
        if args.wait:
            handle.wait(args.timeout)
        return handle
    if command == "status":
        return session.status()
    if command == "dataset":
        return _dataset(shell, session, args)
    if command == "experiment":
        _positive(args, "concurrency", "dataset_version", "assistant_version")
        return session.experiment(
            args.dataset,
            _assistant(shell, args.assistant),
            [evaluator_from_arg(shell, text) for text in args.evaluator],
            name=args.name,
            dataset_version=args.dataset_version,
            assistant_version=args.assistant_version,
            concurrency=args.concurrency,
            on_server=args.on_server,
        )
    if command == "compare":
        return session.compare(_experiment_id(shell, args.base), _experiment_id(shell, args.candidate))
    if command == "export-eval":
        _positive(args, "concurrency", "dataset_version", "assistant_version")
        assistant = _assistant(shell, args.assistant)
        return session.export_eval(
            args.output or _default_notebook_name(args.dataset, assistant),
            dataset=args.dataset,
            assistant=assistant,
            evaluators=[evaluator_from_arg(shell, text) for text in args.evaluator],
            dataset_version=args.dataset_version,
            assistant_version=args.assistant_version,
            experiment_name=args.name,
            baseline=_experiment_id(shell, args.baseline) if args.baseline else None,
            concurrency=args.concurrency,
            title=args.title,
        )
    raise MagicError(f"unknown command {command!r}")  # argparse rejects it first


def _run(shell: Any, session: Session, args: argparse.Namespace, body: str | None) -> RunHandle:
    if args.input is not None and body is not None:
        raise MagicError("give the input either as --input or as the cell body, not both")
    text = args.input if args.input is not None else body
    payload = _json(text, "--input") if text is not None else None
    command = None
    if args.resume is not None:
        if args.thread is None:
            raise MagicError("--resume needs --thread (the thread of the interrupted run)")
        command = {"resume": _json(args.resume, "--resume")}
    handle = session.run(
        _assistant(shell, args.assistant), input=payload, thread_id=args.thread, command=command
    )
    if args.wait:
        handle.wait(args.timeout)
    return handle


def _serve_sync(shell: Any, session: Session, args: argparse.Namespace) -> Any:
    """``serve`` called synchronously: returns once the graphs are registered (the worker has a
    thread and loop of its own, so blocking here stops nothing)."""
    if args.stop:
        session.stop_serving()
        return session.worker
    options = _serve_options(args)
    return session.serve(_graphs(shell, args.graphs), **options)


def _serve_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.lease_ttl <= 0:
        raise MagicError("--lease-ttl must be positive")
    return {
        "lease_ttl": args.lease_ttl,
        "concurrency": args.concurrency,
        "database_url": args.database_url,
        "nats_url": args.nats_url,
        "replace": args.replace,
    }


def _graphs(shell: Any, names: list[str]) -> dict[str, Any]:
    if not names:
        raise MagicError("name the graphs to serve: %duragraph serve GRAPH_VAR [...]")
    out = {}
    for name in names:
        if name not in shell.user_ns:
            raise MagicError(f"no variable {name!r} in this notebook")
        value = shell.user_ns[name]
        if not isinstance(value, (StateGraph, CompiledGraph)) and not maybe_graph(value):
            raise MagicError(
                f"{name} is a {type(value).__name__}, not a StateGraph or compiled graph "
                "(DuraGraph's or LangGraph's)"
            )
        out[name] = value
    return out


def _assistant(shell: Any, name: str) -> str:
    value = shell.user_ns.get(name) if name.isidentifier() else None
    if isinstance(value, CompiledGraph):
        return value.name
    if isinstance(value, StateGraph):
        return name  # served under the variable's name
    if maybe_graph(value):
        return served_source(name, value).graph_id
    return name


def _run_id(shell: Any, ref: str) -> str:
    value = shell.user_ns.get(ref) if ref.isidentifier() else None
    if isinstance(value, RunHandle):
        return value.run_id
    return ref


# -- evaluations ------------------------------------------------------------------------------------

_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)$")
_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
# How a built-in's first argument is written after the colon (default: as the text itself).
_FIRST_ARGUMENT: dict[str, Callable[[str], Any]] = {
    "json_field_match": lambda text: [part.strip() for part in text.split(",") if part.strip()],
    "trajectory_match": lambda text: [part.strip() for part in text.split(",") if part.strip()],
    "latency_budget": float,
    "step_budget": int,
}


def _dataset(shell: Any, session: Session, args: argparse.Namespace) -> Any:
    if args.action == "list":
        _positive(args, "limit")
        return session.datasets(name=args.name, limit=args.limit)
    if args.action == "show":
        _positive(args, "version")
        return session.dataset_examples(args.dataset, version=args.version)
    _positive(args, "limit")
    if args.limit is not None and args.limit > 1000:
        raise MagicError("--limit: at most 1000 runs per dataset version")
    selection: dict[str, Any] = {}
    if args.assistant:
        assistant = _assistant(shell, args.assistant)
        selection["assistant_id" if _UUID.match(assistant) else "graph_id"] = assistant
    if args.status:
        known = {s.value for s in RunStatus}
        unknown = [s for s in args.status if s not in known]
        if unknown:
            raise MagicError(f"--status: unknown {', '.join(unknown)} (one of {', '.join(sorted(known))})")
        selection["status"] = args.status[0] if len(args.status) == 1 else list(args.status)
    if args.since:
        selection["created_after"] = since(args.since)
    if args.metadata:
        selection["run_metadata"] = _metadata(args.metadata)
    if args.runs:
        selection["ids"] = _ids(args.runs, "--runs")
    if args.threads:
        selection["thread_ids"] = _ids(args.threads, "--threads")
    if not selection and args.limit is None:
        raise MagicError(
            "say which runs to freeze: --assistant, --status, --since, --metadata, --runs, --threads "
            "or --limit (the oldest N runs at rest)"
        )
    try:
        return session.dataset_create(args.name, new_version=args.new_version, limit=args.limit, **selection)
    except DuraGraphAPIError as err:
        if err.status == 409 and not args.new_version:
            raise MagicError(
                f"a dataset named {args.name!r} exists: --new-version freezes a new version of it"
            ) from None
        raise


def since(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """``7d``, ``12h``, ``30m``, ``2w``, ``90s`` ago, or an ISO 8601 date/time (UTC if naive)."""
    found = _AGO.match(text.strip())
    if found is not None:
        return (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=float(found[1]) * _SECONDS[found[2]])
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise MagicError(
            f"--since {text!r}: a duration ago (30m, 12h, 7d, 2w) or an ISO date (2025-01-31T08:00)"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _metadata(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, typed, value = pair.partition(":=")
        if not typed:
            key, sep, value = pair.partition("=")
            if not sep:
                raise MagicError(f"--metadata {pair!r}: write KEY=VALUE (a string) or KEY:=JSON")
        if not key:
            raise MagicError(f"--metadata {pair!r}: the key is empty")
        out[key] = _json(value, f"--metadata {key}") if typed else value
    return out


def _ids(values: list[str], what: str) -> list[str]:
    ids = [part.strip() for value in values for part in value.split(",") if part.strip()]
    bad = [i for i in ids if not _UUID.match(i)]
    if bad:
        raise MagicError(f"{what}: not an id: {', '.join(bad)}")
    return ids


def _positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise MagicError(f"--{name.replace('_', '-')} must be at least 1, not {value}")


def evaluator_from_arg(shell: Any, text: str) -> Any:
    """An evaluator from ``--evaluator SPEC`` (see ``EVALUATOR_HELP``)."""
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon:
        found = shell.user_ns.get(name) if name.isidentifier() else None
        if callable(found) and found is not BUILTINS.get(name):
            return found  # the user's evaluator (or a built-in made in the notebook)
        if name not in BUILTINS:
            raise MagicError(
                f"--evaluator {text!r}: no evaluator {name!r} in this notebook and no such built-in "
                f"(one of {', '.join(BUILTINS)})"
            )
        first, parameter = next(iter(inspect.signature(BUILTINS[name]).parameters.items()))
        if parameter.default is inspect.Parameter.empty:
            raise MagicError(f"--evaluator {name} needs its {first}: {name}:{first.upper()}")
        spec: dict[str, Any] = {"builtin": name, "kwargs": {}}
    else:
        if name not in BUILTINS:
            raise MagicError(f"--evaluator {text!r}: no built-in {name!r} (one of {', '.join(BUILTINS)})")
        if value.lstrip().startswith("{"):
            kwargs = _json(value, f"--evaluator {name}")
            if not isinstance(kwargs, dict):
                raise MagicError(f"--evaluator {name}: the keyword arguments must be a JSON object")
        else:
            first = next(iter(inspect.signature(BUILTINS[name]).parameters))
            try:
                kwargs = {first: _FIRST_ARGUMENT.get(name, str)(value)}
            except ValueError:
                raise MagicError(f"--evaluator {text!r}: {first} must be a number") from None
        spec = {"builtin": name, "kwargs": kwargs}
    try:
        return evaluator_from_spec(spec)
    except EvaluatorError as err:
        raise MagicError(f"--evaluator {text!r}: {err}") from None


def _experiment_id(shell: Any, ref: str) -> str:
    value = shell.user_ns.get(ref) if ref.isidentifier() else None
    experiment_id = getattr(value, "experiment_id", None)
    return experiment_id if isinstance(experiment_id, str) else ref


def _default_notebook_name(dataset: str, assistant: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"eval-{dataset}-{assistant}").strip("-.")
    return f"{safe}.ipynb"


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as err:
        raise MagicError(f"{what} is not valid JSON: {err}") from None


# -- IPython glue ----------------------------------------------------------------------------------


@magics_class
class DuraGraphMagics(Magics):
    @line_cell_magic
    def duragraph(self, line: str, cell: str | None = None) -> Any:
        """DuraGraph Lab: %duragraph --help"""
        return execute(self.shell, line, cell)


_CALL = re.compile(
    r"^(?P<lhs>(?:[A-Za-z_][\w.]*\s*=\s*)?)get_ipython\(\)\.run_(?:line|cell)_magic\('"
    + MAGIC
    + r"', (?P<args>.*)\)(?P<tail>\s*)$"
)


def await_magics(lines: list[str]) -> list[str]:
    """Input transformer: top-level ``%duragraph`` calls become ``await``-ed coroutines."""
    out = []
    for line in lines:
        match = _CALL.match(line)
        if match is None:
            out.append(line)
            continue
        out.append(
            f"{match['lhs']}await __import__('duragraph_lab.notebook.magics', fromlist=['_'])"
            f".run_magic_async(get_ipython(), {match['args']}){match['tail']}"
        )
    return out


def _awaits_in_kernel(shell: Any) -> bool:
    """The kernel runs async cells on its own loop (ipykernel with autoawait on)."""
    return getattr(shell, "kernel", None) is not None and bool(getattr(shell, "autoawait", False))


def load_ipython_extension(shell: Any) -> None:
    shell.register_magics(DuraGraphMagics)
    if _awaits_in_kernel(shell) and await_magics not in shell.input_transformers_post:
        shell.input_transformers_post.append(await_magics)


def unload_ipython_extension(shell: Any) -> None:
    if await_magics in shell.input_transformers_post:
        shell.input_transformers_post.remove(await_magics)
