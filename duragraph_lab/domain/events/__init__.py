"""Events: their type names, their payload types, the one factory of each, and the catalogue.

``from duragraph_lab.domain import events as ev`` then ``ev.RUN_CREATED`` (a name),
``ev.RunCreated`` (its payload type), ``ev.run_created(...)`` (the only way to make one) and
``ev.CATALOGUE`` (every type, its payload and stream kind). docs/development.md says how to add one.
"""

from __future__ import annotations

from duragraph_lab.domain.events.catalogue import (
    CATALOGUE as CATALOGUE,
)
from duragraph_lab.domain.events.catalogue import (
    copied as copied,
)
from duragraph_lab.domain.events.catalogue import (
    payload_problems as payload_problems,
)
from duragraph_lab.domain.events.crons import *  # noqa: F403  (payloads and factories)
from duragraph_lab.domain.events.langgraph import *  # noqa: F403  (LangGraph's checkpointer)
from duragraph_lab.domain.events.names import *  # noqa: F403  (the type names)
from duragraph_lab.domain.events.records import *  # noqa: F403  (payloads and factories)
from duragraph_lab.domain.events.run import *  # noqa: F403  (payloads and factories)
from duragraph_lab.domain.events.spec import EventSpec as EventSpec
