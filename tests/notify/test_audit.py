"""Notify's audit trail (`GET /v1/notifications/audit`): notify has no staff actions of its own; the operator's
`learncity events --retry` of its dead letters is recorded there (as in every service's trail)."""

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import insert, select

from services.notify.models import audit_log, event_tables
from shared.events.admin import retry_failed
from shared.ids import new_id
from tests.support import Person


def _person(apps: dict[str, FastAPI], roles: list[str]) -> Person:
    person_id = new_id()
    token, _ = apps["orgs"].state.signing_keys.issue_access_token(person_id, roles)
    return Person(id=str(person_id), email="", token=token)


async def test_a_retry_of_dead_letters_is_an_operators_entry(
    client: httpx.AsyncClient, apps: dict[str, FastAPI]
) -> None:
    outbox = event_tables.outbox
    failed, delivered = new_id(), new_id()
    now = datetime.now(UTC)
    rows = [
        {"event_id": event_id, "status": status, "attempts": attempts, "last_error": "503 from booking"}
        for event_id, status, attempts in ((failed, "failed", 8), (delivered, "delivered", 1))
    ]
    async with apps["notify"].state.database.sessionmaker.begin() as session:
        for row in rows:
            await session.execute(
                insert(outbox).values(
                    id=new_id(),
                    subscriber="booking",
                    type="booking.confirmed",
                    aggregate_id=new_id(),
                    sequence=1,
                    occurred_at=now,
                    payload={"person_id": str(new_id())},
                    **row,
                )
            )
    async with apps["notify"].state.database.sessionmaker.begin() as session:
        assert await retry_failed(session, event_tables, audit_log=audit_log) == 1
    async with apps["notify"].state.database.sessionmaker.begin() as session:
        assert await retry_failed(session, event_tables, audit_log=audit_log) == 0  # nothing failed: no entry
        assert (await session.execute(select(outbox.c.status).where(outbox.c.event_id == failed))).scalar() == "pending"

    operator = _person(apps, ["operator"])
    response = await client.get("/v1/notifications/audit", headers=operator.headers)
    assert response.status_code == 200, response.text
    [entry] = response.json()["items"]
    assert (entry["action"], entry["entity_type"], entry["entity_id"]) == (
        "event_delivery.retried",
        "event_delivery",
        str(failed),
    )
    assert (entry["actor_id"], entry["actor_is_operator"], entry["organization_id"]) == (None, True, None)
    assert entry["before"] == {"status": "failed", "subscriber": "booking", "type": "booking.confirmed", "attempts": 8}
    assert entry["after"] == {"status": "pending", "subscriber": "booking", "type": "booking.confirmed", "attempts": 0}
    # Nobody else reads notify's trail: its entries belong to no organization.
    someone = _person(apps, [])
    assert (await client.get("/v1/notifications/audit", headers=someone.headers)).status_code == 403
    assert (await client.get("/v1/notifications/audit")).status_code == 401
