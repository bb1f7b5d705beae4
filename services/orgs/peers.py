"""What the other services hold about a person, for `GET /v1/me/export`."""

import asyncio
from typing import Any
from uuid import UUID

from shared.clients import ServiceClient
from shared.errors import NotFound, ServiceUnavailable


class PersonExports:
    """Booking's and notify's `GET /internal/v1/people/{id}/export`, asked at once. All or nothing: a peer
    that cannot answer (down, failing, or without the endpoint) fails the export with a 503, so a person never
    gets a partial document that looks whole."""

    def __init__(self, booking: ServiceClient, notify: ServiceClient) -> None:
        self._booking = booking
        self._notify = notify

    async def of(self, person_id: UUID) -> tuple[dict[str, Any], dict[str, Any]]:
        """(booking's export, notify's export)."""
        answers = await asyncio.gather(
            _export(self._booking, person_id), _export(self._notify, person_id), return_exceptions=True
        )
        # Both are awaited before a failure is raised: no call outlives the request unobserved.
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        booking, notify = answers
        assert isinstance(booking, dict) and isinstance(notify, dict)
        return booking, notify


async def _export(peer: ServiceClient, person_id: UUID) -> dict[str, Any]:
    try:
        body = await peer.get_json(f"/internal/v1/people/{person_id}/export")
    except NotFound as exc:
        raise ServiceUnavailable(f"The {peer.service} service cannot export personal data") from exc
    except ValueError as exc:  # not JSON
        raise ServiceUnavailable(f"The {peer.service} service answered an unreadable export") from exc
    if not isinstance(body, dict):
        raise ServiceUnavailable(f"The {peer.service} service answered an export that is not an object")
    return body
