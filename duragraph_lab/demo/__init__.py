"""Demo assistants shipped with the package (runnable offline with the scripted model).

Each module holds a compiled ``graph`` using :func:`duragraph_lab.llm.get_chat_model`: the offline
scripted model by default, a real OpenAI-compatible model once ``DURAGRAPH_LLM_*`` (or
``OPENAI_API_KEY``) is set. :data:`GRAPHS` lists them as import strings for a server's config;
the modules are imported only when named (not here).
"""

from __future__ import annotations

#: ``module:attribute`` of each demo graph: chat (tool calling), approval (human in the loop),
#: map_reduce (parallel fan-out with Send).
GRAPHS = [
    "duragraph_lab.demo.chat:graph",
    "duragraph_lab.demo.approval:graph",
    "duragraph_lab.demo.map_reduce:graph",
]
