"""Graphs that are not chats, for the Playground's schema-built input (served by the tests'
servers as ``module:attr`` references): a native graph whose input is a simple form (string,
number, boolean, enum, list of strings), and a LangGraph ``StateGraph`` over a
``typing.TypedDict`` (a state pydantic cannot describe before Python 3.12: its schema is
DuraGraph's own). This module imports nothing from the tests."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, Literal, TypedDict

from langgraph.graph import END as LG_END
from langgraph.graph import START as LG_START
from langgraph.graph import StateGraph as LangGraphStateGraph

from duragraph_lab import END, START, StateGraph


class Order(TypedDict, total=False):
    customer: str
    quantity: int
    price: float
    express: bool
    size: Literal["small", "medium", "large"]
    tags: list[str]
    total: float
    log: Annotated[list[str], operator.add]


async def price(state: Order) -> dict[str, Any]:
    await asyncio.sleep(0.2)  # long enough for a node to be seen running
    total = state.get("quantity", 1) * state.get("price", 0.0) + (5.0 if state.get("express") else 0.0)
    return {"total": round(total, 2), "log": [f"priced {state.get('size', 'medium')}"]}


async def confirm(state: Order) -> dict[str, Any]:
    await asyncio.sleep(0.2)
    tags = ", ".join(state.get("tags", []))
    return {"log": [f"confirmed for {state.get('customer', '?')} ({tags})"]}


_order = StateGraph(Order)
_order.add_node("price", price)
_order.add_node("confirm", confirm)
_order.add_edge(START, "price")
_order.add_edge("price", "confirm")
_order.add_edge("confirm", END)
order = _order.compile(name="order")


class Shout(TypedDict, total=False):
    text: str
    times: int
    result: str


def shout(state: Shout) -> dict[str, Any]:
    return {"result": " ".join([state.get("text", "").upper()] * state.get("times", 1))}


_shout = LangGraphStateGraph(Shout)
_shout.add_node("shout", shout)
_shout.add_edge(LG_START, "shout")
_shout.add_edge("shout", LG_END)
lg_shout = _shout.compile(name="lg_shout")

REFS = ("tests.playground_graphs:order", "tests.playground_graphs:lg_shout")
