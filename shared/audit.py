"""The audit trail: who did what to which thing, when, with the thing before and after.

Each service keeps its own trail in its own schema (`define_audit_table` into its metadata) and writes an
entry in the same transaction as the change it records, so an entry exists exactly when the change does
(a refused change, a 409 say, leaves none).

Reading (`audit_router`): one listing per service, newest first. Operators read every entry; an owner or
admin of an organization reads that organization's entries by passing `organization_id`; anyone else 403.

What a snapshot (`before`/`after`) holds: the fields of the thing that staff change (status, times, seats,
roles...), never a secret (password, token, hash) nor a person's contact data (email, display name): a
person appears by their UUID only. When a person is erased (`person.erased`), services that erase or
anonymize every row naming them (orgs, booking) also replace that UUID in their trail with the same fresh
random id they anonymize the rest with (`pseudonymize`): the entries stay, pseudonymous. Catalog and
notify hold no personal data in their trails; their entries keep the staff member's UUID, which nothing
left anywhere links to a person once orgs has deleted the account.
"""

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, current_principal
from shared.authz import MembershipSource, OrgRole, OrgsMemberships, orgs_client, require_org_role
from shared.db import SessionDep
from shared.errors import Forbidden, Unprocessable, problem_response, problem_responses
from shared.ids import new_id
from shared.middleware import request_id_var
from shared.pagination import Page, PageDep, PageParams
from shared.repository import paginate

MAX_ACTION_LENGTH = 64
MAX_ENTITY_TYPE_LENGTH = 32


def define_audit_table(metadata: MetaData) -> Table:
    return Table(
        "audit_log",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
        # The person who acted (None: the system itself, e.g. a sweep or an event from another service).
        Column("actor_id", Uuid),
        Column("actor_is_operator", Boolean, nullable=False, server_default=text("false")),
        # `<entity_type>.<verb>`: session.cancelled, membership.role_changed, checkin.recorded...
        Column("action", String(MAX_ACTION_LENGTH), nullable=False),
        Column("entity_type", String(MAX_ENTITY_TYPE_LENGTH), nullable=False),
        Column("entity_id", Uuid, nullable=False),
        # The organization whose admins may read the entry (the host, the owner, the booking organization).
        Column("organization_id", Uuid),
        Column("before", JSONB),
        Column("after", JSONB),
        Column("request_id", String(64)),
        CheckConstraint("before IS NOT NULL OR after IS NOT NULL", name="records_a_state"),
        Index("ix_audit_log_organization_occurred", "organization_id", "occurred_at", "id"),
        Index("ix_audit_log_entity", "entity_type", "entity_id", "occurred_at"),
        Index("ix_audit_log_occurred", "occurred_at", "id"),
        Index("ix_audit_log_actor", "actor_id", postgresql_where=text("actor_id IS NOT NULL")),
    )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted: a person (an operator or not), or the system itself (`SYSTEM`)."""

    person_id: UUID | None
    is_operator: bool = False

    @classmethod
    def of(cls, principal: Principal) -> "Actor":
        return cls(principal.person_id, principal.is_operator)


SYSTEM = Actor(None)
# An operator at the command line (`learncity events --retry`): no signed-in person, but an operator's act.
COMMAND_LINE = Actor(None, is_operator=True)


def snapshot(value: BaseModel | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-ready copy of a thing's state for `before`/`after` (models dumped in JSON mode; times in ISO
    8601, ids as strings, anything else unknown as its `str`)."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    copied: dict[str, Any] = json.loads(json.dumps(to_jsonable_python(dict(value), fallback=str)))
    return copied


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any], *, always: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields whose value differs (and those in `always`), before and after: what an `*.updated` entry
    keeps."""
    keys = [key for key in after if key in always or before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


async def record(
    db: AsyncSession,
    table: Table,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: UUID,
    organization_id: UUID | None,
    before: BaseModel | Mapping[str, Any] | None = None,
    after: BaseModel | Mapping[str, Any] | None = None,
) -> None:
    """Add one entry to the trail, in the caller's transaction (it commits or rolls back with the change)."""
    await db.execute(
        insert(table).values(
            id=new_id(),
            occurred_at=datetime.now(UTC),
            actor_id=actor.person_id,
            actor_is_operator=actor.is_operator,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            organization_id=organization_id,
            before=snapshot(before),
            after=snapshot(after),
            request_id=request_id_var.get(),
        )
    )


async def record_many(
    db: AsyncSession,
    table: Table,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    organization_id: UUID | None,
    states: Sequence[tuple[UUID, Mapping[str, Any] | None, Mapping[str, Any] | None]],
) -> None:
    """One entry per (entity_id, before, after) of `states`, all of one action, in one statement (a
    recurring schedule makes hundreds)."""
    if not states:
        return
    now, request_id = datetime.now(UTC), request_id_var.get()
    rows = [
        {
            "id": new_id(),
            "occurred_at": now,
            "actor_id": actor.person_id,
            "actor_is_operator": actor.is_operator,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "organization_id": organization_id,
            "before": snapshot(before),
            "after": snapshot(after),
            "request_id": request_id,
        }
        for entity_id, before, after in states
    ]
    await db.execute(insert(table), rows)


# ---- erasure ----------------------------------------------------------------------------------------------


async def pseudonymize(db: AsyncSession, table: Table, person_id: UUID, anonymous_id: UUID) -> None:
    """Replace `person_id` by `anonymous_id` everywhere in the trail: as the actor, as the entity and inside
    snapshots (a membership's `person_id`...). Entries stay, naming nobody. A scan of the trail: erasures
    are rare, and it runs in the erasure's own transaction."""
    c = table.c
    named, anonymous = str(person_id), str(anonymous_id)

    def replaced(column: Any) -> Any:
        return cast(func.replace(cast(column, Text), literal(named), literal(anonymous)), JSONB)

    await db.execute(
        update(table)
        .where(
            or_(
                c.actor_id == person_id,
                c.entity_id == person_id,
                cast(c.before, Text).contains(named),
                cast(c.after, Text).contains(named),
            )
        )
        .values(
            actor_id=case((c.actor_id == person_id, anonymous_id), else_=c.actor_id),
            entity_id=case((c.entity_id == person_id, anonymous_id), else_=c.entity_id),
            before=replaced(c.before),
            after=replaced(c.after),
        )
    )


# ---- reading ----------------------------------------------------------------------------------------------

_STATE_EXAMPLE = {"status": "scheduled", "capacity": 30, "starts_at": "2027-03-02T19:00:00+08:00"}


class AuditEntryOut(BaseModel):
    id: UUID
    occurred_at: datetime
    actor_id: Annotated[
        UUID | None, Field(description="The person who acted; null for the system (or an operator's command)")
    ]
    actor_is_operator: bool
    action: Annotated[str, Field(examples=["session.cancelled"], description="`<entity_type>.<verb>`")]
    entity_type: Annotated[str, Field(examples=["session"])]
    entity_id: UUID
    organization_id: Annotated[UUID | None, Field(description="The organization whose admins may read the entry")]
    before: Annotated[
        dict[str, Any] | None, Field(examples=[_STATE_EXAMPLE], description="The changed fields before; null when made")
    ]
    after: Annotated[
        dict[str, Any] | None,
        Field(
            examples=[{**_STATE_EXAMPLE, "status": "cancelled", "cancel_reason": "讲师生病 The speaker is ill"}],
            description="The changed fields after; null when removed",
        ),
    ]
    request_id: Annotated[str | None, Field(examples=["0f8e4c2a9b7d4e21"])]


@dataclass(frozen=True, slots=True)
class AuditFilters:
    organization_id: UUID | None = None
    entity_type: str | None = None
    entity_id: UUID | None = None
    actor_id: UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _aware(value: datetime | None, pointer: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Unprocessable("Give a time with its UTC offset (e.g. 2027-03-02T19:00:00+08:00)", pointer=pointer)
    return value


async def _audit_filters(
    organization_id: Annotated[
        UUID | None, Query(description="Only this organization's entries (required unless you are an operator)")
    ] = None,
    entity_type: Annotated[
        str | None,
        Query(max_length=MAX_ENTITY_TYPE_LENGTH, pattern=r"^[a-z_]+$", description="e.g. `session`, `membership`"),
    ] = None,
    entity_id: Annotated[UUID | None, Query(description="Only entries about this thing")] = None,
    actor_id: Annotated[UUID | None, Query(description="Only entries of this person's actions")] = None,
    action: Annotated[
        str | None,
        Query(max_length=MAX_ACTION_LENGTH, pattern=r"^[a-z_]+\.[a-z_]+$", description="e.g. `session.cancelled`"),
    ] = None,
    since: Annotated[
        datetime | None, Query(alias="from", description="Only entries at or after this time (with its offset)")
    ] = None,
    until: Annotated[
        datetime | None, Query(alias="to", description="Only entries before this time (with its offset)")
    ] = None,
) -> AuditFilters:
    since, until = _aware(since, "/query/from"), _aware(until, "/query/to")
    if since is not None and until is not None and until < since:
        raise Unprocessable("`to` is before `from`", pointer="/query/to")
    return AuditFilters(organization_id, entity_type, entity_id, actor_id, action, since, until)


AuditFiltersDep = Annotated[AuditFilters, Depends(_audit_filters)]


async def authorize_reading(principal: Principal, memberships: MembershipSource, organization_id: UUID | None) -> None:
    """Operators read everything; an organization's owners and admins read its entries; anyone else 403."""
    if principal.is_operator:
        return
    if organization_id is None:
        raise Forbidden(
            "Only operators read the whole trail: pass the organization_id of an organization you administer"
        )
    await require_org_role(memberships, principal, organization_id, OrgRole.admin)


async def list_entries(db: AsyncSession, table: Table, filters: AuditFilters, page: PageParams) -> Page[AuditEntryOut]:
    """Entries matching `filters`, newest first, keyset-paged on (occurred_at, id)."""
    c = table.c
    statement = select(table)
    for column, value in (
        (c.organization_id, filters.organization_id),
        (c.entity_type, filters.entity_type),
        (c.entity_id, filters.entity_id),
        (c.actor_id, filters.actor_id),
        (c.action, filters.action),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.since is not None:
        statement = statement.where(c.occurred_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(c.occurred_at < filters.until)
    rows, next_cursor = await paginate(
        db,
        statement,
        keyset=[c.occurred_at, c.id],
        key_of=lambda row: [row.occurred_at, row.id],
        page=page,
        descending=True,
        scalars=False,
    )
    return Page(items=[AuditEntryOut.model_validate(row._mapping) for row in rows], next_cursor=next_cursor)


async def _orgs_memberships(request: Request) -> MembershipSource:
    return OrgsMemberships(orgs_client(request.app))


def audit_router(
    prefix: str,
    *,
    table: Table,
    memberships: Callable[..., Awaitable[MembershipSource]] = _orgs_memberships,
    operation_id: str,
    tag: str,
    recorded: str,
    principal: Callable[..., Awaitable[Principal]] = current_principal,
) -> APIRouter:
    """`GET {prefix}/audit`: the service's trail (`recorded` says what it records). Include the router
    before any router with a `{prefix}/{id}` route, so `audit` is never read as an id. Memberships are asked
    of orgs over HTTP unless `memberships` says otherwise (orgs reads its own database)."""
    router = APIRouter(prefix=prefix, tags=[tag])

    @router.get(
        "/audit",
        summary="The audit trail of staff and operator actions, newest first",
        description=f"{recorded} Operators read every entry; an owner or admin of an organization reads that "
        "organization's entries by passing `organization_id` (without it, or for another organization: 403). "
        "Filters: `entity_type`, `entity_id`, `actor_id`, `action`, `from` (inclusive), `to` (exclusive). Paged "
        "by `limit` and `cursor`. Snapshots hold the changed fields, never secrets nor contact data; a person "
        "appears by id only (erased people as a random id).",
        operation_id=operation_id,
        responses=problem_responses(401, 403, 422, 503),
    )
    async def list_audit(
        reader: Annotated[Principal, Depends(principal)],
        source: Annotated[MembershipSource, Depends(memberships)],
        db: SessionDep,
        page: PageDep,
        filters: AuditFiltersDep,
    ) -> Page[AuditEntryOut]:
        await authorize_reading(reader, source, filters.organization_id)
        return await list_entries(db, table, filters, page)

    # Any other method on `{prefix}/audit` is a 405 naming GET alone, here: not a 422 from a `{prefix}/{id}`
    # route further on (which would read `audit` as a malformed id), nor an `Allow` naming that route's methods.
    @router.api_route(
        "/audit", methods=["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"], include_in_schema=False
    )
    async def audit_is_read_only() -> JSONResponse:
        return problem_response(405, "Method Not Allowed", headers={"Allow": "GET"})

    return router
