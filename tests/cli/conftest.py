"""The command line's checks run commands and small servers; none needs the test database."""

import pytest


@pytest.fixture(autouse=True)
def _empty_tables() -> None:
    """Replaces the suite-wide table cleanup, so these tests start no PostgreSQL."""
