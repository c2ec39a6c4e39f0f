"""Chat model clients whose calls are recorded in the run log, so replays need no network.

Inside a node, ``await get_chat_model().ainvoke(messages, tools=[...])`` returns a canonical AI
message; the call is stored with the task's result, its tokens stream live, and re-executing the
task answers it from the log (see :mod:`duragraph_lab.llm.recording`).
"""

from __future__ import annotations

from duragraph_lab.llm.base import BaseChatModel, ChatModel
from duragraph_lab.llm.errors import (
    MissingAPIKey,
    ModelError,
    ModelResponseError,
    RecordedModelError,
    ReplayExhausted,
    ScriptExhausted,
)
from duragraph_lab.llm.factory import get_chat_model
from duragraph_lab.llm.messages import Message
from duragraph_lab.llm.openai_compat import OpenAIChatModel
from duragraph_lab.llm.scripted import ScriptedChatModel
from duragraph_lab.llm.tools import Tool, run_tool_calls, tool

__all__ = [
    "BaseChatModel",
    "ChatModel",
    "Message",
    "MissingAPIKey",
    "ModelError",
    "ModelResponseError",
    "OpenAIChatModel",
    "RecordedModelError",
    "ReplayExhausted",
    "ScriptExhausted",
    "ScriptedChatModel",
    "Tool",
    "get_chat_model",
    "run_tool_calls",
    "tool",
]
