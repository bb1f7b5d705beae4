"""What notify asks other services over HTTP: a session the catalog has (on a projection miss), a
person's contact at orgs. A peer that is down raises ServiceUnavailable: an event handler then fails and
the producer's relay delivers the event again later."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel, ValidationError

from services.notify.settings import NotifySettings
from shared.clients import ServiceClient
from shared.errors import NotFound, ServiceUnavailable
from shared.events.schemas import SessionSnapshot

# Requests one batch of events makes to a peer at once.
CONCURRENT_REQUESTS = 10

Item = TypeVar("Item")
Answer = TypeVar("Answer")


async def ask_each(items: Sequence[Item], ask: Callable[[Item], Awaitable[Answer]]) -> list[Answer]:
    """`ask` for every item, at most CONCURRENT_REQUESTS at a time; the answers in the items' order."""
    gate = asyncio.Semaphore(CONCURRENT_REQUESTS)

    async def one(item: Item) -> Answer:
        async with gate:
            return await ask(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


class ContactCard(BaseModel):
    """orgs' `GET /internal/v1/people/{person_id}/contact`."""

    person_id: UUID
    email: str | None
    display_name: str
    language: Literal["zh-CN", "en"] | None = None


@dataclass(frozen=True)
class Peers:
    catalog: ServiceClient
    orgs: ServiceClient

    @classmethod
    def of(cls, settings: NotifySettings, http: httpx.AsyncClient) -> "Peers":
        return cls(
            catalog=ServiceClient("catalog", settings.catalog_url, settings, http),
            orgs=ServiceClient("orgs", settings.orgs_url, settings, http),
        )

    async def session(self, session_id: UUID) -> SessionSnapshot:
        """The catalog's current view of a session; NotFound when it has none."""
        body = await self.catalog.get_json(f"/internal/v1/sessions/{session_id}")
        try:
            return SessionSnapshot.model_validate(body)
        except ValidationError as exc:
            raise ServiceUnavailable("The catalog answered with an unexpected session") from exc

    async def contact(self, person_id: UUID) -> ContactCard | None:
        """How to reach a person; None when orgs does not know them (never registered, or erased)."""
        try:
            body = await self.orgs.get_json(f"/internal/v1/people/{person_id}/contact")
        except NotFound:
            return None
        try:
            return ContactCard.model_validate(body)
        except ValidationError as exc:
            raise ServiceUnavailable("orgs answered with an unexpected contact") from exc
