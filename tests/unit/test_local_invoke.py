"""In-process runs (CompiledGraph.invoke): threads, breakpoints and resumes as LangGraph users expect."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

import pytest

from duragraph_lab import END, START, Command, StateGraph, interrupt
from duragraph_lab.engine.commands import InvalidRunRequest


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]


def two_steps(**compile_options: object) -> object:
    g = StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    return g.compile(name="two", **compile_options)  # type: ignore[arg-type]


def test_none_continues_past_a_breakpoint() -> None:
    graph = two_steps(interrupt_before=["b"])
    cfg = {"configurable": {"thread_id": "breakpoint-1"}}
    first = graph.invoke({"log": []}, cfg)  # type: ignore[attr-defined]
    assert first["log"] == ["a"]
    assert first["__interrupt__"]
    assert graph.invoke(None, cfg)["log"] == ["a", "b"]  # type: ignore[attr-defined]


def test_command_resume_none_also_continues() -> None:
    graph = two_steps(interrupt_after=["a"])
    cfg = {"configurable": {"thread_id": "breakpoint-2"}}
    graph.invoke({}, cfg)  # type: ignore[attr-defined]
    assert graph.invoke(Command(resume=None), cfg)["log"] == ["a", "b"]  # type: ignore[attr-defined]


def test_new_input_on_an_interrupted_thread_is_refused_with_advice() -> None:
    g = StateGraph(S)
    g.add_node("ask", lambda s: {"log": [str(interrupt("?"))]})
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    graph = g.compile(name="ask")
    cfg = {"configurable": {"thread_id": "asking-1"}}
    graph.invoke({}, cfg)
    with pytest.raises(InvalidRunRequest, match=r"resume it with Command\(resume=\.\.\.\)"):
        graph.invoke({"log": ["x"]}, cfg)
    assert graph.invoke(Command(resume="yes"), cfg)["log"] == ["yes"]


def test_command_input_may_only_resume() -> None:
    graph = two_steps(interrupt_before=["b"])
    cfg = {"configurable": {"thread_id": "cmd-1"}}
    graph.invoke({}, cfg)  # type: ignore[attr-defined]
    with pytest.raises(InvalidRunRequest, match="may only carry resume"):
        graph.invoke(Command(goto="a"), cfg)  # type: ignore[attr-defined]
    with pytest.raises(InvalidRunRequest, match="no interrupted run"):
        graph.invoke(Command(resume=1), {"configurable": {"thread_id": "nothing-here"}})  # type: ignore[attr-defined]


def test_several_interrupts_answered_by_id_in_process() -> None:
    g = StateGraph(S)
    g.add_node("a", lambda s: {"log": [f"a:{interrupt('a?')}"]})
    g.add_node("b", lambda s: {"log": [f"b:{interrupt('b?')}"]})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.add_edge("a", END)
    g.add_edge("b", END)
    graph = g.compile(name="two_asks")
    cfg = {"configurable": {"thread_id": "by-id-1"}}
    asked = graph.invoke({}, cfg)["__interrupt__"]
    answers = {i.id: i.value.upper() for i in asked}
    assert sorted(graph.invoke(Command(resume=answers), cfg)["log"]) == ["a:A?", "b:B?"]


def test_an_empty_interrupt_list_switches_off_the_graphs_own() -> None:
    graph = two_steps(interrupt_before=["b"])
    result = graph.invoke({}, {"configurable": {"thread_id": "no-breaks"}}, interrupt_before=[])  # type: ignore[attr-defined]
    assert result["log"] == ["a", "b"]


def test_invoke_returns_when_a_sync_node_times_out() -> None:
    import time

    g = StateGraph(S)
    g.add_node("stuck", lambda s: time.sleep(3) or {}, timeout=0.2)
    g.add_edge(START, "stuck")
    g.add_edge("stuck", END)
    begin = time.monotonic()
    with pytest.raises(Exception, match=r"did not finish within 0\.2s"):
        g.compile(name="stuck").invoke({})
    assert time.monotonic() - begin < 2, "invoke did not wait for the abandoned thread"


@pytest.mark.parametrize("points", ["*", ["*"], ["a", "*"]])
def test_a_star_means_every_node_also_inside_a_list(points: object) -> None:
    # The HTTP API sends interrupt_before as a list, so ["*"] must mean what "*" means.
    from duragraph_lab.engine import commands

    event = commands.run_created(
        run_id="r",
        thread_id="t",
        graph_id="two",
        assistant_id=None,
        channels={"log": "add"},
        nodes=["a", "b"],
        interrupt_before=points,  # type: ignore[arg-type]
        interrupt_after=["b"],
    )
    assert event.data["interrupt_before"] == ["a", "b"]
    assert event.data["interrupt_after"] == ["b"]
