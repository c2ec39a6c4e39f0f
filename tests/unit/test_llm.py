"""The model clients: scripted answers, recording and replay in the run log, deterministic ids,
token streaming, tools, and the OpenAI-compatible client against a real local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from duragraph_lab.domain import events as ev
from duragraph_lab.engine.local import LocalRuntime
from duragraph_lab.engine.replay import reexecute
from duragraph_lab.graph.context import NodeContext, reset_context, set_context
from duragraph_lab.graph.state_graph import MessagesState, StateGraph
from duragraph_lab.graph.types import END, START, RetryPolicy, default_retry_on
from duragraph_lab.llm import (
    BaseChatModel,
    ChatModel,
    MissingAPIKey,
    ModelResponseError,
    OpenAIChatModel,
    RecordedModelError,
    ReplayExhausted,
    ScriptedChatModel,
    ScriptExhausted,
    Tool,
    get_chat_model,
    run_tool_calls,
    tool,
)
from duragraph_lab.llm.messages import Message
from duragraph_lab.llm.openai_format import to_openai_messages, to_openai_tools
from duragraph_lab.llm.recording import OnDelta, call_message_id, request_digest
from duragraph_lab.llm.scripted import arithmetic_in

LLM_ENV = ("DURAGRAPH_LLM_BASE_URL", "DURAGRAPH_LLM_API_KEY", "OPENAI_API_KEY", "DURAGRAPH_LLM_MODEL")


@pytest.fixture(autouse=True)
def _no_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in LLM_ENV:
        monkeypatch.delenv(var, raising=False)


@tool
def calculator(expression: str) -> str:
    """Evaluate arithmetic."""
    return str(eval(expression, {"__builtins__": {}}))  # test double: trusted input only


@tool
def clock() -> str:
    """The time."""
    return "12:00"


class RaisingModel(BaseChatModel):
    """Fails the test if it is ever actually called."""

    def __init__(self) -> None:
        super().__init__("raising")

    async def _agenerate(
        self, messages: list[Message], tools: list[Tool], *, message_id: str, on_delta: OnDelta | None
    ) -> Message:
        raise AssertionError("the model was called during replay")


def node_context(task_id: str = "0.0", **extra: Any) -> NodeContext:
    return NodeContext(
        run_id="run-1", thread_id="t", graph_id="g", step=1, node="agent", task_id=task_id, attempt=1, **extra
    )


def one_node_graph(model: ChatModel, *, sync: bool = False) -> Any:
    async def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"], tools=[calculator])]}

    def sync_agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"], tools=[calculator])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", sync_agent if sync else agent)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    return builder.compile(name="one_node")


def completed_events(runtime: LocalRuntime) -> list[Any]:
    return [e for stream in runtime.journal.streams.values() for e in stream if e.type == ev.NODE_COMPLETED]


# -- the scripted model ----------------------------------------------------------------------------
async def test_scripted_answers_a_tool_result_with_it() -> None:
    messages = [
        {"type": "human", "content": "what is 2 + 3"},
        {"type": "ai", "content": "", "tool_calls": [{"id": "c1", "name": "calculator", "args": {}}]},
        {"type": "tool", "content": "5", "tool_call_id": "c1"},
    ]
    reply = await ScriptedChatModel(token_delay=0).ainvoke(messages, tools=[calculator])
    assert reply["type"] == "ai"
    assert reply["content"] == "The result is 5."
    assert reply["tool_calls"] == []


@pytest.mark.parametrize(
    ("text", "expression"),
    [("what is 2 + 3", "2 + 3"), ("calculate 7*6", "7*6"), ("What's (1 + 2) * -3?", "(1 + 2) * -3")],
)
async def test_scripted_calls_the_calculator_for_arithmetic(text: str, expression: str) -> None:
    reply = await ScriptedChatModel(token_delay=0).ainvoke([("user", text)], tools=[calculator, clock])
    assert reply["content"] == ""
    [call] = reply["tool_calls"]
    assert call["name"] == "calculator"
    assert call["args"] == {"expression": expression}
    assert call["id"].startswith("call_")


async def test_scripted_only_calls_tools_it_is_offered() -> None:
    model = ScriptedChatModel(token_delay=0)
    assert (await model.ainvoke(["what is 2 + 3"]))["content"] == "You said: what is 2 + 3"
    assert (await model.ainvoke(["what time is it?"], tools=[calculator]))["tool_calls"] == []
    reply = await model.ainvoke(["what time is it?"], tools=[calculator, clock])
    assert [c["name"] for c in reply["tool_calls"]] == ["clock"]
    assert reply["tool_calls"][0]["args"] == {}


def test_arithmetic_detection_ignores_numbers_in_passing() -> None:
    assert arithmetic_in("I was born on 1990-05-12, hello") is None
    assert arithmetic_in("2+2") == "2+2"
    assert arithmetic_in("hello there") is None


async def test_scripted_echoes_other_messages() -> None:
    reply = await ScriptedChatModel(token_delay=0).ainvoke(
        [("system", "be nice"), ("user", "hello there")], tools=[calculator]
    )
    assert reply["content"] == "You said: hello there"


async def test_scripted_responses_are_returned_in_order_then_exhausted() -> None:
    model = ScriptedChatModel(
        ["first", {"content": "", "tool_calls": [{"name": "clock", "args": {}}]}], token_delay=0
    )
    assert (await model.ainvoke(["hi"]))["content"] == "first"
    second = await model.ainvoke(["hi"])
    assert [c["name"] for c in second["tool_calls"]] == ["clock"]
    with pytest.raises(ScriptExhausted, match="only 2 responses"):
        await model.ainvoke(["hi"])


def test_sync_invoke_outside_an_event_loop() -> None:
    reply = ScriptedChatModel(token_delay=0).invoke(["hello"])
    assert reply["content"] == "You said: hello"


async def test_sync_invoke_inside_a_running_loop_uses_a_helper_thread() -> None:
    reply = ScriptedChatModel(token_delay=0).invoke(["hello"])
    assert reply["content"] == "You said: hello"


def test_models_satisfy_the_protocol() -> None:
    assert isinstance(ScriptedChatModel(), ChatModel)
    assert isinstance(OpenAIChatModel(base_url="http://127.0.0.1:9"), ChatModel)


# -- recording, replay, ids, streaming ---------------------------------------------------------
async def test_calls_inside_a_node_are_recorded_in_the_run_log() -> None:
    runtime = LocalRuntime()
    graph = one_node_graph(ScriptedChatModel(token_delay=0))
    state = await runtime.invoke(graph, {"messages": [("user", "hello")]}, None)
    [completed] = completed_events(runtime)
    [call] = completed.data["model_calls"]
    assert call["model"] == "scripted"
    assert call["request"]["tools"] == ["calculator"]
    # The request is a fixed-size digest, not a copy of the (ever growing) conversation.
    assert call["request"]["messages"] == 1
    assert call["request"]["sha256"] == request_digest(state["messages"][:1], ["calculator"])["sha256"]
    assert call["response"]["content"] == "You said: hello"
    # The message in the state is the recorded response, with the id derived from the task.
    assert state["messages"][-1] == call["response"]
    key = f"{completed.stream_id}:{completed.data['step']}:agent:{completed.data['task']}"
    assert call["response"]["id"] == call_message_id(key, 0)


async def test_sync_nodes_record_their_calls_too() -> None:
    runtime = LocalRuntime()
    await runtime.invoke(
        one_node_graph(ScriptedChatModel(token_delay=0), sync=True), {"messages": ["hi"]}, None
    )
    [completed] = completed_events(runtime)
    assert [c["response"]["content"] for c in completed.data["model_calls"]] == ["You said: hi"]


async def test_calls_outside_a_node_are_not_recorded() -> None:
    first = await ScriptedChatModel(token_delay=0).ainvoke(["hi"])
    second = await ScriptedChatModel(token_delay=0).ainvoke(["hi"])
    assert first["id"] != second["id"]  # no task to derive ids from


async def test_reexecution_answers_from_the_log_without_calling_the_model() -> None:
    runtime = LocalRuntime()
    await runtime.invoke(
        one_node_graph(ScriptedChatModel(token_delay=0)), {"messages": ["what is 2 + 3"]}, None
    )
    [events] = runtime.journal.streams.values()
    report = await reexecute(one_node_graph(RaisingModel()).spec, events)
    assert report.tasks_checked == 1
    assert report.identical, report.divergence


async def test_replay_returns_recorded_responses_in_order_then_fails_clearly() -> None:
    recorded = [
        {
            "model": "m",
            "request": {},
            "response": {"type": "ai", "content": "one", "id": "a", "tool_calls": []},
        },
        {
            "model": "m",
            "request": {},
            "response": {"type": "ai", "content": "two", "id": "b", "tool_calls": []},
        },
    ]
    ctx = node_context(replay_calls=recorded)
    token = set_context(ctx)
    try:
        model = RaisingModel()
        assert (await model.ainvoke(["x"]))["content"] == "one"
        assert (await model.ainvoke(["y"]))["content"] == "two"
        with pytest.raises(ReplayExhausted, match="model call #3"):
            await model.ainvoke(["z"])
    finally:
        reset_context(token)


async def test_a_failed_call_is_recorded_and_replayed_as_a_failure() -> None:
    class Failing(BaseChatModel):
        async def _agenerate(
            self, messages: list[Message], tools: list[Tool], *, message_id: str, on_delta: OnDelta | None
        ) -> Message:
            raise ConnectionError("endpoint down")

    ctx = node_context()
    token = set_context(ctx)
    try:
        with pytest.raises(ConnectionError):
            await Failing("f").ainvoke(["x"])
        second = await ScriptedChatModel(token_delay=0).ainvoke(["x"])
    finally:
        reset_context(token)
    assert ctx.recorded_calls[0]["error"] == "ConnectionError: endpoint down"
    assert second["id"] == call_message_id(ctx.idempotency_key, 1)  # the failed call kept index 0
    replay = node_context(replay_calls=ctx.recorded_calls)
    token = set_context(replay)
    try:
        with pytest.raises(RecordedModelError, match="endpoint down"):
            await RaisingModel().ainvoke(["x"])
        assert (await RaisingModel().ainvoke(["x"]))["content"] == "You said: x"
    finally:
        reset_context(token)


async def test_message_ids_are_the_same_when_a_task_runs_again() -> None:
    seen: list[str] = []

    class Flaky(Exception):
        pass

    model = ScriptedChatModel(token_delay=0)

    async def agent(state: MessagesState) -> dict[str, Any]:
        first = await model.ainvoke(state["messages"])
        second = await model.ainvoke(state["messages"])
        seen.extend([first["id"], second["id"]])
        if len(seen) == 2:
            raise Flaky("crash after the model answered")
        return {"messages": [second]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent, retry=RetryPolicy(max_attempts=2, initial_interval=0, jitter=False))
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    state = await LocalRuntime().invoke(builder.compile(name="flaky"), {"messages": ["hi"]}, None)
    assert len(seen) == 4
    assert seen[:2] == seen[2:]  # attempt 2 reproduced attempt 1's ids
    assert seen[0] != seen[1]  # two calls of one execution differ
    assert state["messages"][-1]["id"] == seen[3]


async def test_ids_differ_between_tasks() -> None:
    ids = []
    for task in ("1.0", "1.1"):
        token = set_context(node_context(task))
        try:
            ids.append((await ScriptedChatModel(token_delay=0).ainvoke(["hi"]))["id"])
        finally:
            reset_context(token)
    assert ids[0] != ids[1]


async def test_tokens_stream_as_live_message_events() -> None:
    runtime = LocalRuntime()
    live: list[tuple[str, dict[str, Any]]] = []
    runtime.journal.live.append(lambda _run, kind, payload: live.append((kind, payload)))
    state = await runtime.invoke(
        one_node_graph(ScriptedChatModel(token_delay=0)), {"messages": ["tell me a story"]}, None
    )
    reply = state["messages"][-1]
    chunks = [p["payload"] for kind, p in live if kind == "messages"]
    assert len(chunks) > 2
    assert {c["id"] for c in chunks} == {reply["id"]}
    assert "".join(c["delta"] for c in chunks) == reply["content"] == "You said: tell me a story"
    assert {p["node"] for kind, p in live if kind == "messages"} == {"agent"}


async def test_streaming_goes_through_ctx_emit() -> None:
    emitted: list[tuple[str, Any]] = []
    ctx = node_context(emit=lambda kind, payload: emitted.append((kind, payload)))
    token = set_context(ctx)
    try:
        reply = await ScriptedChatModel(token_delay=0.001).ainvoke(["one two three"])
    finally:
        reset_context(token)
    assert [kind for kind, _ in emitted] == ["messages"] * len(emitted)
    assert [p["delta"] for _, p in emitted] == ["You ", "said: ", "one ", "two ", "three"]
    assert all(p["id"] == reply["id"] for _, p in emitted)


async def test_a_failing_live_publisher_does_not_fail_the_call() -> None:
    def emit(kind: str, payload: Any) -> None:
        raise RuntimeError("no event loop in this thread")

    ctx = node_context(emit=emit)
    token = set_context(ctx)
    try:
        reply = await ScriptedChatModel(token_delay=0).ainvoke(["hi"])
    finally:
        reset_context(token)
    assert reply["content"] == "You said: hi"
    assert ctx.recorded_calls[0]["response"] == reply


# -- tools --------------------------------------------------------------------------------------------
def test_tool_decorator_builds_the_schema_from_the_signature() -> None:
    @tool
    def search(
        query: str,
        limit: int,
        ratio: float,
        exact: bool,
        tags: list[str],
        filters: dict[str, Any],
        page: int = 1,
    ) -> str:
        """Search the index.

        Longer explanation that is not part of the description.
        """
        return query

    assert isinstance(search, Tool)
    assert search.name == "search"
    assert search.description == "Search the index."
    assert search.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer"},
            "ratio": {"type": "number"},
            "exact": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "filters": {"type": "object"},
            "page": {"type": "integer", "default": 1},
        },
        "required": ["query", "limit", "ratio", "exact", "tags", "filters"],
    }
    assert search("q", 1, 0.5, True, [], {}) == "q"  # still callable


def test_tool_decorator_with_options() -> None:
    @tool(name="lookup", description="Find a thing")
    def f(key: str | None = None) -> str:
        return str(key)

    assert (f.name, f.description) == ("lookup", "Find a thing")
    assert f.parameters["properties"] == {"key": {"type": "string", "default": None}}
    assert f.parameters["required"] == []


async def test_run_tool_calls_runs_sync_async_and_failing_tools() -> None:
    @tool
    async def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    @tool
    def boom() -> str:
        """Fails."""
        raise RuntimeError("disk on fire")

    ai = {
        "type": "ai",
        "content": "",
        "id": "ai-1",
        "tool_calls": [
            {"id": "c1", "name": "calculator", "args": {"expression": "6*7"}},
            {"id": "c2", "name": "add", "args": {"a": 2, "b": 3}},
            {"id": "c3", "name": "boom", "args": {}},
            {"id": "c4", "name": "nope", "args": {}},
            {"id": "c5", "name": "add", "args": {"a": 1}},
        ],
    }
    results = await run_tool_calls(ai, [calculator, add, boom])
    assert [(r["type"], r["tool_call_id"], r["name"]) for r in results] == [
        ("tool", "c1", "calculator"),
        ("tool", "c2", "add"),
        ("tool", "c3", "boom"),
        ("tool", "c4", "nope"),
        ("tool", "c5", "add"),
    ]
    assert [r["content"] for r in results[:2]] == ["42", "5"]
    assert results[2]["content"] == "Error: RuntimeError: disk on fire"
    assert "no tool named 'nope'" in results[3]["content"]
    assert "TypeError" in results[4]["content"]
    assert [r.get("status") for r in results] == [None, None, "error", "error", "error"]
    again = await run_tool_calls(ai, {"calculator": calculator, "add": add, "boom": boom})
    assert [r["id"] for r in again] == [r["id"] for r in results]  # deterministic
    assert len({r["id"] for r in results}) == 5


async def test_run_tool_calls_without_calls() -> None:
    assert await run_tool_calls({"type": "ai", "content": "done", "id": "x"}, [calculator]) == []


# -- the OpenAI-compatible client -------------------------------------------------------------------------
def sse(*chunks: dict[str, Any]) -> bytes:
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks]
    return ("".join(lines) + ": keep-alive comment\n\ndata: [DONE]\n\n").encode()


def delta(**fields: Any) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": fields}]}


STREAMED = sse(
    delta(role="assistant", content="Let me "),
    delta(content="check."),
    delta(
        tool_calls=[
            {
                "index": 0,
                "id": "call_a",
                "type": "function",
                "function": {"name": "calculator", "arguments": ""},
            }
        ]
    ),
    delta(tool_calls=[{"index": 0, "function": {"arguments": '{"expr'}}]),
    delta(
        tool_calls=[
            {"index": 1, "id": "call_b", "type": "function", "function": {"name": "clock", "arguments": "{"}}
        ]
    ),
    delta(tool_calls=[{"index": 0, "function": {"arguments": 'ession": "2+3"}'}}]),
    delta(tool_calls=[{"index": 1, "function": {"arguments": "}"}}]),
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}], "model": "test-model-0613"},
    # stream_options.include_usage: a last chunk with no choice, only the usage.
    {"choices": [], "usage": {"prompt_tokens": 31, "completion_tokens": 12, "total_tokens": 43}},
)


class FakeOpenAI:
    """A real HTTP server on localhost answering /chat/completions from a queue of
    ``(status, content_type, body)``; it records every request."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, str, bytes]] = []
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append((self.path, dict(self.headers), body))
                status, content_type, payload = fake.replies.pop(0)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.end_headers()
                # Written in pieces, so the client really reads a stream.
                for i in range(0, len(payload), 37):
                    self.wfile.write(payload[i : i + 37])
                    self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    fake.thread.join(timeout=5)


async def test_openai_client_streams_content_and_split_tool_calls(fake_openai: FakeOpenAI) -> None:
    fake_openai.replies.append((200, "text/event-stream", STREAMED))
    model = OpenAIChatModel("test-model", base_url=fake_openai.base_url, api_key="sk-test")
    emitted: list[Any] = []
    ctx = node_context(emit=lambda kind, payload: emitted.append(payload))
    token = set_context(ctx)
    try:
        reply = await model.ainvoke(
            [("system", "be brief"), ("user", "what is 2+3 and the time?")], tools=[calculator, clock]
        )
    finally:
        reset_context(token)
    assert reply["type"] == "ai"
    assert reply["id"] == call_message_id(ctx.idempotency_key, 0)
    assert reply["content"] == "Let me check."
    assert reply["tool_calls"] == [
        {"id": "call_a", "name": "calculator", "args": {"expression": "2+3"}},
        {"id": "call_b", "name": "clock", "args": {}},
    ]
    assert [p["delta"] for p in emitted] == ["Let me ", "check."]
    [call] = ctx.recorded_calls
    assert call["model"] == "test-model"
    # What the server reported is recorded with the call (the OpenTelemetry GenAI attributes),
    # not put in the message.
    assert call["provider"] == "openai"
    assert call["usage"] == {"input_tokens": 31, "output_tokens": 12}
    assert call["finish_reason"] == "tool_calls"
    assert call["response_model"] == "test-model-0613"
    assert "usage" not in reply and "finish_reason" not in reply
    [(path, headers, body)] = fake_openai.requests
    assert body["stream_options"] == {"include_usage": True}
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "test-model"
    assert body["stream"] is True
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "what is 2+3 and the time?"},
    ]
    assert body["tools"] == to_openai_tools([calculator, clock])
    assert body["tools"][0]["function"]["name"] == "calculator"


async def test_openai_client_raises_http_status_errors(fake_openai: FakeOpenAI) -> None:
    fake_openai.replies.append((500, "application/json", b'{"error": {"message": "overloaded"}}'))
    model = OpenAIChatModel("m", base_url=fake_openai.base_url)
    with pytest.raises(httpx.HTTPStatusError) as caught:
        await model.ainvoke(["hi"])
    assert caught.value.response.status_code == 500
    assert "overloaded" in str(caught.value)
    assert default_retry_on(caught.value)  # the engine's default retry policy takes it
    assert "Authorization" not in fake_openai.requests[0][1]  # no key configured: none sent


async def test_a_500_is_retried_by_the_engine(fake_openai: FakeOpenAI) -> None:
    fake_openai.replies += [
        (500, "text/plain", b"try again"),
        (200, "text/event-stream", sse(delta(content="Hi "), delta(content="there"))),
    ]
    model = OpenAIChatModel("m", base_url=fake_openai.base_url)

    async def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent, retry=RetryPolicy(initial_interval=0, jitter=False))
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    runtime = LocalRuntime()
    state = await runtime.invoke(builder.compile(name="retrying"), {"messages": ["hello"]}, None)
    assert state["messages"][-1]["content"] == "Hi there"
    [events] = runtime.journal.streams.values()
    [failed] = [e for e in events if e.type == ev.NODE_FAILED]
    assert failed.data["will_retry"] is True
    assert failed.data["error"]["type"] == "HTTPStatusError"
    assert len(fake_openai.requests) == 2


async def test_openai_client_accepts_a_whole_json_completion(fake_openai: FakeOpenAI) -> None:
    completion = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c9", "type": "function", "function": {"name": "clock", "arguments": "{}"}}
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7},
    }
    fake_openai.replies.append((200, "application/json", json.dumps(completion).encode()))
    ctx = node_context()
    token = set_context(ctx)
    try:
        reply = await OpenAIChatModel("m", base_url=fake_openai.base_url).ainvoke(["time?"], tools=[clock])
    finally:
        reset_context(token)
    assert reply["content"] == ""
    assert reply["tool_calls"] == [{"id": "c9", "name": "clock", "args": {}}]
    [call] = ctx.recorded_calls
    assert call["usage"] == {"input_tokens": 5, "output_tokens": 7}
    assert call["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (sse({"error": {"message": "rate limited mid-stream"}}), "rate limited"),
        (
            sse(
                delta(
                    tool_calls=[{"index": 0, "id": "x", "function": {"name": "clock", "arguments": "{oops"}}]
                )
            ),
            "not a JSON object",
        ),
    ],
    ids=["error-in-stream", "bad-arguments"],
)
async def test_openai_client_rejects_bad_streams(fake_openai: FakeOpenAI, body: bytes, message: str) -> None:
    fake_openai.replies.append((200, "text/event-stream", body))
    with pytest.raises(ModelResponseError, match=message):
        await OpenAIChatModel("m", base_url=fake_openai.base_url).ainvoke(["hi"], tools=[clock])


def test_messages_are_converted_to_the_openai_format() -> None:
    converted = to_openai_messages(
        [
            {"type": "system", "content": "sys", "id": "1"},
            {"type": "human", "content": "what is 2+3", "id": "2"},
            {
                "type": "ai",
                "content": "",
                "id": "3",
                "tool_calls": [{"id": "c1", "name": "calculator", "args": {"expression": "2+3"}}],
            },
            {"type": "tool", "content": "5", "tool_call_id": "c1", "name": "calculator", "id": "4"},
            {"type": "ai", "content": "It is 5.", "id": "5", "tool_calls": []},
        ]
    )
    assert converted == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "what is 2+3"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression": "2+3"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "5"},
        {"role": "assistant", "content": "It is 5."},
    ]
    with pytest.raises(ValueError, match="'remove'"):
        to_openai_messages([{"type": "remove", "content": "", "id": "x"}])


def test_openai_needs_a_key_for_openai_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingAPIKey, match="DURAGRAPH_LLM_API_KEY"):
        OpenAIChatModel()
    assert OpenAIChatModel(base_url="http://localhost:11434/v1").api_key is None  # local servers: fine
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    model = OpenAIChatModel()
    assert (model.base_url, model.model, model.api_key) == (
        "https://api.openai.com/v1",
        "gpt-4o-mini",
        "sk-env",
    )
    assert "sk-env" not in repr(model)


def test_get_chat_model_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(get_chat_model(), ScriptedChatModel)
    monkeypatch.setenv("DURAGRAPH_LLM_BASE_URL", "http://127.0.0.1:8000/v1/")
    monkeypatch.setenv("DURAGRAPH_LLM_MODEL", "llama3")
    model = get_chat_model()
    assert isinstance(model, OpenAIChatModel)
    assert (model.base_url, model.model) == ("http://127.0.0.1:8000/v1", "llama3")
    monkeypatch.delenv("DURAGRAPH_LLM_BASE_URL")
    monkeypatch.setenv("DURAGRAPH_LLM_API_KEY", "k")
    assert isinstance(get_chat_model(), OpenAIChatModel)
