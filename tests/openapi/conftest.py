"""The three specs, built from the application objects once per run (no database, no server)."""

from typing import Any

import pytest

from scripts.export_openapi import service_spec
from shared.topology import SERVICES


@pytest.fixture(scope="session")
def specs() -> dict[str, dict[str, Any]]:
    return {service: service_spec(service) for service in SERVICES}
