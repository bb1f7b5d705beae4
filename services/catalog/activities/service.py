from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.activities.repository import ActivityRepository
from services.catalog.activities.schemas import (
    ActivityCreate,
    ActivityKind,
    ActivityOut,
    ActivityUpdate,
    LearningMode,
)
from services.catalog.models import Activity, audit_log
from services.catalog.peers import OrganizationDirectory
from services.catalog.schemas import unique
from services.catalog.search.text import refresh_search_text
from services.catalog.sessions.service import propagate_activity_change
from shared import audit
from shared.auth import Principal
from shared.authz import MembershipSource, OrgRole, require_org_role
from shared.errors import Conflict, Unprocessable
from shared.events.outbox import Outbox
from shared.ids import new_id
from shared.schemas import pick_language

# Fields every session snapshot carries: changing one tells booking about each upcoming session.
_SNAPSHOT_FIELDS = frozenset({"title", "kind", "site_id", "mode", "join_url"})


def audited(activity: Activity) -> dict[str, Any]:
    """The activity as the audit trail keeps it: the join link only as whether there is one (it admits
    people to an online session, so it is kept from listings as from responses)."""
    fields = ("title", "description", "kind", "topics", "audience", "language", "host_org_id", "site_id")
    state = {field: getattr(activity, field) for field in fields}
    state |= {
        "series_id": activity.series_id,
        "price_cents": activity.price_cents,
        "mode": activity.mode,
        "has_join_url": activity.join_url is not None,
    }
    return audit.snapshot(state) or {}


def activity_out(activity: Activity, accept_language: str | None) -> ActivityOut:
    return ActivityOut(
        id=activity.id,
        title=activity.title,
        title_display=pick_language(activity.title, accept_language) or "",
        description=activity.description,
        description_display=pick_language(activity.description, accept_language),
        kind=ActivityKind(activity.kind),
        topics=activity.topics,
        audience=activity.audience,
        language=activity.language,
        host_org_id=activity.host_org_id,
        site_id=activity.site_id,
        series_id=activity.series_id,
        price_cents=activity.price_cents,
        mode=LearningMode(activity.mode),
        has_join_url=activity.join_url is not None,
        created_at=activity.created_at,
        updated_at=activity.updated_at,
    )


async def _require_references(db: AsyncSession, *, site_id: UUID | None, series_id: UUID | None) -> None:
    activities = ActivityRepository(db)
    if site_id is not None and not await activities.site_exists(site_id):
        raise Unprocessable("No site with this id", pointer="/body/site_id")
    if series_id is not None and not await activities.series_exists(series_id):
        raise Unprocessable("No series with this id", pointer="/body/series_id")


def _require_mode_fits(mode: str, *, site_id: UUID | None, join_url: str | None) -> None:
    """Where an activity happens follows from its mode: online ones have no site, hybrid ones have one, and
    only online and hybrid ones have a join link. (An in-person activity may still be created without its
    site, as the API always allowed.)"""
    if mode == LearningMode.online and site_id is not None:
        raise Unprocessable("An online activity has no site: leave site_id out (or null)", pointer="/body/site_id")
    if mode == LearningMode.hybrid and site_id is None:
        raise Unprocessable("A hybrid activity takes place at a site as well: give site_id", pointer="/body/site_id")
    if mode == LearningMode.in_person and join_url is not None:
        raise Unprocessable(
            "Only online and hybrid activities have a join link: leave join_url out (or null)", pointer="/body/join_url"
        )


async def create_activity(
    db: AsyncSession,
    principal: Principal,
    memberships: MembershipSource,
    organizations: OrganizationDirectory,
    body: ActivityCreate,
) -> Activity:
    """Admins and coordinators of the host organization, and operators."""
    await organizations.require_role(
        principal, memberships, body.host_org_id, OrgRole.coordinator, pointer="/body/host_org_id"
    )
    activity = await add_activity(db, body)
    await audit.record(
        db,
        audit_log,
        actor=audit.Actor.of(principal),
        action="activity.created",
        entity_type="activity",
        entity_id=activity.id,
        organization_id=activity.host_org_id,
        after=audited(activity),
    )
    return activity


async def add_activity(db: AsyncSession, body: ActivityCreate, *, activity_id: UUID | None = None) -> Activity:
    _require_mode_fits(body.mode, site_id=body.site_id, join_url=body.join_url)
    await _require_references(db, site_id=body.site_id, series_id=body.series_id)
    activity = Activity(
        id=activity_id or new_id(),
        title=body.title,
        description=body.description,
        kind=body.kind.value,
        topics=unique(body.topics),
        audience=unique(body.audience),
        language=body.language,
        host_org_id=body.host_org_id,
        site_id=body.site_id,
        series_id=body.series_id,
        price_cents=body.price_cents,
        mode=body.mode.value,
        join_url=body.join_url,
    )
    await ActivityRepository(db).add(activity)
    await refresh_search_text(db, activity)
    return activity


async def update_activity(
    db: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    memberships: MembershipSource,
    activity: Activity,
    body: ActivityUpdate,
    *,
    now: datetime,
) -> Activity:
    """Admins of the host organization, and operators. A change to the title, kind, site, mode or join link
    reaches booking as `session.updated` for every upcoming session (and the site moves with them). The mode
    stays while sessions that have not ended exist (409): their booked seats would change meaning."""
    await require_org_role(memberships, principal, activity.host_org_id, OrgRole.admin)
    changes: dict[str, Any] = {
        field: value.value if isinstance(value, StrEnum) else value
        for field, value in body.model_dump(exclude_unset=True).items()
    }
    await _require_references(db, site_id=changes.get("site_id"), series_id=changes.get("series_id"))
    # Concurrent edits of one activity take turns, so their session events go out in commit order.
    await db.refresh(activity, with_for_update=True)
    changed = {field for field, value in changes.items() if getattr(activity, field) != value}
    if changed & {"mode", "site_id", "join_url"}:
        _require_mode_fits(
            changes.get("mode", activity.mode),
            site_id=changes.get("site_id", activity.site_id),
            join_url=changes.get("join_url", activity.join_url),
        )
    if "mode" in changed and await ActivityRepository(db).has_sessions_not_ended(activity.id, now=now):
        raise Conflict(
            "The activity has sessions that have not ended; its mode cannot change (cancel them, or create "
            "an activity in the new mode)"
        )
    before = audited(activity)
    for field in changed:
        value = changes[field]
        setattr(activity, field, unique(value) if field in ("topics", "audience") else value)
    await db.flush()
    if changed:
        old, new = audit.changed_fields(before, audited(activity))
        await audit.record(
            db,
            audit_log,
            actor=audit.Actor.of(principal),
            action="activity.updated",
            entity_type="activity",
            entity_id=activity.id,
            organization_id=activity.host_org_id,
            before=old,
            after=new,
        )
    if changed & {"title", "description", "site_id", "series_id"}:
        await refresh_search_text(db, activity)
    if changed & _SNAPSHOT_FIELDS:
        await propagate_activity_change(db, outbox, activity, now=now)
    return activity
