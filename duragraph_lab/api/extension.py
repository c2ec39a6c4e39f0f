"""The Jupyter server extension: configuration traits and the backend's lifecycle, nothing more."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from typing import Any

import psutil
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, List, Unicode, Union, default

from duragraph_lab.api.backend import Backend
from duragraph_lab.api.handlers.base import API_PREFIX
from duragraph_lab.api.handlers.system import UnknownRouteHandler
from duragraph_lab.api.handlers.ui import ui_handlers
from duragraph_lab.api.routes import handlers
from duragraph_lab.bus import jetstream
from duragraph_lab.control.edits import EDIT_REQUEST_TIMEOUT
from duragraph_lab.control.item_store import StoreSettings
from duragraph_lab.control.webhooks import WebhookPolicy, WebhookSettings
from duragraph_lab.langgraph.project import Project, ProjectError, load_project
from duragraph_lab.runtime import config
from duragraph_lab.runtime.services import update_runtime_extra


class DuraGraphApp(ExtensionApp):
    name = "duragraph_lab"
    description = "DuraGraph Lab: durable, observable agent graphs"
    extension_url = f"/{API_PREFIX}/info"
    load_other_extensions = True
    #: Settling the process's heap once it serves (a server our CLI started: runtime/heap.py).
    _settling: asyncio.Task[None] | None = None

    database_url = Unicode(
        None, allow_none=True, config=True, help="PostgreSQL URL; unset: embedded PostgreSQL under data_dir."
    )
    nats_url = Unicode(None, allow_none=True, config=True, help="NATS URL; unset: embedded nats-server -js.")
    data_dir = Unicode(config=True, help="Where embedded services keep their data.")
    subject_prefix = Unicode(config=True, help="First token of every NATS subject DuraGraph uses.")
    graphs = List(
        Unicode(),
        default_value=[],
        config=True,
        help="Compiled graphs (module:attribute) served by a worker inside this server, e.g. the "
        "demo assistants under `duragraph-lab dev`. Production deployments run `duragraph-lab worker`.",
    )
    langgraph_config = Unicode(
        None,
        allow_none=True,
        config=True,
        help="A LangGraph project's langgraph.json: its graphs are served by the in-process worker "
        "(with those of `graphs`), its store settings replace the store_* ones. `duragraph-lab dev` "
        f"and `serve` set it (env {config.ENV_LANGGRAPH_CONFIG}) from ./langgraph.json or --config.",
    )
    worker_concurrency = Int(32, config=True, help="Runs the in-process worker executes at once.")
    worker_lease_ttl = Float(
        30.0,
        config=True,
        help="Seconds a run leased by the in-process worker stays its own without a heartbeat; after a "
        "crash, another worker takes the run over once this has passed.",
    )
    max_body_bytes = Int(
        10 * 1024 * 1024, config=True, help="Largest request body the API accepts (bigger: 413)."
    )
    keepalive_seconds = Float(
        5.0,
        config=True,
        help="Seconds between keep-alives on idle streams (SSE comments, newlines on /wait).",
    )
    share_worker_connection = Bool(
        True,
        config=True,
        help="Serve GET /worker/connection: the PostgreSQL and NATS URLs, credentials included, to "
        "authenticated clients, so that a kernel or worker that knows only the server's URL and token "
        "can serve graphs. Turn off where token holders must not reach the database directly.",
    )
    relay_lease_ttl = Float(
        5.0,
        config=True,
        help="Seconds the outbox relay's leadership lasts without a renewal (renewed every third of it). "
        "If the server whose relay publishes events dies or freezes, another server's relay takes "
        "over within about this long.",
    )
    relay_lag_threshold = Float(
        10.0,
        config=True,
        help="/health answers 503 (degraded) when the oldest event not yet published to NATS is "
        "older than this many seconds, on every server (the lag is read from PostgreSQL).",
    )
    jetstream_max_bytes = Union(
        [Int(), Unicode()],
        config=True,
        help="Size limit of the JetStream stream DuraGraph creates (bytes, or e.g. '256MB', '4GiB'; "
        f"env {jetstream.ENV_MAX_BYTES}; default 4GiB). When JetStream cannot reserve it, the stream "
        "is created as large as it can (at least jetstream_min_bytes) and a warning says so. An "
        "existing stream is left as it is.",
    )
    jetstream_min_bytes = Union(
        [Int(), Unicode()],
        config=True,
        help="The smallest JetStream stream worth creating when the configured size does not fit "
        f"(env {jetstream.ENV_MIN_BYTES}; default 64MiB); below it /health says what to do.",
    )
    jetstream_max_age = Union(
        [Float(), Int(), Unicode()],
        config=True,
        help=f"How long the JetStream stream keeps events (seconds, or e.g. '36h', '7d'; env "
        f"{jetstream.ENV_MAX_AGE}; default 7d). PostgreSQL keeps them regardless.",
    )
    jetstream_replicas = Union(
        [Int(), Unicode()],
        default_value=None,
        allow_none=True,
        config=True,
        help="Copies of the JetStream stream (3 on a 3-node NATS cluster; env "
        f"{jetstream.ENV_REPLICAS}). Unset: a stream DuraGraph creates has 1 and an existing one keeps "
        "its own; set: the stream is created with it, and an existing one is changed to it at start-up.",
    )
    store_default_ttl = Float(
        None,
        allow_none=True,
        config=True,
        help="Minutes an item of the store lives when a put gives no ttl (None: forever); "
        "langgraph.json's store.ttl.default_ttl.",
    )
    store_refresh_on_read = Bool(
        True,
        config=True,
        help="Whether reads of the store refresh the TTL of the items they return when they do not "
        "say (refresh_ttl); langgraph.json's store.ttl.refresh_on_read.",
    )
    store_sweep_interval_minutes = Float(
        5.0,
        allow_none=True,
        config=True,
        help="Minutes between two passes of this server's TTL sweeper, which deletes the store's expired "
        "items (None: no sweeper here; expired items are hidden from reads either way); langgraph.json's "
        "store.ttl.sweep_interval_minutes.",
    )
    webhook_allow = List(
        Unicode(),
        config=True,
        help="Webhook destinations allowed although private or local: host names or networks (CIDR, "
        "e.g. 10.0.0.0/8, 127.0.0.1/32). Private, loopback, link-local, multicast and reserved addresses "
        "are refused unless listed here.",
    )
    webhook_deny = List(
        Unicode(),
        config=True,
        help="Webhook destinations always refused: host names or networks (CIDR).",
    )
    webhook_allow_only = Bool(
        False, config=True, help="Refuse every webhook destination not in webhook_allow (an allow list)."
    )
    webhook_max_attempts = Int(
        8, config=True, help="Attempts at delivering a webhook before it is given up (webhook_abandoned)."
    )
    webhook_backoff = Float(
        1.0, config=True, help="Seconds before the second attempt at a webhook; doubles after each failure."
    )
    webhook_max_backoff = Float(300.0, config=True, help="The longest wait between two attempts (seconds).")
    webhook_timeout = Float(10.0, config=True, help="Seconds an attempt waits for the receiver's answer.")
    edit_request_timeout = Float(
        EDIT_REQUEST_TIMEOUT,
        config=True,
        help="Seconds update_state waits for a worker serving a native graph to apply the edit when "
        "this server lacks the graph's code; then the edit is withdrawn and the call answers 503 "
        "(docs/api.md, State edits).",
    )
    cron_interval = Float(
        1.0,
        config=True,
        help="Seconds between two passes of this server's cron scheduler: a tick fires within about "
        "that much after its time (docs/operations.md, Crons).",
    )
    start_embedded = Bool(
        False,
        config=True,
        help="Start embedded PostgreSQL and NATS when no URL is configured and no `duragraph-lab dev` "
        "runs on data_dir. Off by default, so that a plain `jupyter lab` never creates a database "
        "in whatever directory it was started from.",
    )

    @default("data_dir")
    def _data_dir_default(self) -> str:
        return os.environ.get(config.ENV_DATA_DIR) or config.DEFAULT_DATA_DIR

    @default("langgraph_config")
    def _langgraph_config_default(self) -> str | None:
        return os.environ.get(config.ENV_LANGGRAPH_CONFIG) or None

    @default("subject_prefix")
    def _subject_prefix_default(self) -> str:
        return os.environ.get(config.ENV_SUBJECT_PREFIX) or config.DEFAULT_SUBJECT_PREFIX

    @default("jetstream_max_bytes")
    def _jetstream_max_bytes_default(self) -> str:
        return os.environ.get(jetstream.ENV_MAX_BYTES) or "4GiB"

    @default("jetstream_min_bytes")
    def _jetstream_min_bytes_default(self) -> str:
        return os.environ.get(jetstream.ENV_MIN_BYTES) or "64MiB"

    @default("jetstream_max_age")
    def _jetstream_max_age_default(self) -> str:
        return os.environ.get(jetstream.ENV_MAX_AGE) or "7d"

    @default("jetstream_replicas")
    def _jetstream_replicas_default(self) -> str | None:
        return os.environ.get(jetstream.ENV_REPLICAS, "").strip() or None

    def stream_policy(self) -> jetstream.StreamPolicy:
        """The JetStream settings as a policy; ValueError saying which setting is wrong."""
        values = {}
        for name, parse in (
            ("jetstream_max_bytes", jetstream.parse_size),
            ("jetstream_min_bytes", jetstream.parse_size),
            ("jetstream_max_age", jetstream.parse_duration),
        ):
            try:
                values[name] = parse(getattr(self, name))
            except ValueError as err:
                raise ValueError(f"c.DuraGraphApp.{name}: {err}") from None
        replicas = self.jetstream_replicas
        if replicas is not None and (str(replicas).strip() not in {"1", "2", "3", "4", "5"}):
            raise ValueError(
                f"c.DuraGraphApp.jetstream_replicas ({jetstream.ENV_REPLICAS}): {replicas!r} is not "
                "a number of copies from 1 to 5"
            )
        return jetstream.StreamPolicy(
            max_bytes=int(values["jetstream_max_bytes"]),
            min_bytes=int(values["jetstream_min_bytes"]),
            max_age_seconds=values["jetstream_max_age"],
            replicas=None if replicas is None else int(replicas),
        )

    def initialize_settings(self) -> None:
        settings = config.Settings.resolve(
            data_dir=self.data_dir,
            database_url=self.database_url,
            nats_url=self.nats_url,
            subject_prefix=self.subject_prefix,
        )
        try:
            policy, invalid = self.stream_policy(), None
        except ValueError as err:
            policy, invalid = None, f"invalid configuration: {err}"
        try:
            store_settings: StoreSettings | None = StoreSettings(
                default_ttl=self.store_default_ttl,
                refresh_on_read=self.store_refresh_on_read,
                sweep_interval_minutes=self.store_sweep_interval_minutes,
            )
        except ValueError as err:
            store_settings, invalid = None, f"invalid configuration: c.DuraGraphApp.store_*: {err}"
        if not self.edit_request_timeout > 0:
            invalid = (
                f"invalid configuration: c.DuraGraphApp.edit_request_timeout is "
                f"{self.edit_request_timeout!r}: give a number of seconds above 0"
            )
        project: Project | None = None
        if self.langgraph_config:
            try:
                project = load_project(self.langgraph_config)
                store_settings = project.store
            except ProjectError as err:
                invalid = f"invalid configuration: {err}"
        self.backend = Backend(
            settings,
            start_embedded=self.start_embedded,
            graphs=self.graphs,
            project=project,
            worker_concurrency=self.worker_concurrency,
            worker_lease_ttl=self.worker_lease_ttl,
            max_body_bytes=self.max_body_bytes,
            keepalive_seconds=self.keepalive_seconds,
            share_worker_connection=self.share_worker_connection,
            relay_lease_ttl=self.relay_lease_ttl,
            relay_lag_threshold=self.relay_lag_threshold,
            cron_interval=max(0.05, self.cron_interval),
            stream_policy=policy,
            store_settings=store_settings,
            config_error=invalid,
            webhook_policy=WebhookPolicy(
                allow=tuple(self.webhook_allow),
                deny=tuple(self.webhook_deny),
                allow_only=self.webhook_allow_only,
            ),
            edit_request_timeout=self.edit_request_timeout,
            webhook_settings=WebhookSettings(
                max_attempts=max(1, self.webhook_max_attempts),
                first_backoff=max(0.0, self.webhook_backoff),
                max_backoff=max(0.0, self.webhook_max_backoff),
                timeout=max(0.1, self.webhook_timeout),
            ),
        )
        # Embedded services are child processes tied to the thread that starts them: start them
        # here, on the main thread, before the server accepts requests.
        self.backend.prepare()
        self.settings["duragraph_backend"] = self.backend

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())
        self.handlers.extend(ui_handlers())  # the dashboard page, {base_url}duragraph/ui/
        # Last, so that it only catches what no route matched.
        self.handlers.append((rf"/{API_PREFIX}/(.*)", UnknownRouteHandler))

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        if not (sys.stdin and sys.stdin.isatty()):
            # Jupyter handles SIGINT only on a terminal; elsewhere it is a KeyboardInterrupt that
            # skips every extension's cleanup. Make it the same clean stop as SIGTERM.
            signal.signal(signal.SIGINT, serverapp._signal_stop)
        await self.backend.start()
        try:
            await self.backend.wait_ready(timeout=15)
        except TimeoutError:
            self.log.warning("DuraGraph Lab: NATS not connected yet; the relay starts once it is")
        # From the CLI's start when it launched us, else from process start.
        started = os.environ.get(config.ENV_STARTED_AT)
        elapsed = time.time() - (float(started) if started else psutil.Process().create_time())
        url = serverapp.display_url.splitlines()[0] if serverapp.display_url else serverapp.connection_url
        status = "ready" if self.backend.startup_error is None else f"DEGRADED ({self.backend.startup_error})"
        # `duragraph-lab status` prints the URL to open, token included, for whoever scrolled the
        # terminal away (runtime.json is readable by its owner only).
        update_runtime_extra(
            self.backend.settings.data_dir, server_url=serverapp.connection_url, open_url=url
        )
        # One plain line that users (and our tests) can rely on, apart from Jupyter's own banner.
        print(f"DuraGraph Lab {status} in {elapsed:.2f}s: {url}", file=sys.stderr, flush=True)
        if started:
            # A server our CLI started is this process's whole life: settle its heap once the
            # worker serves (runtime/heap.py). One embedded elsewhere (tests) is left alone.
            self._settling = asyncio.create_task(self._settle_heap(), name="duragraph-settle-heap")

    async def _settle_heap(self) -> None:
        from duragraph_lab.runtime.heap import gc_mode, settle_heap

        await self.backend.wait_started()
        try:
            frozen = settle_heap(gc_mode())
        except ValueError as err:  # the CLI refused it already; set since by hand, so say so
            self.log.warning("DuraGraph Lab: %s; Python's own collector settings kept", err)
            return
        if frozen:
            self.log.info("DuraGraph Lab: heap settled (%d objects of start-up frozen)", frozen)

    async def stop_extension(self) -> None:
        if self._settling is not None and not self._settling.done():
            self._settling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._settling
        await self.backend.stop()
