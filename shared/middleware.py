"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs throughput and breaks streaming)."""

import logging
import random
import time
from contextvars import ContextVar
from urllib.parse import parse_qsl

import structlog
from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import problem_response
from shared.metrics import Metrics

REQUEST_ID_HEADER = "x-request-id"
# The current request's id, so outgoing service calls carry it along.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

access_log = structlog.get_logger("access")


def _new_request_id() -> str:
    """128 bits from the process's seeded Mersenne Twister: a correlation id is no secret, and drawing from
    the OS (a GIL-releasing syscall) on every request costs the event loop its turn."""
    return f"{random.getrandbits(128):032x}"


class RequestContextMiddleware:
    """Takes or makes an `X-Request-ID`, binds it to logs, echoes it, and writes one access line."""

    def __init__(self, app: ASGIApp, *, service: str, metrics: Metrics, trust_forwarded_for: bool = False) -> None:
        self.app = app
        self.service = service
        self.metrics = metrics
        self.trust_forwarded_for = trust_forwarded_for

    def _client(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        """The caller's address: from X-Forwarded-For only behind a trusted gateway, never from the client."""
        forwarded = headers.get(b"x-forwarded-for") if self.trust_forwarded_for else None
        if forwarded:
            return forwarded.decode("latin-1").split(",")[0].strip()[:64]
        client = scope.get("client")
        return str(client[0]) if client else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else _new_request_id()
        token = request_id_var.set(request_id)
        log_context = structlog.contextvars.bind_contextvars(request_id=request_id, service=self.service)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            # Label by route template (`/v1/sessions/{session_id}`), never the raw path: bounded cardinality.
            template = getattr(route, "path", "unmatched")
            self.metrics.observe(scope["method"], template, status, elapsed)
            if access_log.is_enabled_for(logging.INFO):  # not even the line's fields below that level
                access_log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    client=self._client(scope, headers),
                )
            structlog.contextvars.reset_contextvars(**log_context)
            request_id_var.reset(token)


class InputGuardMiddleware:
    """Rejects oversized bodies (413) and NUL characters in the query string (422) before any handler runs.

    NUL bytes in JSON bodies are rejected by `shared.schemas.Input`; form bodies are checked here.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if query else ():
            if "\x00" in name or "\x00" in value:
                errors = [{"pointer": "/query/" + name.replace("\x00", ""), "detail": _NUL_DETAIL}]
                response = problem_response(422, _NUL_DETAIL, slug="validation-error", extra={"errors": errors})
                await response(scope, receive, send)
                return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await self._too_large(scope, receive, send)
            return
        is_form = headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded")
        received = 0
        form_parts: list[bytes] = []

        async def guarded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > self.max_body_bytes:
                    raise RejectedInput(413, f"The request body exceeds {self.max_body_bytes} bytes")
                if is_form:
                    form_parts.append(chunk)
                    if not message.get("more_body") and _form_has_nul(b"".join(form_parts)):
                        raise RejectedInput(422, _NUL_DETAIL, pointer="/body")
            return message

        await self.app(scope, guarded_receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"The request body exceeds {self.max_body_bytes} bytes"
        await problem_response(413, detail, slug="payload-too-large")(scope, receive, send)


_NUL_DETAIL = "NUL characters are not allowed"


class RejectedInput(HTTPException):
    """Raised while the body streams in; an HTTPException so FastAPI's body parsing passes it through."""

    def __init__(self, status_code: int, detail: str, *, pointer: str | None = None) -> None:
        super().__init__(status_code, detail)
        self.extra = {"errors": [{"pointer": pointer, "detail": detail}]} if pointer else {}


def _form_has_nul(body: bytes) -> bool:
    return any("\x00" in k or "\x00" in v for k, v in parse_qsl(body.decode("latin-1"), keep_blank_values=True))


# What a bearer-token browser client sends and must be able to read (api-contract.md, "Browsers").
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Accept-Language", "X-Request-ID")
CORS_EXPOSED_HEADERS = ("Retry-After", "Idempotent-Replayed", "X-Request-ID", "WWW-Authenticate")
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class CorsMiddleware(CORSMiddleware):
    """Starlette's CORS for the allowed origins only: a request from any other origin passes through as if it
    had none (no CORS headers at all, so a browser refuses the response), and a preflight that asks for a
    method or header the API does not take gets a 400 problem that says which."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = Headers(scope=scope).get("origin") if scope["type"] == "http" else None
        if origin is None or not self.is_allowed_origin(origin):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}
        return problem_response(400, f"This cross-origin request is not allowed: {refused}", headers=headers)
