"""Loading districts (operators), the district of a site, and the `site.changed` events that tell booking.

Every site's `district_id` follows the boundary rule of the package docstring (covers, boundary included;
the smallest code on a tie). A load upserts by code, then re-decides every site at once and emits
`site.changed` for each site whose district changed, or whose district's name or urban flag changed (booking
keeps both in its copy). Creating a site decides its district and emits `site.changed` too.
"""

from dataclasses import dataclass
from uuid import UUID

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.districts.geometry import (
    DistrictShape,
    clean_geometry,
    district_of_point,
    districts_of_points,
    forget_shapes,
    shape_of,
)
from services.catalog.districts.repository import DistrictRepository, SitePoint, SitePointRepository
from services.catalog.districts.schemas import DistrictCollection, DistrictOut, DistrictsLoaded
from services.catalog.models import District, Site, audit_log
from shared import audit
from shared.errors import Unprocessable
from shared.events.outbox import Outbox
from shared.events.schemas import SiteSnapshot
from shared.ids import new_id
from shared.schemas import pick_language


def district_shape(district: District) -> DistrictShape:
    return shape_of(district.id, district.code, district.updated_at, district.boundary)


def district_out(district: District, accept_language: str | None) -> DistrictOut:
    return DistrictOut(
        id=district.id,
        code=district.code,
        name=district.name,
        name_display=pick_language(district.name, accept_language) or district.code,
        urban=district.urban,
        population=district.population,
        area_m2=round(district.area_m2, 1),
        bbox=[district.min_lon, district.min_lat, district.max_lon, district.max_lat],
        updated_at=district.updated_at,
    )


def snapshot(site: Site | SitePoint, district: District | None) -> SiteSnapshot:
    return SiteSnapshot(
        site_id=site.id,
        owner_org_id=site.owner_org_id,
        kind=site.kind,
        name=site.name,
        district_id=district.id if district else None,
        district_name=district.name if district else None,
        urban=district.urban if district else None,
    )


async def assign_district(db: AsyncSession, site: Site) -> District | None:
    """Set `site.district_id` by the boundary rule (before the site is flushed or after it moved)."""
    repository = DistrictRepository(db)
    await repository.lock_for_site()
    candidates = {district.id: district for district in await repository.around(site.lat, site.lon)}
    found = district_of_point([district_shape(d) for d in candidates.values()], site.lat, site.lon)
    district = candidates[found.id] if found else None
    site.district_id = district.id if district else None
    return district


async def emit_site_changed(db: AsyncSession, outbox: Outbox, site: Site, district: District | None) -> None:
    await outbox.emit(db, "site.changed", site.id, snapshot(site, district))


@dataclass(frozen=True, slots=True)
class _Upserted:
    district: District
    # Its name or urban flag changed (booking's copies of its sites need the new ones).
    relabelled: bool


def _check_codes(body: DistrictCollection) -> None:
    seen: set[str] = set()
    for index, feature in enumerate(body.features):
        code = feature.properties.code
        if code in seen:
            raise Unprocessable(f"Code {code!r} appears twice", pointer=f"/body/features/{index}/properties/code")
        seen.add(code)


async def load_districts(
    db: AsyncSession, outbox: Outbox, body: DistrictCollection, accept_language: str | None, *, actor: audit.Actor
) -> DistrictsLoaded:
    """Validate every feature (nothing is written unless all are valid), upsert them by code, then re-decide
    every site's district and tell booking about each change. Each new or changed district is audited (its
    figures, not its boundary: the trail keeps who loaded what, the districts table keeps the shape)."""
    _check_codes(body)
    cleaned = [
        clean_geometry(feature.geometry.model_dump(), pointer=f"/body/features/{index}/geometry")
        for index, feature in enumerate(body.features)
    ]
    repository = DistrictRepository(db)
    await repository.lock_for_load()
    existing = await repository.by_codes([feature.properties.code for feature in body.features])
    upserted: list[_Upserted] = []
    for feature, geometry in zip(body.features, cleaned, strict=True):
        properties = feature.properties
        values = {
            "name": dict(properties.name),
            "urban": properties.urban,
            "population": properties.population,
            "boundary": geometry.geojson,
            "min_lon": geometry.min_lon,
            "min_lat": geometry.min_lat,
            "max_lon": geometry.max_lon,
            "max_lat": geometry.max_lat,
            "area_m2": geometry.area_m2,
        }
        district = existing.get(properties.code)
        if district is None:
            district = District(id=new_id(), code=properties.code, **values)
            await repository.add(district)
            upserted.append(_Upserted(district, relabelled=False))
            await _audit(db, actor, "district.created", district, None, _audited(district))
            continue
        relabelled = district.name != values["name"] or district.urban != values["urban"]
        before, reshaped = _audited(district), district.boundary != values["boundary"]
        for field, value in values.items():
            if getattr(district, field) != value:  # unchanged districts keep their updated_at
                setattr(district, field, value)
        after = _audited(district)
        if after != before or reshaped:
            await _audit(db, actor, "district.updated", district, before, after | {"boundary_changed": reshaped})
        upserted.append(_Upserted(district, relabelled=relabelled))
    await db.flush()
    forget_shapes()
    changed = await reassign_sites(db, outbox, relabelled={item.district.id for item in upserted if item.relabelled})
    items = sorted((item.district for item in upserted), key=lambda d: d.code)
    return DistrictsLoaded(items=[district_out(d, accept_language) for d in items], sites_changed=changed)


def _audited(district: District) -> dict[str, object]:
    return {
        "code": district.code,
        "name": district.name,
        "urban": district.urban,
        "population": district.population,
        "area_m2": round(district.area_m2, 1),
        "bbox": [district.min_lon, district.min_lat, district.max_lon, district.max_lat],
    }


async def _audit(
    db: AsyncSession,
    actor: audit.Actor,
    action: str,
    district: District,
    before: dict[str, object] | None,
    after: dict[str, object],
) -> None:
    await audit.record(
        db,
        audit_log,
        actor=actor,
        action=action,
        entity_type="district",
        entity_id=district.id,
        organization_id=None,
        before=before,
        after=after,
    )


async def reassign_sites(db: AsyncSession, outbox: Outbox, *, relabelled: set[UUID] | None = None) -> int:
    """Re-decide every site's district (vectorized point in polygon); emit `site.changed` for each site whose
    district changed or is in `relabelled`. Returns how many sites were told."""
    districts = await DistrictRepository(db).everything()
    shapes = [district_shape(district) for district in districts]
    sites_repository = SitePointRepository(db)
    sites = await sites_repository.every_site()
    if not sites:
        return 0
    lats = np.fromiter((site.lat for site in sites), dtype=np.float64, count=len(sites))
    lons = np.fromiter((site.lon for site in sites), dtype=np.float64, count=len(sites))
    found = districts_of_points(shapes, lats, lons)
    relabelled = relabelled or set()
    moved: list[tuple[UUID, UUID | None]] = []
    told: list[tuple[SitePoint, District | None]] = []
    for site, index in zip(sites, found.tolist(), strict=True):
        district = districts[index] if index >= 0 else None
        new_id_ = district.id if district else None
        if new_id_ != site.district_id:
            moved.append((site.id, new_id_))
            told.append((site, district))
        elif district is not None and district.id in relabelled:
            told.append((site, district))
    await sites_repository.set_districts(moved)
    for site, district in told:
        await outbox.emit(db, "site.changed", site.id, snapshot(site, district))
    return len(told)
