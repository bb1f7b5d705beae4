"""What operators scrape: booking's `/metrics` counts bookings by the status they entered and shows the
outbox backlog, after a real booking flow through the public API."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.support import Person, new_email, register_and_login

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(app: FastAPI) -> Samples:
    """A service's `/metrics` on its own port (the gateway does not route it), parsed."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://booking.test") as direct:
        response = await direct.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def bookings_entered(samples: Samples, status: str) -> float:
    return samples.get(("learncity_bookings_total", (("status", status),)), 0.0)


def outbox(samples: Samples, status: str) -> float:
    return samples[("learncity_outbox_deliveries", (("status", status),))]


async def a_session_with_one_seat(client: httpx.AsyncClient, host: Person) -> dict[str, Any]:
    org = await client.post("/v1/organizations", json={"name": "社区书房", "kind": "library"}, headers=host.headers)
    assert org.status_code == 201, org.text
    site = await client.post(
        "/v1/sites",
        json={
            "name": {"zh-CN": "北山街道社区书房", "en": "Beishan Reading Room"},
            "kind": "library",
            "location": {"lat": 30.259, "lon": 120.164},
            "address": "杭州市西湖区北山街1号",
            "owner_org_id": org.json()["id"],
        },
        headers=host.headers,
    )
    assert site.status_code == 201, site.text
    activity = await client.post(
        "/v1/activities",
        json={"title": "读书会", "kind": "reading", "host_org_id": org.json()["id"], "site_id": site.json()["id"]},
        headers=host.headers,
    )
    assert activity.status_code == 201, activity.text
    starts = datetime.now(UTC) + timedelta(days=2)
    sessions = await client.post(
        f"/v1/activities/{activity.json()['id']}/sessions",
        json={"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat(), "capacity": 1},
        headers=host.headers,
    )
    assert sessions.status_code == 201, sessions.text
    session: dict[str, Any] = sessions.json()["items"][0]
    return session


async def book(client: httpx.AsyncClient, person: Person, session_id: str, key: str) -> dict[str, Any]:
    headers = {**person.headers, "Idempotency-Key": key}
    response = await client.post("/v1/bookings", json={"session_id": session_id}, headers=headers)
    assert response.status_code == 201, response.text
    booking: dict[str, Any] = response.json()
    return booking


async def test_booking_metrics_count_each_status_and_show_the_outbox_backlog(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], deliver_events: Callable[[], Awaitable[int]]
) -> None:
    host = await register_and_login(client, new_email("host"))
    first = await register_and_login(client, new_email("reader"))
    second = await register_and_login(client, new_email("reader"))
    session = await a_session_with_one_seat(client, host)
    await deliver_events()
    before = await scrape(apps["booking"])

    assert (await book(client, first, session["id"], "first"))["status"] == "confirmed"
    assert (await book(client, second, session["id"], "second"))["status"] == "waitlisted"
    mine = await client.get("/v1/bookings", headers=first.headers)
    cancelled = await client.post(f"/v1/bookings/{mine.json()['items'][0]['id']}/cancel", headers=first.headers)
    assert cancelled.json()["status"] == "cancelled"  # and the waitlisted booking is promoted: confirmed

    during = await scrape(apps["booking"])
    assert bookings_entered(during, "confirmed") - bookings_entered(before, "confirmed") == 2
    assert bookings_entered(during, "waitlisted") - bookings_entered(before, "waitlisted") == 1
    assert bookings_entered(during, "cancelled") - bookings_entered(before, "cancelled") == 1
    assert outbox(during, "pending") >= 1  # availability.changed for the catalog, not yet relayed
    assert outbox(during, "failed") == 0

    await deliver_events()
    delivered = await scrape(apps["booking"])
    assert outbox(delivered, "pending") == 0
    route = (("method", "POST"), ("route", "/v1/bookings"), ("status", "201"))
    assert delivered[("learncity_http_requests_total", route)] >= 2

    # A session cancelled in the catalog cancels its bookings in booking (by event): counted there too.
    cancel = await client.post(f"/v1/sessions/{session['id']}/cancel", json={}, headers=host.headers)
    assert cancel.status_code == 200, cancel.text
    await deliver_events()
    after = await scrape(apps["booking"])
    assert bookings_entered(after, "cancelled") - bookings_entered(before, "cancelled") == 2
