"""Walking-distance search (issue 4): `GET /v1/search/sessions` through the catalog service, side by side
with the very same SQL issued directly through asyncpg, on a generated city.

The city: 5,000 sites scattered over central Hangzhou (about 28 x 28 km), four activities per site and
100,000 sessions over the coming eight weeks (3% cancelled, 30% with availability figures), generated in
SQL (INSERT ... SELECT generate_series), then ANALYZEd. Each request: a random point in the city, a
15-minute walk (1,125 m), a one-week window, the first page (20 items, nearest first). The same again with
`q` (default `poetry`, a word every generated activity has, so every session in reach matches and is
ranked: the worst case for relevance ranking): the first page by relevance, discounted by distance.

Rows of one run, same database, same queries:
  * service: `learncity serve catalog --workers N` (N = 1, then 2: one per core) over HTTP/1.1 keep-alive,
    driven by wrk (one thread; a small Python driver when wrk is not installed);
  * direct SQL: the statement and arguments the service uses (`search_query`), through asyncpg.
Each with `--clients` concurrent clients (default 10) for `--duration` seconds after a warm-up.
Targets: service throughput >= 50% of direct SQL, service p99 < 50 ms.

Besides latency and throughput, each row shows the CPU time one request costs, per process group (read
from /proc): on a shared 2-core machine throughput moves with whatever else runs, CPU per request does not.

Usage: `uv run python bench/search_bench.py [--duration 20] [--clients 10] [--workers 1 2] [--q poetry] [--plan]`
(`--q ''` leaves the ranked run out).
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import asyncpg
from rich.console import Console
from rich.table import Table

from bench._support import CpuUse, backend_pids, free_port, scratch_database, service_pids, summary_ms
from services.catalog.geo import GeoPoint
from services.catalog.search.repository import SearchFilters, search_query
from services.catalog.search.schemas import SearchSort
from services.catalog.search.text import search_text_upkeep
from shared.db import driver_url
from shared.driver import DriverStatement

# Central Hangzhou: West Lake, the old city, Binjiang, Xiaoshan's edge, Gongshu.
SOUTH, NORTH, WEST, EAST = 30.15, 30.40, 120.05, 120.34
MARGIN = 0.012  # query points stay a walk's radius inside the city, as a resident's would
WALK_MINUTES = 15
PAGE_SIZE = 20
console = Console(width=160)

CITY_SQL = [
    "SELECT setseed(0.2027)",
    f"""
    INSERT INTO catalog.sites (id, name, kind, lat, lon, address, district, owner_org_id, accessibility, opening_hours)
    SELECT uuidv7(),
           jsonb_build_object('zh-CN', '学习点' || g, 'en', 'Learning site ' || g),
           (ARRAY['library','museum','theatre','cinema','cultural_hall','community_center','school','park'])[1 + g % 8],
           {SOUTH} + random() * {NORTH - SOUTH}, {WEST} + random() * {EAST - WEST},
           '杭州市 Road ' || g, '西湖区 Xihu', uuidv7(), ARRAY['step_free'], 'Tu-Su 09:00-17:00'
    FROM generate_series(1, :sites) AS g
    """,
    """
    INSERT INTO catalog.activities (id, title, description, kind, topics, audience, language, host_org_id, site_id,
                                    price_cents)
    SELECT uuidv7(), jsonb_build_object('zh-CN', '读书会 第' || n || '期', 'en', 'Reading circle no. ' || n),
           jsonb_build_object('zh-CN', '一起读宋词与西湖的故事。', 'en', 'We read Song poetry and West Lake stories.'),
           (ARRAY['course','workshop','lecture','forum','reading','exhibition','screening','performance',
                  'study_group','festival_event'])[1 + n % 10],
           ARRAY[(ARRAY['literature','history','film','digital_skills','music'])[1 + n % 5]],
           ARRAY[(ARRAY['adults','seniors','families','children'])[1 + n % 4]],
           'zh-CN', s.owner_org_id, s.id, (n % 3) * 1000
    FROM (SELECT id, owner_org_id, row_number() OVER (ORDER BY id) AS rank FROM catalog.sites) AS s,
         generate_series(0, 3) AS k,
         LATERAL (SELECT (s.rank - 1) * 4 + k AS n) AS numbered
    """,
    """
    INSERT INTO catalog.sessions (id, activity_id, site_id, starts_at, ends_at, capacity, status, cancelled_at)
    SELECT uuidv7(), activity_id, site_id, starts_at, starts_at + interval '90 minutes', capacity,
           CASE WHEN cancelled THEN 'cancelled' ELSE 'scheduled' END, CASE WHEN cancelled THEN now() END
    FROM (
        SELECT a.id AS activity_id, a.site_id,
               date_trunc('hour', now()) + make_interval(hours => 8 + floor(random() * 24 * 56)::int) AS starts_at,
               20 + floor(random() * 180)::int AS capacity,
               random() < 0.03 AS cancelled
        FROM catalog.activities AS a, generate_series(1, :sessions_per_activity) AS k
    ) AS planned
    """,
    """
    INSERT INTO catalog.session_availability (session_id, capacity, confirmed_seats, seats_available,
                                              waitlist_length, updated_at)
    SELECT id, capacity, confirmed, capacity - confirmed, 0, now()
    FROM (SELECT id, capacity, floor(random() * (capacity + 1))::int AS confirmed
          FROM catalog.sessions WHERE random() < 0.3) AS booked
    """,
    "ANALYZE",
]


async def build_city(dsn: str, *, sites: int, sessions: int) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        per_activity = max(1, sessions // (sites * 4))
        for statement in CITY_SQL[:-1]:
            await connection.execute(
                statement.replace(":sites", str(sites)).replace(":sessions_per_activity", str(per_activity))
            )
        # The activities' search text, written as the service writes it.
        upkeep = DriverStatement.of(search_text_upkeep())
        await connection.execute(upkeep.sql, *upkeep.arguments({}))
        await connection.execute(CITY_SQL[-1])
        counts = {}
        for table in ("sites", "activities", "sessions", "session_availability"):
            counts[table] = await connection.fetchval(f"SELECT count(*) FROM catalog.{table}")
        return counts
    finally:
        await connection.close()


def random_point(rng: random.Random) -> GeoPoint:
    return GeoPoint(lat=rng.uniform(SOUTH + MARGIN, NORTH - MARGIN), lon=rng.uniform(WEST + MARGIN, EAST - MARGIN))


def search_path(point: GeoPoint, window: tuple[datetime, datetime], q: str | None) -> str:
    period = {"from": window[0].strftime("%Y-%m-%dT%H:%M:%SZ"), "to": window[1].strftime("%Y-%m-%dT%H:%M:%SZ")}
    query = {"near": f"{point.lat:.6f},{point.lon:.6f}", "walk_minutes": WALK_MINUTES} | period
    return f"/v1/search/sessions?{urlencode(query | ({'q': q} if q else {}))}"


def direct_query(point: GeoPoint, window: tuple[datetime, datetime], q: str | None) -> tuple[str, list[Any]]:
    """The service's own statement and arguments for the first page: nearest first, or by relevance with `q`."""
    filters = SearchFilters(
        near=point,
        walk_minutes=WALK_MINUTES,
        starts_from=window[0],
        starts_before=window[1],
        sort=SearchSort.relevance if q else SearchSort.distance,
        q=q,
    )
    return search_query(filters, after=None, limit=PAGE_SIZE + 1)


@contextlib.contextmanager
def catalog_process(url: str, workers: int) -> Iterator[str]:
    """`learncity serve catalog --workers N` on a free port; yields its base URL once /readyz answers."""
    port = free_port()
    environment = os.environ | {
        "CATALOG_DATABASE_URL": url,
        "CATALOG_LOG_LEVEL": "WARNING",
        "CATALOG_RELAY_ENABLED": "false",
    }
    command = [sys.executable, "-m", "learncity", "serve", "catalog", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen([*command, "--workers", str(workers)], env=environment)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not asyncio.run(_ready(base_url)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the catalog service did not become ready")
            time.sleep(0.2)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


async def _ready(base_url: str) -> bool:
    client = KeepAliveClient(base_url)
    try:
        status, _ = await client.get("/readyz")
        return status == 200
    except OSError:
        return False
    finally:
        await client.close()


WRK_SCRIPT = """
local from_, to_ = "%(from)s", "%(to)s"
local south, north, west, east = %(south)f, %(north)f, %(west)f, %(east)f
math.randomseed(%(seed)d)

request = function()
  local lat = south + math.random() * (north - south)
  local lon = west + math.random() * (east - west)
  local path = string.format("/v1/search/sessions?near=%%.6f,%%.6f&walk_minutes=%(walk)d&from=%%s&to=%%s%(query)s",
                             lat, lon, from_, to_)
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%%d duration_us=%%d p50_us=%%d p90_us=%%d p99_us=%%d max_us=%%d bad_status=%%d errors=%%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, summary.errors.status, errors))
end
"""


def _wrk(script: Path, base_url: str, clients: int, seconds: float) -> dict[str, int]:
    command = ["wrk", "-t", "1", "-c", str(clients), "-d", f"{max(1, round(seconds))}s", "--timeout", "10s"]
    output = subprocess.run([*command, "-s", str(script), base_url], capture_output=True, text=True, check=True)
    found = re.search(r"RESULT (.*)", output.stdout)
    if found is None:
        raise RuntimeError(f"wrk said: {output.stdout} {output.stderr}")
    values = {key: int(value) for key, value in (pair.split("=") for pair in found.group(1).split())}
    if values["bad_status"] or values["errors"]:
        raise RuntimeError(f"wrk saw failures: {values}")
    return values


def run_wrk(
    base_url: str, dsn: str, window: tuple[datetime, datetime], q: str | None, args: argparse.Namespace
) -> dict[str, Any]:
    """wrk (C, one thread) drives the service: it costs the shared machine far less than a Python driver."""
    period = {"from": window[0].strftime("%Y-%m-%dT%H:%M:%SZ"), "to": window[1].strftime("%Y-%m-%dT%H:%M:%SZ")}
    bounds = {"south": SOUTH + MARGIN, "north": NORTH - MARGIN, "west": WEST + MARGIN, "east": EAST - MARGIN}
    with tempfile.TemporaryDirectory(prefix="search-bench-") as folder:
        script = Path(folder) / "search.lua"
        query = f"&q={quote(q)}".replace("%", "%%") if q else ""  # string.format's own percent signs
        script.write_text(WRK_SCRIPT % {**period, **bounds, "seed": 2027, "walk": WALK_MINUTES, "query": query})
        _wrk(script, base_url, args.clients, args.warmup)
        app_pids, database_pids = service_pids(base_url), asyncio.run(backend_pids(dsn))
        before = CpuUse.sample(app_pids, database_pids)
        values = _wrk(script, base_url, args.clients, args.duration)
        # Connections opened during the run (a worker's pool growing) count from zero.
        database_pids = sorted(set(database_pids) | set(asyncio.run(backend_pids(dsn))))
        used = CpuUse.sample(app_pids, database_pids) - before
    return {
        "n": values["requests"],
        "rps": values["requests"] / (values["duration_us"] / 1e6),
        **{key: values[f"{key}_us"] / 1000 for key in ("p50", "p90", "p99", "max")},
        "cpu": used,
    }


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive GET client (checks answers, and drives the service without wrk)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        request = f"GET {target} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\nAccept: application/json\r\n\r\n"
        self._writer.write(request.encode())
        head = await self._reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(head[9:12]), await self._reader.readexactly(length)

    async def items(self, target: str) -> int:
        status, body = await self.get(target)
        if status != 200:
            raise RuntimeError(f"search answered {status}: {body[:300]!r}")
        return len(json.loads(body)["items"])

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()


Request = Callable[[GeoPoint], Awaitable[int]]


async def measure(
    requests: list[Request], *, duration_s: float, warmup_s: float, sample: Callable[[], CpuUse]
) -> dict[str, Any]:
    """Each client sends requests back to back; latencies and CPU after the warm-up count."""
    latencies: list[float] = []
    items = 0
    measuring_from = time.perf_counter() + warmup_s
    deadline = measuring_from + duration_s
    samples: list[CpuUse] = []

    async def client(request: Request, index: int) -> None:
        nonlocal items
        rng = random.Random(1000 + index)
        while (now := time.perf_counter()) < deadline:
            found = await request(random_point(rng))
            if now >= measuring_from:
                latencies.append(time.perf_counter() - now)
                items += found

    async def meter() -> None:
        await asyncio.sleep(warmup_s)
        samples.append(sample())
        await asyncio.sleep(duration_s)
        samples.append(sample())

    await asyncio.gather(meter(), *(client(request, index) for index, request in enumerate(requests)))
    return {
        **summary_ms(latencies),
        "rps": len(latencies) / duration_s,
        "items": items / max(1, len(latencies)),
        "cpu": samples[1] - samples[0],
    }


async def run_python_driver(
    base_url: str, dsn: str, window: tuple[datetime, datetime], q: str | None, args: argparse.Namespace
) -> dict[str, Any]:
    """The HTTP driver when wrk is not installed (it competes with the service for CPU)."""
    clients = [KeepAliveClient(base_url) for _ in range(args.clients)]
    database_pids = await backend_pids(dsn)
    app_pids = service_pids(base_url)

    def request_for(client: KeepAliveClient) -> Request:
        async def request(point: GeoPoint) -> int:
            return await client.items(search_path(point, window, q))

        return request

    try:
        return await measure(
            [request_for(c) for c in clients],
            duration_s=args.duration,
            warmup_s=args.warmup,
            sample=lambda: CpuUse.sample(app_pids, database_pids),
        )
    finally:
        for client in clients:
            await client.close()


async def items_per_page(base_url: str, window: tuple[datetime, datetime], q: str | None, samples: int = 50) -> float:
    """What the service answers (checked apart from wrk's timed run, which does not parse bodies)."""
    client = KeepAliveClient(base_url)
    rng = random.Random(5)
    try:
        return sum([await client.items(search_path(random_point(rng), window, q)) for _ in range(samples)]) / samples
    finally:
        await client.close()


def run_service(
    base_url: str, dsn: str, window: tuple[datetime, datetime], q: str | None, args: argparse.Namespace
) -> dict[str, Any]:
    if shutil.which("wrk") is not None:
        stats = run_wrk(base_url, dsn, window, q, args)
    else:
        stats = asyncio.run(run_python_driver(base_url, dsn, window, q, args))
    stats["items"] = asyncio.run(items_per_page(base_url, window, q))
    return stats


async def _json_codecs(connection: asyncpg.Connection) -> None:
    # Decode JSON columns as the service does, so both rows do the same client-side work on them.
    for name in ("json", "jsonb"):
        await connection.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def run_direct(
    dsn: str, window: tuple[datetime, datetime], q: str | None, args: argparse.Namespace
) -> dict[str, Any]:
    pool = await asyncpg.create_pool(dsn, min_size=args.clients, max_size=args.clients, init=_json_codecs)
    try:
        connections = [await pool.acquire() for _ in range(args.clients)]
        database_pids = await backend_pids(dsn)

        def request_for(connection: asyncpg.Connection) -> Request:
            async def request(point: GeoPoint) -> int:
                rows = await connection.fetch(*_flatten(direct_query(point, window, q)))
                return min(len(rows), PAGE_SIZE)

            return request

        stats = await measure(
            [request_for(c) for c in connections],
            duration_s=args.duration,
            warmup_s=args.warmup,
            sample=lambda: CpuUse.sample([], database_pids),
        )
        for connection in connections:
            await pool.release(connection)
        return stats
    finally:
        await pool.close()


def _flatten(query: tuple[str, list[Any]]) -> list[Any]:
    sql, arguments = query
    return [sql, *arguments]


async def explain(dsn: str, window: tuple[datetime, datetime], q: str | None) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        sql, arguments = direct_query(random_point(random.Random(7)), window, q)
        rows = await connection.fetch("EXPLAIN (ANALYZE, COSTS OFF) " + sql, *arguments)
        return "\n".join(row[0] for row in rows)
    finally:
        await connection.close()


def report(
    counts: dict[str, int], args: argparse.Namespace, q: str | None, rows: list[tuple[str, dict[str, Any]]]
) -> None:
    request = f"q={q!r}, by relevance" if q else "nearest first"
    table = Table(
        title=f"GET /v1/search/sessions ({request}): {args.clients} clients, {args.duration:.0f}s each, "
        f"{counts['sites']:,} sites, {counts['sessions']:,} sessions, {WALK_MINUTES}-minute walk, one-week window"
    )
    columns = ("path", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "items/req")
    for column in (*columns, "CPU ms/req app+db+driver"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, stats in rows:
        cpu: CpuUse = stats["cpu"]
        per_request = [1000 * value / max(1, stats["n"]) for value in (cpu.app, cpu.database, cpu.driver)]
        table.add_row(
            name,
            f"{stats['n']:,}",
            f"{stats['rps']:.0f}",
            *(f"{stats[key]:.1f}" for key in ("p50", "p90", "p99", "max")),
            f"{stats['items']:.1f}",
            " + ".join(f"{value:.2f}" for value in per_request),
        )
    console.print(table)
    direct = rows[-1][1]
    for name, service in rows[:-1]:
        share = service["rps"] / direct["rps"]
        console.print(
            f"{name}: throughput {share:.0%} of direct SQL (target >= 50%: {'met' if share >= 0.5 else 'MISSED'}), "
            f"p99 {service['p99']:.1f} ms (target < 50 ms: {'met' if service['p99'] < 50 else 'MISSED'})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per row")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each row")
    parser.add_argument("--clients", type=int, default=10, help="concurrent clients")
    parser.add_argument("--sites", type=int, default=5_000)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--plan", action="store_true", help="print the query plans")
    parser.add_argument("--q", default="poetry", help="the text of the ranked run ('' to leave it out)")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="uvicorn worker counts to run the service with"
    )
    args = parser.parse_args()
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    window = (start, start + timedelta(days=7))
    console.print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f}")
    with scratch_database("learncity_search_bench") as url:
        dsn = driver_url(url)
        built = time.perf_counter()
        counts = asyncio.run(build_city(dsn, sites=args.sites, sessions=args.sessions))
        console.print(f"City: {counts} in {time.perf_counter() - built:.1f}s")
        variants: list[str | None] = [None, *([args.q] if args.q else [])]
        results: list[tuple[str | None, list[tuple[str, dict[str, Any]]]]] = []
        for q in variants:
            plan = asyncio.run(explain(dsn, window, q))
            uses_index = "ix_sites_earth_location" in plan
            console.print(f"q={q!r}: GiST index ix_sites_earth_location in the plan: {uses_index}")
            if args.plan or not uses_index:
                console.print(plan)
            rows: list[tuple[str, dict[str, Any]]] = []
            for workers in args.workers:
                with catalog_process(url, workers) as base_url:
                    label = f"service, {workers} worker{'s' if workers > 1 else ''} (HTTP + JSON)"
                    rows.append((label, run_service(base_url, dsn, window, q, args)))
            rows.append(("direct SQL (asyncpg)", asyncio.run(run_direct(dsn, window, q, args))))
            results.append((q, rows))
    console.print(f"load average after: {os.getloadavg()[0]:.2f}")
    for q, rows in results:
        report(counts, args, q, rows)


if __name__ == "__main__":
    main()
