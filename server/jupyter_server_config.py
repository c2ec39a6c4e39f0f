# Jupyter server configuration used by `duragraph-lab dev` and `duragraph-lab serve`.
#
# The CLI puts this directory on JUPYTER_CONFIG_PATH, so your own ~/.jupyter configuration still
# takes precedence. See production_config.example.py for running against external services.
import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821

c.ServerApp.jpserver_extensions = {"duragraph_lab": True}
# Ctrl-C stops at once (no "Shutdown this Jupyter server (y/[n])?" prompt): the CLI then stops
# NATS and PostgreSQL in order.
c.ServerApp.answer_yes = True

# The demo assistants (chat with tools, human approval, map-reduce), served by a worker inside the
# server so that `duragraph-lab dev` works out of the box. They run offline on a scripted model;
# set DURAGRAPH_LLM_BASE_URL / DURAGRAPH_LLM_API_KEY (or OPENAI_API_KEY) for a real one.
# Not when serving a LangGraph project (./langgraph.json or --config): then its graphs are served.
if not os.environ.get("DURAGRAPH_LANGGRAPH_CONFIG"):
    c.DuraGraphApp.graphs = [
        "duragraph_lab.demo.chat:graph",
        "duragraph_lab.demo.approval:graph",
        "duragraph_lab.demo.map_reduce:graph",
    ]
