"""The synchronous client, ``DuraGraphClient(url, token)``: generated into ``_sync/`` from the
async one (see ``_unasync.py``)."""

from __future__ import annotations

from duragraph_lab.client._sync.assistants import Assistants
from duragraph_lab.client._sync.client import DuraGraphClient
from duragraph_lab.client._sync.evals import Datasets, Experiments
from duragraph_lab.client._sync.runs import Runs
from duragraph_lab.client._sync.threads import Threads

__all__ = ["Assistants", "Datasets", "DuraGraphClient", "Experiments", "Runs", "Threads"]
