"""Map-reduce research: plan subtopics, research each in parallel (``Send``), summarise.

``graph.invoke({"topic": "solar power"})``: the model proposes 3-5 subtopics (a fixed set of
angles on the topic when its answer does not parse into 3-5 lines); ``{"topic": [...subjects]}``
uses the given subjects (at most 5) as they are. Each ``research`` task appends
``{"subtopic", "note"}`` to ``notes``; ``summarize`` runs once all of them are done.
"""

from __future__ import annotations

import operator
import re
from typing import Annotated, Any, TypedDict

from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START, Send
from duragraph_lab.llm import get_chat_model
from duragraph_lab.llm.messages import text_of

MIN_SUBTOPICS, MAX_SUBTOPICS = 3, 5
FALLBACK_ANGLES = ("background", "key ideas", "applications", "open questions")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


class MapReduceState(TypedDict, total=False):
    topic: str | list[str]
    subtopics: list[str]
    notes: Annotated[list[dict[str, str]], operator.add]
    summary: str


class ResearchTask(TypedDict):
    topic: str
    subtopic: str


def topic_text(topic: str | list[str]) -> str:
    return topic if isinstance(topic, str) else ", ".join(topic)


async def plan(state: MapReduceState) -> dict[str, Any]:
    topic = state.get("topic", "")
    if isinstance(topic, list):
        return {"subtopics": [str(s) for s in topic][:MAX_SUBTOPICS]}
    reply = await get_chat_model().ainvoke(
        [
            {"type": "system", "content": "Answer with 4 subtopics, one per line, nothing else."},
            {"type": "human", "content": f"List 4 subtopics to research about: {topic}"},
        ]
    )
    return {"subtopics": parse_subtopics(text_of(reply["content"]), topic)}


def parse_subtopics(answer: str, topic: str) -> list[str]:
    """The 3-5 subtopics listed one per line in ``answer`` (bullets and numbers stripped), or
    fixed angles on ``topic`` when the answer has fewer than 3 lines or more than 5."""
    lines = [_BULLET.sub("", line).strip() for line in answer.splitlines()]
    found = [line for line in lines if line]
    if MIN_SUBTOPICS <= len(found) <= MAX_SUBTOPICS:
        return found
    return [f"{topic}: {angle}" for angle in FALLBACK_ANGLES]


def fan_out(state: MapReduceState) -> list[Send]:
    topic = topic_text(state.get("topic", ""))
    return [Send("research", {"topic": topic, "subtopic": s}) for s in state.get("subtopics", [])]


async def research(task: ResearchTask) -> dict[str, Any]:
    reply = await get_chat_model().ainvoke(
        [
            {"type": "system", "content": "Write a two-sentence research note."},
            {"type": "human", "content": f"Research note on {task['subtopic']} (part of {task['topic']})"},
        ]
    )
    return {"notes": [{"subtopic": task["subtopic"], "note": text_of(reply["content"])}]}


async def summarize(state: MapReduceState) -> dict[str, Any]:
    notes = state.get("notes", [])
    listing = "\n".join(f"- {n['subtopic']}: {n['note']}" for n in notes)
    reply = await get_chat_model().ainvoke(
        [
            {"type": "system", "content": "Summarise these research notes in one paragraph."},
            {"type": "human", "content": f"Summarise for {topic_text(state.get('topic', ''))}:\n{listing}"},
        ]
    )
    return {"summary": text_of(reply["content"])}


builder = StateGraph(MapReduceState)
builder.add_node("plan", plan)
builder.add_node("research", research)
builder.add_node("summarize", summarize)
builder.add_edge(START, "plan")
builder.add_conditional_edges("plan", fan_out, ["research"])
builder.add_edge("research", "summarize")
builder.add_edge("summarize", END)
graph = builder.compile(name="map_reduce")
