"""The read models' queries: the SQL behind the control plane's read-model ports."""
