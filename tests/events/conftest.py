from collections.abc import AsyncIterator

import pytest

from services.booking.settings import BookingSettings
from shared.db import Database
from tests.events.support import Consumer


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    settings = BookingSettings(database_url=database_url, db_pool_size=5)
    database = Database(settings, application_name="events-test")
    yield database
    await database.dispose()


@pytest.fixture
def consumer(database: Database) -> Consumer:
    return Consumer(database)
