"""One error hierarchy for every service, rendered as RFC 9457 problem details."""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.db import is_database_unavailable

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:learncity:problem:"

logger = structlog.get_logger(__name__)


class FieldProblem(BaseModel):
    pointer: str = Field(description="JSON pointer to the offending input, e.g. `/body/email` or `/query/limit`")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=[f"{PROBLEM_TYPE_BASE}not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["Session not found"])
    instance: str | None = None
    errors: list[FieldProblem] | None = None

    model_config = {"extra": "allow"}


class AppError(Exception):
    """Base of every error a service raises on purpose."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail = detail or HTTPStatus(self.status).phrase
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(self.detail)


class BadRequest(AppError):
    status = 400
    slug = "bad-request"


class Unauthorized(AppError):
    status = 401
    slug = "unauthorized"

    def __init__(self, detail: str = "Missing or invalid bearer token", **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class Forbidden(AppError):
    status = 403
    slug = "forbidden"


class NotFound(AppError):
    status = 404
    slug = "not-found"


class Conflict(AppError):
    status = 409
    slug = "conflict"


class Gone(AppError):
    """Something that existed but can no longer be used (an expired, used or revoked invitation)."""

    status = 410
    slug = "gone"


class PayloadTooLarge(AppError):
    status = 413
    slug = "payload-too-large"


class Unprocessable(AppError):
    status = 422
    slug = "validation-error"

    def __init__(self, detail: str, *, pointer: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        if pointer is not None:
            self.extra["errors"] = [{"pointer": pointer, "detail": detail}]


class TooManyRequests(AppError):
    status = 429
    slug = "too-many-requests"

    def __init__(self, detail: str, *, retry_after_s: int, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers["Retry-After"] = str(max(1, retry_after_s))


class ServiceUnavailable(AppError):
    status = 503
    slug = "service-unavailable"

    def __init__(self, detail: str, *, retry_after_s: int = 5, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers["Retry-After"] = str(max(1, retry_after_s))


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or phrase.lower().replace(" ", "-")),
        "title": phrase,
        "status": status,
        "detail": detail,
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_CONTENT_TYPE)


def pointer_for(location: Sequence[str | int]) -> str:
    """`("body", "seats")` -> `/body/seats`, escaped per RFC 6901."""
    return "/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in location)


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    return [
        {"pointer": pointer_for(error.get("loc", ())), "detail": str(error.get("msg", "invalid"))} for error in errors
    ]


async def _app_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(exc.status, exc.detail, slug=exc.slug, headers=exc.headers, extra=exc.extra)


async def _http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return problem_response(exc.status_code, str(exc.detail), headers=headers, extra=getattr(exc, "extra", None))


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route answers on this path: Starlette's own `Allow` names only the first route's."""
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)


async def _validation_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc.errors())
    detail = "; ".join(f"{e['pointer']}: {e['detail']}" for e in errors[:5]) or "Invalid request"
    return problem_response(422, detail, slug="validation-error", extra={"errors": errors})


# asyncpg SQLSTATEs that mean the input could not be stored (NUL bytes, bad encodings, out-of-range numbers).
_INPUT_SQLSTATES = {"22021", "22P05", "22003", "22001", "22007", "22008"}


async def _database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "__cause__", None), "sqlstate", None)
    if sqlstate in _INPUT_SQLSTATES:
        return problem_response(422, "The input contains a value that cannot be stored", slug="validation-error")
    return await _unexpected_handler(request, exc)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    """Every exception no other handler answered: the database being unreachable, however it surfaced
    (wrapped, chained, in a group, as a connection error), is a 503 to retry; anything else a 500 whose
    body says nothing of the exception (its traceback goes to the log only)."""
    if is_database_unavailable(exc):
        logger.warning("database_unavailable", path=request.url.path, error=_describe(exc))
        return problem_response(
            503,
            "The database is unavailable; try again shortly",
            slug="service-unavailable",
            headers={"Retry-After": "2"},
        )
    logger.exception("unhandled_error", path=request.url.path, exc_info=exc)
    return problem_response(500, "An unexpected error occurred; it has been logged", slug="internal-error")


def _describe(exc: BaseException) -> str:
    """The exception and its causes in one line, for the log (never for the response)."""
    parts = [repr(exc)]
    seen = {id(exc)}
    cause = getattr(exc, "orig", None) or exc.__cause__
    while isinstance(cause, BaseException) and id(cause) not in seen and len(parts) < 4:
        seen.add(id(cause))
        parts.append(repr(cause))
        cause = getattr(cause, "orig", None) or cause.__cause__
    return " <- ".join(parts)[:1000]


async def _pool_exhausted_handler(request: Request, exc: Exception) -> JSONResponse:
    # Every database connection stayed busy for the whole pool timeout: overload, so ask to come back.
    logger.warning("database_pool_exhausted", path=request.url.path)
    return problem_response(
        503, "The service is overloaded; try again shortly", slug="service-unavailable", headers={"Retry-After": "1"}
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(DBAPIError, _database_error_handler)
    app.add_exception_handler(PoolTimeoutError, _pool_exhausted_handler)
    # What a database outage raises besides SQLAlchemy's errors: classified by `_unexpected_handler`. Named
    # here so they are answered inside the middleware stack (the `Exception` handler answers outside it, where
    # the access log and the metrics have already counted a 500).
    raised_raw = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError)
    for raised in (*raised_raw, ExceptionGroup, SQLAlchemyError):
        app.add_exception_handler(raised, _unexpected_handler)
    app.add_exception_handler(Exception, _unexpected_handler)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses a route can return (bodies: `shared.openapi`)."""
    return {status: {"description": HTTPStatus(status).phrase} for status in statuses}
