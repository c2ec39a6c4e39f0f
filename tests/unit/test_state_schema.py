"""JSON Schemas of graph state (``GET /assistants/{id}/schemas``): every supported annotation,
messages, recursion, types it cannot describe, and the demo graphs' real states."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import operator
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import (  # noqa: UP035 - the typing aliases (Dict, List) are supported too
    Annotated,
    Any,
    Dict,
    List,
    Literal,
    NamedTuple,
    NewType,
    NotRequired,
    Optional,
    Required,
    TypedDict,
    TypeVar,
    Union,
)

import jsonschema
import pytest

from duragraph_lab.domain import codec
from duragraph_lab.domain.messages import remove_message
from duragraph_lab.domain.reducers import add_messages
from duragraph_lab.graph import schema as schema_module
from duragraph_lab.graph.schema import message_json_schema, state_json_schema
from duragraph_lab.graph.state_graph import MessagesState, StateGraph
from duragraph_lab.graph.types import END, START, Command

Validator = jsonschema.Draft202012Validator


def check(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` is a valid draft 2020-12 schema made of plain JSON data."""
    Validator.check_schema(schema)
    assert json.loads(json.dumps(schema, allow_nan=False)) == schema
    assert codec.loads(codec.dumps(schema)) == schema  # storable in the event log
    return schema


def valid(schema: dict[str, Any], instance: Any) -> bool:
    return Validator(schema).is_valid(instance)


def prop(tp: Any) -> dict[str, Any]:
    """The schema a state key annotated ``tp`` gets (``$defs`` resolved against the whole)."""
    holder = TypedDict("Holder", {"x": tp})  # type: ignore[operator]  # noqa: UP013
    return check(state_json_schema(holder))["properties"]["x"]


def whole(tp: Any) -> dict[str, Any]:
    holder = TypedDict("Holder", {"x": tp})  # type: ignore[operator]  # noqa: UP013
    return check(state_json_schema(holder))


# -- types used below (module level, so postponed annotations resolve) ----------------------------------


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Point(TypedDict):
    x: float
    y: float
    label: NotRequired[str]


@dataclass
class Address:
    street: str
    number: int = 1
    tags: list[str] = field(default_factory=list)


class Tree(TypedDict):
    value: int
    children: list[Tree]


@dataclass
class Employee:
    name: str
    manager: Optional[Employee] = None  # noqa: UP045 - Optional is a supported spelling
    team: list[Team] = field(default_factory=list)


@dataclass
class Team:
    lead: Employee
    members: list[Employee]


class RecursiveState(TypedDict, total=False):
    name: str
    parent: RecursiveState
    tree: Tree


class Pair(NamedTuple):
    left: int
    right: str


UserId = NewType("UserId", str)
Bounded = TypeVar("Bounded", bound=int)


class Opaque:
    """A class the schema generator knows nothing about."""


def keep_max(current: int, update: int) -> int:
    return max(current, update)


class KindsState(TypedDict, total=False):
    topic: str
    notes: Annotated[list[str], operator.add]
    messages: Annotated[list[Any], add_messages]
    best: Annotated[int, keep_max]


class Mixed(TypedDict):
    must: int
    may: NotRequired[str]


class Partial(TypedDict, total=False):
    may: int
    must: Required[str]


class Broken(TypedDict):
    ok: int
    missing: NoSuchType  # type: ignore[name-defined]  # noqa: F821 - deliberately unresolvable


# -- scalars and containers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (None, {"type": "null"}),
        (type(None), {"type": "null"}),
        (Any, {}),
        (object, {}),
        (dt.datetime, {"type": "string", "format": "date-time"}),
        (dt.date, {"type": "string", "format": "date"}),
        (dt.time, {"type": "string", "format": "time"}),
        (dt.timedelta, {"type": "string", "format": "duration"}),
        (uuid.UUID, {"type": "string", "format": "uuid"}),
        (bytes, {"type": "string", "contentEncoding": "base64"}),
        (decimal.Decimal, {"anyOf": [{"type": "number"}, {"type": "string"}]}),
        (UserId, {"type": "string"}),
        (Bounded, {"type": "integer"}),
    ],
)
def test_scalars(tp: Any, expected: dict[str, Any]) -> None:
    assert prop(tp) == expected


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (list, {"type": "array"}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (List[str], {"type": "array", "items": {"type": "string"}}),  # noqa: UP006
        (Sequence[int], {"type": "array", "items": {"type": "integer"}}),
        (list[Any], {"type": "array"}),
        (set[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        (frozenset[int], {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
        (tuple, {"type": "array"}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (
            tuple[int, str],
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "items": False,
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (dict, {"type": "object"}),
        (dict[str, Any], {"type": "object"}),
        (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
        (Dict[str, bool], {"type": "object", "additionalProperties": {"type": "boolean"}}),  # noqa: UP006
        (Mapping[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
    ],
)
def test_containers(tp: Any, expected: dict[str, Any]) -> None:
    assert prop(tp) == expected


def test_container_instances_validate() -> None:
    tuple_schema = prop(tuple[int, str])
    assert valid(tuple_schema, [1, "a"])
    assert not valid(tuple_schema, [1, "a", "extra"])
    assert not valid(tuple_schema, ["a", 1])
    assert not valid(prop(set[int]), [1, 1])
    assert not valid(prop(dict[str, int]), {"a": "b"})


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (Optional[int], {"anyOf": [{"type": "integer"}, {"type": "null"}]}),  # noqa: UP045
        (Union[int, str], {"anyOf": [{"type": "integer"}, {"type": "string"}]}),  # noqa: UP007
        (int | str | None, {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]}),
        (int | Any, {}),  # one option accepts anything
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (Literal[1, "one", None], {"type": ["integer", "string", "null"], "enum": [1, "one", None]}),
        (Literal[True], {"type": "boolean", "enum": [True]}),
        (Literal[Colour.RED], {"type": "string", "enum": ["red"]}),
    ],
)
def test_unions_and_literals(tp: Any, expected: dict[str, Any]) -> None:
    assert prop(tp) == expected


def test_literal_bool_and_int_stay_distinct() -> None:
    schema = prop(Literal[1, True])
    assert schema["enum"] == [1, True]
    assert valid(schema, True)
    assert not valid(schema, 2)


def test_enums_are_definitions() -> None:
    schema = whole(list[Colour])
    assert schema["properties"]["x"] == {"type": "array", "items": {"$ref": "#/$defs/Colour"}}
    assert schema["$defs"]["Colour"] == {"title": "Colour", "type": "string", "enum": ["red", "green"]}
    assert valid(schema, {"x": ["red"]})
    assert not valid(schema, {"x": ["blue"]})
    assert whole(Level)["$defs"]["Level"] == {"title": "Level", "type": "integer", "enum": [1, 2]}


def test_annotated_metadata_is_stripped() -> None:
    assert prop(Annotated[list[str], operator.add]) == {"type": "array", "items": {"type": "string"}}
    assert prop(Annotated[int, keep_max]) == {"type": "integer"}


# -- required keys ------------------------------------------------------------------------------------


def test_required_keys_follow_totality_and_required_markers() -> None:
    # This module uses postponed annotations, where Python 3.11's __required_keys__ misses
    # NotRequired/Required: the schema reads them from the resolved hints.
    assert check(state_json_schema(Mixed))["required"] == ["must"]
    assert check(state_json_schema(Partial))["required"] == ["must"]
    assert check(state_json_schema(KindsState))["required"] == []
    assert check(state_json_schema(MessagesState))["required"] == ["messages"]


def test_required_keys_of_a_typeddict_built_at_runtime() -> None:
    Runtime = TypedDict("Runtime", {"a": int, "b": NotRequired[str]})  # noqa: UP013
    schema = check(state_json_schema(Runtime))
    assert schema["title"] == "Runtime"
    assert schema["properties"] == {"a": {"type": "integer"}, "b": {"type": "string"}}
    assert schema["required"] == ["a"]
    assert valid(schema, {"a": 1})
    assert not valid(schema, {"b": "x"})


# -- nested types and recursion -----------------------------------------------------------------------


def test_nested_typeddicts_and_dataclasses_are_definitions() -> None:
    schema = whole(list[Point | Address])
    assert schema["properties"]["x"] == {
        "type": "array",
        "items": {"anyOf": [{"$ref": "#/$defs/Point"}, {"$ref": "#/$defs/Address"}]},
    }
    assert schema["$defs"]["Point"] == {
        "title": "Point",
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": "number"}, "label": {"type": "string"}},
        "required": ["x", "y"],
    }
    assert schema["$defs"]["Address"] == {
        "title": "Address",
        "type": "object",
        "properties": {
            "street": {"type": "string"},
            "number": {"type": "integer", "default": 1},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["street"],
    }
    assert valid(schema, {"x": [{"x": 1, "y": 2.5}, {"street": "Main"}]})
    assert not valid(schema, {"x": [{"x": 1}]})


def test_recursive_types() -> None:
    schema = whole(Tree)
    assert schema["properties"]["x"] == {"$ref": "#/$defs/Tree"}
    assert schema["$defs"]["Tree"]["properties"]["children"] == {
        "type": "array",
        "items": {"$ref": "#/$defs/Tree"},
    }
    assert valid(schema, {"x": {"value": 1, "children": [{"value": 2, "children": []}]}})
    assert not valid(schema, {"x": {"value": 1, "children": [{"value": "two", "children": []}]}})


def test_mutually_recursive_dataclasses() -> None:
    schema = whole(Team)
    defs = schema["$defs"]
    assert set(defs) == {"Team", "Employee"}
    assert defs["Employee"]["properties"]["manager"] == {
        "anyOf": [{"$ref": "#/$defs/Employee"}, {"type": "null"}],
        "default": None,
    }
    assert defs["Employee"]["properties"]["team"] == {"type": "array", "items": {"$ref": "#/$defs/Team"}}
    boss = {"name": "Ada", "manager": None, "team": []}
    assert valid(schema, {"x": {"lead": boss, "members": [{"name": "Bob", "manager": boss, "team": []}]}})
    assert not valid(schema, {"x": {"lead": {"name": 1}, "members": []}})


def test_a_state_that_refers_to_itself_points_at_the_root() -> None:
    schema = check(state_json_schema(RecursiveState))
    assert schema["properties"]["parent"] == {"$ref": "#"}
    assert set(schema["$defs"]) == {"Tree"}
    assert valid(schema, {"name": "a", "parent": {"name": "b", "parent": {}}})
    assert not valid(schema, {"parent": {"name": 3}})


def test_two_classes_with_the_same_name_get_distinct_definitions() -> None:
    First = TypedDict("Same", {"a": int})  # type: ignore[misc]  # noqa: UP013
    Second = TypedDict("Same", {"b": str})  # type: ignore[misc]  # noqa: UP013
    schema = whole(tuple[First, Second])
    first_ref, second_ref = (item["$ref"] for item in schema["properties"]["x"]["prefixItems"])
    assert first_ref != second_ref
    assert valid(schema, {"x": [{"a": 1}, {"b": "x"}]})
    assert not valid(schema, {"x": [{"a": "no"}, {"b": "x"}]})


def test_named_tuples() -> None:
    schema = whole(Pair)
    assert schema["$defs"]["Pair"] == {
        "title": "Pair",
        "type": "array",
        "items": False,
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2,
    }
    assert valid(schema, {"x": [1, "a"]})


def test_a_dataclass_state() -> None:
    schema = check(state_json_schema(Address, {"street": "replace", "number": "replace", "tags": "add"}))
    assert schema["title"] == "Address"
    assert schema["required"] == ["street"]
    assert schema["properties"]["tags"] == {"type": "array", "items": {"type": "string"}, "x-reducer": "add"}


# -- messages and reducers ----------------------------------------------------------------------------


def test_messages_state() -> None:
    schema = check(state_json_schema(MessagesState, {"messages": "add_messages"}))
    assert schema["title"] == "MessagesState"
    assert schema["properties"]["messages"] == {
        "type": "array",
        "items": {"$ref": "#/$defs/Message"},
        "x-reducer": "add_messages",
    }
    assert schema["$defs"]["Message"] == message_json_schema()
    types = schema["$defs"]["Message"]["properties"]["type"]["enum"]
    assert types == ["human", "ai", "system", "tool", "remove"]
    messages = [
        {"type": "human", "content": "hi", "id": "1"},
        {
            "type": "ai",
            "content": "",
            "id": "2",
            "tool_calls": [{"id": "c1", "name": "calculator", "args": {"expression": "1+1"}}],
        },
        {"type": "tool", "content": "2", "id": "3", "tool_call_id": "c1", "status": "success"},
        {"type": "ai", "content": [{"type": "text", "text": "2"}], "id": "4"},
        remove_message("1"),
    ]
    assert valid(schema, {"messages": messages})
    assert not valid(schema, {"messages": [{"type": "robot", "content": "x"}]})
    assert not valid(schema, {"messages": [{"type": "human"}]})
    assert not valid(schema, {"messages": "hi"})
    assert not valid(schema, {})


def test_messages_are_recognised_without_channels() -> None:
    schema = check(state_json_schema(MessagesState))
    assert schema["properties"]["messages"] == {"type": "array", "items": {"$ref": "#/$defs/Message"}}
    assert "x-reducer" not in json.dumps(schema)


def test_every_key_carries_its_reducer_kind() -> None:
    graph = StateGraph(KindsState)
    schema = check(state_json_schema(KindsState, graph.channels))
    assert {k: p["x-reducer"] for k, p in schema["properties"].items()} == {
        "topic": "replace",
        "notes": "add",
        "messages": "add_messages",
        "best": "custom",
    }
    assert schema["properties"]["notes"] == {"type": "array", "items": {"type": "string"}, "x-reducer": "add"}
    assert schema["properties"]["best"] == {"type": "integer", "x-reducer": "custom"}


def test_a_plain_dict_or_no_state_type_is_described_by_its_channels() -> None:
    channels = {"messages": "add_messages", "count": "add", "other": "replace"}
    for state_type in (dict, None, dict[str, Any]):
        schema = check(state_json_schema(state_type, channels, title="Loose"))
        assert schema["title"] == "Loose"
        assert schema["type"] == "object"
        assert schema["required"] == []
        assert schema["properties"]["count"] == {"x-reducer": "add"}
        assert schema["properties"]["messages"]["x-reducer"] == "add_messages"
        assert "x-python-type" not in schema
        assert valid(schema, {"messages": [{"type": "human", "content": "x"}], "count": 3})
    assert check(state_json_schema(None)) == {
        "title": "State",
        "type": "object",
        "properties": {},
        "required": [],
    }


def test_title_can_be_overridden() -> None:
    assert state_json_schema(MessagesState, title="ChatInput")["title"] == "ChatInput"


# -- what cannot be described -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tp", "spelling"),
    [
        (Opaque, "test_state_schema.Opaque"),
        (Callable[[int], int], "Callable"),
        (type[int], "type[int]"),
    ],
)
def test_unsupported_types_accept_anything_and_say_what_they_were(tp: Any, spelling: str) -> None:
    schema = prop(tp)
    assert set(schema) == {"x-python-type"}
    assert spelling in schema["x-python-type"]
    assert valid(schema, {"anything": [1, 2]})


def test_unresolvable_annotations_spoil_only_their_own_key() -> None:
    schema = check(state_json_schema(Broken))
    assert schema["properties"]["ok"] == {"type": "integer"}
    assert schema["properties"]["missing"] == {"x-python-type": "NoSuchType"}


def test_schema_generation_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(schema_module._Builder, "root", explode)
    schema = check(state_json_schema(KindsState, {"topic": "replace"}))
    assert schema["properties"] == {"topic": {"x-reducer": "replace"}}
    assert schema["x-python-type"].endswith("KindsState")


def test_non_object_state_types_fall_back_to_the_channels() -> None:
    schema = check(state_json_schema(int, {"a": "replace"}))
    assert schema["properties"] == {"a": {"x-reducer": "replace"}}
    assert schema["x-python-type"] == "int"
    assert check(state_json_schema(42))["type"] == "object"


def test_an_enum_with_unusual_values_is_unknown() -> None:
    class Weird(enum.Enum):
        A = (1, 2)

    schema = whole(Weird)
    assert schema["$defs"]["Weird"]["title"] == "Weird"
    assert "x-python-type" in schema["$defs"]["Weird"]


def test_generic_aliases_of_typing_are_supported() -> None:
    assert prop(typing.List[int]) == {"type": "array", "items": {"type": "integer"}}  # noqa: UP006
    assert prop(typing.Dict[str, str]) == {"type": "object", "additionalProperties": {"type": "string"}}  # noqa: UP006


# -- GraphSpec ----------------------------------------------------------------------------------------


def _kinds_graph(name: str = "kinds") -> Any:
    builder = StateGraph(KindsState)
    builder.add_node("a", lambda s: {"topic": "x"})
    builder.add_edge(START, "a")
    builder.add_edge("a", END)
    return builder.compile(name=name)


def test_graph_spec_schemas() -> None:
    spec = _kinds_graph().spec
    schemas = spec.schemas()
    assert set(schemas) == {
        "input_schema",
        "output_schema",
        "state_schema",
        "config_schema",
        "context_schema",
    }
    assert schemas["config_schema"] is None
    assert schemas["context_schema"] is None
    assert schemas["input_schema"] == schemas["output_schema"] == schemas["state_schema"]
    # x-order: the keys in declaration order, which the jsonb the schema is stored in forgets.
    assert schemas["state_schema"] == {
        **state_json_schema(KindsState, spec.channels),
        "x-order": ["topic", "notes", "messages", "best"],
    }
    check(schemas["state_schema"])
    schemas["input_schema"]["title"] = "changed"  # each schema is its own copy
    assert schemas["state_schema"]["title"] == "KindsState"


def test_schemas_are_in_to_json_but_not_in_the_topology() -> None:
    compiled = _kinds_graph()
    data = compiled.to_json()
    assert data["schemas"] == compiled.spec.schemas()
    assert data["subgraph_schemas"] == {}
    assert "schemas" not in compiled.get_graph()
    assert "schemas" not in json.dumps(compiled.spec.topology())
    codec.dumps(data)  # to_json() is recorded in the event log when a graph is registered


def test_subgraph_schemas_are_keyed_by_node() -> None:
    inner = StateGraph(MessagesState)
    inner.add_node("reply", lambda s: {"messages": [("ai", "hi")]})
    inner.add_edge(START, "reply")
    inner.add_edge("reply", END)
    outer = StateGraph(MessagesState)
    outer.add_node("child", inner.compile(name="inner"))
    outer.add_node("plain", lambda s: None)
    outer.add_edge(START, "child")
    outer.add_edge("child", "plain")
    outer.add_edge("plain", END)
    data = outer.compile(name="outer").to_json()
    assert set(data["subgraph_schemas"]) == {"child"}
    assert (
        data["subgraph_schemas"]["child"]["state_schema"]["properties"]["messages"]["x-reducer"]
        == "add_messages"
    )


# -- the demo graphs ----------------------------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DURAGRAPH_LLM_BASE_URL", "DURAGRAPH_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DURAGRAPH_LLM_TOKEN_DELAY", "0")


def _thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def _as_json(state: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps({k: v for k, v in state.items() if k != "__interrupt__"}))
    return data


@pytest.mark.usefixtures("offline")
def test_demo_graphs_describe_their_real_states() -> None:
    from duragraph_lab.demo import approval, chat, map_reduce

    runs: list[tuple[Any, list[Any]]] = [
        (chat.graph, [{"messages": [("user", "what is 2 + 3")]}]),
        (approval.graph, [{"messages": [("user", "Can we meet?")]}, Command(resume=True)]),
        (map_reduce.graph, [{"topic": "solar power"}]),
    ]
    for graph, inputs in runs:
        schemas = graph.to_json()["schemas"]
        for schema in schemas.values():
            if schema is not None:
                check(schema)
        validator = Validator(schemas["state_schema"])
        config = _thread()
        for value in inputs:
            state = _as_json(graph.invoke(value, config))
            errors = [e.message for e in validator.iter_errors(state)]
            assert not errors, (graph.name, errors, state)


def test_demo_graph_schemas_accept_example_inputs_and_reject_wrong_ones() -> None:
    from duragraph_lab.demo import approval, chat, map_reduce

    chat_input = Validator(chat.graph.spec.schemas()["input_schema"])
    assert chat_input.is_valid({"messages": [{"type": "human", "content": "hi"}]})
    assert not chat_input.is_valid({"messages": [{"type": "human", "content": 3}]})

    approval_state = Validator(approval.graph.spec.schemas()["state_schema"])
    assert approval_state.is_valid({"draft": "x", "approved": False, "revisions": 2, "feedback": ""})
    assert not approval_state.is_valid({"approved": "yes"})

    map_reduce_input = Validator(map_reduce.graph.spec.schemas()["input_schema"])
    assert map_reduce_input.is_valid({"topic": "solar"})
    assert map_reduce_input.is_valid({"topic": ["wind", "tides"]})
    assert map_reduce_input.is_valid({"notes": [{"subtopic": "a", "note": "b"}]})
    assert not map_reduce_input.is_valid({"topic": 3})
    assert not map_reduce_input.is_valid({"notes": [{"subtopic": 1}]})
