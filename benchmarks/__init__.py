"""DuraGraph Lab's performance suite (see docs/benchmarks.md for figures and how to run it)."""
