from datetime import datetime
from typing import get_args
from uuid import UUID

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.orgs.auth.language import Language
from shared.audit import define_audit_table
from shared.db import IdMixin, TimestampMixin, service_metadata
from shared.events.schemas import JoinRequestStatus
from shared.events.tables import define_event_tables

SCHEMA = "orgs"

ORGANIZATION_KINDS = (
    "community",
    "workplace",
    "school",
    "library",
    "museum",
    "cultural_center",
    "enterprise",
    "nonprofit",
    "government",
)
MEMBER_ROLES = ("owner", "admin", "coordinator", "member")
LANGUAGES: tuple[str, ...] = get_args(Language)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class OrgsBase(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Person(IdMixin, TimestampMixin, OrgsBase):
    __tablename__ = "people"
    __table_args__ = (
        Index("uq_people_email_lower", func.lower(text("email")), unique=True),
        CheckConstraint("char_length(display_name) BETWEEN 1 AND 100", name="display_name_length"),
        CheckConstraint(_in("language", LANGUAGES), name="language_known"),
    )

    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(Text)
    # Platform roles, e.g. "operator" (granted from the command line only).
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"), default=list)
    # The language their notices are written in, as their Accept-Language preferred it at registration
    # (None: neither supported language; notify then uses its own preference or default).
    language: Mapped[Language | None] = mapped_column(String(8))


class Organization(IdMixin, TimestampMixin, OrgsBase):
    __tablename__ = "organizations"
    __table_args__ = (CheckConstraint(_in("kind", ORGANIZATION_KINDS), name="kind_known"),)

    name: Mapped[dict[str, str]] = mapped_column(JSONB)
    kind: Mapped[str] = mapped_column(String(32))
    district: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # Lowercased names in every language, for `q` search.
    search_text: Mapped[str] = mapped_column(Text, server_default="")


class Membership(TimestampMixin, OrgsBase):
    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(_in("role", MEMBER_ROLES), name="role_known"),
        Index("ix_memberships_person_id", "person_id"),
    )

    organization_id: Mapped[UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[UUID] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))


INVITED_ROLES = ("admin", "coordinator", "member")  # an organization has one owner, its creator
JOIN_REQUEST_STATUSES: tuple[str, ...] = get_args(JoinRequestStatus)


class Invitation(IdMixin, TimestampMixin, OrgsBase):
    """An admin's invitation of an email address: a single-use token (stored as its SHA-256, sent only by
    mail) that makes whoever presents it before `expires_at` a member with `role`."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(_in("role", INVITED_ROLES), name="role_known"),
        CheckConstraint("(accepted_at IS NULL) = (accepted_by IS NULL)", name="accepted_together"),
        CheckConstraint("accepted_at IS NULL OR revoked_at IS NULL", name="accepted_or_revoked"),
        Index("ix_invitations_organization_id_created_at", "organization_id", "created_at"),
        Index("ix_invitations_email_lower", func.lower(text("email"))),
        # One open (neither accepted nor revoked) invitation per organization and address: a new one revokes
        # the older first, so an old mail's link stops working.
        Index(
            "uq_invitations_open",
            "organization_id",
            func.lower(text("email")),
            unique=True,
            postgresql_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
        ),
    )

    organization_id: Mapped[UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[UUID | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_by: Mapped[UUID | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # Revoked by an admin, or superseded by a newer invitation of the same address.
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JoinRequest(IdMixin, TimestampMixin, OrgsBase):
    """A person's request to join an organization, decided by its admins. One pending request per person and
    organization (partial UNIQUE)."""

    __tablename__ = "join_requests"
    __table_args__ = (
        CheckConstraint(_in("status", JOIN_REQUEST_STATUSES), name="status_known"),
        CheckConstraint("message IS NULL OR char_length(message) <= 500", name="message_length"),
        Index(
            "uq_join_requests_pending",
            "organization_id",
            "person_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_join_requests_organization_id_status", "organization_id", "status", "created_at"),
        Index("ix_join_requests_person_id", "person_id"),
    )

    organization_id: Mapped[UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    person_id: Mapped[UUID] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    status: Mapped[JoinRequestStatus] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[UUID | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))


class RefreshToken(IdMixin, TimestampMixin, OrgsBase):
    """Opaque refresh tokens, stored as SHA-256 hashes. Rotation keeps one family per login;
    presenting a used token revokes the whole family (it was stolen or replayed)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family_id", "family_id"),)

    person_id: Mapped[UUID] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    family_id: Mapped[UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(OrgsBase):
    """Failed password attempts per account, known or not. Keyed by the SHA-256 of the lowercased email,
    never the email itself: anyone may try any address, and a row must not name someone who erased their
    account (nor anyone else who never registered)."""

    __tablename__ = "login_throttle"

    email_key: Mapped[str] = mapped_column(String(254), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RevokedSubject(OrgsBase):
    """People whose access tokens the other services must refuse before they expire: each erased person, for
    one token lifetime (and the leeway) after the erasure. Catalog, booking and notify verify tokens without
    asking orgs, so they poll the unexpired rows (`GET /internal/v1/revoked-subjects`). Keyed by the SHA-256
    of the person id (shared/revocation.py `subject_hash`), never the id: no orgs row names an erased person."""

    __tablename__ = "revoked_subjects"

    subject_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


metadata = OrgsBase.metadata
event_tables = define_event_tables(metadata)
audit_log = define_audit_table(metadata)
