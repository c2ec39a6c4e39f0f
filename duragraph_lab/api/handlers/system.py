"""Health, info, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from typing import ClassVar

from jupyter_server.auth.decorator import allow_unauthenticated
from tornado import web

from duragraph_lab.api.handlers.base import ApiError, DuraGraphHandler


class HealthHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self) -> None:
        ok, body = await self.backend.health()
        self.write_json(body, 200 if ok else 503)


def _probe(services: dict[str, bool]) -> tuple[dict[str, object], int]:
    ok = all(services.values())
    body = {"ok": ok, "services": {k: "healthy" if up else "unhealthy" for k, up in services.items()}}
    return body, 200 if ok else 503


class OkHandler(DuraGraphHandler):
    """Liveness, public (see ``Op.public``): probes carry no token."""

    @allow_unauthenticated
    async def get(self) -> None:
        if self.query_bool("check_db"):
            services = await self.backend.readiness()
            body, status = _probe({"database": services["postgres"]})
            if status == 503:
                self.set_header("Retry-After", "1")
            self.write_json(body, status)
            return
        self.write_json({"ok": True})


class ReadyHandler(DuraGraphHandler):
    """Readiness, public: 200 when PostgreSQL answers and NATS is connected, else 503."""

    @allow_unauthenticated
    async def get(self) -> None:
        body, status = _probe(await self.backend.readiness())
        if status == 503:
            self.set_header("Retry-After", "1")
        self.write_json(body, status)


class InfoHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self) -> None:
        info = self.backend.info()
        info["base_url"] = self.base_url
        self.write_json(info)


class WorkerConnectionHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self) -> None:
        if not self.backend.share_worker_connection:
            raise ApiError(
                403,
                "forbidden",
                "this server does not share its database and NATS URLs "
                "(c.DuraGraphApp.share_worker_connection = False); configure the worker's own",
            )
        connection = self.backend.worker_connection()
        if connection is None:
            raise ApiError(
                503, "unavailable", f"DuraGraph's services are not running: {self.backend.startup_error}"
            )
        self.set_header("Cache-Control", "no-store")
        self.write_json(connection)


class WorkersHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self) -> None:
        self.write_json(await self.call(self.backend.presence.workers()))


class MetricsHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self) -> None:
        body, content_type = await self.backend.metrics.render(self.backend)
        self.set_header("Cache-Control", "no-store")
        self.finish(body, set_content_type=content_type)


class OpenApiHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self) -> None:
        from duragraph_lab.api.openapi import document

        self.write_json(document(self.base_url))


class UnknownRouteHandler(DuraGraphHandler):
    """Any other path under the API prefix: a JSON 404 (Jupyter's own would be an HTML page)."""

    route = "unknown"
    # No route, nothing done: any user who may read the API learns that it does not exist.
    actions: ClassVar[dict[str, str]] = dict.fromkeys(("GET", "POST", "PUT", "PATCH", "DELETE"), "read")

    def _unknown(self) -> None:
        raise ApiError(404, "not_found", f"no route {self.request.path} (see /openapi.json)")

    @web.authenticated
    async def get(self, *args: str) -> None:
        self._unknown()

    @web.authenticated
    async def post(self, *args: str) -> None:
        self._unknown()

    @web.authenticated
    async def put(self, *args: str) -> None:
        self._unknown()

    @web.authenticated
    async def patch(self, *args: str) -> None:
        self._unknown()

    @web.authenticated
    async def delete(self, *args: str) -> None:
        self._unknown()
