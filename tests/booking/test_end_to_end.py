"""The catalog and booking together, through their public routes and the events between them."""

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx

from tests.booking.conftest import Mint, availability, book, minutes_from_now, organization
from tests.support import assert_problem


async def test_catalog_session_booked_resized_and_cancelled(
    client: httpx.AsyncClient, mint: Mint, deliver_events: Callable[[], Awaitable[int]]
) -> None:
    org = await organization(client, roles=("admin",))
    admin = org["admin"].headers
    site = await client.post(
        "/v1/sites",
        json={
            "name": "Hubin Library",
            "kind": "library",
            "location": {"lat": 30.2590, "lon": 120.1650},
            "address": "1 Hubin Road",
            "owner_org_id": org.id,
        },
        headers=admin,
    )
    assert site.status_code == 201, site.text
    activity = await client.post(
        "/v1/activities",
        json={"title": "Poetry evening", "kind": "reading", "host_org_id": org.id, "site_id": site.json()["id"]},
        headers=admin,
    )
    assert activity.status_code == 201, activity.text
    starts_at = minutes_from_now(24 * 60)
    created = await client.post(
        f"/v1/activities/{activity.json()['id']}/sessions",
        json={
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(hours=1)).isoformat(),
            "capacity": 2,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["items"][0]["id"]

    # Booking has not heard of the session yet (no event delivered): it asks the catalog.
    people = [mint() for _ in range(3)]
    made = [(await book(client, p, session_id)).json() for p in people]
    assert [m["status"] for m in made] == ["confirmed", "confirmed", "waitlisted"]
    await deliver_events()

    # The catalog asks booking before lowering capacity below the confirmed seats.
    assert_problem(await client.patch(f"/v1/sessions/{session_id}", json={"capacity": 1}, headers=admin), 409)
    raised = await client.patch(f"/v1/sessions/{session_id}", json={"capacity": 3}, headers=admin)
    assert raised.status_code == 200, raised.text
    await deliver_events()
    promoted = await client.get(f"/v1/bookings/{made[2]['id']}", headers=people[2].headers)
    assert promoted.json()["status"] == "confirmed"
    assert (await availability(client, session_id))["confirmed_seats"] == 3

    cancelled = await client.post(f"/v1/sessions/{session_id}/cancel", json={}, headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    await deliver_events()
    for booking, person in zip(made, people, strict=True):
        view = await client.get(f"/v1/bookings/{booking['id']}", headers=person.headers)
        assert view.json()["status"] == "cancelled"
    assert (await availability(client, session_id))["confirmed_seats"] == 0
