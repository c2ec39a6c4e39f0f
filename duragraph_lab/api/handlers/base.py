"""The base handler: authentication (Jupyter's), JSON in and out, typed errors to HTTP errors.

Handlers parse a request, call one service method and write its answer; they decide nothing.
Every failure is ``{"error": code, "message": text}`` with a 4xx status when the request was at
fault: malformed JSON (400), a body over the size limit (413), a body or parameter of the wrong
shape (422), an unknown id (404), a conflict with the current state (409).
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from pydantic import BaseModel, ValidationError
from tornado import web

from duragraph_lab.api.jsonout import dumps
from duragraph_lab.domain.errors import DuraGraphError, InvalidEvent, StoreUnavailable, VersionConflict
from duragraph_lab.domain.messages import InvalidMessage
from duragraph_lab.domain.run import InvalidTransition
from duragraph_lab.worker.control import Conflict, NotFound, ThreadBusy

if TYPE_CHECKING:
    from duragraph_lab.api.backend import Backend

log = logging.getLogger(__name__)

API_PREFIX = "duragraph/api/v1"
AUTH_RESOURCE = "duragraph"
M = TypeVar("M", bound=BaseModel)


class ApiError(web.HTTPError):
    """An HTTP error with our error code."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(status, log_message=message.replace("%", "%%"))
        self.code = code
        self.message = message
        self.extra = extra


def http_error(err: BaseException) -> ApiError | None:
    """The HTTP error a typed error stands for (None: not a request's fault)."""
    code = getattr(err, "code", type(err).__name__)
    if isinstance(err, NotFound):
        return ApiError(404, "not_found", str(err))
    if isinstance(err, (ThreadBusy, Conflict, InvalidTransition, VersionConflict)):
        return ApiError(409, code, str(err))
    if isinstance(err, (InvalidEvent, InvalidMessage)):
        return ApiError(422, code if isinstance(err, DuraGraphError) else "invalid_message", str(err))
    if isinstance(err, StoreUnavailable):
        return ApiError(503, "store_unavailable", str(err))
    if isinstance(err, psycopg.DataError):
        # A value PostgreSQL cannot take (a NUL in a string, a number or date out of range):
        # the request's fault, and its transaction was rolled back.
        reason = (str(err).splitlines() or [type(err).__name__])[0]  # not the SQL context
        return ApiError(
            422, "invalid_value", f"a value in the request cannot be stored or compared: {reason}"
        )
    if isinstance(err, DuraGraphError) and code == "worker_unavailable":
        return ApiError(503, code, str(err))
    if isinstance(err, TimeoutError):
        return ApiError(504, "timeout", str(err) or "timed out")
    if isinstance(err, DuraGraphError):
        # An error may say which 4xx it is (e.g. 422: well-formed, but impossible).
        return ApiError(int(getattr(err, "http_status", 400)), code, str(err))
    return None


class DuraGraphHandler(ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE
    #: The route this handler serves (for metrics), set by the route table.
    route = ""

    @property
    def backend(self) -> Backend:
        backend: Backend = self.settings["duragraph_backend"]
        return backend

    async def prepare(self) -> None:  # type: ignore[override]
        self._started = time.perf_counter()
        await super().prepare()
        limit = self.backend.max_body_bytes
        length = self.request.headers.get("Content-Length")
        if (length and length.isdigit() and int(length) > limit) or len(self.request.body or b"") > limit:
            raise ApiError(413, "body_too_large", f"the request body is over the limit of {limit} bytes")

    def on_finish(self) -> None:
        started = getattr(self, "_started", None)
        if started is not None:
            self.backend.metrics.http_request(
                self.request.method or "GET", self.route, self.get_status(), time.perf_counter() - started
            )

    # -- input ---------------------------------------------------------------------------------
    def json_body(self) -> Any:
        raw = self.request.body
        if not raw or not raw.strip():
            return None
        try:
            return json.loads(raw, parse_constant=_not_json)
        except (ValueError, UnicodeDecodeError) as err:
            raise ApiError(400, "invalid_json", f"the request body is not valid JSON: {err}") from None
        except RecursionError:
            raise ApiError(
                400, "invalid_json", "the request body is not valid JSON: nested too deeply"
            ) from None

    def parse(self, model: type[M], *, required: bool = True) -> M:
        body = self.json_body()
        if body is None:
            if required and model.model_fields and any(f.is_required() for f in model.model_fields.values()):
                raise ApiError(422, "validation_error", f"a JSON body is required ({model.__name__})")
            body = {}
        return self.validate(model, body)

    @staticmethod
    def validate(model: type[M], body: Any) -> M:
        if not isinstance(body, dict):
            raise ApiError(422, "validation_error", f"the body must be a JSON object ({model.__name__})")
        try:
            return model.model_validate(body)
        except ValidationError as err:
            raise validation_error(err) from None

    def query_int(self, name: str, default: int, *, low: int = 0, high: int = 1_000_000) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(
                422, "validation_error", f"query parameter {name} must be an integer, not {raw!r}"
            ) from None
        if not low <= value <= high:
            raise ApiError(
                422, "validation_error", f"query parameter {name} must be between {low} and {high}"
            )
        return value

    def query_bool(self, name: str, default: bool = False) -> bool:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise ApiError(422, "validation_error", f"query parameter {name} must be a boolean, not {raw!r}")

    def query_choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        if raw not in choices:
            raise ApiError(
                422, "validation_error", f"query parameter {name} must be one of {', '.join(choices)}"
            )
        return raw

    # -- output --------------------------------------------------------------------------------
    def write_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.finish(dumps(body))

    def no_content(self, status: int = 204) -> None:
        self.set_status(status)
        self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error is ``{"error": code, "message": text}``."""
        reason = self._reason or "error"
        body: dict[str, Any] = {"error": reason.lower().replace(" ", "_"), "message": reason}
        exc_info = kwargs.get("exc_info")
        if exc_info:
            err = exc_info[1]
            if isinstance(err, ApiError):
                body = {"error": err.code, "message": err.message, **err.extra}
            elif isinstance(err, web.HTTPError):
                body["message"] = err.log_message or reason
            else:
                body = {"error": "internal_error", "message": "internal error (see the server log)"}
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body), set_content_type="application/json")

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ApiError):
            log.info(
                "%s %s -> %d %s: %s",
                self.request.method,
                self.request.path,
                value.status_code,
                value.code,
                value.message,
            )
            return
        super().log_exception(typ, value, tb)

    async def call(self, coro: Any) -> Any:
        """Await a service call, turning typed errors into HTTP errors."""
        try:
            return await coro
        except ApiError:
            raise
        except Exception as err:
            mapped = http_error(err)
            if mapped is None:
                raise
            raise mapped from None


def _not_json(name: str) -> Any:
    """Python's parser takes ``NaN`` and ``Infinity``; JSON has no such numbers."""
    raise ValueError(f"{name} is not a JSON value")


def validation_error(err: ValidationError) -> ApiError:
    problems = []
    for item in err.errors(include_url=False):
        where = ".".join(str(p) for p in item.get("loc", ())) or "body"
        problems.append(f"{where}: {item.get('msg')}")
    details = [
        {"loc": list(item.get("loc", ())), "msg": item.get("msg"), "type": item.get("type")}
        for item in err.errors(include_url=False)
    ]
    return ApiError(422, "validation_error", "; ".join(problems) or "invalid request", details=details)
