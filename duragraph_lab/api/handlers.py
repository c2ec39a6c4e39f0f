"""Tornado handlers: parse, call the backend, map errors to JSON. No logic of their own."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from duragraph_lab.api.backend import Backend

API_PREFIX = "duragraph/api/v1"
AUTH_RESOURCE = "duragraph"


class DuraGraphHandler(ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def backend(self) -> Backend:
        backend: Backend = self.settings["duragraph_backend"]
        return backend

    def write_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error is ``{"error": code, "message": text}``."""
        reason = self._reason or "error"
        message = reason
        exc_info = kwargs.get("exc_info")
        if exc_info:
            err = exc_info[1]
            if isinstance(err, web.HTTPError):
                message = err.log_message or reason
            else:
                message = "internal error"
        code = reason.lower().replace(" ", "_")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": code, "message": message}))


class HealthHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self) -> None:
        ok, body = await self.backend.health()
        self.write_json(body, 200 if ok else 503)


class InfoHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self) -> None:
        info = self.backend.info()
        info["base_url"] = self.base_url
        self.write_json(info)


def routes() -> list[tuple[str, type[DuraGraphHandler]]]:
    return [
        (rf"/{API_PREFIX}/health", HealthHandler),
        (rf"/{API_PREFIX}/info", InfoHandler),
    ]
