"""The read models, as typed queries: each module implements the read-model ports of one part of
the control plane (``control/<part>.py``) over PostgreSQL. SQL lives here and nowhere else."""
