"""Send a :class:`~duragraph_lab.otel.spans.RunTrace` to OpenTelemetry exporters.

The spans are handed to the SDK's span exporters as finished spans with the times of the log and
ids derived from the run id (:func:`trace_id`, :func:`span_id`): exporting a run twice gives the
same trace, which a backend stores once (or shows as the same trace). Which exporters, where and
how are the SDK's business: ``OTEL_TRACES_EXPORTER`` (default ``otlp``),
``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf`` or ``grpc``), ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME`` and the rest
of the standard variables are read by the SDK itself.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk import _configuration as sdk_configuration
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from duragraph_lab import __version__
from duragraph_lab.otel.spans import RunTrace, SpanRecord

SCOPE = InstrumentationScope("duragraph_lab", __version__)
DEFAULT_SERVICE_NAME = "duragraph-lab"


class ExportFailed(RuntimeError):
    """An exporter did not accept a run's spans (the collector is down, refused them, ...)."""


def trace_id(run_id: str) -> int:
    """The 128-bit trace id of a run (never 0, which OpenTelemetry reserves)."""
    return _digest(f"duragraph-trace/{run_id}", 16)


def span_id(run_id: str, key: str) -> int:
    """The 64-bit id of the span ``key`` of a run."""
    return _digest(f"duragraph-span/{run_id}/{key}", 8)


def _digest(text: str, size: int) -> int:
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:size], "big")
    return value or 1


def resource_from_env() -> Resource:
    """The SDK's resource (``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``), with the service
    named ``duragraph-lab`` when neither names it."""
    resource = Resource.create()
    if os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    ):
        return resource
    return resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))


def exporters_from_env() -> list[SpanExporter]:
    """The span exporters ``OTEL_TRACES_EXPORTER`` names (``otlp`` when unset; ``none``: none),
    built by the SDK's entry points, each configured from its own environment variables."""
    if not os.environ.get("OTEL_TRACES_EXPORTER", "").strip():
        names = [sdk_configuration._get_exporter_entry_point("otlp", "traces")]
    else:
        names = sdk_configuration._get_exporter_names("traces")
    classes, _, _ = sdk_configuration._import_exporters(names, [], [])
    return [cls() for cls in classes.values()]


def readable_spans(run_trace: RunTrace, resource: Resource) -> list[ReadableSpan]:
    """The SDK's finished spans for a trace, with deterministic ids."""
    tid = trace_id(run_trace.run_id)
    contexts = {
        s.key: trace.SpanContext(
            tid, span_id(run_trace.run_id, s.key), is_remote=False, trace_flags=trace.TraceFlags(1)
        )
        for s in run_trace.spans
    }
    return [_readable(s, contexts, resource) for s in run_trace.spans]


def _readable(s: SpanRecord, contexts: dict[str, trace.SpanContext], resource: Resource) -> ReadableSpan:
    status = {
        "ok": trace.Status(trace.StatusCode.OK),
        "error": trace.Status(trace.StatusCode.ERROR, s.status_message or None),
        "unset": trace.Status(trace.StatusCode.UNSET),
    }[s.status]
    return ReadableSpan(
        name=s.name,
        context=contexts[s.key],
        parent=contexts[s.parent] if s.parent is not None else None,
        resource=resource,
        attributes=dict(s.attributes),
        events=[Event(e.name, dict(e.attributes), _nanos(e.time)) for e in s.events],
        kind=trace.SpanKind.CLIENT if s.kind == "client" else trace.SpanKind.INTERNAL,
        status=status,
        start_time=_nanos(s.start),
        end_time=_nanos(max(s.end, s.start)),
        instrumentation_scope=SCOPE,
    )


def _nanos(seconds: float) -> int:
    return round(seconds * 1e9)


class TraceExporter:
    """Exports run traces with the exporters of the environment (or those given)."""

    def __init__(
        self, exporters: Sequence[SpanExporter] | None = None, resource: Resource | None = None
    ) -> None:
        self.exporters = list(exporters) if exporters is not None else exporters_from_env()
        self.resource = resource if resource is not None else resource_from_env()

    def export(self, run_trace: RunTrace) -> int:
        """Send one trace to every exporter; return the number of spans. Raises
        :class:`ExportFailed` when an exporter reports a failure."""
        spans = readable_spans(run_trace, self.resource)
        for exporter in self.exporters:
            if exporter.export(spans) is not SpanExportResult.SUCCESS:
                raise ExportFailed(
                    f"{type(exporter).__name__} did not accept the {len(spans)} spans of run {run_trace.run_id}"
                )
        return len(spans)

    def shutdown(self) -> None:
        for exporter in self.exporters:
            exporter.shutdown()
