"""Choosing a chat model from the environment."""

from __future__ import annotations

import os

from duragraph_lab.llm.base import BaseChatModel
from duragraph_lab.llm.openai_compat import OpenAIChatModel
from duragraph_lab.llm.scripted import ScriptedChatModel

_CONFIG_VARS = ("DURAGRAPH_LLM_BASE_URL", "DURAGRAPH_LLM_API_KEY", "OPENAI_API_KEY")


#: The offline model's default pacing: like a hosted model's time to first token and streaming
#: rate, so that the demos take a second or two and their nodes can be watched lighting up.
DEFAULT_FIRST_TOKEN_DELAY = 0.5
DEFAULT_TOKEN_DELAY = 0.06


def get_chat_model() -> BaseChatModel:
    """An :class:`OpenAIChatModel` configured from the environment when any of
    ``DURAGRAPH_LLM_BASE_URL``, ``DURAGRAPH_LLM_API_KEY`` or ``OPENAI_API_KEY`` is set; otherwise
    the offline :class:`ScriptedChatModel`, answering after ``DURAGRAPH_LLM_FIRST_TOKEN_DELAY``
    seconds (default 0.5) and streaming ``DURAGRAPH_LLM_TOKEN_DELAY`` seconds apart (default
    0.06); 0 for both makes it instant (tests). The environment is read on every call."""
    if any(os.environ.get(var) for var in _CONFIG_VARS):
        return OpenAIChatModel()
    return ScriptedChatModel(
        token_delay=_seconds("DURAGRAPH_LLM_TOKEN_DELAY", DEFAULT_TOKEN_DELAY),
        first_token_delay=_seconds("DURAGRAPH_LLM_FIRST_TOKEN_DELAY", DEFAULT_FIRST_TOKEN_DELAY),
    )


def _seconds(name: str, default: float) -> float:
    """A non-negative number of seconds from the environment; the default when unset or not a
    number."""
    text = os.environ.get(name, "")
    try:
        return max(0.0, float(text)) if text else default
    except ValueError:
        return default
