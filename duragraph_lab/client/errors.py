"""What the client raises: the server said no (:class:`DuraGraphAPIError`), or could not be
reached (:class:`DuraGraphConnectionError`)."""

from __future__ import annotations

from typing import Any

from duragraph_lab.domain.errors import DuraGraphError


class DuraGraphClientError(DuraGraphError):
    """Base class of the client's errors (misconfiguration included)."""

    code = "client_error"


class DuraGraphAPIError(DuraGraphClientError):
    """A non-2xx answer: ``status``, and the server's ``{"error": code, "message": text}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        method: str = "",
        url: str = "",
        details: Any = None,
        body: Any = None,
    ) -> None:
        where = f" ({method} {url})" if method and url else ""
        super().__init__(f"{status} {code}: {message}{where}")
        self.status = status
        self.code = code
        self.message = message
        self.method = method
        self.url = url
        self.details = details
        self.body = body

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


class DuraGraphConnectionError(DuraGraphClientError):
    """The server could not be reached (or the connection broke and could not be resumed)."""

    code = "connection_error"

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the DuraGraph API at {url}: {reason}")
        self.url = url
        self.reason = reason


class DuraGraphTimeoutError(DuraGraphConnectionError):
    """The server did not answer in time (see the client's ``timeout``)."""

    code = "timeout"
