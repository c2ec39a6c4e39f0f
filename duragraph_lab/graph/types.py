"""The vocabulary of graphs: START/END, Send, Command, RetryPolicy, interrupts."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

START = "__start__"
END = "__end__"
#: Command(graph=PARENT): route in the parent graph, from inside a subgraph.
PARENT = "__parent__"


@dataclass(frozen=True, slots=True)
class Send:
    """Run ``node`` in the next step with ``arg`` as its input instead of the state (map-reduce)."""

    node: str
    arg: Any

    def to_json(self) -> dict[str, Any]:
        return {"send": self.node, "arg": self.arg}


N = TypeVar("N")


@dataclass(frozen=True, slots=True)
class Command(Generic[N]):
    """Returned by a node: update the state and route (``goto``). Given as a run's input:
    ``resume`` answers a pending ``interrupt()``. A node annotated ``-> Command[Literal["a",
    "b"]]`` declares where it may go, which compile() uses to validate and draw the graph."""

    update: Any = None
    goto: str | Send | Sequence[str | Send] = ()
    resume: Any = None
    graph: str | None = None

    def goto_list(self) -> list[str | Send]:
        if isinstance(self.goto, (str, Send)):
            return [self.goto]
        return list(self.goto)


def default_retry_on(error: BaseException) -> bool:
    """Retry what is likely transient (network, timeouts, 5xx); not programming errors."""
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    status = getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(status, int):
        return status >= 500 or status == 429
    programming = (
        ValueError,
        TypeError,
        ArithmeticError,
        ImportError,
        LookupError,
        NameError,
        SyntaxError,
        RuntimeError,
        ReferenceError,
        StopIteration,
        StopAsyncIteration,
        AttributeError,
        AssertionError,
        OSError,
    )
    return not isinstance(error, programming)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry a failed node with exponential back-off (same defaults as LangGraph)."""

    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 128.0
    max_attempts: int = 3
    jitter: bool = True
    retry_on: type[BaseException] | Sequence[type[BaseException]] | Callable[[BaseException], bool] = field(
        default=default_retry_on
    )

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be >= 1")
        if self.initial_interval < 0 or self.max_interval < 0 or self.backoff_factor < 1:
            raise ValueError("RetryPolicy intervals must be >= 0 and backoff_factor >= 1")

    def should_retry(self, error: BaseException) -> bool:
        rule = self.retry_on
        if isinstance(rule, type):
            return isinstance(error, rule)
        if isinstance(rule, Sequence):
            return isinstance(error, tuple(rule))
        return bool(rule(error))

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failure."""
        base = min(self.max_interval, self.initial_interval * self.backoff_factor ** (failed_attempts - 1))
        return base + (random.uniform(0, 1) if self.jitter else 0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "initial_interval": self.initial_interval,
            "backoff_factor": self.backoff_factor,
            "max_interval": self.max_interval,
            "max_attempts": self.max_attempts,
            "jitter": self.jitter,
        }


@dataclass(frozen=True, slots=True)
class Interrupt:
    """A pause requested by ``interrupt(value)``; ``id`` identifies it for a targeted resume."""

    value: Any
    id: str


class GraphInterrupt(Exception):
    """Raised inside a node by :func:`interrupt` to pause the run. Not an error: never retried."""

    def __init__(self, interrupt: Interrupt) -> None:
        super().__init__(interrupt.value)
        self.interrupt = interrupt
