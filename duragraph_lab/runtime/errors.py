"""Start-up failures, each reported to the user as one line naming what failed."""

from __future__ import annotations

from duragraph_lab.domain.errors import DuraGraphError


class RuntimeStartError(DuraGraphError):
    code = "startup_failed"


class DataDirError(RuntimeStartError):
    code = "data_dir_error"


class DataDirBusy(RuntimeStartError):
    code = "data_dir_busy"


class ServiceUnreachable(RuntimeStartError):
    code = "service_unreachable"


class PortInUse(RuntimeStartError):
    code = "port_in_use"
