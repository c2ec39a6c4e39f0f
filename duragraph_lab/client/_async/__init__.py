"""The client, written once: this package is the asyncio client, and ``duragraph_lab.client._sync``
is generated from it by ``python duragraph_lab/client/_unasync.py`` (edit here, never there;
tests/unit/test_client_generated.py fails when the generated files are stale).

What a call does is decided without I/O: requests and answers in ``_calls``/``_eval_calls``/``_common``
(:class:`duragraph_lab.client._common.Call`), the resume protocol of streams in ``_stream``
(:class:`duragraph_lab.client._stream.StreamSession`). These files only send calls and move
bytes, and carry the public signatures and docstrings, so a fix or a new method is written once
and reaches both clients.
"""
