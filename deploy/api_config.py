# Jupyter configuration of the API servers in the image (/etc/duragraph/api_config.py, passed as
# --JupyterApp.config_file): loaded after the package's own, so it wins over the demo assistants
# that `duragraph-lab serve` would otherwise run in an in-process worker. In this topology the
# workers (`duragraph-lab worker`) execute every run; the API servers only serve the API.
c = get_config()  # type: ignore[name-defined]  # noqa: F821

c.DuraGraphApp.graphs = []
