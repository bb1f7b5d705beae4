"""Event tables, defined into each service's own metadata (so each lives in that service's schema)."""

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

DELIVERY_STATUSES = ("pending", "delivered", "failed")


@dataclass(frozen=True)
class EventTables:
    outbox: Table
    sequences: Table
    inbox: Table
    positions: Table


def define_event_tables(metadata: MetaData) -> EventTables:
    outbox = Table(
        "outbox",
        metadata,
        # One row per (event, subscriber): each subscriber's delivery succeeds or fails on its own.
        Column("id", Uuid, primary_key=True),
        Column("event_id", Uuid, nullable=False),
        Column("subscriber", String(50), nullable=False),
        Column("type", String(100), nullable=False),
        Column("aggregate_id", Uuid, nullable=False),
        Column("sequence", BigInteger, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("status", String(16), nullable=False, server_default="pending"),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
        Column("delivered_at", DateTime(timezone=True)),
        Column("last_error", Text),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_known"),
        Index("uq_outbox_event_id_subscriber", "event_id", "subscriber", unique=True),
        # The relay's claim query, one subscriber's lane at a time: its due pending rows, oldest first.
        Index("ix_outbox_due", "subscriber", "next_attempt_at", "id", postgresql_where=text("status = 'pending'")),
        # Coalescing: the relay finds every pending row of the snapshot streams it claimed.
        Index("ix_outbox_pending_aggregate", "aggregate_id", postgresql_where=text("status = 'pending'")),
    )
    sequences = Table(
        "outbox_sequences",
        metadata,
        Column("aggregate_id", Uuid, primary_key=True),
        Column("last_sequence", BigInteger, nullable=False),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("producer", String(50), nullable=False),
        Column("type", String(100), nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
        Column("outcome", String(16), nullable=False),
    )
    positions = Table(
        "inbox_positions",
        metadata,
        Column("producer", String(50), primary_key=True),
        Column("aggregate_id", Uuid, primary_key=True),
        Column("last_sequence", BigInteger, nullable=False),
    )
    return EventTables(outbox=outbox, sequences=sequences, inbox=inbox, positions=positions)
