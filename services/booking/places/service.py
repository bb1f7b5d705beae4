"""Where sessions happen, as booking learns it from the catalog's `site.changed` events: the kind of each site
and the district it lies in (urban or rural), so participation is counted by place without reading the
catalog's schema. Sites are not personal data: a person's erasure leaves them alone."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.places.repository import PlaceRepository
from shared.db import utcnow
from shared.events.inbox import SetHandler
from shared.events.schemas import EventEnvelope, SiteSnapshot


async def _apply_site_snapshots(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
    """Store the newest snapshot of each site in one statement. Each event carries the whole site, and the
    inbox hands them over in sequence order per site (older ones than the last applied are dropped as
    stale), so the last one of a site wins; applying one again changes nothing."""
    newest = {snapshot.site_id: snapshot for snapshot in map(_snapshot, envelopes)}
    await PlaceRepository(session).store_many(list(newest.values()), utcnow())


def _snapshot(envelope: EventEnvelope) -> SiteSnapshot:
    return SiteSnapshot.model_validate(envelope.payload)


# The inbox applies a delivery's site.changed events together (one upsert), or one at a time.
site_changed_handler = SetHandler(_apply_site_snapshots)
