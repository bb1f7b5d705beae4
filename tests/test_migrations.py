"""Each service's models and its migrations describe the same schema (what `alembic check` compares)."""

import asyncio

import pytest
from alembic import command

from shared.migrations import alembic_config
from shared.topology import SERVICES


@pytest.mark.parametrize("service", SERVICES)
async def test_models_match_the_migrations(service: str, database_url: str) -> None:
    # The test database is at head; autogenerate must find nothing to add, drop or alter.
    await asyncio.to_thread(command.check, alembic_config(service, database_url))
