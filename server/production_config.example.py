# Example: DuraGraph Lab on shared infrastructure (copy to jupyter_server_config.py and adapt).
#
#   jupyter server --config=production_config.py        # or: duragraph-lab serve --config=...
#
# Scale out by running several API replicas and `duragraph-lab worker` processes against the same
# PostgreSQL (any managed/HA PostgreSQL >= 14) and NATS JetStream cluster.
import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821

c.ServerApp.jpserver_extensions = {"duragraph_lab": True}
c.ServerApp.ip = "0.0.0.0"
c.ServerApp.open_browser = False
c.IdentityProvider.token = os.environ["JUPYTER_TOKEN"]  # never run an open server

c.DuraGraphApp.database_url = os.environ["DURAGRAPH_DATABASE_URL"]  # postgresql://user:pw@host/db
c.DuraGraphApp.nats_url = os.environ["DURAGRAPH_NATS_URL"]  # nats://token@nats-1:4222,nats://token@nats-2:4222,...
# Several deployments can share one NATS cluster with different subject prefixes.
c.DuraGraphApp.subject_prefix = os.environ.get("DURAGRAPH_SUBJECT_PREFIX", "duragraph")
# One replica's relay publishes events to JetStream; if that replica dies or freezes, another takes
# over about this many seconds after its last lease renewal. /health turns 503 on every replica when
# events wait longer than the threshold (keep it above the TTL).
c.DuraGraphApp.relay_lease_ttl = 5.0
c.DuraGraphApp.relay_lag_threshold = 10.0
# The JetStream stream DuraGraph creates when it is missing (an existing one is left alone): when
# this size cannot be reserved it is created as large as the server allows, with a warning.
c.DuraGraphApp.jetstream_max_bytes = os.environ.get("DURAGRAPH_JETSTREAM_MAX_BYTES", "4GiB")
c.DuraGraphApp.jetstream_max_age = os.environ.get("DURAGRAPH_JETSTREAM_MAX_AGE", "7d")
# Copies of the stream on a NATS cluster (3 on three nodes); set, it also changes an existing stream.
c.DuraGraphApp.jetstream_replicas = os.environ.get("DURAGRAPH_JETSTREAM_REPLICAS") or None
