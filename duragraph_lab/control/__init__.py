"""The control plane: the application's commands and queries — assistants, threads, runs,
resumes, cancels, forks, state edits, datasets, experiments — used by the HTTP API, the notebook
and the workers alike.

It decides (every decision checked against the folded log, every append carrying an expected
version) and talks to the world only through the ports in :mod:`duragraph_lab.control.ports`: the
event store, the read models, and whatever executes runs. It imports neither psycopg, nats,
tornado nor jupyter; ``store/`` and ``bus/`` implement its ports, ``api/`` and ``notebook/`` call
it, and a second execution engine plugs in behind the same commands.
"""
