"""The database unreachable is a 503 with `Retry-After` on every path, never a 500 (issue 12).

`shared.db.is_database_unavailable` is checked over exceptions as asyncpg and SQLAlchemy really raise them
(from a real server where a connection can be cut, else built the way their code builds them), raw, wrapped,
chained and grouped; the error handlers over each; and, on real processes, connections cut by
`pg_terminate_backend` under every kind of request while the load runs."""

import asyncio
import contextlib
import functools
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.load_and_fault import HUBIN, City, build_city, wait_drained
from shared.db import async_url, driver_url, is_database_unavailable
from shared.errors import install_error_handlers
from tests.hardening.conftest import PrivateSystem
from tests.live import free_port
from tests.support import assert_problem

# ---- exceptions as asyncpg raises them --------------------------------------------------------------------


def _server_error(sqlstate: str, message: str) -> asyncpg.PostgresError:
    """A server's ErrorResponse turned into its exception class, as asyncpg's protocol does."""
    error = asyncpg.PostgresError.new({"C": sqlstate, "M": message, "S": "FATAL"})
    assert isinstance(error, asyncpg.PostgresError)
    return error


def _closed_mid_operation(cause: BaseException | None = None) -> asyncpg.exceptions.ConnectionDoesNotExistError:
    """What asyncpg's protocol raises when the socket closes under a waiting statement (or connect)."""
    error = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    error.__cause__ = cause
    return error


UNAVAILABLE: dict[str, Callable[[], Exception]] = {
    "closed in the middle of operation": _closed_mid_operation,
    "closed mid-operation, reset by peer": lambda: _closed_mid_operation(ConnectionResetError(104, "reset by peer")),
    "closed mid-operation after a FATAL": lambda: _closed_mid_operation(
        _server_error("57P01", "terminating connection due to administrator command")
    ),
    "08006 connection failure": lambda: _server_error("08006", "connection failure"),
    "08001 cannot connect": lambda: _server_error("08001", "could not connect"),
    "57P01 admin shutdown": lambda: _server_error("57P01", "terminating connection due to administrator command"),
    "57P02 crash shutdown": lambda: _server_error("57P02", "terminating connection because of crash of another"),
    "57P03 cannot connect now": lambda: _server_error("57P03", "the database system is shutting down"),
    "53300 too many connections": lambda: _server_error("53300", "sorry, too many clients already"),
    "interface: connection is closed": lambda: asyncpg.InterfaceError("cannot perform operation: connection is closed"),
    "interface: call on a closed connection": lambda: asyncpg.InterfaceError(
        "cannot call Connection.fetch(): connection is closed"
    ),
    "interface: pool is closing": lambda: asyncpg.InterfaceError("pool is closing"),
    # A pooled connection that got the server's FATAL while idle, used before its socket's close is seen.
    "protocol still consuming an error": lambda: asyncpg.exceptions.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    ),
    "protocol failed": lambda: asyncpg.exceptions.InternalClientError(
        'cannot switch to state 11; protocol is in the "failed" state'
    ),
    "connection refused": lambda: ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
    "every address refused (asyncio)": lambda: OSError(
        "Multiple exceptions: [Errno 111] Connect call failed ('::1', 5432, 0, 0), "
        "[Errno 111] Connect call failed ('127.0.0.1', 5432)"
    ),
    "the server's Unix socket gone (stopped)": lambda: FileNotFoundError(2, "No such file or directory"),
    "connection reset": lambda: ConnectionResetError(104, "Connection reset by peer"),
    "broken pipe": lambda: BrokenPipeError(32, "Broken pipe"),
    "asyncio timeout while connecting": asyncio.TimeoutError,
}

NOT_UNAVAILABLE: dict[str, Callable[[], Exception]] = {
    "unique violation": lambda: _server_error("23505", "duplicate key value violates unique constraint"),
    "serialization failure": lambda: _server_error("40001", "could not serialize access"),
    "syntax error": lambda: _server_error("42601", "syntax error at or near"),
    "statement timeout": lambda: _server_error("57014", "canceling statement due to statement timeout"),
    "invalid text representation": lambda: _server_error("22P02", "invalid input syntax for type uuid"),
    "bad query argument (asyncpg DataError)": lambda: asyncpg.exceptions._base.DataError(
        "invalid input for query argument $1: 'x' ('str' object cannot be interpreted as an integer)"
    ),
    "interface: another operation in progress": lambda: asyncpg.InterfaceError(
        "cannot perform operation: another operation is in progress"
    ),
    "interface: released connection": lambda: asyncpg.InterfaceError(
        "cannot call Connection.fetch(): connection has been released back to the pool"
    ),
    "codec bug": lambda: asyncpg.exceptions.InternalClientError("no binary format encoder for type foo (OID 1)"),
    "codec protocol error": lambda: asyncpg.exceptions.ProtocolError("array length overflow"),
    "a file not found": lambda: FileNotFoundError(2, "No such file or directory", "/srv/learncity/keys.pem"),
    "a file's permission denied": lambda: PermissionError(13, "Permission denied", "/srv/learncity/keys.pem"),
    "value error": lambda: ValueError("bad"),
    "key error": lambda: KeyError("id"),
    "runtime error": lambda: RuntimeError("boom"),
    "assertion": lambda: AssertionError("invariant"),
}


@pytest.mark.parametrize("make", UNAVAILABLE.values(), ids=UNAVAILABLE.keys())
def test_connection_level_errors_raised_raw_are_unavailable(make: Callable[[], BaseException]) -> None:
    assert is_database_unavailable(make())


@pytest.mark.parametrize("make", NOT_UNAVAILABLE.values(), ids=NOT_UNAVAILABLE.keys())
def test_refused_statements_and_our_own_bugs_are_not(make: Callable[[], BaseException]) -> None:
    assert not is_database_unavailable(make())


@pytest.mark.parametrize("make", UNAVAILABLE.values(), ids=UNAVAILABLE.keys())
async def test_raised_while_sqlalchemys_pool_connects_they_are_unavailable(
    make: Callable[[], BaseException],
) -> None:
    """What SQLAlchemy really raises when the driver's connect fails: the 500 of issue 12 was the first one,
    a plain `DBAPIError` (neither operational nor invalidating) wrapping "closed in the middle of operation"."""

    async def connect() -> asyncpg.Connection:
        raise make()

    raised = await _connect_with(connect)
    assert is_database_unavailable(raised), repr(raised)


async def test_the_500_of_issue_12_was_a_plain_dbapi_error() -> None:
    async def connect() -> asyncpg.Connection:
        raise _closed_mid_operation()

    raised = await _connect_with(connect)
    assert type(raised) is DBAPIError and not raised.connection_invalidated
    assert not isinstance(raised, OperationalError)
    assert is_database_unavailable(raised)


@pytest.mark.parametrize("make", NOT_UNAVAILABLE.values(), ids=NOT_UNAVAILABLE.keys())
async def test_wrapped_by_sqlalchemy_the_others_stay_not_unavailable(make: Callable[[], BaseException]) -> None:
    async def connect() -> asyncpg.Connection:
        raise make()

    raised = await _connect_with(connect)
    assert not is_database_unavailable(raised), repr(raised)


async def _connect_with(connect: Callable[[], Awaitable[asyncpg.Connection]]) -> BaseException:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1/none", async_creator=connect)
    try:
        async with engine.connect():
            pass
    except BaseException as exc:  # noqa: BLE001 - what the pool raised is the subject
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("the connect did not fail")


def test_chained_as_a_cause_or_inside_a_group_they_are_unavailable() -> None:
    def unit_of_work() -> None:
        try:
            raise _server_error("57P01", "terminating connection due to administrator command")
        except asyncpg.PostgresError as exc:
            raise RuntimeError("the unit of work failed") from exc

    with pytest.raises(RuntimeError) as wrapped:
        unit_of_work()
    assert is_database_unavailable(wrapped.value)
    assert is_database_unavailable(ExceptionGroup("queries", [ValueError("a sibling's"), _closed_mid_operation()]))
    nested = ExceptionGroup("outer", [ExceptionGroup("inner", [KeyError("x"), ConnectionResetError()])])
    assert is_database_unavailable(nested)
    assert not is_database_unavailable(ExceptionGroup("bugs", [ValueError("a"), KeyError("b")]))


def test_a_bug_raised_while_handling_an_outage_is_not_the_outage() -> None:
    """Only `__cause__` (and `orig`) say "because of"; an implicit `__context__` is just "meanwhile"."""
    bug = KeyError("a bug in an except block")
    bug.__context__ = _closed_mid_operation()
    assert not is_database_unavailable(bug)


def test_cyclic_causes_end() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__, second.__cause__ = second, first
    assert not is_database_unavailable(first)


# ---- exceptions from a real server -------------------------------------------------------------------------


async def test_a_connection_terminated_by_the_server_mid_statement_is_unavailable(database_url: str) -> None:
    dsn = driver_url(database_url)
    admin, victim = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        pid = victim.get_server_pid()
        sleeping = asyncio.create_task(victim.fetchval("SELECT pg_sleep(30)"))
        await _until_running(admin, pid)
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the class is what is being classified
            await sleeping
        assert is_database_unavailable(raised.value), repr(raised.value)
        with pytest.raises(asyncpg.InterfaceError) as closed:
            await victim.fetchval("SELECT 1")
        assert is_database_unavailable(closed.value), repr(closed.value)
    finally:
        await admin.close()
        victim.terminate()


async def test_a_session_whose_connection_is_terminated_mid_statement_is_unavailable(database_url: str) -> None:
    engine = create_async_engine(async_url(database_url), pool_size=1)
    admin = await asyncpg.connect(driver_url(database_url))
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            sleeping = asyncio.create_task(connection.execute(text("SELECT pg_sleep(30)")))
            await _until_running(admin, pid)
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
            with pytest.raises(DBAPIError) as raised:
                await sleeping
            assert is_database_unavailable(raised.value), repr(raised.value)
    finally:
        await admin.close()
        await engine.dispose()


_NOTHING_LISTENS = r"Connect call failed|[Cc]onnection refused|No such file or directory"


async def test_connecting_to_a_stopped_server_is_unavailable(tmp_path: Path) -> None:
    """Nothing listens: on TCP the port refuses; on a Unix socket (how the embedded server is reached) the
    socket file is gone. Raw from asyncpg, and from SQLAlchemy's pool."""
    tcp = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    unix = f"postgresql://nobody@/none?host={tmp_path}&port=5432"
    for dsn in (tcp, unix):
        with pytest.raises(OSError, match=_NOTHING_LISTENS) as raw:
            await asyncpg.connect(dsn, timeout=5)
        assert is_database_unavailable(raw.value), repr(raw.value)
        engine = create_async_engine(async_url(dsn))
        try:
            with pytest.raises(OSError, match=_NOTHING_LISTENS) as pooled:
                async with engine.connect():
                    pass
            assert is_database_unavailable(pooled.value), repr(pooled.value)
        finally:
            await engine.dispose()


async def test_refused_statements_from_a_real_server_are_not_unavailable(database_url: str) -> None:
    engine = create_async_engine(async_url(database_url), pool_size=1)
    connection = await asyncpg.connect(driver_url(database_url))
    try:
        await connection.execute("CREATE TEMP TABLE t (id int PRIMARY KEY)")
        await connection.execute("INSERT INTO t VALUES (1)")
        raw: list[BaseException] = []
        for statement, arguments in (("INSERT INTO t VALUES (1)", ()), ("SELEC 1", ()), ("SELECT $1::int", ("x",))):
            try:
                await connection.execute(statement, *arguments)
            except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                raw.append(exc)
        assert [type(e).__name__ for e in raw] == ["UniqueViolationError", "PostgresSyntaxError", "DataError"]
        assert not any(is_database_unavailable(e) for e in raw)
        busy = await asyncio.gather(
            connection.fetchval("SELECT 1"), connection.fetchval("SELECT 2"), return_exceptions=True
        )
        in_progress = [e for e in busy if isinstance(e, asyncpg.InterfaceError)]
        assert in_progress and not is_database_unavailable(in_progress[0])
        wrapped = await _failures_through(engine, ["SELEC 1", "SELECT 1/0", "SELECT 'x'::uuid"])
        assert [type(e) for e in wrapped] == [ProgrammingError, DBAPIError, DBAPIError]
        assert not any(is_database_unavailable(e) for e in wrapped)
        async with engine.begin() as sa:
            await sa.execute(text("CREATE TEMP TABLE u (id int PRIMARY KEY)"))
            await sa.execute(text("INSERT INTO u VALUES (1)"))
            with pytest.raises(IntegrityError) as duplicate:
                await sa.execute(text("INSERT INTO u VALUES (1)"))
        assert not is_database_unavailable(duplicate.value)
    finally:
        await connection.close()
        await engine.dispose()


async def _failures_through(engine: AsyncEngine, statements: list[str]) -> list[BaseException]:
    failures: list[BaseException] = []
    for statement in statements:
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        except DBAPIError as exc:
            failures.append(exc)
    return failures


async def _until_running(admin: asyncpg.Connection, pid: int) -> None:
    for _ in range(200):
        state = await admin.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
        if state == "active":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the statement never started")


# ---- the error handlers --------------------------------------------------------------------------------------


def _raising_app(raised: dict[str, BaseException]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{name}")
    async def raise_it(name: str) -> None:
        raise raised[name]

    return app


@contextlib.asynccontextmanager
async def _client(raised: dict[str, BaseException]) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: the `Exception` handler answers, then Starlette re-raises for the server's log.
    transport = httpx.ASGITransport(app=_raising_app(raised), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_every_form_of_the_outage_is_a_503_problem_with_retry_after() -> None:
    raised: dict[str, BaseException] = {name: make() for name, make in UNAVAILABLE.items()}
    for name, make in list(UNAVAILABLE.items()):
        raised[f"{name}, in a group"] = ExceptionGroup("tasks", [make()])
        try:
            raise RuntimeError("wrapped") from make()
        except RuntimeError as exc:
            raised[f"{name}, as a cause"] = exc

        async def connect(make: Callable[[], BaseException] = make) -> asyncpg.Connection:
            raise make()

        raised[f"{name}, wrapped by SQLAlchemy"] = await _connect_with(connect)
    async with _client(raised) as client:
        for name in raised:
            response = await client.get(f"/raise/{name}")
            body = assert_problem(response, 503)
            assert int(response.headers["retry-after"]) >= 1, name
            assert body["type"] == "urn:learncity:problem:service-unavailable", name


async def test_anything_else_is_a_500_that_says_nothing_of_the_exception() -> None:
    secret = "password=hunter2 at /srv/app/secret.py line 42"
    raised: dict[str, BaseException] = {
        "runtime": RuntimeError(secret),
        "key": KeyError(secret),
        "file": FileNotFoundError(2, "No such file or directory", secret),
        "raw server error": _server_error("42P01", secret),
        "interface misuse": asyncpg.InterfaceError(
            f"cannot perform operation: another operation is in progress {secret}"
        ),
        "a group of bugs": ExceptionGroup(secret, [ValueError(secret), KeyError(secret)]),
    }

    async def connect() -> asyncpg.Connection:
        raise _server_error("42501", secret)

    raised["wrapped by SQLAlchemy"] = await _connect_with(connect)
    async with _client(raised) as client:
        for name in raised:
            response = await client.get(f"/raise/{name}")
            body = assert_problem(response, 500)
            assert body["detail"] == "An unexpected error occurred; it has been logged", name
            assert "hunter2" not in response.text and "secret.py" not in response.text, name
            assert "retry-after" not in response.headers, name


# ---- on real processes: connections cut under every kind of request ----------------------------------------


@pytest.mark.system
async def test_connections_cut_under_every_kind_of_request_answer_503_never_500(
    private_system: PrivateSystem,
) -> None:
    """Every client connection of the database is terminated every few milliseconds while requests of every
    kind run (SQLAlchemy reads and writes in each service, the booking fast path and the search on the
    driver pools, logins, check-ins): each answer is a 2xx, a 4xx or a 503 problem with `Retry-After`. Then
    the services, their relays included, carry on by themselves."""
    database, system = private_system.database, private_system.system
    async with system.client(timeout_s=30) as http:
        city = await build_city(http, private_system.key_file, sessions=3, capacity=500, people=30)
        email, login = await _registered(http)
        made = [await _book(http, city, person) for person in range(12)]
        bookings = [b for b in made if b is not None]
        assert len(bookings) == 12
        statuses: Counter[tuple[str, str]] = Counter()
        bad: list[str] = []

        async def call(kind: str, method: str, path: str, **kwargs: Any) -> None:
            try:
                response = await http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                bad.append(f"{kind}: {type(exc).__name__}")
                return
            statuses[(kind, str(response.status_code))] += 1
            if response.status_code == 503:
                if "retry-after" not in response.headers or not response.headers["content-type"].startswith(
                    "application/problem+json"
                ):
                    bad.append(f"{kind}: 503 without Retry-After or problem body")
            elif response.status_code >= 500:
                bad.append(f"{kind}: {response.status_code} {response.text[:300]}")

        session_id = city.sessions[0].id
        kinds: list[Callable[[int], Awaitable[None]]] = [
            lambda i: call(
                "book (fast path)",
                "POST",
                "/v1/bookings",
                json={"session_id": city.sessions[i % 3].id},
                headers={**city.people[12 + i % 18], "Idempotency-Key": f"cut-{i}"},
            ),
            lambda i: call(
                "cancel (SQLAlchemy write)",
                "POST",
                f"/v1/bookings/{bookings[i % 12][0]}/cancel",
                headers=city.people[bookings[i % 12][1]],
            ),
            lambda i: call("search (driver pool)", "GET", "/v1/search/sessions", params=_near()),
            lambda i: call("bookings list", "GET", "/v1/bookings", headers=city.people[i % 12]),
            lambda i: call("availability", "GET", f"/v1/availability/{session_id}"),
            lambda i: call("catalog session", "GET", f"/v1/sessions/{session_id}"),
            lambda i: call(
                "catalog write", "POST", f"/v1/activities/{city.activity_id}/sessions", **_new_session(city)
            ),
            lambda i: call("orgs me", "GET", "/v1/me", headers=city.staff),
            lambda i: call(
                "orgs write",
                "POST",
                "/v1/organizations",
                json={"name": f"Org {i}", "kind": "community"},
                headers=city.staff,
            ),
            lambda i: call("orgs login", "POST", "/v1/auth/token", data={"username": email, "password": login}),
            lambda i: call("checkin", "POST", "/v1/checkins", json={"code": bookings[i % 12][2]}, headers=city.staff),
        ]

        async def load(worker: int, until: float) -> None:
            i = worker
            while time.monotonic() < until:
                await kinds[i % len(kinds)](i)
                i += 7

        pids = {service: process.pid for service, process in system.processes.items()}
        admin = await asyncpg.connect(database.plain_url)
        try:
            until = time.monotonic() + 8
            cutting = asyncio.create_task(_cut_connections(admin, until))
            await asyncio.gather(*(load(worker, until) for worker in range(10)))
            cuts = await cutting
        finally:
            await admin.close()
        assert cuts > 20, cuts
        assert not bad, (bad[:10], statuses)
        seen_kinds = {kind for kind, _ in statuses}
        assert len(seen_kinds) == len(kinds), statuses
        assert any(status == "503" for _, status in statuses), statuses  # the cuts were felt

        # Healed without a restart: every service answers again (a pool's connection that was cut is a 503 once
        # at most), a new booking's events get delivered, and every process is the one that started.
        for path in ("/v1/me", f"/v1/sessions/{session_id}", f"/v1/availability/{session_id}", "/v1/bookings"):
            answer = await _until_steady(functools.partial(http.get, path, headers=city.staff))
            assert answer.status_code == 200, (path, answer.text)
        assert (await _until_steady(lambda: http.get("/v1/search/sessions", params=_near()))).status_code == 200
        booked = await _until_ok(
            lambda: http.post(
                "/v1/bookings",
                json={"session_id": city.sessions[1].id},
                headers={**city.people[0], "Idempotency-Key": "after-the-cuts"},
            )
        )
        assert booked.status_code == 201, booked.text
        assert (await wait_drained(database.plain_url, timeout_s=60)) == {}
        assert {service: process.pid for service, process in system.processes.items()} == pids
        assert all(process.poll() is None for process in system.processes.values())


async def _cut_connections(admin: asyncpg.Connection, until: float) -> int:
    """Terminate every other client connection of the database, every 20 ms: in the middle of statements,
    of transactions, of connecting (the pools' connection set-up) and of the relays' listening."""
    cuts = 0
    while time.monotonic() < until:
        cuts += await admin.fetchval(
            """SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"""
        )
        await asyncio.sleep(0.02)
    return cuts


async def _until_steady(send: Callable[[], Awaitable[httpx.Response]], in_a_row: int = 40) -> httpx.Response:
    """Until `in_a_row` answers in a row are not 5xx. Sequential requests go round every idle connection of
    the service's pools (SQLAlchemy's pool is FIFO), so a connection cut during the outage is met (one 503,
    and the pool renews itself) here, not by the tests that share this system after."""
    steady = 0
    for _ in range(500):
        response = await send()
        steady = steady + 1 if response.status_code < 500 else 0
        if steady >= in_a_row:
            return response
        if not steady:
            await asyncio.sleep(0.2)
    raise AssertionError(f"not steady: {response.status_code}: {response.text}")


async def _until_ok(send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    for _ in range(100):
        response = await send()
        if response.status_code < 500:
            return response
        await asyncio.sleep(0.2)
    raise AssertionError(f"still {response.status_code}: {response.text}")


async def _registered(http: httpx.AsyncClient) -> tuple[str, str]:
    email, password = f"login-{time.monotonic_ns()}@example.org", "correct horse battery staple"
    registered = await http.post("/v1/auth/register", json={"email": email, "password": password, "display_name": "L"})
    assert registered.status_code == 201, registered.text
    return email, password


async def _book(http: httpx.AsyncClient, city: City, person: int) -> tuple[str, int, str] | None:
    response = await http.post(
        "/v1/bookings",
        json={"session_id": city.sessions[person % 3].id},
        headers={**city.people[person], "Idempotency-Key": f"before-{person}"},
    )
    if response.status_code != 201:
        return None
    body = response.json()
    return body["id"], person, body["checkin_code"]


def _near() -> dict[str, str]:
    return {"near": f"{HUBIN[0]},{HUBIN[1]}", "walk_minutes": "15"}


def _new_session(city: City) -> dict[str, Any]:
    starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    body = {"starts_at": starts_at.isoformat(), "ends_at": (starts_at + timedelta(hours=1)).isoformat(), "capacity": 5}
    return {"json": body, "headers": city.staff}
