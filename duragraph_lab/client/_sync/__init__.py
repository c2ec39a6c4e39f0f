"""The sync client, generated from ``duragraph_lab.client._async`` by
``python duragraph_lab/client/_unasync.py``: edit the async files, then run that."""
