"""The base handler: authentication and authorization (Jupyter's), bodies refused before they
are read, JSON in and out, typed errors to HTTP errors.

Handlers parse a request, call one service method and write its answer; they decide nothing.
Every failure is ``{"error": code, "message": text}`` with a 4xx status when the request was at
fault: no valid token (401, for API clients; 403 for a browser's cookie login, as Jupyter answers
it), not allowed (403), malformed JSON (400), a body over the size limit
(413), a body or parameter of the wrong shape (422), an unknown id (404), a conflict with the
current state (409); 503 with ``Retry-After`` while the database is unavailable.

The body is streamed (``@web.stream_request_body``): tornado calls :meth:`prepare` once the
headers are in and before any of the body is read, so a request that is not authenticated, not
authorized or announces a body over the limit is answered there, and tornado then closes the
connection rather than read the rest. A body sent without a length is counted as it arrives and
refused at the limit.
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import psycopg
from jupyter_core.utils import ensure_async
from jupyter_server.auth.utils import HTTP_METHOD_TO_AUTH_ACTION
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from pydantic import BaseModel, ValidationError
from tornado import web

from duragraph_lab.api.jsonout import dumps
from duragraph_lab.domain.errors import (
    Conflict,
    DuraGraphError,
    InvalidEvent,
    NotFound,
    StoreUnavailable,
    ThreadBusy,
    VersionConflict,
    WorkerUnavailable,
)
from duragraph_lab.domain.messages import InvalidMessage
from duragraph_lab.domain.run import InvalidTransition
from duragraph_lab.store.connection import unavailable_error

if TYPE_CHECKING:
    from duragraph_lab.api.backend import Backend

log = logging.getLogger(__name__)

API_PREFIX = "duragraph/api/v1"
AUTH_RESOURCE = "duragraph"
#: A refused request's body up to this size is read (and dropped) before the answer: see prepare.
READ_REFUSED_UP_TO = 64 * 1024
M = TypeVar("M", bound=BaseModel)


class ApiError(web.HTTPError):
    """An HTTP error with our error code (``extra``: more fields of the body)."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(status, log_message=message.replace("%", "%%"))
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def unavailable(err: StoreUnavailable) -> ApiError:
    """503 for a store that is down or refused a statement for now, with when to try again."""
    retry_after = max(1, math.ceil(err.retry_after or 1))
    return ApiError(
        503,
        "unavailable",
        f"the database is unavailable ({err}); try again later",
        headers={"Retry-After": str(retry_after)},
    )


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
        return unavailable(err)
    if isinstance(err, psycopg.OperationalError) and (typed := unavailable_error(err)) is not None:
        return unavailable(typed)  # a driver error that reached us without the store's typing
    if isinstance(err, psycopg.DataError):
        # A value PostgreSQL cannot take (a NUL in a string, a number or date out of range):
        # the request's fault, and its transaction was rolled back.
        reason = (str(err).splitlines() or [type(err).__name__])[0]  # not the SQL context
        return ApiError(
            422, "invalid_value", f"a value in the request cannot be stored or compared: {reason}"
        )
    if isinstance(err, WorkerUnavailable):
        return ApiError(503, code, str(err))
    if isinstance(err, TimeoutError):
        return ApiError(504, "timeout", str(err) or "timed out")
    if isinstance(err, DuraGraphError):
        # An error may say which 4xx it is (e.g. 422: well-formed, but impossible).
        return ApiError(int(getattr(err, "http_status", 400)), code, str(err))
    return None


@web.stream_request_body
class DuraGraphHandler(ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE
    #: The route this handler serves (for metrics), set by the route table.
    route = ""
    #: HTTP method -> the authorization action it needs, set by the route table; a method not
    #: listed needs what Jupyter's own handlers ask for it (GET: read, other methods: write).
    actions: ClassVar[dict[str, str]] = {}
    #: HTTP method -> ``(boolean query parameter, action)``: a true value also needs the action.
    escalations: ClassVar[dict[str, tuple[tuple[str, str], ...]]] = {}
    #: HTTP methods answered without credentials or authorization (set by the route table; the
    #: method itself is ``@allow_unauthenticated`` so that Jupyter lets it through too).
    public: ClassVar[frozenset[str]] = frozenset()

    #: The body as it arrives (None once refused).
    _body: bytearray | None = None
    #: A refusal held back until the small body it came with is in (see :meth:`prepare`).
    _refusal: web.HTTPError | None = None
    _refused_bytes = 0
    #: Answered before the whole body was read: tornado closes the connection after the answer.
    _cut_short = False

    @property
    def backend(self) -> Backend:
        backend: Backend = self.settings["duragraph_backend"]
        return backend

    async def prepare(self) -> None:  # type: ignore[override]
        """Admit the request (:meth:`admit`) before any of its body is read.

        A refusal is answered at once, and tornado then closes the connection without reading
        the rest of the body; but closing a socket with unread data makes the kernel reset the
        connection, and a client still sending may lose the answer. So a body announced as
        small (at most :data:`READ_REFUSED_UP_TO`) is read and dropped first, and the refusal
        answered after its last byte (:meth:`data_received`): what a client sending a small
        JSON body with a wrong token needs, and cheap. Bigger or unannounced (chunked)
        bodies are not read: clients that read the answer while sending (requests, httpx, curl
        with ``Expect: 100-continue``) still get it."""
        self._started = time.perf_counter()
        self._body = bytearray()
        try:
            await self.admit()
        except web.HTTPError as err:
            length = self.request.headers.get("Content-Length", "").strip()
            if length.isdigit() and 0 < int(length) <= READ_REFUSED_UP_TO:
                self._refusal = err
                return
            self._cut_short = True
            raise

    async def admit(self) -> None:
        """Jupyter's checks (identity, XSRF on cookie-authenticated writes, origin, host), then
        ours: authenticated, authorized by Jupyter's Authorizer, a body within the limit."""
        method = self.request.method or "GET"
        try:
            await super().prepare()
        except web.HTTPError as err:
            # Jupyter checks XSRF (for cookie-authenticated writes) before it looks at whether
            # anyone was authenticated: a write with no or a wrong token would be told "'_xsrf'
            # argument missing", which sends an API client the wrong way.
            if err.status_code == 403 and not self.current_user and self.check_host():
                raise self.unauthenticated() from None
            raise
        if method == "OPTIONS":
            return  # Jupyter's CORS preflight: public, bodiless, runs nothing
        if method in self.public:
            return  # a probe (liveness, readiness): bodiless, and says nothing sensitive
        user = self.current_user
        if not user:
            # Here, not in @web.authenticated on the method: that runs after the body is read.
            raise self.unauthenticated()
        for action in self.required_actions(method):
            # The call jupyter_server's @authorized makes, so JupyterHub scopes and custom
            # Authorizers govern DuraGraph as they govern the rest of the server.
            allowed = await ensure_async(
                self.authorizer.is_authorized(self, user, action, self.auth_resource)
            )
            if not allowed:
                raise ApiError(
                    403,
                    "forbidden",
                    f"user {user.username!r} is not authorized to {action} on resource "
                    f"{self.auth_resource!r} ({method} {self.route or self.request.path} needs {action!r})",
                )
        limit = self.backend.max_body_bytes
        length = self.request.headers.get("Content-Length", "").strip()
        if length.isdigit() and int(length) > limit:
            raise ApiError(413, "body_too_large", f"the request body is over the limit of {limit} bytes")

    def unauthenticated(self) -> ApiError:
        """Why a request without valid credentials is refused, in the terms of who sent it.

        An API client (a token in the ``Authorization`` header or the ``token`` query parameter,
        or no credentials and no cookie at all) gets a 401 that says how to pass the token. A
        browser (Jupyter's cookies, no token) gets the 403 Jupyter's cookie login answers: its
        page logs in again; its XSRF checks are Jupyter's, unchanged."""
        token_sent = (
            bool(self.request.headers.get("Authorization")) or "token" in self.request.query_arguments
        )
        browser = not token_sent and bool(self.request.headers.get("Cookie"))
        if browser:
            return ApiError(
                403,
                "unauthenticated",
                "authentication required: log in to the Jupyter server again (the login cookie sent "
                "is missing or no longer valid), or send the server's token (Authorization: token <token>)",
            )
        sent = "the token sent is not this server's" if token_sent else "no token was sent"
        return ApiError(
            401,
            "unauthorized",
            f"{sent}: send the Jupyter server's token as the header 'Authorization: token <token>' "
            "(or the query parameter ?token=<token>). `duragraph-lab dev` prints it in the URL it "
            "opens, `jupyter server list` shows it; it changes at every start unless set "
            "(JUPYTER_TOKEN or c.IdentityProvider.token)",
            headers={"WWW-Authenticate": 'token realm="duragraph"'},
        )

    def required_actions(self, method: str) -> list[str]:
        """The authorization actions the request needs, in the order they are checked."""
        needed = [self.actions.get(method) or HTTP_METHOD_TO_AUTH_ACTION.get(method, "write")]
        for param, action in self.escalations.get(method, ()):
            if self.query_bool(param) and action not in needed:
                needed.append(action)
        return needed

    def data_received(self, chunk: bytes) -> None:
        """Collect the body of an admitted request up to the limit; drop that of a refused one."""
        if self._finished:
            return
        if self._refusal is not None:
            self._refused_bytes += len(chunk)
            if self._refused_bytes >= int(self.request.headers["Content-Length"]):
                self._answer(self._refusal)
            return
        body = self._body if self._body is not None else bytearray()
        body += chunk
        self._body = body
        limit = self.backend.max_body_bytes
        if len(body) > limit:
            # A body without Content-Length (chunked): answered now, and tornado closes the
            # connection after the answer instead of reading the rest.
            self._body = None
            self._answer(
                ApiError(413, "body_too_large", f"the request body is over the limit of {limit} bytes")
            )

    def _answer(self, err: web.HTTPError) -> None:
        """Answer ``err`` while tornado is still reading the body."""
        self._cut_short = True
        self.log_exception(type(err), err, None)
        self.send_error(err.status_code, exc_info=(type(err), err, None))

    def on_finish(self) -> None:
        started = getattr(self, "_started", None)
        if started is not None:
            self.backend.metrics.http_request(
                self.request.method or "GET", self.route, self.get_status(), time.perf_counter() - started
            )

    # -- input ---------------------------------------------------------------------------------
    def json_body(self) -> Any:
        raw = self._body or b""  # json.loads takes a bytearray: no copy
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

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """A typed error raised outside :meth:`call` (a service property, a stream's set-up)
        gets its own status rather than a 500."""
        exc_info = kwargs.get("exc_info")
        if status_code == 500 and exc_info and not isinstance(exc_info[1], web.HTTPError):
            mapped = http_error(exc_info[1])
            if mapped is not None:
                super().send_error(mapped.status_code, exc_info=(ApiError, mapped, exc_info[2]))
                return
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error is ``{"error": code, "message": text}``."""
        reason = self._reason or "error"
        body: dict[str, Any] = {"error": reason.lower().replace(" ", "_"), "message": reason}
        exc_info = kwargs.get("exc_info")
        if exc_info:
            err = exc_info[1]
            if isinstance(err, ApiError):
                body = {"error": err.code, "message": err.message, **err.extra}
                for name, value in err.headers.items():
                    self.set_header(name, value)
            elif isinstance(err, web.HTTPError):
                body["message"] = err.log_message or reason
            else:
                body = {"error": "internal_error", "message": "internal error (see the server log)"}
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        if self._cut_short:
            # Tornado closes a connection whose request it did not read to the end, but says so
            # only if it knew before the headers went out: a client that reused the connection
            # would send its next request into a closed socket.
            self.set_header("Connection", "close")
        self.finish(json.dumps(body), set_content_type="application/json")

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        mapped = None if isinstance(value, web.HTTPError) else http_error(value)
        if mapped is not None:
            value = mapped  # answered as its status (see send_error): not an uncaught error
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
