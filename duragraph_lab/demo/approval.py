"""Human approval before a reply goes out: the model drafts, a person approves or asks for changes.

``draft`` -> ``review`` (interrupts with ``{"question", "draft", "revision"}``) -> ``publish`` on
approval. Resume with ``Command(resume=True)``, ``Command(resume=False)`` or
``Command(resume={"approved": False, "feedback": "shorter, please"})``: a rejection goes back to
``draft`` with the feedback in the prompt. After :data:`MAX_REVISIONS` rejected revisions the run
ends *without* publishing (``approved`` stays False and ``draft`` holds the last rejected draft):
nothing a person refused is sent. A resume value of any other shape is asked for again.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from duragraph_lab.domain.reducers import add_messages
from duragraph_lab.graph.context import interrupt
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START
from duragraph_lab.llm import get_chat_model
from duragraph_lab.llm.messages import text_of

MAX_REVISIONS = 3
SYSTEM_PROMPT = "Draft a short, friendly reply to the user's last message. Reply with the draft only."


class ApprovalState(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    draft: str
    approved: bool
    feedback: str  # the reviewer's latest feedback ("" when none)
    revise: bool  # a rejected draft awaits revision (set by review, cleared by draft)
    revisions: int  # drafts written after a rejection, for the current request


async def draft(state: ApprovalState) -> dict[str, Any]:
    prompt: list[Any] = [{"type": "system", "content": SYSTEM_PROMPT}, *state.get("messages", [])]
    revising = state.get("revise", False)
    if revising:
        feedback = state.get("feedback") or "(no feedback given)"
        prompt.append(
            {
                "type": "human",
                "content": f"Revise this draft: {state.get('draft', '')!r}. Reviewer feedback: {feedback}",
            }
        )
    reply = await get_chat_model().ainvoke(prompt)
    return {
        "draft": text_of(reply["content"]),
        "approved": False,
        "revise": False,
        # A new request (a later run on the thread) starts counting again.
        "revisions": (state.get("revisions", 0) + 1) if revising else 0,
    }


def review(state: ApprovalState) -> dict[str, Any]:
    question = {
        "question": "Approve this reply?",
        "draft": state.get("draft", ""),
        "revision": state.get("revisions", 0),
    }
    answer = interrupt(question)
    decision = parse_decision(answer)
    while decision is None:
        # Each interrupt() in a node is matched to its own resume: asking again is safe.
        expected = "true/false or {'approved': bool, 'feedback': str}"
        answer = interrupt({**question, "error": f"expected {expected}, got {answer!r:.100}"})
        decision = parse_decision(answer)
    approved, feedback = decision
    revise = not approved and state.get("revisions", 0) < MAX_REVISIONS
    return {"approved": approved, "feedback": feedback, "revise": revise}


def parse_decision(answer: Any) -> tuple[bool, str] | None:
    """``(approved, feedback)`` from a resume value: a bool, or ``{"approved": bool, "feedback":
    str}`` (feedback optional); ``None`` for anything else."""
    if isinstance(answer, bool):
        return answer, ""
    if isinstance(answer, dict) and isinstance(answer.get("approved"), bool):
        feedback = answer.get("feedback") or ""
        return answer["approved"], str(feedback)
    return None


def after_review(state: ApprovalState) -> str:
    if state.get("approved"):
        return "publish"
    return "draft" if state.get("revise") else END


def publish(state: ApprovalState) -> dict[str, Any]:
    return {"messages": [{"type": "ai", "content": state.get("draft", "")}]}


builder = StateGraph(ApprovalState)
builder.add_node("draft", draft)
builder.add_node("review", review)
builder.add_node("publish", publish)
builder.add_edge(START, "draft")
builder.add_edge("draft", "review")
builder.add_conditional_edges("review", after_review, ["publish", "draft", END])
builder.add_edge("publish", END)
graph = builder.compile(name="approval")
