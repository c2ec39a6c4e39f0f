"""Workers: lease runs, drive the engine, heartbeat (DESIGN.md §4)."""
