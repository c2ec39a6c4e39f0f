"""A task's writes stored as plain JSON (``ev.Plain``) where JSON gives them back exactly and the
serializer is LangGraph's own; serialized otherwise. Either way they read back as written, of
the same types, as LangGraph's ``InMemorySaver`` gives them."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from duragraph_lab.domain import events as ev
from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer
from duragraph_lab.store.postgres import PostgresEventStore

PLAIN: list[Any] = [
    {"messages": [{"role": "ai", "content": "naïve ☕", "id": "m1"}]},
    [1, 2.5, 0.0, True, None, "x", 2**62],
    "",
    0,
]
SERIALIZED: list[Any] = [
    (1, 2),  # a tuple: JSON would give a list
    float("inf"),  # JSONB has no infinity
    -0.0,  # nor negative zero
    b"bytes",
    "nul \x00 inside",
    {1: "an int key"},
    [{"nested": (3,)}],
]


async def _written(saver: Any, thread: str, values: list[Any]) -> list[Any]:
    """``values`` saved as one task's writes (channels c0, c1, ...), then read back."""
    config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    saved = await saver.aput(config, empty_checkpoint(), {"source": "input", "step": -1}, {})
    writes = [(f"c{i}", v) for i, v in enumerate(values)]
    await saver.aput_writes(saved, writes, "task-1")
    found = await saver.aget_tuple(saved)
    assert found is not None
    return [v for _, _, v in found.pending_writes]


def _stored_kinds(events: list[Any], thread: str) -> list[str]:
    (writes,) = [e.data for e in events if e.data.get("thread_id") == thread]
    return [w[2] for w in writes["writes"]]


@pytest.mark.parametrize("values", [PLAIN, SERIALIZED], ids=["plain", "serialized"])
async def test_writes_read_back_equal_and_of_the_same_types(
    pg_store: PostgresEventStore, values: list[Any]
) -> None:
    thread = f"t-writes-{len(values)}"
    got = await _written(EventStoreCheckpointer(pg_store), thread, values)
    memory = await _written(InMemorySaver(), thread, values)

    assert got == memory
    assert [_types(v) for v in got] == [_types(v) for v in memory]
    kinds = _stored_kinds(await pg_store.read_all(types=["lg_writes"]), thread)
    if values is PLAIN:
        assert kinds == [ev.PLAIN] * len(values)
    else:
        assert ev.PLAIN not in kinds


async def test_an_encrypting_serializer_sees_every_write(pg_store: PostgresEventStore) -> None:
    """Another serializer than LangGraph's own (here one that encrypts): nothing is stored plain."""
    serde = EncryptedSerializer(_Xor(), JsonPlusSerializer())
    thread = "t-writes-encrypted"
    got = await _written(EventStoreCheckpointer(pg_store, serde=serde), thread, PLAIN)

    assert got == PLAIN
    kinds = _stored_kinds(await pg_store.read_all(types=["lg_writes"]), thread)
    assert ev.PLAIN not in kinds and all(k.endswith("+xor") for k in kinds)


def _types(value: Any) -> Any:
    """``value``'s shape by type: 1 and 1.0 and True differ, a tuple is not a list."""
    if isinstance(value, dict):
        return ("dict", {k: _types(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_types(v) for v in value])
    if isinstance(value, float):
        return repr(value)  # -0.0 is not 0.0
    return type(value).__name__


class _Xor:
    """A cipher for the test (LangGraph's CipherProtocol): what matters is that it sees the bytes."""

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        return "xor", bytes(b ^ 0x5A for b in plaintext)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        assert ciphername == "xor"
        return bytes(b ^ 0x5A for b in ciphertext)
