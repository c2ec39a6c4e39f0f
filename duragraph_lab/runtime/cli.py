"""The ``duragraph-lab`` command line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

from duragraph_lab._version import __version__
from duragraph_lab.bus.connection import redact_nats_url
from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.extras import check
from duragraph_lab.runtime.cli_options import unknown_options
from duragraph_lab.runtime.config import (
    ENV_DATA_DIR,
    ENV_DATABASE_URL,
    ENV_LANGGRAPH_CONFIG,
    ENV_NATS_URL,
    ENV_STARTED_AT,
    ENV_SUBJECT_PREFIX,
    Settings,
)
from duragraph_lab.runtime.deferred_imports import defer_rfc3987_syntax
from duragraph_lab.runtime.errors import PortInUse
from duragraph_lab.runtime.jupyter_config import labextensions_dir, server_config_dir
from duragraph_lab.runtime.processes import port_is_free
from duragraph_lab.runtime.services import Services, read_runtime_info
from duragraph_lab.store.connection import redact

log = logging.getLogger("duragraph_lab")


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (no usage dump): what is wrong and where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="duragraph-lab",
        description="Durable, observable agent graphs for Jupyter.",
        epilog="Extra --ServerApp.* (or any Jupyter) options after dev/serve are passed to Jupyter.",
    )
    parser.add_argument("--version", action="version", version=f"duragraph-lab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def server_command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--data-dir", help=f"data directory (default: ${ENV_DATA_DIR} or ./.duragraph)")
        p.add_argument("--port", type=int, help="HTTP port (default: 8888, or the next free one)")
        p.add_argument("--ip", help="interface to listen on (default: localhost)")
        p.add_argument("--no-browser", action="store_true", help="do not open a browser")
        p.add_argument(
            "--config",
            metavar="PATH",
            help="a LangGraph project's langgraph.json whose graphs to serve (default: ./langgraph.json "
            "if there is one; Jupyter's own --config is --JupyterApp.config_file)",
        )
        return p

    server_command(
        "dev", "Start embedded PostgreSQL + NATS and JupyterLab with DuraGraph Lab (nothing to provision)."
    )
    server_command("serve", "Start the DuraGraph Lab API server (jupyter_server, no Lab UI).")

    p = sub.add_parser(
        "worker",
        help="Serve compiled graphs: lease their runs and execute them durably.",
        description="Serve compiled graphs (module:attribute, e.g. my_agents.chat:graph; DuraGraph or "
        "LangGraph graphs) and/or the graphs of a langgraph.json (--config). Connects to "
        f"${ENV_DATABASE_URL} and ${ENV_NATS_URL}, else to the services of the server given by --server "
        "(asked with its token), else to the `duragraph-lab dev` running on --data-dir.",
    )
    p.add_argument("graphs", nargs="*", metavar="MODULE:ATTR", help="compiled graphs to serve")
    p.add_argument(
        "--config",
        metavar="PATH",
        help="a LangGraph project's langgraph.json: serve its graphs (default, when no MODULE:ATTR is "
        "given: ./langgraph.json)",
    )
    p.add_argument(
        "--data-dir", help=f"data directory of a running dev (default: ${ENV_DATA_DIR} or ./.duragraph)"
    )
    p.add_argument(
        "--server",
        metavar="URL",
        help="a DuraGraph Lab server (its Jupyter base URL): where its PostgreSQL and NATS are is "
        "asked from it (GET /worker/connection)",
    )
    p.add_argument("--token", help="the server's token (default: $DURAGRAPH_TOKEN or ?token= in --server)")
    p.add_argument("--concurrency", type=int, default=32, help="runs executed at once (default 32)")
    p.add_argument("--worker-id", help="a stable name for this worker (default: host-pid-random)")
    p.add_argument("--lease-ttl", type=float, default=30.0, help="seconds a lease lasts without heartbeat")
    p.add_argument(
        "--heartbeat-interval", type=float, help="seconds between heartbeats (default: a third of the TTL)"
    )
    p.add_argument("--drain-timeout", type=float, default=30.0, help="seconds to finish runs on SIGTERM")
    p.add_argument(
        "--db-retry-seconds",
        type=float,
        default=30.0,
        help="seconds to keep trying a statement after a transient database error (deadlock, "
        "cancelled statement, restart, ...) before the run fails or goes back to the queue (default 30)",
    )

    p = sub.add_parser("migrate", help="Apply database migrations to $DURAGRAPH_DATABASE_URL.")
    p.add_argument("--database-url", help=f"PostgreSQL URL (default: ${ENV_DATABASE_URL})")

    p = sub.add_parser(
        "otel",
        help="OpenTelemetry: export runs' traces from the event log (configured by the OTEL_* variables).",
    )
    otel = p.add_subparsers(dest="otel_command", required=True, metavar="ACTION", parser_class=_Parser)
    p = otel.add_parser(
        "export",
        help="Export the traces of runs (again: the ids are derived from the run ids) to the exporters "
        "OTEL_TRACES_EXPORTER names (default otlp, at OTEL_EXPORTER_OTLP_ENDPOINT).",
    )
    p.add_argument("--run", action="append", required=True, metavar="RUN_ID", help="a run id (repeatable)")
    p.add_argument("--database-url", help=f"PostgreSQL URL (default: ${ENV_DATABASE_URL})")

    p = sub.add_parser("status", help="Show the services of a running `duragraph-lab dev`.")
    p.add_argument("--data-dir", help=f"data directory (default: ${ENV_DATA_DIR} or ./.duragraph)")
    return parser


#: What each server command needs installed (the extra that brings it, for the error).
_SERVER_NEEDS = {
    "dev": (("jupyterlab", "jupyter_server", "tornado", "pydantic", "anywidget"), "lab"),
    "serve": (("jupyter_server", "tornado", "pydantic", "prometheus_client"), "server"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    command = f"{parser.prog} {args.command}"
    if args.command in ("dev", "serve"):
        own = [o for a in _subparser(parser, args.command)._actions for o in a.option_strings]
        bad = unknown_options(extra, own, positionals=args.command == "dev")
        if bad:
            print(f"{command}: error: {bad[0]} (see {command} --help)", file=sys.stderr)
            return 2
    elif extra:
        own = [o for a in _subparser(parser, args.command)._actions for o in a.option_strings]
        bad = unknown_options(extra, own, positionals=False)
        print(
            f"{command}: error: {bad[0] if bad else 'unexpected ' + extra[0]} (see {command} --help)",
            file=sys.stderr,
        )
        return 2
    _log_to_console()
    try:
        if args.command in _SERVER_NEEDS:
            if sys.platform == "win32":
                print(
                    f"{command}: error: the DuraGraph Lab server does not run on Windows: run it in WSL2 "
                    "(the client, workers against your own PostgreSQL and NATS, and the notebook layer "
                    "work on Windows)",
                    file=sys.stderr,
                )
                return 1
            modules, extra_name = _SERVER_NEEDS[args.command]
            check(modules, extra_name, command)
        if args.command in ("dev", "serve"):
            use_project(args.config, command, app_options(extra, "graphs"))
            return run_server(args, extra, lab=args.command == "dev")
        if args.command == "migrate":
            return run_migrate(args)
        if args.command == "otel":
            check(("opentelemetry.sdk",), "otel", command)
            return run_otel_export(args)
        if args.command == "worker":
            return run_worker(args)
        return run_status(args)
    except DuraGraphError as err:
        print(f"duragraph-lab: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[name]
            return found
    raise KeyError(name)


class _ConsoleFormat(logging.Formatter):
    """``duragraph-lab: <message>``; warnings and errors say so (``duragraph-lab: warning: ...``),
    so that a change made to the machine or a degraded service stands out."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        if record.levelno >= logging.WARNING:
            return f"duragraph-lab: {record.levelname.lower()}: {message}"
        return f"duragraph-lab: {message}"


def _log_to_console() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_ConsoleFormat("%(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


class _Terminated(SystemExit):
    pass


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    raise _Terminated(128 + signum)


def app_option(extra: Sequence[str], name: str) -> str | None:
    """The value of ``--DuraGraphApp.<name>`` among the options passed through to Jupyter."""
    flag = f"--DuraGraphApp.{name}"
    for i, arg in enumerate(extra):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1].strip("\"'")
        if arg == flag and i + 1 < len(extra):
            return extra[i + 1]
    return None


def app_options(extra: Sequence[str], name: str) -> list[str]:
    """Every value of ``--DuraGraphApp.<name>`` among the options passed through to Jupyter (a
    List traitlet given several times, or once as a list literal)."""
    import ast

    flag = f"--DuraGraphApp.{name}"
    values: list[str] = []
    for i, arg in enumerate(extra):
        if arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
        elif arg == flag and i + 1 < len(extra):
            value = extra[i + 1]
        else:
            continue
        value = value.strip()
        if value.startswith("["):
            try:
                values += [str(v) for v in ast.literal_eval(value)]
                continue
            except (ValueError, SyntaxError):
                pass
        values.append(value.strip("\"'"))
    return values


def use_project(config: str | None, command: str, graph_refs: Sequence[str] = ()) -> None:
    """Serve the LangGraph project at ``config`` (or in ./langgraph.json): check it, apply its
    environment and import its graphs now, so that a mistake is one line before anything starts;
    the server's in-process worker then serves them (ENV_LANGGRAPH_CONFIG). ``graph_refs``: the
    graphs ``--DuraGraphApp.graphs`` adds; an id both there and in the project is an error
    naming both."""
    from pathlib import Path

    from duragraph_lab.langgraph.project import find_project, load_project
    from duragraph_lab.worker.serve import GraphLoadError, distinct_graphs, load_graph, project_graphs

    path = Path(config) if config else find_project()
    if path is None:
        os.environ.pop(ENV_LANGGRAPH_CONFIG, None)
        return
    project = load_project(path)
    check(("langgraph",), "langgraph", f"{command} with {project.path}")
    project.check_dependencies()
    project.activate()
    # Imported, not built: a factory is first called on the server's event loop (a resource it
    # caches would otherwise belong to a loop that is gone); if it cannot build, /health says so.
    named = project_graphs(project)
    for ref in graph_refs:
        try:
            named.append((f"--DuraGraphApp.graphs ({ref})", load_graph(ref)))
        except GraphLoadError:
            continue  # not fatal: the server reports a graph it cannot load (/health, the log)
    distinct_graphs(named)
    os.environ[ENV_LANGGRAPH_CONFIG] = str(project.path)
    ignored = f" (ignored: {', '.join(project.ignored)})" if project.ignored else ""
    print(
        f"duragraph-lab: serving {project.path}: {', '.join(project.graph_ids)}{ignored}",
        file=sys.stderr,
        flush=True,
    )


def run_server(args: argparse.Namespace, extra: list[str], *, lab: bool) -> int:
    import duragraph_lab

    begin = time.monotonic()
    # The extension reports start-up time from here (the process may be older: `sh -c` execs us).
    os.environ[ENV_STARTED_AT] = str(duragraph_lab.IMPORTED_AT)
    # The extension will see these options too; resolve them the same way here, so that the
    # services we start and check are the ones it uses.
    settings = Settings.resolve(
        data_dir=args.data_dir or app_option(extra, "data_dir"),
        database_url=app_option(extra, "database_url"),
        nats_url=app_option(extra, "nats_url"),
        subject_prefix=app_option(extra, "subject_prefix"),
    )
    from duragraph_lab.runtime.heap import gc_mode

    try:
        gc_mode()  # a bad DURAGRAPH_GC: one line now, not a warning once started
    except ValueError as err:
        print(f"duragraph-lab: error: {err}", file=sys.stderr)
        return 2
    if args.port is not None and not port_is_free(args.port, args.ip or "127.0.0.1"):
        raise PortInUse(f"port {args.port} is already in use; pick another with --port")
    # Until Jupyter installs its own handlers, SIGTERM must unwind through our cleanup too.
    signal.signal(signal.SIGTERM, _raise_terminated)
    # Importing Jupyter takes seconds; do it while PostgreSQL and NATS start. (The services are
    # started from this, the main, thread: their parent-death signal is tied to it.)
    defer_rfc3987_syntax()
    preload = threading.Thread(target=_preload_jupyter, args=(lab,), name="duragraph-preload", daemon=True)
    preload.start()
    services = Services(settings)
    try:
        endpoints = services.start()
        preload.join()
        where = "embedded" if endpoints.embedded_postgres else redact(endpoints.database_url)
        nats_where = "embedded" if endpoints.embedded_nats else redact_nats_url(endpoints.nats_url)
        print(
            f"duragraph-lab: PostgreSQL ({where}) and NATS JetStream ({nats_where}) ready "
            f"in {time.monotonic() - begin:.2f}s; data in {settings.data_dir}",
            file=sys.stderr,
            flush=True,
        )
        # The extension (in this process) and every kernel Jupyter starts find the services here.
        os.environ[ENV_DATABASE_URL] = endpoints.database_url
        os.environ[ENV_NATS_URL] = endpoints.nats_url
        os.environ[ENV_DATA_DIR] = str(settings.data_dir)
        _launch_jupyter(args, extra, lab=lab)
        return 0
    finally:
        # Teardown must not be cut short by an impatient second Ctrl-C: it takes well under a second.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        services.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _preload_jupyter(lab: bool) -> None:
    with contextlib.suppress(Exception):  # a failure here resurfaces, clearly, at launch
        import duragraph_lab.api.extension  # noqa: F401

        if lab:
            import jupyterlab.labapp  # noqa: F401


def _launch_jupyter(args: argparse.Namespace, extra: list[str], *, lab: bool) -> None:
    config_dir = server_config_dir()
    os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        p for p in (str(config_dir), os.environ.get("JUPYTER_CONFIG_PATH", "")) if p
    )
    argv: list[str] = []
    if args.no_browser or not lab:
        argv.append("--ServerApp.open_browser=False")
    if args.port is not None:
        argv += [f"--ServerApp.port={args.port}", "--ServerApp.port_retries=0"]
    if args.ip:
        argv.append(f"--ServerApp.ip={args.ip}")
    if os.geteuid() == 0:
        # Containers and CI often run as root; Jupyter refuses that unless told.
        argv.append("--ServerApp.allow_root=True")
    labextensions = labextensions_dir() if lab else None
    if labextensions is not None:
        argv.append(f"--LabApp.extra_labextensions_path={labextensions}")
    argv += extra  # last, so the user's own options win
    if lab:
        from jupyterlab.labapp import LabApp

        LabApp.launch_instance(argv=argv)
    else:
        from duragraph_lab.api.extension import DuraGraphApp

        DuraGraphApp.load_other_extensions = False
        DuraGraphApp.launch_instance(argv=argv)  # type: ignore[no-untyped-call]


def run_worker(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from duragraph_lab.worker.serve import serve

    if args.concurrency < 1 or args.lease_ttl <= 0:
        print("duragraph-lab: error: --concurrency and --lease-ttl must be positive", file=sys.stderr)
        return 2
    if args.db_retry_seconds < 0:
        print("duragraph-lab: error: --db-retry-seconds cannot be negative", file=sys.stderr)
        return 2
    config = args.config
    if config is None and not args.graphs:
        from duragraph_lab.langgraph.project import find_project

        found = find_project()
        if found is None:
            print(
                "duragraph-lab worker: error: name the graphs to serve (MODULE:ATTR) or a langgraph.json "
                "(--config PATH); there is no langgraph.json here",
                file=sys.stderr,
            )
            return 2
        config = str(found)
    if config is not None:
        from duragraph_lab.langgraph.project import load_project

        project = load_project(config)
        check(("langgraph",), "langgraph", f"duragraph-lab worker with {project.path}")
        project.check_dependencies()
    logging.getLogger("duragraph_lab").setLevel(logging.INFO)
    settings = Settings.resolve(data_dir=args.data_dir)
    if args.server and not (settings.database_url and settings.nats_url):
        try:
            settings = _settings_from_server(args.server, args.token, settings)
        except DuraGraphError as err:
            print(f"duragraph-lab worker: error: {err}", file=sys.stderr)
            return 2
    from duragraph_lab.runtime.event_loop import loop_factory
    from duragraph_lab.runtime.heap import gc_mode

    try:
        factory, loop_name = loop_factory()
        heap = gc_mode()
    except ValueError as err:
        print(f"duragraph-lab worker: error: {err}", file=sys.stderr)
        return 2
    logging.getLogger("duragraph_lab").debug("worker event loop: %s", loop_name)
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(
            serve(
                args.graphs,
                settings,
                config=Path(config) if config is not None else None,
                concurrency=args.concurrency,
                worker_id=args.worker_id,
                lease_ttl=args.lease_ttl,
                heartbeat_interval=args.heartbeat_interval,
                drain_timeout=args.drain_timeout,
                db_retry_seconds=args.db_retry_seconds,
                on_ready=lambda: _settle_worker_heap(heap),
            )
        )
    return 0


def _settle_worker_heap(mode: str) -> None:
    from duragraph_lab.runtime.heap import YOUNG_THRESHOLD, settle_heap

    frozen = settle_heap(mode)
    if frozen:
        logging.getLogger("duragraph_lab.worker").info(
            "duragraph-lab worker: heap settled (%d objects of start-up frozen; the collector runs "
            "every %d new objects; DURAGRAPH_GC=default for Python's settings)",
            frozen,
            YOUNG_THRESHOLD,
        )


def _settings_from_server(url: str, token: str | None, settings: Settings) -> Settings:
    """``settings`` completed with the services of the server at ``url`` (configured URLs win)."""
    from duragraph_lab.client import DuraGraphAPIError, DuraGraphClient

    try:
        with DuraGraphClient(url, token=token, timeout=15) as client:
            connection = client.worker_connection()
    except DuraGraphAPIError as err:
        raise DuraGraphError(f"{url} did not say where its services are: {err}") from None
    return Settings.resolve(
        data_dir=settings.data_dir,
        database_url=settings.database_url or connection.database_url,
        nats_url=settings.nats_url or connection.nats_url,
        subject_prefix=_env_value(ENV_SUBJECT_PREFIX) or connection.subject_prefix,
    )


def _env_value(name: str) -> str | None:
    return os.environ.get(name, "").strip() or None


def run_migrate(args: argparse.Namespace) -> int:
    from duragraph_lab.runtime.services import check_postgres
    from duragraph_lab.store.schema import available_migrations, migrate

    url = args.database_url or os.environ.get(ENV_DATABASE_URL)
    if not url:
        print(f"duragraph-lab: error: pass --database-url or set {ENV_DATABASE_URL}", file=sys.stderr)
        return 2
    check_postgres(url)
    applied = migrate(url)
    latest = len(available_migrations())
    if applied:
        print(f"applied migrations {', '.join(str(v) for v in applied)}; schema at version {latest}")
    else:
        print(f"schema already at version {latest}")
    return 0


def run_otel_export(args: argparse.Namespace) -> int:
    import asyncio

    from duragraph_lab.otel.export import TraceExporter
    from duragraph_lab.otel.loop import trace_of
    from duragraph_lab.runtime.services import check_postgres
    from duragraph_lab.store.connection import open_pool
    from duragraph_lab.store.postgres import PostgresEventStore

    url = args.database_url or os.environ.get(ENV_DATABASE_URL)
    if not url:
        print(f"duragraph-lab: error: pass --database-url or set {ENV_DATABASE_URL}", file=sys.stderr)
        return 2
    check_postgres(url)
    exporter = TraceExporter()
    if not exporter.exporters:
        print("duragraph-lab: error: OTEL_TRACES_EXPORTER is none: nothing to export to", file=sys.stderr)
        return 2

    async def export() -> int:
        pool = await open_pool(url, min_size=1, max_size=1, name="duragraph-otel-export")
        failed = 0
        try:
            store = PostgresEventStore(pool)
            for run_id in args.run:
                try:
                    trace = await trace_of(store, run_id)
                    count = await asyncio.to_thread(exporter.export, trace)
                except Exception as err:
                    print(f"run {run_id}: error: {err}", file=sys.stderr)
                    failed += 1
                    continue
                state = "ended" if trace.ended else "not ended yet"
                print(f"run {run_id}: exported {count} spans ({state})")
        finally:
            await pool.close()
            await asyncio.to_thread(exporter.shutdown)
        return 1 if failed else 0

    return asyncio.run(export())


def run_status(args: argparse.Namespace) -> int:
    settings = Settings.resolve(data_dir=args.data_dir)
    info = read_runtime_info(settings.data_dir)
    if info is None:
        print(f"not running (data dir {settings.data_dir})")
        return 3
    e = info.endpoints
    print(f"running: pid {info.pid}, version {info.version}, data dir {info.data_dir}")
    print(f"  postgres: {redact(e.database_url)}{' (embedded)' if e.embedded_postgres else ''}")
    if e.database_tcp_url:
        print(f"  postgres tcp: {redact(e.database_tcp_url)}")
    print(f"  nats: {redact_nats_url(e.nats_url)}{' (embedded)' if e.embedded_nats else ''}")
    if "open_url" in info.extra:
        print(f"  open: {info.extra['open_url']}")
    elif "server_url" in info.extra:
        print(f"  server: {info.extra['server_url']}")
    for line in worker_lines(e.database_url):
        print(f"  {line}")
    return 0


def worker_lines(database_url: str) -> list[str]:
    """The live workers and the graphs each serves, then the registered graphs nobody serves."""
    import asyncio

    from duragraph_lab.store.connection import open_pool
    from duragraph_lab.store.postgres import PostgresEventStore
    from duragraph_lab.store.queries.assistants import PgGraphs
    from duragraph_lab.store.queries.workers import PgWorkerDirectory

    async def read() -> list[str]:
        pool = await open_pool(database_url, min_size=1, max_size=1, name="duragraph-status")
        try:
            store = PostgresEventStore(pool)
            live = await PgWorkerDirectory(store).live_workers()
            registered = await PgGraphs(store).graph_ids()
        finally:
            await pool.close()
        lines = [f"workers: {len(live)}"]
        for w in live:
            where = f"{w.hostname or '?'} pid {w.pid if w.pid is not None else '?'}"
            graphs = ", ".join(w.graphs) or "no graphs"
            lines.append(f"  {w.worker_id} ({where}): {graphs}")
        served = {g for w in live for g in w.graphs}
        unserved = [g for g in registered if g not in served]
        if unserved:
            lines.append(f"graphs no worker serves (their runs wait): {', '.join(unserved)}")
        return lines

    try:
        return asyncio.run(read())
    except (DuraGraphError, OSError) as err:
        return [f"workers: cannot read them ({err})"]


if __name__ == "__main__":
    sys.exit(main())
