from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.models import Series, audit_log
from services.catalog.peers import OrganizationDirectory
from services.catalog.series.repository import SeriesRepository
from services.catalog.series.schemas import SeriesCreate, SeriesKind, SeriesOut
from shared import audit
from shared.auth import Principal
from shared.authz import MembershipSource, OrgRole
from shared.ids import new_id
from shared.schemas import pick_language


def series_out(series: Series, accept_language: str | None) -> SeriesOut:
    return SeriesOut(
        id=series.id,
        name=series.name,
        name_display=pick_language(series.name, accept_language) or "",
        kind=SeriesKind(series.kind),
        starts_on=series.starts_on,
        ends_on=series.ends_on,
        organizer_org_id=series.organizer_org_id,
        description=series.description,
        description_display=pick_language(series.description, accept_language),
        created_at=series.created_at,
    )


async def create_series(
    db: AsyncSession,
    principal: Principal,
    memberships: MembershipSource,
    organizations: OrganizationDirectory,
    body: SeriesCreate,
) -> Series:
    """Admins of the organizing organization, and operators."""
    await organizations.require_role(
        principal, memberships, body.organizer_org_id, OrgRole.admin, pointer="/body/organizer_org_id"
    )
    series = await add_series(db, body)
    fields = ("name", "kind", "starts_on", "ends_on", "organizer_org_id", "description")
    await audit.record(
        db,
        audit_log,
        actor=audit.Actor.of(principal),
        action="series.created",
        entity_type="series",
        entity_id=series.id,
        organization_id=series.organizer_org_id,
        after={field: getattr(series, field) for field in fields},
    )
    return series


async def add_series(db: AsyncSession, body: SeriesCreate, *, series_id: UUID | None = None) -> Series:
    series = Series(
        id=series_id or new_id(),
        name=body.name,
        kind=body.kind.value,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        organizer_org_id=body.organizer_org_id,
        description=body.description,
    )
    return await SeriesRepository(db).add(series)
