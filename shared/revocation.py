"""Access tokens of erased people, refused before they expire.

Catalog, booking and notify verify tokens locally (shared/auth.py), so the token of someone who erased their
account would keep working there until it expires. Orgs lists every person erased within the last token
lifetime (`GET /internal/v1/revoked-subjects`); each of those services polls the list (`RevocationFeed`, every
`revocation_refresh_s`) and its `TokenVerifier` refuses tokens whose subject is on it. The list holds SHA-256
digests of person ids, never the ids: nothing may keep naming an erased person.
"""

import asyncio
import hashlib
import time
from collections.abc import Iterable
from typing import Annotated
from uuid import UUID

import httpx
import structlog
from pydantic import BaseModel, Field

from shared.clients import ServiceClient
from shared.errors import AppError
from shared.settings import ServiceSettings

REVOKED_SUBJECTS_PATH = "/internal/v1/revoked-subjects"
# However long orgs asks services to wait between polls, they ask again at least this often.
MAX_REFRESH_WAIT_S = 60.0
# While orgs stays unreachable, a failure is logged at most this often (the first one at once).
_LOG_FAILURES_EVERY_S = 60.0

logger = structlog.get_logger(__name__)

SubjectHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def subject_hash(person_id: UUID) -> str:
    """The digest orgs lists for a person (of the id's canonical text, as tokens carry it in `sub`)."""
    return hashlib.sha256(str(person_id).encode()).hexdigest()


class RevokedSubjectsList(BaseModel):
    """`GET /internal/v1/revoked-subjects`: the people whose tokens are refused, as `subject_hash` digests."""

    subject_hashes: list[SubjectHash]
    refresh_after_s: Annotated[float, Field(ge=0, description="Ask again after at least this long")]


class RevokedSubjects:
    """The digests of the people whose tokens a `TokenVerifier` refuses. Nearly always empty: a verifier then
    tests `hashes` and computes no digest."""

    __slots__ = ("hashes",)

    def __init__(self, hashes: Iterable[str] = ()) -> None:
        self.hashes: frozenset[str] = frozenset(hashes)

    def replace(self, hashes: Iterable[str]) -> None:
        # One assignment: a verification running meanwhile sees the old set or the new one, never a mix.
        self.hashes = frozenset(hashes)

    def __contains__(self, person_id: object) -> bool:
        hashes = self.hashes
        return bool(hashes) and isinstance(person_id, UUID) and subject_hash(person_id) in hashes


class RevocationFeed:
    """Keeps a `RevokedSubjects` current from orgs. `run_forever` is the service's background task;
    `refresh` fetches once (tests call it by hand, with `revocation_refresh_s` 0)."""

    def __init__(self, subjects: RevokedSubjects, settings: ServiceSettings, http: httpx.AsyncClient) -> None:
        self.subjects = subjects
        self._orgs = ServiceClient("orgs", settings.orgs_url, settings, http)
        self._interval = settings.revocation_refresh_s
        self._wait = self._interval
        self._failures = 0
        self._failure_logged_at = float("-inf")

    async def refresh(self) -> bool:
        """Fetch the list once. On any failure keep the last one, log, and return False."""
        try:
            listed = RevokedSubjectsList.model_validate(await self._orgs.get_json(REVOKED_SUBJECTS_PATH))
        except (AppError, httpx.HTTPError, ValueError) as exc:  # ValueError: not JSON, or not the list
            self._failed(exc)
            return False
        self.subjects.replace(listed.subject_hashes)
        self._wait = max(self._interval, min(listed.refresh_after_s, MAX_REFRESH_WAIT_S))
        if self._failures:
            logger.info("revocation_refresh_recovered", failures=self._failures)
            self._failures = 0
        return True

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        now = time.monotonic()
        if self._failures == 1 or now - self._failure_logged_at >= _LOG_FAILURES_EVERY_S:
            self._failure_logged_at = now
            logger.warning(
                "revocation_refresh_failed",
                failures=self._failures,
                kept=len(self.subjects.hashes),
                error=str(exc) or type(exc).__name__,
            )

    async def run_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # whatever happens, the task goes on polling
                logger.exception("revocation_refresh_crashed")
            await asyncio.sleep(self._wait)
