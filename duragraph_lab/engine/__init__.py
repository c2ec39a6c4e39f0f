"""The durable superstep executor; talks to storage only through its Journal port (DESIGN.md §4)."""
