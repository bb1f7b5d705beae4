"""Alembic helpers: one environment per service under `migrations/<service>`, version table in its schema."""

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.db import async_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(service: str, database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR / service))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d-%%(rev)s_%%(slug)s")
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url)
    return config


def head_revision(service: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(service)).get_current_head()


def known_revisions(service: str) -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config(service)).walk_revisions()}


def upgrade_to_head(service: str, database_url: str) -> None:
    """Blocking: call from a CLI or a worker thread (env.py runs its own event loop)."""
    command.upgrade(alembic_config(service, database_url), "head")


async def current_revision(engine: AsyncEngine, schema: str) -> str | None:
    async with engine.connect() as connection:
        exists = await connection.scalar(text("SELECT to_regclass(:name)"), {"name": f"{schema}.alembic_version"})
        if exists is None:
            return None
        revision: str | None = await connection.scalar(text(f'SELECT version_num FROM "{schema}".alembic_version'))
        return revision


def run_environment(*, schema: str, metadata: MetaData, default_url: str, extensions: tuple[str, ...] = ()) -> None:
    """The body of every service's env.py: online, async, only this service's schema."""
    url = async_url(context.config.get_main_option("sqlalchemy.url") or default_url)

    def include_name(name: str | None, type_: str, _parent: object) -> bool:
        return name == schema if type_ == "schema" else True

    def run(connection: Connection) -> None:
        # Replicas or jobs migrating at once take turns.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"learncity-migrate-{schema}"})
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        for extension in extensions:
            # Extensions live in `public` so every schema can use them; creating them needs a superuser
            # or a database owner, which the migration role is.
            connection.execute(text(f'CREATE EXTENSION IF NOT EXISTS "{extension}" CASCADE'))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(run)
        finally:
            await engine.dispose()

    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported; run against a database")
    asyncio.run(main())
