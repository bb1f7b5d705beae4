"""Online and hybrid activities (a join link the catalog never shows), accessible seats, and the seat pools
booking reports: what the catalog accepts, shows, and tells booking and notify."""

from typing import Any

import httpx

from services.catalog.activities.schemas import ActivityOut
from services.catalog.search.schemas import SearchItem
from services.catalog.sessions.schemas import SessionOut
from shared.clients import INTERNAL_SECRET_HEADER
from shared.settings import DEV_INTERNAL_SECRET
from tests.catalog.conftest import BookingStandIn, Catalog, OutboxRows, SendAvailability, later, pointers
from tests.support import assert_problem

JOIN_URL = "https://meet.learncity.example/song-poetry-night"
NEW_JOIN_URL = "https://meet.learncity.example/song-poetry-night-2"


async def test_an_online_activity_has_no_site_and_its_sessions_no_place(
    client: httpx.AsyncClient, catalog: Catalog, outbox_rows: OutboxRows
) -> None:
    site = await catalog.site()
    with_site = await client.post(
        "/v1/activities",
        json={"title": "T", "kind": "course", "host_org_id": catalog.team.organization_id, "site_id": site["id"]}
        | {"mode": "online"},
        headers=catalog.team["owner"].headers,
    )
    assert pointers(with_site) == ["/body/site_id"]

    activity = await catalog.activity(None, mode="online", join_url=JOIN_URL)
    assert activity["mode"] == "online" and activity["has_join_url"] is True and activity["site_id"] is None
    session = await catalog.session(activity["id"], capacity=300)
    assert session["site_id"] is None and session["mode"] == "online"
    assert (session["capacity"], session["seats_available"], session["online_capacity"]) == (300, 300, 0)

    found = (await client.get("/v1/search/sessions")).json()["items"]
    (item,) = [item for item in found if item["session"]["id"] == session["id"]]
    assert item["site"] is None and item["distance_m"] is None and item["session"]["mode"] == "online"

    (row,) = await outbox_rows(session["id"])
    assert row.payload["place"] is None and row.payload["site_id"] is None
    assert (row.payload["mode"], row.payload["join_url"]) == ("online", JOIN_URL)

    # Accessible seats are in-person seats; online seats apart from capacity are hybrid's.
    url = f"/v1/activities/{activity['id']}/sessions"
    body = {"starts_at": session["starts_at"], "ends_at": session["ends_at"], "capacity": 10}
    headers = catalog.team["owner"].headers
    assert pointers(await client.post(url, json=body | {"accessible_seats": 2}, headers=headers)) == [
        "/body/accessible_seats"
    ]
    assert pointers(await client.post(url, json=body | {"online_capacity": 5}, headers=headers)) == [
        "/body/online_capacity"
    ]
    # Moving an online activity to a site needs a mode that has one.
    patched = await client.patch(f"/v1/activities/{activity['id']}", json={"site_id": site["id"]}, headers=headers)
    assert pointers(patched) == ["/body/site_id"]


async def test_a_hybrid_activity_needs_a_site_and_its_sessions_online_seats(
    client: httpx.AsyncClient, catalog: Catalog, outbox_rows: OutboxRows
) -> None:
    headers = catalog.team["owner"].headers
    without_site = await client.post(
        "/v1/activities",
        json={"title": "T", "kind": "lecture", "host_org_id": catalog.team.organization_id, "mode": "hybrid"},
        headers=headers,
    )
    assert pointers(without_site) == ["/body/site_id"]
    site = await catalog.site()
    activity = await catalog.activity(site["id"], mode="hybrid")  # the link may come later
    assert activity["mode"] == "hybrid" and activity["has_join_url"] is False

    url = f"/v1/activities/{activity['id']}/sessions"
    starts_at = later(days=2)
    body = {"starts_at": starts_at.isoformat(), "ends_at": later(days=2, hours=2).isoformat(), "capacity": 30}
    assert pointers(await client.post(url, json=body, headers=headers)) == ["/body/online_capacity"]
    assert "/body/online_capacity" in pointers(
        await client.post(url, json=body | {"online_capacity": 0}, headers=headers)
    )

    created = await catalog.sessions(
        activity["id"],
        starts_at=starts_at,
        online_capacity=200,
        accessible_seats=3,
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"},
    )
    assert len(created) == 3
    for session in created:  # every occurrence of the rule carries the pools
        assert (session["mode"], session["site_id"], session["capacity"]) == ("hybrid", site["id"], 20)
        assert (session["accessible_seats"], session["online_capacity"]) == (3, 200)
        assert (session["seats_available"], session["accessible_available"], session["online_available"]) == (
            17,
            3,
            200,
        )
        (row,) = await outbox_rows(session["id"])
        assert row.type == "session.scheduled"
        assert {key: row.payload[key] for key in ("mode", "join_url", "accessible_seats", "online_capacity")} == {
            "mode": "hybrid",
            "join_url": None,
            "accessible_seats": 3,
            "online_capacity": 200,
        }
        assert row.payload["place"]["site_id"] == site["id"]

    # The internal snapshot booking and notify ask for on a miss says the same.
    internal = f"http://catalog.internal/internal/v1/sessions/{created[0]['id']}"
    snapshot = (await client.get(internal, headers={INTERNAL_SECRET_HEADER: DEV_INTERNAL_SECRET})).json()
    assert (snapshot["mode"], snapshot["join_url"], snapshot["accessible_seats"], snapshot["online_capacity"]) == (
        "hybrid",
        None,
        3,
        200,
    )
    # A hybrid activity keeps its site.
    patched = await client.patch(f"/v1/activities/{activity['id']}", json={"site_id": None}, headers=headers)
    assert pointers(patched) == ["/body/site_id"]


async def test_join_links_belong_to_online_and_hybrid_activities_only(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    headers = catalog.team["owner"].headers
    site = await catalog.site()
    base = {"title": "T", "kind": "lecture", "host_org_id": catalog.team.organization_id, "site_id": site["id"]}
    assert pointers(await client.post("/v1/activities", json=base | {"join_url": JOIN_URL}, headers=headers)) == [
        "/body/join_url"
    ]
    for bad in ("http://meet.learncity.example/x", "https://", "ftp://x.example", "https://a b.example/x",
                "https://user:secret@meet.learncity.example/x", "https://x.example/" + "a" * 500):  # fmt: skip
        response = await client.post("/v1/activities", json=base | {"mode": "hybrid", "join_url": bad}, headers=headers)
        assert pointers(response) == ["/body/join_url"], bad
    assert pointers(await client.post("/v1/activities", json=base | {"mode": "teleport"}, headers=headers)) == [
        "/body/mode"
    ]

    in_person = await catalog.activity(site["id"])
    assert in_person["mode"] == "in_person" and in_person["has_join_url"] is False
    url = f"/v1/activities/{in_person['id']}"
    assert pointers(await client.patch(url, json={"join_url": JOIN_URL}, headers=headers)) == ["/body/join_url"]
    assert pointers(await client.patch(url, json={"mode": None}, headers=headers)) == ["/body/mode"]
    # No sessions yet: the mode may change, with what the new mode needs.
    hybrid = await client.patch(url, json={"mode": "hybrid", "join_url": JOIN_URL}, headers=headers)
    assert hybrid.status_code == 200 and hybrid.json()["has_join_url"] is True
    # Back to in person, the link must go with it; online, the site must.
    assert pointers(await client.patch(url, json={"mode": "in_person"}, headers=headers)) == ["/body/join_url"]
    assert pointers(await client.patch(url, json={"mode": "online"}, headers=headers)) == ["/body/site_id"]
    online = await client.patch(url, json={"mode": "online", "site_id": None}, headers=headers)
    assert online.status_code == 200 and online.json()["site_id"] is None
    # Once it has sessions that have not ended, the mode stays (booked seats would change meaning).
    await catalog.session(in_person["id"])
    changed = await client.patch(url, json={"mode": "hybrid", "site_id": site["id"]}, headers=headers)
    assert_problem(changed, 409)
    # ...but the link may still be cleared ("link coming" for holders) or given again.
    cleared = await client.patch(url, json={"join_url": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["has_join_url"] is False


async def test_the_join_link_never_appears_in_public_catalog_responses(
    client: httpx.AsyncClient, catalog: Catalog, send_availability: SendAvailability
) -> None:
    headers = catalog.team["owner"].headers
    site = await catalog.site()
    created = await client.post(
        "/v1/activities",
        json={"title": "宋词夜读", "description": "线上线下同步", "kind": "reading"}
        | {"host_org_id": catalog.team.organization_id}
        | {"site_id": site["id"], "mode": "hybrid", "join_url": JOIN_URL},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    activity_id = created.json()["id"]
    sessions = await client.post(
        f"/v1/activities/{activity_id}/sessions",
        json={"starts_at": later(days=1).isoformat(), "ends_at": later(days=1, hours=1).isoformat()}
        | {"capacity": 10, "online_capacity": 50},
        headers=headers,
    )
    assert sessions.status_code == 201, sessions.text
    session_id = sessions.json()["items"][0]["id"]
    await send_availability(session_id, capacity=10, confirmed=1, online_capacity=50, online_available=49)
    responses = [
        created,
        sessions,
        await client.get(f"/v1/activities/{activity_id}"),
        await client.patch(f"/v1/activities/{activity_id}", json={"join_url": NEW_JOIN_URL}, headers=headers),
        await client.get(f"/v1/activities/{activity_id}/sessions"),
        await client.get(f"/v1/sessions/{session_id}"),
        await client.patch(f"/v1/sessions/{session_id}", json={"online_capacity": 60}, headers=headers),
        await client.get("/v1/search/sessions"),
        await client.get("/v1/search/sessions", params={"q": "宋词"}),
        await client.get(
            "/v1/search/sessions", params={"near": f"{site['location']['lat']},{site['location']['lon']}"}
        ),
    ]
    for response in responses:
        assert response.status_code in (200, 201), response.text
        assert "meet.learncity.example" not in response.text, response.url
        assert '"join_url"' not in response.text, response.url
    found = [item for item in responses[-3].json()["items"] if item["session"]["id"] == session_id]
    # The online seats grew to 60; booking has not reported since (so still 49 free, until its waitlist moves).
    assert found and found[0]["session"]["online_capacity"] == 60 and found[0]["session"]["online_available"] == 49
    for schema in (ActivityOut, SessionOut, SearchItem):
        assert "join_url" not in schema.model_json_schema(mode="serialization")["properties"]


async def test_a_new_join_link_reaches_upcoming_sessions_only(
    client: httpx.AsyncClient, catalog: Catalog, outbox_rows: OutboxRows
) -> None:
    headers = catalog.team["owner"].headers
    activity = await catalog.activity(None, mode="online")
    past = await catalog.session(activity["id"], starts_at=later(hours=-3))
    upcoming = await catalog.session(activity["id"], starts_at=later(days=3))
    cancelled = await catalog.session(activity["id"], starts_at=later(days=4))
    cancel = await client.post(f"/v1/sessions/{cancelled['id']}/cancel", headers=headers)
    assert cancel.status_code == 200
    before = {row.event_id for row in await outbox_rows()}

    patched = await client.patch(f"/v1/activities/{activity['id']}", json={"join_url": JOIN_URL}, headers=headers)
    assert patched.status_code == 200 and patched.json()["has_join_url"] is True
    new = [row for row in await outbox_rows() if row.event_id not in before]
    assert [(row.type, str(row.aggregate_id)) for row in new] == [("session.updated", upcoming["id"])]
    assert new[0].payload["join_url"] == JOIN_URL and new[0].payload["mode"] == "online"
    notify_new = [row for row in await outbox_rows(subscriber="notify") if row.payload.get("join_url") == JOIN_URL]
    assert [str(row.aggregate_id) for row in notify_new] == [upcoming["id"]]

    # The same link again changes nothing and tells nobody.
    again = await client.patch(f"/v1/activities/{activity['id']}", json={"join_url": JOIN_URL}, headers=headers)
    assert again.status_code == 200
    assert len(await outbox_rows()) == len(before) + 1
    assert past["id"] not in {str(row.aggregate_id) for row in new}


async def test_accessible_seats_stay_within_capacity(client: httpx.AsyncClient, catalog: Catalog) -> None:
    headers = catalog.team["owner"].headers
    site = await catalog.site()
    activity = await catalog.activity(site["id"])
    url = f"/v1/activities/{activity['id']}/sessions"
    body = {"starts_at": later(days=1).isoformat(), "ends_at": later(days=1, hours=1).isoformat(), "capacity": 5}
    assert pointers(await client.post(url, json=body | {"accessible_seats": 6}, headers=headers)) == [
        "/body/accessible_seats"
    ]
    assert "/body/accessible_seats" in pointers(
        await client.post(url, json=body | {"accessible_seats": -1}, headers=headers)
    )
    assert pointers(await client.post(url, json=body | {"online_capacity": 3}, headers=headers)) == [
        "/body/online_capacity"
    ]
    session = await catalog.session(activity["id"], capacity=5, accessible_seats=2)
    assert (session["seats_available"], session["accessible_available"], session["online_available"]) == (3, 2, 0)
    session_url = f"/v1/sessions/{session['id']}"
    assert pointers(await client.patch(session_url, json={"accessible_seats": 6}, headers=headers)) == [
        "/body/accessible_seats"
    ]
    assert pointers(await client.patch(session_url, json={"capacity": 1}, headers=headers)) == ["/body/capacity"]
    assert pointers(await client.patch(session_url, json={"accessible_seats": None}, headers=headers)) == [
        "/body/accessible_seats"
    ]
    assert (await client.get(session_url)).json()["accessible_seats"] == 2


async def test_no_pool_shrinks_below_what_booking_confirmed(
    client: httpx.AsyncClient, catalog: Catalog, booking: BookingStandIn, outbox_rows: OutboxRows
) -> None:
    headers = catalog.team["owner"].headers
    site = await catalog.site()
    activity = await catalog.activity(site["id"], mode="hybrid", join_url=JOIN_URL)
    session = await catalog.session(activity["id"], capacity=10, accessible_seats=3, online_capacity=20)
    url = f"/v1/sessions/{session['id']}"
    # Booking: 5 standard seats, 2 accessible and 15 online seats confirmed.
    booking.confirmed[session["id"]] = 5
    booking.pools[session["id"]] = {
        "accessible_capacity": 3,
        "accessible_available": 1,
        "online_capacity": 20,
        "online_available": 5,
    }
    refused = [
        {"capacity": 7},  # 7 - 3 accessible leaves 4 standard seats for 5
        {"accessible_seats": 6},  # 10 - 6 leaves 4 standard seats for 5
        {"accessible_seats": 1},  # 2 accessible seats are taken
        {"online_capacity": 14},  # 15 online seats are taken
    ]
    for change in refused:
        assert_problem(await client.patch(url, json=change, headers=headers), 409)
    assert {
        key: (await client.get(url)).json()[key] for key in ("capacity", "accessible_seats", "online_capacity")
    } == {
        "capacity": 10,
        "accessible_seats": 3,
        "online_capacity": 20,
    }
    updates_before = len([row for row in await outbox_rows(session["id"]) if row.type == "session.updated"])
    assert updates_before == 0
    for change, expected in [
        ({"capacity": 8, "accessible_seats": 2}, (8, 2, 20)),
        ({"online_capacity": 15}, (8, 2, 15)),
        ({"accessible_seats": 3, "capacity": 9}, (9, 3, 15)),  # 6 standard seats still hold the 5 confirmed
    ]:
        response = await client.patch(url, json=change, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["capacity"], body["accessible_seats"], body["online_capacity"]) == expected
    updated = [row for row in await outbox_rows(session["id"]) if row.type == "session.updated"]
    assert [
        (row.payload["capacity"], row.payload["accessible_seats"], row.payload["online_capacity"]) for row in updated
    ] == [
        (8, 2, 20),
        (8, 2, 15),
        (9, 3, 15),
    ]
    assert {row.payload["join_url"] for row in updated} == {JOIN_URL}
    calls = booking.calls
    grown = await client.patch(url, json={"capacity": 30, "online_capacity": 40}, headers=headers)
    assert grown.status_code == 200 and booking.calls == calls  # growing never asks booking


async def test_the_projection_keeps_booking_pool_figures(
    client: httpx.AsyncClient, catalog: Catalog, send_availability: SendAvailability
) -> None:
    site = await catalog.site()
    activity = await catalog.activity(site["id"], mode="hybrid")
    session = await catalog.session(activity["id"], capacity=10, accessible_seats=2, online_capacity=30)
    url = f"/v1/sessions/{session['id']}"
    fresh = (await client.get(url)).json()  # booking has not reported: every pool free
    assert (fresh["seats_available"], fresh["accessible_available"], fresh["online_available"]) == (8, 2, 30)

    outcome = await send_availability(
        session["id"],
        capacity=10,
        confirmed=6,
        waitlist=1,
        accessible_capacity=2,
        accessible_available=1,
        online_capacity=30,
        online_available=4,
    )
    assert outcome == "applied"
    shown = (await client.get(url)).json()
    assert (shown["seats_available"], shown["accessible_available"], shown["online_available"]) == (2, 1, 4)
    assert shown["waitlist_length"] == 1
    items = (await client.get("/v1/search/sessions")).json()["items"]
    (item,) = [item for item in items if item["session"]["id"] == session["id"]]
    assert {key: item["session"][key] for key in shown} == shown
    (listed,) = (await client.get(f"/v1/activities/{activity['id']}/sessions")).json()["items"]
    assert listed == shown

    # A pool the catalog shrinks shows at once, one it grows only once booking reports again.
    headers = catalog.team["owner"].headers
    figures: dict[str, Any] = (await client.patch(url, json={"online_capacity": 100}, headers=headers)).json()
    assert figures["online_available"] == 4
    await send_availability(
        session["id"],
        capacity=10,
        confirmed=6,
        accessible_capacity=2,
        accessible_available=1,
        online_capacity=100,
        online_available=74,
    )
    assert (await client.get(url)).json()["online_available"] == 74
