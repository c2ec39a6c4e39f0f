"""Python client for the REST/SSE API (DESIGN.md §5)."""
