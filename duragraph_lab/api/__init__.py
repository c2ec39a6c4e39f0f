"""The Jupyter server extension and its REST/SSE handlers."""
