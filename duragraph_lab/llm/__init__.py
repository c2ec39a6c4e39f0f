"""Chat model clients whose calls are recorded in the run log, so replays need no network."""
