"""Who may write what: owner/admin/coordinator/member of the organization, a stranger, an operator, and
anonymous callers, for every write route. Memberships are asked of orgs fresh on every request."""

from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from services.catalog.dependencies import organization_directory
from services.catalog.peers import OrganizationDirectory
from shared.clients import ServiceClient
from tests.catalog.conftest import BookingStandIn, Catalog, MakePerson, Team, iso, later, new_team
from tests.support import Person, assert_problem

ALLOWED = {
    "createSite": {"owner", "admin", "operator"},
    "createSeries": {"owner", "admin", "operator"},
    "createActivity": {"owner", "admin", "coordinator", "operator"},
    "updateActivity": {"owner", "admin", "operator"},
    "createSessions": {"owner", "admin", "coordinator", "operator"},
    "updateSession": {"owner", "admin", "operator"},
    "cancelSession": {"owner", "admin", "operator"},
}
EVERYONE = ("owner", "admin", "coordinator", "member", "stranger", "operator")

Attempt = Callable[[dict[str, str]], Awaitable[httpx.Response]]


async def _attempts(client: httpx.AsyncClient, catalog: Catalog) -> dict[str, Callable[[], Attempt]]:
    """Each route as a fresh attempt maker (so one caller's success does not change the next one's case)."""
    org = catalog.team.organization_id
    site = await catalog.site()
    activity = await catalog.activity(site["id"])

    def create_site() -> Attempt:
        body = {
            "name": "Hall",
            "kind": "theatre",
            "location": {"lat": 30.2, "lon": 120.1},
            "address": "1 Road",
            "owner_org_id": org,
        }
        return lambda headers: client.post("/v1/sites", json=body, headers=headers)

    def create_series() -> Attempt:
        body = {
            "name": "Fest",
            "kind": "festival",
            "starts_on": "2027-05-01",
            "ends_on": "2027-05-03",
            "organizer_org_id": org,
        }
        return lambda headers: client.post("/v1/series", json=body, headers=headers)

    def create_activity() -> Attempt:
        body = {"title": "Talk", "kind": "lecture", "host_org_id": org, "site_id": site["id"]}
        return lambda headers: client.post("/v1/activities", json=body, headers=headers)

    def update_activity() -> Attempt:
        return lambda headers: client.patch(
            f"/v1/activities/{activity['id']}", json={"price_cents": 5}, headers=headers
        )

    def create_sessions() -> Attempt:
        starts = later(days=5)
        body = {"starts_at": iso(starts), "ends_at": iso(starts + timedelta(hours=1)), "capacity": 5}
        return lambda headers: client.post(f"/v1/activities/{activity['id']}/sessions", json=body, headers=headers)

    async def fresh_session() -> str:
        return str((await catalog.session(activity["id"]))["id"])

    def update_session() -> Attempt:
        async def attempt(headers: dict[str, str]) -> httpx.Response:
            return await client.patch(f"/v1/sessions/{await fresh_session()}", json={"capacity": 50}, headers=headers)

        return attempt

    def cancel_session() -> Attempt:
        async def attempt(headers: dict[str, str]) -> httpx.Response:
            return await client.post(f"/v1/sessions/{await fresh_session()}/cancel", headers=headers)

        return attempt

    return {
        "createSite": create_site,
        "createSeries": create_series,
        "createActivity": create_activity,
        "updateActivity": update_activity,
        "createSessions": create_sessions,
        "updateSession": update_session,
        "cancelSession": cancel_session,
    }


async def test_the_authorization_matrix(
    client: httpx.AsyncClient, catalog: Catalog, team: Team, booking: BookingStandIn
) -> None:
    attempts = await _attempts(client, catalog)
    outcomes: dict[tuple[str, str], int] = {}
    for route, make in attempts.items():
        for role in EVERYONE:
            response = await make()(team[role].headers)
            outcomes[(route, role)] = response.status_code
            if response.status_code == 403:
                assert_problem(response, 403)
        anonymous = await make()({})
        assert_problem(anonymous, 401)
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
        bad_token = await make()({"Authorization": "Bearer not.a.token"})
        assert_problem(bad_token, 401)
    expected = {
        (route, role): (201 if route.startswith("create") else 200) if role in ALLOWED[route] else 403
        for route in attempts
        for role in EVERYONE
    }
    assert outcomes == expected


async def test_a_removed_member_loses_access_at_once(client: httpx.AsyncClient, catalog: Catalog, team: Team) -> None:
    site = await catalog.site()
    body = {"title": "Talk", "kind": "lecture", "host_org_id": team.organization_id, "site_id": site["id"]}
    coordinator: Person = team["coordinator"]
    assert (await client.post("/v1/activities", json=body, headers=coordinator.headers)).status_code == 201
    removed = await client.delete(
        f"/v1/organizations/{team.organization_id}/members/{coordinator.id}", headers=team["owner"].headers
    )
    assert removed.status_code == 204
    assert_problem(await client.post("/v1/activities", json=body, headers=coordinator.headers), 403)


async def test_roles_in_another_organization_do_not_count(
    client: httpx.AsyncClient, catalog: Catalog, team: Team, make_person: MakePerson
) -> None:
    other = await new_team(client, make_person)
    site = await catalog.site()
    body = {"title": "Talk", "kind": "lecture", "host_org_id": team.organization_id, "site_id": site["id"]}
    assert_problem(await client.post("/v1/activities", json=body, headers=other["owner"].headers), 403)


@pytest.fixture
def orgs_down(apps: dict[str, FastAPI]) -> Iterator[None]:
    catalog_app = apps["catalog"]

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("orgs down", request=request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    directory = OrganizationDirectory(ServiceClient("orgs", "http://orgs.test", catalog_app.state.settings, http))
    catalog_app.dependency_overrides[organization_directory] = lambda: directory
    yield
    catalog_app.dependency_overrides.pop(organization_directory, None)


async def test_orgs_down_is_503_with_retry_after(client: httpx.AsyncClient, team: Team, orgs_down: None) -> None:
    body = {"title": "Talk", "kind": "lecture", "host_org_id": team.organization_id}
    response = await client.post("/v1/activities", json=body, headers=team["owner"].headers)
    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) >= 1
    assert (await client.get("/v1/search/sessions")).status_code == 200  # reads need no peer
