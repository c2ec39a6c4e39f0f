"""``%duragraph`` / ``%%duragraph``: the notebook's commands (``%duragraph --help``).

Each subcommand calls :mod:`duragraph_lab.notebook.session` and returns its object, so that the
cell shows it richly and code can keep it (``run = %duragraph run chat``). A user error (bad
arguments, invalid JSON, no server, an unknown run) prints one line to stderr and returns None;
the kernel goes on.

In an ipykernel, ``%duragraph`` lines at the top level of a cell are run as ``await``-ed
coroutines on the kernel's event loop (an input transformer rewrites them), so that ``serve``
finishes registering its graphs, and ``run --wait`` waits, while the kernel's own worker keeps
executing the run on the same loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shlex
import sys
from typing import Any, NoReturn

from IPython.core.magic import Magics, line_cell_magic, magics_class

from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.state_graph import StateGraph
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
        "look at their event log.",
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

    p = sub.add_parser("fork", help="a new run branching after event SEQ of RUN; the cell body is --update")
    p.add_argument("run", metavar="RUN", help="a run id, or a variable holding a run")
    p.add_argument("--at", type=int, required=True, metavar="SEQ", help="the event seq to branch after")
    p.add_argument("--update", metavar="JSON", help="a state update applied at the fork (JSON object)")
    p.add_argument("--wait", action="store_true", help="wait until the new run is at rest")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS")

    sub.add_parser("status", help="server health and what this kernel serves")
    return parser


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
            await session.stop_serving()
            return session.worker
        if args.command == "replay":
            # The server asks the graph's worker to re-execute the run: maybe this kernel's, which
            # needs the loop free while the request waits.
            return await asyncio.to_thread(session.replay, _run_id(shell, args.run))
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
        handle = session.fork(_run_id(shell, args.run), args.at, update=update)
        if args.wait:
            handle.wait(args.timeout)
        return handle
    if command == "status":
        return session.status()
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
    """``serve`` called synchronously: start it on the running loop and report when done."""
    if args.stop:
        if not _loop():
            raise MagicError("serve needs a running event loop (a Jupyter kernel)")
        asyncio.get_running_loop().create_task(session.stop_serving(), name="duragraph-kernel-stop")
        return session.worker
    options = _serve_options(args)
    task = session.serve(_graphs(shell, args.graphs), **options)

    def done(t: asyncio.Task[Any]) -> None:
        if not t.cancelled() and t.exception() is not None:
            report(t.exception())  # type: ignore[arg-type]

    task.add_done_callback(done)
    print(
        f"%{MAGIC}: starting to serve {', '.join(args.graphs)} in the background "
        "(`await duragraph_lab.notebook.session.current().starting` waits for it)",
        file=sys.stderr,
    )
    return None


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


def _loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _graphs(shell: Any, names: list[str]) -> dict[str, Any]:
    if not names:
        raise MagicError("name the graphs to serve: %duragraph serve GRAPH_VAR [...]")
    out = {}
    for name in names:
        if name not in shell.user_ns:
            raise MagicError(f"no variable {name!r} in this notebook")
        value = shell.user_ns[name]
        if not isinstance(value, (StateGraph, CompiledGraph)):
            raise MagicError(f"{name} is a {type(value).__name__}, not a StateGraph or compiled graph")
        out[name] = value
    return out


def _assistant(shell: Any, name: str) -> str:
    value = shell.user_ns.get(name) if name.isidentifier() else None
    if isinstance(value, CompiledGraph):
        return value.name
    if isinstance(value, StateGraph):
        return name  # served under the variable's name
    return name


def _run_id(shell: Any, ref: str) -> str:
    value = shell.user_ns.get(ref) if ref.isidentifier() else None
    if isinstance(value, RunHandle):
        return value.run_id
    return ref


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
