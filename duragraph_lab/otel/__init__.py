"""OpenTelemetry traces of runs, computed from the event log (the ``otel`` extra).

:mod:`duragraph_lab.otel.spans` maps a run's events to span data and needs nothing but the
domain; :mod:`duragraph_lab.otel.export` hands them to the OpenTelemetry SDK's exporters.
"""

import os

#: Variables that, set, turn the API servers' exporter on (``OTEL_TRACES_EXPORTER=none`` or
#: ``OTEL_SDK_DISABLED=true`` turn it off).
ENABLING_VARIABLES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)


def export_configured() -> bool:
    """Whether the environment asks for traces: one of :data:`ENABLING_VARIABLES` is set, the
    exporter is not ``none`` and the SDK is not disabled. Needs no OpenTelemetry package."""
    env = {k: os.environ.get(k, "").strip() for k in (*ENABLING_VARIABLES, "OTEL_SDK_DISABLED")}
    if env["OTEL_SDK_DISABLED"].lower() == "true" or env["OTEL_TRACES_EXPORTER"].lower() == "none":
        return False
    return any(env[k] for k in ENABLING_VARIABLES)
