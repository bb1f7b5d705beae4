"""The services as separate processes speak to each other over real HTTP."""

import asyncio

import pytest

from tests.live import LiveSystem
from tests.support import PASSWORD, new_email

pytestmark = pytest.mark.system


async def test_live_services_register_and_verify_tokens_across_processes(live_system: LiveSystem) -> None:
    async with live_system.client() as client:
        emails = [new_email("live") for _ in range(10)]
        registered = await asyncio.gather(
            *(
                client.post("/v1/auth/register", json={"email": e, "password": PASSWORD, "display_name": "L"})
                for e in emails
            )
        )
        assert [r.status_code for r in registered] == [201] * 10
        token = (await client.post("/v1/auth/token", data={"username": emails[0], "password": PASSWORD})).json()
        me = await client.get("/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert me.status_code == 200
        assert me.json()["email"] == emails[0]
