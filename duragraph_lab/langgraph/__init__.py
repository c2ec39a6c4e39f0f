"""The second engine: real LangGraph graphs (``langgraph.graph.StateGraph``, ``create_agent``,
deepagents, graph factories, ``langgraph.json`` projects) executed by LangGraph's own runtime,
made durable by DuraGraph Lab.

LangGraph's executor runs the graph exactly as LangGraph does (``Send``, ``Command``,
``interrupt()``, subgraphs, retry and cache policies, ``Runtime`` context, stream writers); its
checkpoints and task writes are events of the run's stream, appended under the worker's fenced
lease in the same transaction as the outbox and the read models (:mod:`.checkpointer`); its store
is a PostgreSQL ``BaseStore`` on the same database. Runs are leased, heartbeated, re-dispatched and
cancelled like native runs, behind the same control plane.

``langgraph`` itself is an optional dependency (``pip install 'duragraph-lab[langgraph]'``): this
package imports it lazily where it can, and says in one line what to install where it cannot.
"""
