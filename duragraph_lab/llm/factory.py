"""Choosing a chat model from the environment."""

from __future__ import annotations

import os

from duragraph_lab.llm.base import BaseChatModel
from duragraph_lab.llm.openai_compat import OpenAIChatModel
from duragraph_lab.llm.scripted import ScriptedChatModel

_CONFIG_VARS = ("DURAGRAPH_LLM_BASE_URL", "DURAGRAPH_LLM_API_KEY", "OPENAI_API_KEY")


def get_chat_model() -> BaseChatModel:
    """An :class:`OpenAIChatModel` configured from the environment when any of
    ``DURAGRAPH_LLM_BASE_URL``, ``DURAGRAPH_LLM_API_KEY`` or ``OPENAI_API_KEY`` is set; otherwise
    the offline :class:`ScriptedChatModel`, streaming ``DURAGRAPH_LLM_TOKEN_DELAY`` seconds apart
    (default 0.02). The environment is read on every call."""
    if any(os.environ.get(var) for var in _CONFIG_VARS):
        return OpenAIChatModel()
    delay = os.environ.get("DURAGRAPH_LLM_TOKEN_DELAY", "")
    try:
        token_delay = max(0.0, float(delay)) if delay else 0.02
    except ValueError:
        token_delay = 0.02
    return ScriptedChatModel(token_delay=token_delay)
