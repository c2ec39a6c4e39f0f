"""Jupyter Authorizers for the authorization tests, imported by the server process
(``--ServerApp.authorizer_class=tests.authorizers.ReadOnly``; tests.apiserver puts the repository
on its PYTHONPATH). Each allows a set of actions on every resource, as a JupyterHub role with
only some ``custom:jupyter_server:<action>:*`` scopes does."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.authorizer import Authorizer


class _Allowing(Authorizer):
    allowed: frozenset[str] = frozenset()

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return action in self.allowed


class ReadOnly(_Allowing):
    """Reads only: Jupyter's own writes (a new file, a new kernel) are refused as well."""

    allowed = frozenset({"read"})


class NoExecute(_Allowing):
    """Reads and writes, nothing that runs code."""

    allowed = frozenset({"read", "write"})
