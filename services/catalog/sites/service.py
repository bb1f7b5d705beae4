from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.districts.service import assign_district, emit_site_changed
from services.catalog.geo import GeoPoint, walk_minutes_for
from services.catalog.models import Site, audit_log
from services.catalog.pagination import require_cursor_types
from services.catalog.peers import OrganizationDirectory
from services.catalog.schemas import Location, unique
from services.catalog.sites.repository import SiteRepository
from services.catalog.sites.schemas import SiteCreate, SiteKind, SiteListItem, SiteOut
from shared import audit
from shared.auth import Principal
from shared.authz import MembershipSource, OrgRole
from shared.events.outbox import Outbox
from shared.ids import new_id
from shared.pagination import Page, PageParams
from shared.repository import paginate
from shared.schemas import pick_language


def site_out(site: Site, accept_language: str | None) -> SiteOut:
    return SiteOut(
        id=site.id,
        name=site.name,
        name_display=pick_language(site.name, accept_language) or "",
        kind=SiteKind(site.kind),
        location=Location(lat=site.lat, lon=site.lon),
        address=site.address,
        district=site.district,
        district_id=site.district_id,
        owner_org_id=site.owner_org_id,
        accessibility=site.accessibility,
        opening_hours=site.opening_hours,
        created_at=site.created_at,
    )


def site_list_item(site: Site, accept_language: str | None, distance: float | None) -> SiteListItem:
    return SiteListItem(
        **site_out(site, accept_language).model_dump(),
        distance_m=distance,
        walk_minutes=None if distance is None else walk_minutes_for(distance),
    )


async def create_site(
    db: AsyncSession,
    principal: Principal,
    memberships: MembershipSource,
    organizations: OrganizationDirectory,
    body: SiteCreate,
    outbox: Outbox,
) -> Site:
    """Admins (or owners) of the owning organization, and operators."""
    await organizations.require_role(
        principal, memberships, body.owner_org_id, OrgRole.admin, pointer="/body/owner_org_id"
    )
    site = await add_site(db, body, outbox=outbox)
    await audit.record(
        db,
        audit_log,
        actor=audit.Actor.of(principal),
        action="site.created",
        entity_type="site",
        entity_id=site.id,
        organization_id=site.owner_org_id,
        after=audited_site(site),
    )
    return site


def audited_site(site: Site) -> dict[str, object]:
    """The site as the audit trail keeps it (`site.*` entries)."""
    fields = ("name", "kind", "lat", "lon", "address", "district", "district_id", "owner_org_id", "accessibility")
    return {field: getattr(site, field) for field in (*fields, "opening_hours")}


async def add_site(db: AsyncSession, body: SiteCreate, *, outbox: Outbox, site_id: UUID | None = None) -> Site:
    """Store a site (authorization already done: the API above, or the demo seed) in the district whose polygon
    covers it (services/catalog/districts), and tell booking (`site.changed`: every site, so booking knows
    each site's kind)."""
    site = Site(
        id=site_id or new_id(),
        name=body.name,
        kind=body.kind.value,
        lat=body.location.lat,
        lon=body.location.lon,
        address=body.address,
        district=body.district,
        owner_org_id=body.owner_org_id,
        accessibility=unique([feature.value for feature in body.accessibility]),
        opening_hours=body.opening_hours,
    )
    district = await assign_district(db, site)
    await SiteRepository(db).add(site)
    await emit_site_changed(db, outbox, site, district)
    return site


async def list_sites(
    db: AsyncSession,
    page: PageParams,
    *,
    near: GeoPoint | None,
    walk_minutes: int,
    kind: str | None,
    q: str | None,
    accessibility: tuple[str, ...],
    accept_language: str | None,
) -> Page[SiteListItem]:
    """With `near`: nearest first (among the matches of `q`); else with `q`: most similar name first;
    else by id."""
    sites = SiteRepository(db)
    if near is not None:
        require_cursor_types(page, float, UUID)
        statement, keyset = sites.nearby(near, walk_minutes, kind=kind, q=q, accessibility=accessibility)
        pairs, next_cursor = await paginate(
            db, statement, keyset=keyset, key_of=lambda row: [row[1], row[0].id], page=page, scalars=False
        )
        items = [site_list_item(site, accept_language, distance) for site, distance in pairs]
        return Page(items=items, next_cursor=next_cursor)
    if q is not None:
        require_cursor_types(page, float, UUID)
        statement, keyset = sites.ranked(q, kind=kind, accessibility=accessibility)
        pairs, next_cursor = await paginate(
            db, statement, keyset=keyset, key_of=lambda row: [row[1], row[0].id], page=page, scalars=False
        )
        return Page(items=[site_list_item(site, accept_language, None) for site, _ in pairs], next_cursor=next_cursor)
    require_cursor_types(page, UUID)
    rows, next_cursor = await paginate(
        db,
        sites.listing(kind=kind, accessibility=accessibility),
        keyset=[Site.id],
        key_of=lambda site: [site.id],
        page=page,
    )
    return Page(items=[site_list_item(site, accept_language, None) for site in rows], next_cursor=next_cursor)
