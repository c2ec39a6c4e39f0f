"""Token streaming in the stream encoder: the chunks of a streamed message add up to the message,
even when the node's completion (durable, from the log) overtakes its last tokens (live, over
NATS: they travel apart, and a token that comes after its message was sent whole is dropped)."""

from __future__ import annotations

from typing import Any

from duragraph_lab.api.streaming import LIVE_MESSAGES, Part, StreamEncoder
from tests.unit.test_run_fold import RUN_ID, completed, created, planned, recorded, started, task

ANSWER = "You said: hello from the dashboard"
TOKENS = ["You ", "said: ", "hello ", "from ", "the ", "dashboard"]


def _events() -> tuple[list[Any], Any]:
    """The run's events up to the agent's step, and its node_completed with the whole answer."""
    events = recorded(
        [
            created({"messages": "hello from the dashboard"}),
            started(),
            planned(0, task("t-a", "agent", 0)),
            completed("t-a", "agent", {"messages": [{"type": "ai", "content": ANSWER, "id": "m-1"}]}),
        ]
    )
    return events[:-1], events[-1]


def _token(delta: str) -> dict[str, Any]:
    return {"kind": LIVE_MESSAGES, "node": "agent", "step": 0, "payload": {"id": "m-1", "delta": delta}}


def _until_completion(encoder: StreamEncoder, tokens_before: int) -> list[Part]:
    """The parts for: the first ``tokens_before`` tokens, then the node's completion."""
    head, node_completed = _events()
    parts: list[Part] = []
    for event in head:
        parts += encoder.on_event(event)
    for delta in TOKENS[:tokens_before]:
        parts += encoder.on_live(_token(delta))
    return parts + encoder.on_event(node_completed)


def _stream(modes: list[str], tokens_before: int) -> list[Part]:
    """The parts for: the first ``tokens_before`` tokens, the node's completion, the rest."""
    encoder = StreamEncoder(modes, run_id=RUN_ID)
    parts = _until_completion(encoder, tokens_before)
    for delta in TOKENS[tokens_before:]:
        parts += encoder.on_live(_token(delta))
    return parts


def _tuple_chunks(parts: list[Part]) -> list[str]:
    return [data[0]["content"] for name, data in parts if name == "messages" and data[0].get("id") == "m-1"]


def test_the_chunks_add_up_to_the_message_when_its_completion_overtakes_the_last_tokens() -> None:
    for before in range(1, len(TOKENS)):
        chunks = _tuple_chunks(_stream(["messages-tuple"], before))
        assert "".join(chunks) == ANSWER, (before, chunks)
        # The tokens that came in time went out one by one; the rest as one chunk.
        assert chunks == [*TOKENS[:before], "".join(TOKENS[before:])]


def test_a_message_streamed_whole_gets_no_extra_chunk() -> None:
    chunks = _tuple_chunks(_stream(["messages-tuple"], len(TOKENS)))
    assert chunks == TOKENS


def test_a_message_not_streamed_goes_out_whole() -> None:
    encoder = StreamEncoder(["messages-tuple"], run_id=RUN_ID)
    head, node_completed = _events()
    for event in head:
        encoder.on_event(event)
    out = encoder.on_event(node_completed)
    assert [(name, data[0]["content"]) for name, data in out if name == "messages"] == [("messages", ANSWER)]


def test_events_mode_streams_the_rest_too_and_messages_mode_completes_the_message() -> None:
    parts = _stream(["events", "messages"], 3)
    streamed = [
        data["data"]["chunk"]["content"]
        for name, data in parts
        if name == "events" and data["event"] == "on_chat_model_stream"
    ]
    assert "".join(streamed) == ANSWER
    # The partials grow up to the whole message, then it completes.
    partials = [data[0]["content"] for name, data in parts if name == "messages/partial"]
    assert partials == ["You ", "You said: ", "You said: hello ", ANSWER]
    assert [data[0]["content"] for name, data in parts if name == "messages/complete"] == [ANSWER]
    assert [name for name, _ in parts if name.startswith("messages/")][-2:] == [
        "messages/partial",
        "messages/complete",
    ]


def test_events_mode_alone_sends_the_rest_when_the_node_completes() -> None:
    """With "events" only: the run's end may close the stream before tokens overtaken by their
    node's completion arrive, so what they carry goes out with the completion, before the node's
    on_chain_end; the late tokens are then dropped, not sent twice."""
    for before in range(1, len(TOKENS)):
        encoder = StreamEncoder(["events"], run_id=RUN_ID)
        parts = _until_completion(encoder, before)
        in_time = [
            data["data"]["chunk"]["content"]
            for name, data in parts
            if name == "events" and data["event"] == "on_chat_model_stream"
        ]
        assert in_time == [*TOKENS[:before], "".join(TOKENS[before:])], before
        assert [data["event"] for _, data in parts][-1] == "on_chain_end"
        late = [part for delta in TOKENS[before:] for part in encoder.on_live(_token(delta))]
        assert late == []
