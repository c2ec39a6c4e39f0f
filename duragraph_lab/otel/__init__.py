"""OpenTelemetry traces of runs, computed from the event log (the ``otel`` extra).

:mod:`duragraph_lab.otel.spans` maps a run's events to span data and needs nothing but the
domain; :mod:`duragraph_lab.otel.export` hands them to the OpenTelemetry SDK's exporters.
"""
