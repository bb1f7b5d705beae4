"""The authorization matrix of api-contract.md as one table over every public route of the three services.

Actors: anonymous, a person with no membership, member/coordinator/admin/owner of the organization that
owns the resources ("right") and of another organization ("wrong"), and a platform operator. Each cell is
the status the contract demands. Resources of others answer 404 (never leak), a known actor without the
role 403, no token 401. Every request that could change something acts on a resource made for that cell
alone, so the cells do not depend on each other's order.

A second table: clients cannot set server-owned fields (ids, status, person, counts, timestamps): every
create route refuses them with 422 naming the field (inputs forbid unknown fields), and nothing is made."""

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.orgs.models import Person as PersonRow
from services.orgs.models import event_tables as orgs_event_tables
from shared.ids import new_id
from tests.support import PASSWORD, Person, assert_problem, new_email, register_and_login

ACTORS = (
    "anonymous",
    "person",
    "member",
    "coordinator",
    "admin",
    "owner",
    "wrong_member",
    "wrong_coordinator",
    "wrong_admin",
    "wrong_owner",
    "operator",
)
ROLES = ("member", "coordinator", "admin", "owner")


def row(**cells: int) -> dict[str, int]:
    """Expected statuses: `everyone=` fills all actors, `signed_in=` all but anonymous, `right_admins=` admin,
    owner and operator, `right_staff=` coordinator and up, `right_members=` member and up (of the right
    organization); named actors override."""
    table = dict.fromkeys(ACTORS, cells.pop("everyone", 0))
    if "signed_in" in cells:
        table |= dict.fromkeys(ACTORS[1:], cells.pop("signed_in"))
    for group, members in (
        ("right_members", ("member", "coordinator", "admin", "owner", "operator")),
        ("right_staff", ("coordinator", "admin", "owner", "operator")),
        ("right_admins", ("admin", "owner", "operator")),
    ):
        if group in cells:
            table |= dict.fromkeys(members, cells.pop(group))
    table |= cells
    assert all(table.values()), f"a cell is missing: {table}"
    return table


def protected(allowed: str, ok: int, *, others: int = 403) -> dict[str, int]:
    return row(signed_in=others, anonymous=401, **{allowed: ok})


@dataclass
class World:
    client: httpx.AsyncClient
    make: Callable[..., Awaitable[Person]]
    actors: dict[str, Person | None]
    org: str
    wrong_org: str
    account_email: str
    deliver: Callable[[], Awaitable[int]]
    # An invitation's token, as notify would mail it (read from orgs' outbox: it is in no response).
    mailed_token: Callable[[str], Awaitable[str]]
    ids: dict[str, str] = field(default_factory=dict)

    def headers(self, actor: str) -> dict[str, str]:
        person = self.actors.get(actor)
        return person.headers if person else {}

    async def post(
        self, path: str, body: Any, as_: str = "owner", headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = await self.client.post(path, json=body, headers=headers or self.headers(as_))
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    async def session(self, *, starts_in: timedelta = timedelta(days=2)) -> str:
        starts_at = datetime.now(UTC).replace(microsecond=0) + starts_in
        body = {"starts_at": starts_at.isoformat(), "ends_at": (starts_at + timedelta(hours=2)).isoformat()}
        created = await self.post(f"/v1/activities/{self.ids['activity']}/sessions", body | {"capacity": 100})
        session_id: str = created["items"][0]["id"]
        return session_id

    async def booking(self, session_id: str | None = None) -> dict[str, Any]:
        """A booking of someone who is none of the actors (in a session the right organization hosts)."""
        holder = await self.make()
        body = {"session_id": session_id or self.ids["session"]}
        return await self.post("/v1/bookings", body, as_="", headers={**holder.headers, "Idempotency-Key": "k"})


@pytest.fixture
async def world(
    apps: dict[str, FastAPI], client: httpx.AsyncClient, deliver_events: Callable[[], Awaitable[int]]
) -> World:
    async def make(roles: tuple[str, ...] = ()) -> Person:
        person_id, email = new_id(), new_email("matrix")
        async with apps["orgs"].state.database.sessionmaker.begin() as session:
            session.add(PersonRow(id=person_id, email=email, display_name="M", password_hash="!", roles=list(roles)))
        token, _ = apps["orgs"].state.signing_keys.issue_access_token(person_id, list(roles))
        return Person(id=str(person_id), email=email, token=token)

    actors: dict[str, Person | None] = {
        "anonymous": None,
        "person": await make(),
        "operator": await make(("operator",)),
    }
    orgs = {}
    for prefix in ("", "wrong_"):
        people = {role: await make() for role in ROLES}
        created = await client.post(
            "/v1/organizations", json={"name": "Org", "kind": "community"}, headers=people["owner"].headers
        )
        assert created.status_code == 201, created.text
        orgs[prefix] = created.json()["id"]
        for role in ROLES[:3]:
            added = await client.post(
                f"/v1/organizations/{orgs[prefix]}/members",
                json={"email": people[role].email, "role": role},
                headers=people["owner"].headers,
            )
            assert added.status_code == 201, added.text
        actors |= {prefix + role: person for role, person in people.items()}
    account = await register_and_login(client, new_email("account"))

    async def mailed_token(invitation_id: str) -> str:
        outbox = orgs_event_tables.outbox
        statement = select(outbox.c.payload["token"].astext).where(
            outbox.c.type == "invitation.created", outbox.c.payload["invitation_id"].astext == invitation_id
        )
        async with apps["orgs"].state.database.sessionmaker() as session:
            return str((await session.execute(statement.limit(1))).scalar_one())

    world = World(client, make, actors, orgs[""], orgs["wrong_"], account.email, deliver_events, mailed_token)
    site = await world.post(
        "/v1/sites",
        {
            "name": "Room",
            "kind": "library",
            "location": {"lat": 30.26, "lon": 120.16},
            "address": "A",
            "owner_org_id": world.org,
        },
    )
    activity = await world.post(
        "/v1/activities", {"title": "Reading", "kind": "reading", "host_org_id": world.org, "site_id": site["id"]}
    )
    series = await world.post(
        "/v1/series",
        {
            "name": "Fest",
            "kind": "festival",
            "starts_on": "2027-04-01",
            "ends_on": "2027-04-21",
            "organizer_org_id": world.org,
        },
    )
    world.ids = {"site": site["id"], "activity": activity["id"], "series": series["id"]}
    world.ids["session"] = await world.session()
    world.ids["booking"] = (await world.booking())["id"]
    return world


Request = tuple[str, str, dict[str, Any]]
Build = Callable[[World, str], Awaitable[Request]]


def _districts_body() -> dict[str, Any]:
    ring = [[120.10, 30.20], [120.12, 30.20], [120.12, 30.22], [120.10, 30.22], [120.10, 30.20]]
    feature = {
        "type": "Feature",
        "properties": {"code": "matrix", "name": "Matrix", "urban": True},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    return {"type": "FeatureCollection", "features": [feature]}


def fixed(method: str, path: str, **kwargs: Any) -> Build:
    async def build(w: World, actor: str) -> Request:
        return method, path.format(**w.ids, org=w.org), kwargs

    return build


def _audit(path: str) -> Build:
    """A service's audit trail: operators read it all; an organization's owners and admins read its entries
    (the rest, and admins of another organization, 403)."""
    return fixed("GET", path, params={"organization_id": "{org}"})


async def _register(w: World, actor: str) -> Request:
    return "POST", "/v1/auth/register", {"json": {"email": new_email("r"), "password": PASSWORD, "display_name": "R"}}


async def _token(w: World, actor: str) -> Request:
    return "POST", "/v1/auth/token", {"data": {"username": w.account_email, "password": PASSWORD}}


async def _refresh(w: World, actor: str) -> Request:
    tokens = await w.client.post("/v1/auth/token", data={"username": w.account_email, "password": PASSWORD})
    return "POST", "/v1/auth/refresh", {"json": {"refresh_token": tokens.json()["refresh_token"]}}


async def _add_member(w: World, actor: str) -> Request:
    newcomer = await w.make()
    return "POST", f"/v1/organizations/{w.org}/members", {"json": {"email": newcomer.email, "role": "member"}}


async def _remove_member(w: World, actor: str) -> Request:
    leaver = await w.make()
    await w.post(f"/v1/organizations/{w.org}/members", {"email": leaver.email, "role": "member"})
    return "DELETE", f"/v1/organizations/{w.org}/members/{leaver.id}", {}


async def _invite(w: World, actor: str) -> Request:
    return "POST", f"/v1/organizations/{w.org}/invitations", {"json": {"email": new_email("invitee"), "role": "member"}}


async def _revoke_invitation(w: World, actor: str) -> Request:
    invitation = await w.post(
        f"/v1/organizations/{w.org}/invitations", {"email": new_email("invitee"), "role": "member"}
    )
    return "DELETE", f"/v1/organizations/{w.org}/invitations/{invitation['id']}", {}


async def _founded(w: World) -> tuple[Person, str]:
    """A new organization of someone who is none of the actors (so every actor is a non-member of it)."""
    founder = await w.make()
    organization = await w.post(
        "/v1/organizations", {"name": "Elsewhere", "kind": "community"}, headers=founder.headers
    )
    return founder, organization["id"]


async def _accept_invitation(w: World, actor: str) -> Request:
    founder, organization_id = await _founded(w)
    body = {"email": new_email("invitee"), "role": "member"}
    invitation = await w.post(f"/v1/organizations/{organization_id}/invitations", body, headers=founder.headers)
    return "POST", "/v1/organizations/invitations/accept", {"json": {"token": await w.mailed_token(invitation["id"])}}


async def _ask_to_join(w: World, actor: str) -> Request:
    _, organization_id = await _founded(w)
    return "POST", f"/v1/organizations/{organization_id}/join-requests", {"json": {"message": "请让我加入"}}


async def _join_request(w: World) -> str:
    """The URL of a pending request to join the right organization, by someone who is none of the actors."""
    asker = await w.make()
    request = await w.post(f"/v1/organizations/{w.org}/join-requests", {}, headers=asker.headers)
    return f"/v1/organizations/{w.org}/join-requests/{request['id']}"


async def _accept_join_request(w: World, actor: str) -> Request:
    return "POST", f"{await _join_request(w)}/accept", {"json": {"role": "member"}}


async def _refuse_join_request(w: World, actor: str) -> Request:
    return "POST", f"{await _join_request(w)}/refuse", {}


async def _withdraw_join_request(w: World, actor: str) -> Request:
    return "DELETE", await _join_request(w), {}


async def _cancel_session(w: World, actor: str) -> Request:
    return "POST", f"/v1/sessions/{await w.session()}/cancel", {}


async def _book(w: World, actor: str) -> Request:
    body = {"session_id": await w.session()}
    return "POST", "/v1/bookings", {"json": body, "headers": {"Idempotency-Key": "matrix"}}


async def _cancel_booking(w: World, actor: str) -> Request:
    return "POST", f"/v1/bookings/{(await w.booking())['id']}/cancel", {}


async def _seats(w: World, *, named: int = 0) -> tuple[dict[str, Any], list[Person]]:
    """An organization booking of 2 seats for the right organization by a coordinator of it who is none of
    the actors, `named` of them named to new members of it, and one more new member named to none."""
    coordinator, *members = [await w.make() for _ in range(named + 2)]
    await w.post(f"/v1/organizations/{w.org}/members", {"email": coordinator.email, "role": "coordinator"})
    for member in members:
        await w.post(f"/v1/organizations/{w.org}/members", {"email": member.email, "role": "member"})
    body = {"session_id": await w.session(), "seats": 2, "organization_id": w.org}
    body["members"] = [m.id for m in members[:named]]
    headers = {**coordinator.headers, "Idempotency-Key": str(new_id())}
    return await w.post("/v1/bookings", body, headers=headers), members


async def _assign_seat(w: World, actor: str) -> Request:
    block, (newcomer,) = await _seats(w)
    return "POST", f"/v1/bookings/{block['id']}/lines", {"json": {"person_id": newcomer.id}}


async def _reassign_seat(w: World, actor: str) -> Request:
    block, (_, newcomer) = await _seats(w, named=1)
    return "POST", f"/v1/bookings/{block['lines'][0]['id']}/reassign", {"json": {"person_id": newcomer.id}}


async def _unassign_seat(w: World, actor: str) -> Request:
    block, _ = await _seats(w, named=1)
    return "POST", f"/v1/bookings/{block['lines'][0]['id']}/unassign", {}


async def _seat_assignments(w: World, actor: str) -> Request:
    block, _ = await _seats(w, named=1)
    return "GET", f"/v1/bookings/{block['id']}/assignments", {}


async def _check_in(w: World, actor: str) -> Request:
    soon = await w.session(starts_in=timedelta(minutes=30))
    return "POST", "/v1/checkins", {"json": {"code": (await w.booking(soon))["checkin_code"]}}


async def _read_notice(w: World, actor: str) -> Request:
    """Someone else's notice (a booking's confirmation, for its holder): nobody else may mark it read."""
    holder = await w.make()
    body = {"session_id": w.ids["session"]}
    await w.post("/v1/bookings", body, as_="", headers={**holder.headers, "Idempotency-Key": "notice"})
    await w.deliver()
    notices = await w.client.get("/v1/notifications", headers=holder.headers)
    return "POST", f"/v1/notifications/{notices.json()['items'][0]['id']}/read", {}


async def _calendar_feed(w: World, actor: str) -> Request:
    feed = await w.client.post("/v1/calendar/feed", headers=(await w.make()).headers)
    return "GET", httpx.URL(feed.json()["url"]).path, {}


def _site_body() -> dict[str, Any]:
    return {"name": "S", "kind": "museum", "location": {"lat": 30.2, "lon": 120.1}, "address": "B"}


ORG_ADMINS = row(signed_in=403, anonymous=401, right_admins=200)
MATRIX: dict[tuple[str, str], tuple[Build, dict[str, int]]] = {
    # orgs
    ("POST", "/v1/auth/register"): (_register, row(everyone=201)),
    ("POST", "/v1/auth/token"): (_token, row(everyone=200)),
    ("POST", "/v1/auth/refresh"): (_refresh, row(everyone=200)),
    ("GET", "/v1/me"): (fixed("GET", "/v1/me"), row(signed_in=200, anonymous=401)),
    ("GET", "/v1/me/export"): (fixed("GET", "/v1/me/export"), row(signed_in=200, anonymous=401)),
    # A wrong password, so no actor is erased: allowed to try, refused for the password (403).
    ("DELETE", "/v1/me"): (
        fixed("DELETE", "/v1/me", json={"password": "not-the-password"}),
        row(signed_in=403, anonymous=401),
    ),
    ("GET", "/.well-known/jwks.json"): (fixed("GET", "/.well-known/jwks.json"), row(everyone=200)),
    ("POST", "/v1/organizations"): (
        fixed("POST", "/v1/organizations", json={"name": "New", "kind": "school"}),
        row(signed_in=201, anonymous=401),
    ),
    ("GET", "/v1/organizations"): (fixed("GET", "/v1/organizations"), row(everyone=200)),
    ("GET", "/v1/organizations/audit"): (_audit("/v1/organizations/audit"), ORG_ADMINS),
    ("GET", "/v1/organizations/{organization_id}"): (fixed("GET", "/v1/organizations/{org}"), row(everyone=200)),
    ("PATCH", "/v1/organizations/{organization_id}"): (
        fixed("PATCH", "/v1/organizations/{org}", json={"district": "Xihu"}),
        ORG_ADMINS,
    ),
    ("POST", "/v1/organizations/{organization_id}/members"): (
        _add_member,
        row(signed_in=403, anonymous=401, right_admins=201),
    ),
    ("GET", "/v1/organizations/{organization_id}/members"): (
        fixed("GET", "/v1/organizations/{org}/members"),
        row(signed_in=403, anonymous=401, right_members=200),
    ),
    ("DELETE", "/v1/organizations/{organization_id}/members/{person_id}"): (
        _remove_member,
        row(signed_in=403, anonymous=401, right_admins=204),
    ),
    ("POST", "/v1/organizations/{organization_id}/invitations"): (
        _invite,
        row(signed_in=403, anonymous=401, right_admins=201),
    ),
    ("GET", "/v1/organizations/{organization_id}/invitations"): (
        fixed("GET", "/v1/organizations/{org}/invitations"),
        ORG_ADMINS,
    ),
    ("DELETE", "/v1/organizations/{organization_id}/invitations/{invitation_id}"): (
        _revoke_invitation,
        row(signed_in=403, anonymous=401, right_admins=204),
    ),
    # Whoever holds the mailed token may use it (to an organization none of the actors is in).
    ("POST", "/v1/organizations/invitations/accept"): (_accept_invitation, row(signed_in=200, anonymous=401)),
    ("POST", "/v1/organizations/{organization_id}/join-requests"): (_ask_to_join, row(signed_in=201, anonymous=401)),
    ("GET", "/v1/organizations/{organization_id}/join-requests"): (
        fixed("GET", "/v1/organizations/{org}/join-requests"),
        ORG_ADMINS,
    ),
    ("POST", "/v1/organizations/{organization_id}/join-requests/{request_id}/accept"): (
        _accept_join_request,
        row(signed_in=403, anonymous=401, right_admins=200),
    ),
    ("POST", "/v1/organizations/{organization_id}/join-requests/{request_id}/refuse"): (
        _refuse_join_request,
        row(signed_in=403, anonymous=401, right_admins=200),
    ),
    # Only the requester withdraws (admins refuse): anyone else's request does not exist for them.
    ("DELETE", "/v1/organizations/{organization_id}/join-requests/{request_id}"): (
        _withdraw_join_request,
        row(signed_in=404, anonymous=401),
    ),
    ("GET", "/v1/people/{person_id}"): (
        fixed("GET", f"/v1/people/{new_id()}"),  # nobody: 404 to everyone signed in
        row(signed_in=404, anonymous=401),
    ),
    # catalog
    ("POST", "/v1/sites"): (
        fixed("POST", "/v1/sites", json=_site_body() | {"owner_org_id": "{org}"}),
        row(signed_in=403, anonymous=401, right_admins=201),
    ),
    ("GET", "/v1/sites"): (fixed("GET", "/v1/sites"), row(everyone=200)),
    ("GET", "/v1/activities/audit"): (_audit("/v1/activities/audit"), ORG_ADMINS),
    ("GET", "/v1/sites/{site_id}"): (fixed("GET", "/v1/sites/{site}"), row(everyone=200)),
    ("POST", "/v1/activities"): (
        fixed("POST", "/v1/activities", json={"title": "T", "kind": "lecture", "host_org_id": "{org}"}),
        row(signed_in=403, anonymous=401, right_staff=201),
    ),
    ("GET", "/v1/activities/{activity_id}"): (fixed("GET", "/v1/activities/{activity}"), row(everyone=200)),
    ("PATCH", "/v1/activities/{activity_id}"): (
        fixed("PATCH", "/v1/activities/{activity}", json={"price_cents": 0}),
        row(signed_in=403, anonymous=401, right_admins=200),
    ),
    ("POST", "/v1/activities/{activity_id}/sessions"): (
        fixed(
            "POST",
            "/v1/activities/{activity}/sessions",
            json={"starts_at": "2030-03-02T19:00:00+08:00", "ends_at": "2030-03-02T21:00:00+08:00", "capacity": 5},
        ),
        row(signed_in=403, anonymous=401, right_staff=201),
    ),
    ("GET", "/v1/activities/{activity_id}/sessions"): (
        fixed("GET", "/v1/activities/{activity}/sessions"),
        row(everyone=200),
    ),
    ("GET", "/v1/sessions/{session_id}"): (fixed("GET", "/v1/sessions/{session}"), row(everyone=200)),
    ("GET", "/v1/sessions/{session_id}/alternatives"): (
        fixed("GET", "/v1/sessions/{session}/alternatives"),
        row(everyone=200),
    ),
    ("PATCH", "/v1/sessions/{session_id}"): (
        fixed("PATCH", "/v1/sessions/{session}", json={"capacity": 100}),
        row(signed_in=403, anonymous=401, right_admins=200),
    ),
    ("POST", "/v1/sessions/{session_id}/cancel"): (
        _cancel_session,
        row(signed_in=403, anonymous=401, right_admins=200),
    ),
    ("POST", "/v1/series"): (
        fixed(
            "POST",
            "/v1/series",
            json={
                "name": "F",
                "kind": "course",
                "starts_on": "2027-01-01",
                "ends_on": "2027-02-01",
                "organizer_org_id": "{org}",
            },
        ),
        row(signed_in=403, anonymous=401, right_admins=201),
    ),
    ("GET", "/v1/series/{series_id}"): (fixed("GET", "/v1/series/{series}"), row(everyone=200)),
    ("GET", "/v1/search/sessions"): (fixed("GET", "/v1/search/sessions"), row(everyone=200)),
    ("GET", "/v1/coverage"): (
        fixed("GET", "/v1/coverage", params={"bbox": "120.10,30.20,120.12,30.22", "cell_m": 500}),
        row(everyone=200),
    ),
    ("GET", "/v1/coverage/districts"): (fixed("GET", "/v1/coverage/districts"), row(everyone=200)),
    ("POST", "/v1/coverage/districts"): (
        fixed("POST", "/v1/coverage/districts", json=_districts_body()),
        row(signed_in=403, anonymous=401, operator=200),  # operators only: the city's map
    ),
    # booking
    ("POST", "/v1/bookings"): (_book, row(signed_in=201, anonymous=401)),
    ("GET", "/v1/bookings"): (fixed("GET", "/v1/bookings"), row(signed_in=200, anonymous=401)),
    ("GET", "/v1/bookings/audit"): (_audit("/v1/bookings/audit"), ORG_ADMINS),
    ("GET", "/v1/bookings/{booking_id}"): (
        fixed("GET", "/v1/bookings/{booking}"),
        row(signed_in=404, anonymous=401, right_staff=200),  # host staff read; anyone else: it does not exist
    ),
    ("POST", "/v1/bookings/{booking_id}/cancel"): (
        _cancel_booking,
        row(signed_in=404, anonymous=401, coordinator=403, admin=403, owner=403, operator=200),
    ),
    ("GET", "/v1/availability/{session_id}"): (fixed("GET", "/v1/availability/{session}"), row(everyone=200)),
    ("POST", "/v1/checkins"): (_check_in, row(signed_in=404, anonymous=401, right_staff=200)),
    ("GET", "/v1/learning-records/me"): (
        fixed("GET", "/v1/learning-records/me"),
        row(signed_in=200, anonymous=401),
    ),
    ("GET", "/v1/learning-records"): (
        fixed("GET", "/v1/learning-records", params={"organization_id": "{org}"}),
        ORG_ADMINS,
    ),
    ("GET", "/v1/learning-records/organizations-activity"): (
        fixed("GET", "/v1/learning-records/organizations-activity"),
        row(signed_in=403, anonymous=401, operator=200),  # operators only: the city's view
    ),
    ("GET", "/v1/learning-records/participation"): (
        fixed("GET", "/v1/learning-records/participation"),
        row(signed_in=403, anonymous=401, operator=200),  # operators only: the city's view
    ),
    ("GET", "/v1/bookings/{booking_id}/checkin-qr.svg"): (
        fixed("GET", "/v1/bookings/{booking}/checkin-qr.svg"),
        row(signed_in=404, anonymous=401),  # the holder's only: for anyone else it does not exist
    ),
    ("GET", "/v1/bookings/{booking_id}/join"): (
        fixed("GET", "/v1/bookings/{booking}/join"),
        row(signed_in=404, anonymous=401),  # the holder's only (of a confirmed online seat): for anyone else, none
    ),
    # An organization booking's seats: the coordinator who booked it (none of the actors here), the
    # organization's admins and operators manage them; host staff (the right coordinator) read but may not;
    # for anyone else (other members too) it does not exist.
    ("POST", "/v1/bookings/{block_id}/lines"): (
        _assign_seat,
        row(signed_in=404, anonymous=401, coordinator=403, right_admins=201),
    ),
    ("POST", "/v1/bookings/{line_id}/reassign"): (
        _reassign_seat,
        row(signed_in=404, anonymous=401, coordinator=403, right_admins=200),
    ),
    ("POST", "/v1/bookings/{line_id}/unassign"): (
        _unassign_seat,
        row(signed_in=404, anonymous=401, coordinator=403, right_admins=200),
    ),
    ("GET", "/v1/bookings/{block_id}/assignments"): (
        _seat_assignments,
        row(signed_in=404, anonymous=401, coordinator=403, right_admins=200),
    ),
    # notify
    ("GET", "/v1/notifications"): (fixed("GET", "/v1/notifications"), row(signed_in=200, anonymous=401)),
    ("GET", "/v1/notifications/audit"): (_audit("/v1/notifications/audit"), ORG_ADMINS),
    ("POST", "/v1/notifications/{notification_id}/read"): (_read_notice, row(signed_in=404, anonymous=401)),
    ("GET", "/v1/notifications/preferences"): (
        fixed("GET", "/v1/notifications/preferences"),
        row(signed_in=200, anonymous=401),
    ),
    ("PUT", "/v1/notifications/preferences"): (
        fixed(
            "PUT",
            "/v1/notifications/preferences",
            json={"email": False, "language": "en", "reminders_minutes_before": [60]},
        ),
        row(signed_in=200, anonymous=401),
    ),
    ("POST", "/v1/calendar/feed"): (fixed("POST", "/v1/calendar/feed"), row(signed_in=201, anonymous=401)),
    # The secret URL is the credential: whoever holds it reads the feed, with or without a token.
    ("GET", "/v1/calendar/{token}.ics"): (_calendar_feed, row(everyone=200)),
}
UNGUARDED = {"/healthz", "/readyz"}  # liveness and readiness: public on every service


def _format(value: Any, w: World) -> Any:
    if isinstance(value, str):
        return value.format(**w.ids, org=w.org)
    if isinstance(value, dict):
        return {key: _format(item, w) for key, item in value.items()}
    return value


async def test_every_route_of_every_service_against_every_actor(
    apps: dict[str, FastAPI], client: httpx.AsyncClient, world: World
) -> None:
    documented = {
        (method.upper(), path)
        for app in apps.values()
        for path, item in app.openapi()["paths"].items()
        for method in item
        if path not in UNGUARDED
    }
    assert documented == set(MATRIX), (
        f"routes without a row: {documented - set(MATRIX)}; stale: {set(MATRIX) - documented}"
    )
    wrong: list[str] = []
    for (method, template), (build, expected) in MATRIX.items():
        for actor in ACTORS:
            verb, path, kwargs = await build(world, actor)
            kwargs = _format(kwargs, world)
            headers = {**kwargs.pop("headers", {}), **world.headers(actor)}
            if "Idempotency-Key" in headers:
                headers["Idempotency-Key"] += f"-{actor}-{next(_keys)}"
            response = await client.request(verb, path, headers=headers, **kwargs)
            if response.status_code != expected[actor]:
                wrong.append(f"{method} {template} as {actor}: {response.status_code}, want {expected[actor]}")
            elif response.status_code >= 400:
                assert_problem(response, response.status_code)
                if response.status_code == 401:
                    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not wrong, "\n".join(wrong)


_keys = itertools.count()

# ---- server-owned fields ------------------------------------------------------------------------------

SERVER_OWNED: dict[str, tuple[Callable[[World], dict[str, Any]], tuple[str, ...]]] = {
    "/v1/organizations": (lambda w: {"name": "X", "kind": "school"}, ("id", "created_at", "memberships")),
    "/v1/sites": (lambda w: _site_body() | {"owner_org_id": w.org}, ("id", "created_at", "distance_m")),
    "/v1/activities": (
        lambda w: {"title": "T", "kind": "lecture", "host_org_id": w.org},
        ("id", "created_at", "updated_at", "title_display"),
    ),
    "/v1/activities/{activity}/sessions": (
        lambda w: {"starts_at": "2030-03-02T19:00:00+08:00", "ends_at": "2030-03-02T21:00:00+08:00", "capacity": 5},
        ("id", "status", "seats_available", "waitlist_length", "cancelled_at", "activity_id"),
    ),
    "/v1/bookings": (
        lambda w: {"session_id": w.ids["session"]},
        ("id", "status", "person_id", "waitlist_position", "checkin_code", "created_at"),
    ),
}


@pytest.mark.parametrize("path", list(SERVER_OWNED))
async def test_clients_cannot_set_server_owned_fields(
    client: httpx.AsyncClient, world: World, path: str, apps: dict[str, FastAPI]
) -> None:
    body_of, fields = SERVER_OWNED[path]
    url = path.format(**world.ids)
    for name in fields:
        value = "confirmed" if name == "status" else str(new_id()) if name.endswith("id") else 1
        headers = {**world.headers("owner"), "Idempotency-Key": f"owned-{name}"}
        response = await client.post(url, json=body_of(world) | {name: value}, headers=headers)
        problem = assert_problem(response, 422)
        assert {"pointer": f"/body/{name}"}.items() <= problem["errors"][0].items(), problem  # type: ignore[index]
    # ...and the same body without them is accepted: the 422s were about those fields.
    headers = {**world.headers("owner"), "Idempotency-Key": "owned-clean"}
    assert (await client.post(url, json=body_of(world), headers=headers)).status_code == 201
