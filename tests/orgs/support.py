"""Helpers of the orgs tests."""

import httpx

from tests.support import Person

CUIYUAN = {"zh-CN": "翠苑社区学校", "en": "Cuiyuan Community School"}


async def create_organization(client: httpx.AsyncClient, owner: Person, name: dict[str, str] = CUIYUAN) -> str:
    body = {"name": name, "kind": "community"}
    response = await client.post("/v1/organizations", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    organization_id: str = response.json()["id"]
    return organization_id


async def add_member(client: httpx.AsyncClient, organization_id: str, admin: Person, person: Person, role: str) -> None:
    url = f"/v1/organizations/{organization_id}/members"
    response = await client.post(url, json={"email": person.email, "role": role}, headers=admin.headers)
    assert response.status_code == 201, response.text
