"""Configuration, embedded PostgreSQL and NATS, and the ``duragraph-lab`` command line."""
