"""The asynchronous client, ``AsyncDuraGraphClient(url, token)``: written in ``_async/``."""

from __future__ import annotations

from duragraph_lab.client._async.assistants import Assistants
from duragraph_lab.client._async.client import AsyncDuraGraphClient
from duragraph_lab.client._async.evals import Datasets, Experiments
from duragraph_lab.client._async.runs import Runs
from duragraph_lab.client._async.threads import Threads

__all__ = ["Assistants", "AsyncDuraGraphClient", "Datasets", "Experiments", "Runs", "Threads"]
