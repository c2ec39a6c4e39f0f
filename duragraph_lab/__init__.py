"""DuraGraph Lab: durable, observable agent graphs for Jupyter."""

from __future__ import annotations

import time
from typing import Any

from duragraph_lab._version import __version__

#: When this package was first imported: the start of `duragraph-lab dev` for start-up figures.
IMPORTED_AT = time.time()

__all__ = ["__version__"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from duragraph_lab.api.extension import DuraGraphApp

    return [{"module": "duragraph_lab.api.extension", "app": DuraGraphApp}]
