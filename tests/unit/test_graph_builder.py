"""StateGraph building and compile-time validation, the compiled spec's JSON, and RetryPolicy."""

from __future__ import annotations

import operator
import random
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypedDict

import pytest

from duragraph_lab.domain import reducers as red
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.spec import GraphSpec, code_fingerprint
from duragraph_lab.graph.state_graph import GraphValidationError, MessagesState, StateGraph
from duragraph_lab.graph.types import END, START, Command, RetryPolicy, default_retry_on

# -- state schemas (module level, so that string annotations resolve) -------------------------------


class Counter(TypedDict):
    value: int


class Log(TypedDict):
    items: Annotated[list[str], operator.add]
    last: str


def _keep_max(current: int, update: int) -> int:
    return max(current, update)


class AllKinds(TypedDict):
    plain: int
    added: Annotated[list[int], operator.add]
    messages: Annotated[list[Any], red.add_messages]
    best: Annotated[int, _keep_max]


class OneArgReducer(TypedDict):
    items: Annotated[list[int], lambda x: x]


class ThreeArgReducer(TypedDict):
    items: Annotated[list[int], lambda a, b, c: a]


class DocOnlyAnnotated(TypedDict):
    items: Annotated[list[int], "a list of numbers"]


class NoKeys(TypedDict):
    pass


# -- node functions --------------------------------------------------------------------------------


def step_one(state: Counter) -> dict[str, Any]:
    return {"value": 1}


def step_two(state: Counter) -> dict[str, Any]:
    return {"value": 2}


def noop(state: Any) -> None:
    return None


def _route_anywhere(state: Any) -> str:
    return END


def _chain(*names: str, schema: Any = Counter) -> StateGraph:
    """START -> names[0] -> ... -> names[-1] -> END, every node a no-op."""
    g = StateGraph(schema)
    for name in names:
        g.add_node(name, noop)
    previous = START
    for name in names:
        g.add_edge(previous, name)
        previous = name
    g.add_edge(previous, END)
    return g


def _compile_error(g: StateGraph, name: str = "under_test", **kwargs: Any) -> str:
    with pytest.raises(GraphValidationError) as info:
        g.compile(name=name, **kwargs)
    return str(info.value)


# -- edges -----------------------------------------------------------------------------------------


def test_a_linear_graph_compiles_and_records_its_name() -> None:
    compiled = _chain("a", "b").compile(name="linear")

    assert isinstance(compiled, CompiledGraph)
    assert compiled.name == "linear"
    assert list(compiled.spec.nodes) == ["a", "b"]
    assert compiled.spec.edges == [(START, "a"), ("a", "b"), ("b", END)]


def test_compile_without_a_name_uses_the_lowercased_schema_name() -> None:
    assert _chain("a").compile().name == "counter"


def test_edge_from_an_unknown_source_is_rejected() -> None:
    g = _chain("a")
    g.add_edge("ghost", "a")

    assert _compile_error(g) == "add_edge('ghost', 'a'): unknown node 'ghost'"


def test_edge_to_an_unknown_target_is_rejected() -> None:
    g = _chain("a")
    g.add_edge("a", "ghost")

    assert _compile_error(g) == "add_edge('a', 'ghost'): unknown node 'ghost'"


def test_edge_out_of_end_says_that_end_has_no_outgoing_edges() -> None:
    g = _chain("a")
    g.add_edge(END, "a")

    assert _compile_error(g) == f"add_edge({END!r}, 'a'): END has no outgoing edges"


def test_edge_into_start_says_that_nothing_can_lead_to_start() -> None:
    g = _chain("a")
    g.add_edge("a", START)

    assert _compile_error(g) == f"add_edge('a', {START!r}): nothing can lead to START"


def test_join_with_an_unknown_source_is_rejected() -> None:
    g = _chain("a", "b")
    g.add_edge(["a", "ghost"], "b")

    assert _compile_error(g) == "add_edge(['a', 'ghost'], 'b'): unknown node 'ghost'"


def test_join_with_an_unknown_target_is_rejected() -> None:
    g = _chain("a", "b")
    g.add_edge(["a", "b"], "ghost")

    assert _compile_error(g) == "add_edge(['a', 'b'], 'ghost'): unknown node 'ghost'"


def test_join_including_start_is_rejected_when_added() -> None:
    g = _chain("a", "b")

    with pytest.raises(GraphValidationError, match="START cannot be part of a join"):
        g.add_edge([START, "a"], "b")
    assert g.joins == []


def test_join_without_sources_is_rejected_when_added() -> None:
    with pytest.raises(GraphValidationError, match="a join needs at least one source"):
        _chain("a").add_edge([], "a")


def test_a_valid_join_compiles_and_is_drawn_as_join_edges() -> None:
    g = StateGraph(Counter)
    for name in ("a", "b", "c"):
        g.add_node(name, noop)
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.add_edge(["a", "b"], "c")
    g.add_edge("c", END)

    edges = g.compile(name="joined").to_json()["edges"]

    joins = [(e["source"], e["target"]) for e in edges if e["kind"] == "join"]
    assert joins == [("a", "c"), ("b", "c")]
    assert all(e["conditional"] is False for e in edges if e["kind"] == "join")


# -- conditional edges -----------------------------------------------------------------------------


def test_conditional_edge_path_leading_to_unknown_node_names_the_path() -> None:
    g = _chain("a", "b")
    g.add_conditional_edges("a", _route_anywhere, {"go": "b", "lost": "nowhere"})

    message = _compile_error(g)

    assert message == (
        "add_conditional_edges('a', _route_anywhere): path 'lost' leads to unknown node 'nowhere'"
    )


def test_conditional_edges_from_an_unknown_router_source_are_rejected() -> None:
    g = _chain("a")
    g.add_conditional_edges("ghost", _route_anywhere, ["a"])

    assert _compile_error(g) == "add_conditional_edges('ghost', _route_anywhere): unknown node 'ghost'"


def test_a_non_callable_router_is_rejected_when_added() -> None:
    with pytest.raises(GraphValidationError, match="the router must be callable"):
        _chain("a").add_conditional_edges("a", "not a function")  # type: ignore[arg-type]


def test_a_router_without_path_map_may_lead_anywhere_so_its_source_needs_no_static_edge() -> None:
    g = StateGraph(Counter)
    g.add_node("a", noop)
    g.add_node("b", noop)
    g.add_edge(START, "a")
    g.add_conditional_edges("a", _route_anywhere)  # b is reachable only through this router
    g.add_edge("b", END)

    compiled = g.compile(name="routed")

    conditional = [e for e in compiled.to_json()["edges"] if e["kind"] == "conditional"]
    assert sorted(e["target"] for e in conditional) == sorted(["a", "b", END])
    assert all(e["inferred"] is True and e["router"] == "_route_anywhere" for e in conditional)


def test_conditional_edges_keep_path_map_keys_as_labels() -> None:
    g = _chain("a", "b")
    g.add_conditional_edges("a", _route_anywhere, {"again": "a", "next": "b", "done": END})

    conditional = [e for e in g.compile(name="labelled").to_json()["edges"] if e["kind"] == "conditional"]

    assert [(e["label"], e["target"]) for e in conditional] == [("again", "a"), ("next", "b"), ("done", END)]
    assert all(e["conditional"] is True and e["inferred"] is False for e in conditional)


def test_a_conditional_entry_point_counts_as_an_entry_point() -> None:
    g = StateGraph(Counter)
    g.add_node("a", noop)
    g.add_edge("a", END)
    g.set_conditional_entry_point(_route_anywhere, ["a"])

    assert g.compile(name="cond_entry").spec.branches_from(START)[0].path_map == {"a": "a"}


# -- graph-level reachability ----------------------------------------------------------------------


def test_a_graph_without_an_entry_point_is_rejected() -> None:
    g = StateGraph(Counter)
    g.add_node("a", noop)
    g.add_edge("a", END)

    assert _compile_error(g) == "the graph has no entry point: add add_edge(START, <node>)"


def test_an_unreachable_node_is_named() -> None:
    g = _chain("a")
    g.add_node("island", noop)
    g.add_edge("island", END)

    assert _compile_error(g) == "node(s) ['island'] cannot be reached from START"


def test_a_node_without_outgoing_edges_is_named() -> None:
    g = StateGraph(Counter)
    g.add_node("a", noop)
    g.add_node("dead_end", noop)
    g.add_edge(START, "a")
    g.add_edge("a", "dead_end")
    g.add_edge("a", END)

    message = _compile_error(g)

    assert message.startswith("node 'dead_end' has no outgoing edge: add add_edge('dead_end', END)")


def test_a_cycle_without_exit_has_no_path_to_end() -> None:
    g = StateGraph(Counter)
    g.add_node("a", noop)
    g.add_node("b", noop)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "a")

    assert _compile_error(g) == "node(s) ['a', 'b'] have no path to END: the run could never finish"


def test_a_cycle_with_an_exit_compiles() -> None:
    g = _chain("a", "b")
    g.add_edge("b", "a")

    compiled = g.compile(name="loop")

    assert ["b", "a"] in compiled.to_json()["layout"]["back_edges"]


# -- node names and options ------------------------------------------------------------------------


def test_a_duplicate_node_name_is_rejected() -> None:
    g = StateGraph(Counter)
    g.add_node("a", noop)

    with pytest.raises(GraphValidationError, match="node 'a' is already in the graph"):
        g.add_node("a", step_one)


@pytest.mark.parametrize("reserved", [START, END])
def test_start_and_end_are_reserved_node_names(reserved: str) -> None:
    with pytest.raises(GraphValidationError, match=re.escape(f"{reserved!r} is reserved")):
        StateGraph(Counter).add_node(reserved, noop)


@pytest.mark.parametrize("char", ["|", ":", "/"])
def test_node_names_with_reserved_characters_are_rejected(char: str) -> None:
    name = f"left{char}right"

    with pytest.raises(GraphValidationError) as info:
        StateGraph(Counter).add_node(name, noop)

    assert str(info.value) == f"node name {name!r} contains reserved character {char!r}"


@pytest.mark.parametrize("bad", ["", 42, None])
def test_node_names_must_be_non_empty_strings(bad: Any) -> None:
    with pytest.raises(GraphValidationError, match="node names must be non-empty strings"):
        StateGraph(Counter).add_node(bad, noop)


def test_a_graph_name_with_a_reserved_character_is_rejected() -> None:
    message = _compile_error(_chain("a"), name="my/graph")

    assert message == "graph name 'my/graph' contains reserved character '/'"


def test_add_node_with_only_a_function_uses_its_name() -> None:
    g = StateGraph(Counter)
    g.add_node(step_one)

    assert list(g.nodes) == ["step_one"]
    assert g.nodes["step_one"].fn is step_one


@pytest.mark.parametrize("timeout", [0, -1, -0.5, "5", [1]])
def test_a_bad_timeout_is_rejected(timeout: Any) -> None:
    with pytest.raises(GraphValidationError, match="node 'a': timeout must be a positive number of seconds"):
        StateGraph(Counter).add_node("a", noop, timeout=timeout)


def test_a_positive_timeout_is_stored_in_seconds() -> None:
    g = StateGraph(Counter)
    g.add_node("a", noop, timeout=3)

    assert g.nodes["a"].timeout == 3.0
    assert isinstance(g.nodes["a"].timeout, float)


@pytest.mark.parametrize(
    "retry",
    [
        pytest.param("fast", id="string"),
        pytest.param([RetryPolicy(), "again"], id="list-with-non-policy"),
        pytest.param({"max_attempts": 3}, id="dict"),
        pytest.param(5, id="int"),
        pytest.param(RetryPolicy, id="policy-class-not-instance"),
    ],
)
def test_a_bad_retry_is_rejected_with_a_graph_validation_error(retry: Any) -> None:
    with pytest.raises(GraphValidationError, match="node 'a': retry must be a RetryPolicy"):
        StateGraph(Counter).add_node("a", noop, retry=retry)


def test_retry_accepts_one_policy_or_several() -> None:
    first, second = RetryPolicy(max_attempts=2), RetryPolicy(max_attempts=5)
    g = StateGraph(Counter)
    g.add_node("one", noop, retry=first)
    g.add_node("many", noop, retry=[first, second])

    assert g.nodes["one"].retry == (first,)
    assert g.nodes["many"].retry == (first, second)


def test_an_action_that_is_neither_function_nor_graph_is_rejected() -> None:
    with pytest.raises(GraphValidationError, match="node 'a': expected a function or a compiled graph"):
        StateGraph(Counter).add_node("a", 42)  # type: ignore[arg-type]


@pytest.mark.parametrize("which", ["before", "after"])
def test_interrupts_naming_unknown_nodes_are_rejected(which: str) -> None:
    options: dict[str, Any] = {f"interrupt_{which}": ["a", "ghost"]}

    message = _compile_error(_chain("a", "b"), **options)

    assert message == f"interrupt_{which} names unknown node(s) ['ghost']; nodes: a, b"


def test_interrupt_star_expands_to_every_node() -> None:
    compiled = _chain("a", "b", "c").compile(name="paused", interrupt_before="*", interrupt_after="*")

    assert compiled.spec.interrupt_before == ("a", "b", "c")
    assert compiled.spec.interrupt_after == ("a", "b", "c")
    assert compiled.to_json()["interrupt_before"] == ["a", "b", "c"]


def test_a_single_interrupt_name_is_accepted_as_a_string() -> None:
    compiled = _chain("a", "b").compile(name="paused", interrupt_after="b")

    assert compiled.spec.interrupt_after == ("b",)
    assert compiled.spec.interrupt_before == ()


# -- node signatures -------------------------------------------------------------------------------


def _three_required(state: Any, config: Any, extra: Any) -> None:
    return None


def _keyword_only(*, state: Any) -> None:
    return None


def _keyword_only_after_state(state: Any, *, flag: bool) -> None:
    return None


def _no_params() -> None:
    return None


@pytest.mark.parametrize("fn", [_three_required, _keyword_only, _keyword_only_after_state, _no_params])
def test_node_functions_that_cannot_be_called_with_state_are_rejected(fn: Callable[..., Any]) -> None:
    with pytest.raises(GraphValidationError) as info:
        StateGraph(Counter).add_node("bad", fn)

    message = str(info.value)
    assert message.startswith("node 'bad': a node is called as fn(state) or fn(state, config)")
    assert fn.__name__ in message


def _with_config(state: Any, config: Any) -> None:
    return None


def _with_defaults(state: Any, config: Any = None, *, flag: bool = False) -> None:
    return None


async def _async_node(state: Any) -> None:
    return None


class _CallableNode:
    def __call__(self, state: Any) -> None:
        return None


@pytest.mark.parametrize(
    ("fn", "takes_config", "is_async"),
    [
        (noop, False, False),
        (_with_config, True, False),
        (_with_defaults, True, False),
        (_async_node, False, True),
        (_CallableNode(), False, False),
    ],
)
def test_valid_node_signatures_are_accepted_and_classified(
    fn: Callable[..., Any], takes_config: bool, is_async: bool
) -> None:
    g = StateGraph(Counter)
    g.add_node("n", fn)

    assert g.nodes["n"].takes_config is takes_config
    assert g.nodes["n"].is_async is is_async


# -- state schemas ---------------------------------------------------------------------------------


def test_channels_are_classified_by_reducer() -> None:
    g = StateGraph(AllKinds)

    assert g.channels == {"plain": "replace", "added": "add", "messages": "add_messages", "best": "custom"}
    assert g.custom_reducers == {"best": _keep_max}


def test_messages_state_uses_add_messages() -> None:
    assert StateGraph(MessagesState).channels == {"messages": "add_messages"}


@pytest.mark.parametrize("schema", [OneArgReducer, ThreeArgReducer])
def test_a_reducer_that_does_not_take_two_arguments_is_rejected(schema: Any) -> None:
    with pytest.raises(GraphValidationError, match=r"state key 'items': reducer .* must accept two"):
        StateGraph(schema)


def test_annotated_metadata_that_is_not_callable_is_rejected() -> None:
    with pytest.raises(GraphValidationError) as info:
        StateGraph(DocOnlyAnnotated)

    assert str(info.value) == (
        "state key 'items': Annotated metadata ('a list of numbers',) is not a reducer function"
    )


def test_a_state_schema_without_keys_is_rejected() -> None:
    with pytest.raises(GraphValidationError, match="state schema 'NoKeys' declares no keys; use a TypedDict"):
        StateGraph(NoKeys)


def test_graph_validation_error_is_a_value_error_with_a_code() -> None:
    assert issubclass(GraphValidationError, ValueError)
    assert GraphValidationError.code == "graph_invalid"


# -- Command destinations --------------------------------------------------------------------------


def _commander(state: Any) -> Command:
    return Command(goto="a")


def test_declared_destinations_make_a_node_without_static_edges_valid() -> None:
    g = StateGraph(Counter)
    g.add_node("router", _commander, destinations=["a", "b"])
    g.add_node("a", noop)
    g.add_node("b", noop)
    g.add_edge(START, "router")
    g.add_edge("a", END)
    g.add_edge("b", END)

    compiled = g.compile(name="commands")

    command_edges = [e for e in compiled.to_json()["edges"] if e["kind"] == "command"]
    assert [(e["source"], e["target"], e["label"]) for e in command_edges] == [
        ("router", "a", "a"),
        ("router", "b", "b"),
    ]
    assert all(e["conditional"] is True for e in command_edges)


def test_an_unknown_declared_destination_is_rejected() -> None:
    g = _chain("a")
    g.add_node("router", _commander, destinations=["a", "ghost"])
    g.add_edge("a", "router")

    assert _compile_error(g) == "node 'router' declares Command destination 'ghost', which is unknown"


def _annotated_commander(state: Any) -> Command[Literal["a", "b"]]:  # type: ignore[type-arg]
    return Command(goto="a")


def test_a_command_literal_return_annotation_declares_destinations() -> None:
    g = StateGraph(Counter)
    g.add_node("router", _annotated_commander)
    g.add_node("a", noop)
    g.add_node("b", noop)
    g.add_edge(START, "router")
    g.add_edge("a", END)
    g.add_edge("b", END)

    assert g.nodes["router"].destinations == ("a", "b")
    compiled = g.compile(name="annotated_commands")
    assert {e["target"] for e in compiled.to_json()["edges"] if e["kind"] == "command"} == {"a", "b"}


# -- JSON, channels and version --------------------------------------------------------------------


def _kinds_graph(
    node_fn: Callable[..., Any] = step_one, router: Callable[..., Any] = _route_anywhere
) -> StateGraph:
    g = StateGraph(AllKinds)
    g.add_node("first", node_fn, retry=RetryPolicy(max_attempts=4, jitter=False), timeout=2.5)
    g.add_node("second", noop, metadata={"owner": "tests"})
    g.add_edge(START, "first")
    g.add_edge("first", "second")
    g.add_conditional_edges("second", router, {"again": "first", "stop": END})
    return g


def test_to_json_contains_start_end_nodes_and_every_edge_kind() -> None:
    data = _kinds_graph().compile(name="kinds").to_json()

    assert data["graph_id"] == "kinds"
    assert data["nodes"][0] == {"id": START, "kind": "start"}
    assert data["nodes"][-1] == {"id": END, "kind": "end"}
    first = next(n for n in data["nodes"] if n["id"] == "first")
    assert first["kind"] == "node"
    assert first["timeout"] == 2.5
    assert first["retry"]["max_attempts"] == 4
    second = next(n for n in data["nodes"] if n["id"] == "second")
    assert second["metadata"] == {"owner": "tests"}
    assert second["retry"] is None
    static = [(e["source"], e["target"]) for e in data["edges"] if e["kind"] == "static"]
    assert static == [(START, "first"), ("first", "second")]
    labels = {e["label"]: e["target"] for e in data["edges"] if e["kind"] == "conditional"}
    assert labels == {"again": "first", "stop": END}


def test_to_json_lists_channels_by_kind() -> None:
    channels = _kinds_graph().compile(name="kinds").to_json()["channels"]

    assert channels == {"plain": "replace", "added": "add", "messages": "add_messages", "best": "custom"}


def test_to_json_has_a_layout_covering_every_node() -> None:
    data = _kinds_graph().compile(name="kinds").to_json()

    layout = data["layout"]
    assert set(layout["nodes"]) == {START, "first", "second", END}
    assert layout["nodes"][START]["layer"] == 0
    assert ["second", "first"] in layout["back_edges"]


def test_get_graph_is_the_topology_without_version_or_layout() -> None:
    compiled = _kinds_graph().compile(name="kinds")

    topology = compiled.get_graph()

    assert "version" not in topology
    assert "layout" not in topology
    derived = ("version", "layout", "schemas", "subgraph_schemas")
    assert topology == {k: v for k, v in compiled.to_json().items() if k not in derived}


def test_version_is_stable_for_identical_graphs() -> None:
    first = _kinds_graph().compile(name="kinds")
    second = _kinds_graph().compile(name="kinds")

    assert isinstance(first.version, str)
    assert first.version
    assert first.version == second.version
    assert first.to_json()["version"] == first.version


def _returns_one(state: Any) -> dict[str, Any]:
    return {"plain": 1}


def _returns_one_again(state: Any) -> dict[str, Any]:
    return {"plain": 1}


def _returns_two(state: Any) -> dict[str, Any]:
    return {"plain": 2}


def test_version_ignores_function_identity_but_not_function_code() -> None:
    base = _kinds_graph(_returns_one).compile(name="kinds").version
    same_body = _kinds_graph(_returns_one_again).compile(name="kinds").version
    other_body = _kinds_graph(_returns_two).compile(name="kinds").version

    assert base == same_body
    assert base != other_body


def test_code_fingerprint_changes_with_the_body() -> None:
    assert code_fingerprint(_returns_one) == code_fingerprint(_returns_one_again)
    assert code_fingerprint(_returns_one) != code_fingerprint(_returns_two)
    assert code_fingerprint(None) == ""


def _route_back(state: Any) -> str:
    return "again"


def test_version_changes_when_a_router_or_the_topology_changes() -> None:
    base = _kinds_graph().compile(name="kinds").version
    other_router = _kinds_graph(router=_route_back).compile(name="kinds").version
    renamed = _kinds_graph().compile(name="kinds_renamed").version
    extra_edge = _kinds_graph()
    extra_edge.add_edge("first", END)

    assert other_router != base
    assert renamed != base
    assert extra_edge.compile(name="kinds").version != base


def test_graph_spec_helpers_describe_the_topology() -> None:
    g = _chain("a", "b", "c")
    g.add_edge(["a", "b"], "c")
    spec: GraphSpec = g.compile(name="helpers").spec

    assert spec.out_edges("a") == ["b"]
    assert spec.joins_waiting_on("b") == [(("a", "b"), "c")]
    assert spec.joins_waiting_on("c") == []
    assert spec.branches_from("a") == []


def test_a_compiled_graph_can_be_a_subgraph_node() -> None:
    inner = _chain("x").compile(name="inner")
    outer = StateGraph(Counter)
    outer.add_node("child", inner)
    outer.add_edge(START, "child")
    outer.add_edge("child", END)

    data = outer.compile(name="outer").to_json()

    child = next(n for n in data["nodes"] if n["id"] == "child")
    assert child["kind"] == "subgraph"
    assert child["subgraph"]["graph_id"] == "inner"


def _outer_around(inner_node: Callable[..., Any]) -> CompiledGraph:
    inner = StateGraph(Counter)
    inner.add_node("x", inner_node)
    inner.add_edge(START, "x")
    inner.add_edge("x", END)
    outer = StateGraph(Counter)
    outer.add_node("child", inner.compile(name="inner"))
    outer.add_edge(START, "child")
    outer.add_edge("child", END)
    return outer.compile(name="outer")


def test_version_changes_when_a_subgraph_nodes_code_changes() -> None:
    one, same, two = _outer_around(step_one), _outer_around(step_one), _outer_around(step_two)

    assert one.spec.nodes["child"].subgraph is not None
    assert two.spec.nodes["child"].subgraph is not None
    assert one.spec.nodes["child"].subgraph.version != two.spec.nodes["child"].subgraph.version
    assert one.version == same.version
    assert one.version != two.version


def test_a_subgraph_node_keeps_its_metadata() -> None:
    inner = _chain("x").compile(name="inner")
    outer = StateGraph(Counter)
    outer.add_node("child", inner, metadata={"owner": "tests"})
    outer.add_edge(START, "child")
    outer.add_edge("child", END)

    child = next(n for n in outer.compile(name="outer").to_json()["nodes"] if n["id"] == "child")

    assert child["metadata"] == {"owner": "tests"}


# -- RetryPolicy -----------------------------------------------------------------------------------


def test_retry_delay_grows_by_the_backoff_factor_and_is_capped() -> None:
    policy = RetryPolicy(initial_interval=0.5, backoff_factor=3.0, max_interval=10.0, jitter=False)

    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.5, 4.5, 10.0, 10.0]


def test_retry_delay_with_jitter_adds_at_most_one_second() -> None:
    policy = RetryPolicy(initial_interval=2.0, backoff_factor=2.0, max_interval=100.0, jitter=True)
    random.seed(1234)

    delays = [policy.delay(2) for _ in range(50)]

    assert all(4.0 <= d <= 5.0 for d in delays)
    assert len(set(delays)) > 1


class _Transient(Exception):
    pass


@pytest.mark.parametrize(
    ("retry_on", "error", "expected"),
    [
        (ValueError, ValueError("x"), True),
        (ValueError, KeyError("x"), False),
        ((KeyError, ZeroDivisionError), ZeroDivisionError(), True),
        ((KeyError, ZeroDivisionError), ValueError(), False),
        ([_Transient], _Transient(), True),
        (LookupError, KeyError("subclass"), True),
        (lambda e: "retry" in str(e), RuntimeError("please retry"), True),
        (lambda e: "retry" in str(e), RuntimeError("fatal"), False),
    ],
)
def test_should_retry_accepts_types_sequences_and_callables(
    retry_on: Any, error: BaseException, expected: bool
) -> None:
    assert RetryPolicy(retry_on=retry_on).should_retry(error) is expected


class _Response:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


class _HttpError(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.response = _Response(status_code)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectionError("reset"), True),
        (ConnectionRefusedError("refused"), True),
        (TimeoutError("slow"), True),
        (_HttpError(503), True),
        (_HttpError(429), True),
        (_HttpError(404), False),
        (_Transient("unknown"), True),
        (ValueError("bad"), False),
        (TypeError("bad"), False),
        (KeyError("bad"), False),
        (ZeroDivisionError(), False),
        (FileNotFoundError("bad"), False),
    ],
)
def test_default_retry_on_retries_transient_errors_only(error: BaseException, expected: bool) -> None:
    assert default_retry_on(error) is expected
    assert RetryPolicy().should_retry(error) is expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": -3},
        {"initial_interval": -1.0},
        {"max_interval": -1.0},
        {"backoff_factor": 0.5},
    ],
)
def test_invalid_retry_policies_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**kwargs)


def test_retry_policy_to_json_lists_its_settings() -> None:
    policy = RetryPolicy(
        initial_interval=1.0, backoff_factor=1.5, max_interval=9.0, max_attempts=7, jitter=False
    )

    assert policy.to_json() == {
        "initial_interval": 1.0,
        "backoff_factor": 1.5,
        "max_interval": 9.0,
        "max_attempts": 7,
        "jitter": False,
    }


# -- in-process execution (a smoke test of what the builder produced) ------------------------------


def _append(item: str) -> Callable[[Log], dict[str, Any]]:
    def node(state: Log) -> dict[str, Any]:
        return {"items": [item], "last": item}

    return node


def test_invoke_runs_a_linear_graph_through_its_reducers() -> None:
    g = StateGraph(Log)
    g.add_node("a", _append("a"))
    g.add_node("b", _append("b"))
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)

    result = g.compile(name="invoke_linear").invoke({"items": ["start"]})

    assert result == {"items": ["start", "a", "b"], "last": "b"}


def _route_by_last(state: Log) -> str:
    return "long" if len(state["items"]) > 1 else "short"


def test_invoke_follows_the_path_map_of_a_conditional_edge() -> None:
    g = StateGraph(Log)
    g.add_node("a", _append("a"))
    g.add_node("left", _append("left"))
    g.add_node("right", _append("right"))
    g.add_edge(START, "a")
    g.add_conditional_edges("a", _route_by_last, {"short": "left", "long": "right"})
    g.add_edge("left", END)
    g.add_edge("right", END)
    compiled = g.compile(name="invoke_branch")

    assert compiled.invoke({"items": []})["items"] == ["a", "left"]
    assert compiled.invoke({"items": ["seed"]})["items"] == ["seed", "a", "right"]


def _go_to_b(state: Log) -> Command:
    return Command(update={"items": ["cmd"]}, goto="b")


def test_invoke_follows_a_command_goto_to_a_declared_destination() -> None:
    g = StateGraph(Log)
    g.add_node("cmd", _go_to_b, destinations=["a", "b"])
    g.add_node("a", _append("a"))
    g.add_node("b", _append("b"))
    g.add_edge(START, "cmd")
    g.add_edge("a", END)
    g.add_edge("b", END)

    assert g.compile(name="invoke_command").invoke({"items": []}) == {"items": ["cmd", "b"], "last": "b"}


def test_a_builder_call_ending_a_notebook_cell_shows_the_graph_not_an_address() -> None:
    g = StateGraph(Log)
    shown = repr(g.add_node("a", _append("a")).add_edge(START, "a").add_edge("a", END))
    assert shown == "<StateGraph(Log): a; 2 edges>"
    assert " at 0x" not in repr(StateGraph(Log))
