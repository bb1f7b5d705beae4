"""The audit trail: who did what to which thing, when, with the thing before and after.

Each service keeps its own trail in its own schema (`define_audit_table` into its metadata) and writes an
entry in the same transaction as the change it records, so an entry exists exactly when the change does.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import Boolean, CheckConstraint, Column, DateTime, Index, MetaData, String, Table, Uuid, insert, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.ids import new_id
from shared.middleware import request_id_var

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


def snapshot(value: BaseModel | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-ready copy of a thing's state for `before`/`after` (models dumped in JSON mode)."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    copied: dict[str, Any] = json.loads(json.dumps(dict(value), default=str))
    return copied


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
