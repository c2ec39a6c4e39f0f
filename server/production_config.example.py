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
c.DuraGraphApp.nats_url = os.environ["DURAGRAPH_NATS_URL"]  # nats://token@nats-1:4222,nats://nats-2:4222
# Several deployments can share one NATS cluster with different subject prefixes.
c.DuraGraphApp.subject_prefix = os.environ.get("DURAGRAPH_SUBJECT_PREFIX", "duragraph")
