"""The catalog schema: learning sites, series, activities, their sessions, and the availability projection.

Invariants live here as constraints, so no code path (API, demo seed, a future import job) can store a
session that ends before it starts or a site off the globe.
"""

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import (
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.audit import define_audit_table
from shared.db import IdMixin, TimestampMixin, service_metadata, utcnow
from shared.events.tables import define_event_tables

SCHEMA = "catalog"

SITE_KINDS = (
    "library",
    "museum",
    "theatre",
    "cinema",
    "cultural_hall",
    "community_center",
    "school",
    "park",
    "online",
)
ACTIVITY_KINDS = (
    "course",
    "workshop",
    "lecture",
    "forum",
    "reading",
    "exhibition",
    "screening",
    "performance",
    "study_group",
    "festival_event",
)
SERIES_KINDS = ("festival", "programme", "course")
SESSION_STATUSES = ("scheduled", "cancelled")
LEARNING_MODES = ("in_person", "online", "hybrid")
MAX_CAPACITY = 100_000


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class CatalogBase(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class UpdatedAtMixin:
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=text("now()")
    )


class District(IdMixin, TimestampMixin, UpdatedAtMixin, CatalogBase):
    """An administrative area (a district or county) loaded by operators as a GeoJSON polygon. A site belongs
    to the district whose polygon contains it (services/catalog/districts); `Site.district` stays free text.

    `boundary` is the GeoJSON geometry as loaded (Polygon or MultiPolygon, lon/lat); the bounding box beside
    it lets SQL find the candidate districts of a point before the exact test."""

    __tablename__ = "districts"
    __table_args__ = (
        CheckConstraint("char_length(code) BETWEEN 1 AND 32", name="code_length"),
        CheckConstraint("population IS NULL OR population >= 0", name="population_not_negative"),
        CheckConstraint("min_lon <= max_lon AND min_lat <= max_lat", name="bbox_ordered"),
        CheckConstraint("min_lat >= -90 AND max_lat <= 90 AND min_lon >= -180 AND max_lon <= 180", name="bbox_range"),
        CheckConstraint("area_m2 > 0", name="area_positive"),
        Index("uq_districts_code", "code", unique=True),
    )

    # The operator's own key for the area (e.g. the administrative division code `330106`): loading the same
    # code again replaces that district.
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[dict[str, str]] = mapped_column(JSONB)
    urban: Mapped[bool]
    population: Mapped[int | None] = mapped_column(Integer)
    boundary: Mapped[dict[str, object]] = mapped_column(JSONB)
    min_lon: Mapped[float] = mapped_column(Double)
    min_lat: Mapped[float] = mapped_column(Double)
    max_lon: Mapped[float] = mapped_column(Double)
    max_lat: Mapped[float] = mapped_column(Double)
    area_m2: Mapped[float] = mapped_column(Double)


class Site(IdMixin, TimestampMixin, CatalogBase):
    """A place where learning happens. Its location is a point on the earthdistance sphere."""

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint(_in("kind", SITE_KINDS), name="kind_known"),
        CheckConstraint("lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lon BETWEEN -180 AND 180", name="lon_range"),
        CheckConstraint("char_length(address) BETWEEN 1 AND 300", name="address_length"),
        # Walking-distance search and coverage: `earth_box(...) @> ll_to_earth(lat, lon)` uses this index.
        Index("ix_sites_earth_location", text("ll_to_earth(lat, lon)"), postgresql_using="gist"),
        Index("ix_sites_owner_org_id", "owner_org_id"),
        Index("ix_sites_district_id", "district_id"),
        Index("ix_sites_kind_id", "kind", "id"),
        Index(
            "ix_sites_search_name_trgm",
            "search_name",
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        ),
    )

    name: Mapped[dict[str, str]] = mapped_column(JSONB)
    kind: Mapped[str] = mapped_column(String(32))
    lat: Mapped[float] = mapped_column(Double)
    lon: Mapped[float] = mapped_column(Double)
    address: Mapped[str] = mapped_column(String(300))
    district: Mapped[str | None] = mapped_column(String(100))
    # The loaded district whose polygon contains the site (None: outside every district, or none loaded).
    district_id: Mapped[UUID | None] = mapped_column(ForeignKey("catalog.districts.id", ondelete="SET NULL"))
    owner_org_id: Mapped[UUID]
    accessibility: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"), default=list)
    opening_hours: Mapped[str | None] = mapped_column(String(200))
    # `GET /v1/sites?q=` and session search (services/catalog/search/text.py: lowercased, CJK bigrams added).
    search_name: Mapped[str] = mapped_column(Text, Computed("catalog.localized_search_words(name)"))


class Series(IdMixin, TimestampMixin, CatalogBase):
    """A festival, programme or course that groups activities (the West Lake Reading Festival)."""

    __tablename__ = "series"
    __table_args__ = (
        CheckConstraint(_in("kind", SERIES_KINDS), name="kind_known"),
        CheckConstraint("starts_on <= ends_on", name="dates_ordered"),
        Index("ix_series_organizer_org_id", "organizer_org_id"),
    )

    name: Mapped[dict[str, str]] = mapped_column(JSONB)
    kind: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    organizer_org_id: Mapped[UUID]
    description: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    search_name: Mapped[str] = mapped_column(Text, Computed("catalog.localized_search_words(name)"))


class Activity(IdMixin, TimestampMixin, UpdatedAtMixin, CatalogBase):
    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint(_in("kind", ACTIVITY_KINDS), name="kind_known"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        CheckConstraint(_in("mode", LEARNING_MODES), name="mode_known"),
        CheckConstraint("mode <> 'in_person' OR join_url IS NULL", name="join_url_only_online"),
        Index("ix_activities_host_org_id", "host_org_id"),
        Index("ix_activities_site_id", "site_id"),
        Index("ix_activities_series_id", "series_id"),
        # `q` search: trigram similarity or a substring of the search text, in any language (Chinese included).
        Index(
            "ix_activities_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
        # `q` ranked without `near`: the activities nearest the query in word similarity, first (KNN on `<<->`).
        Index(
            "ix_activities_search_text_trgm_gist",
            "search_text",
            postgresql_using="gist",
            postgresql_ops={"search_text": "gist_trgm_ops"},
        ),
        Index("ix_activities_topics", "topics", postgresql_using="gin"),
        Index("ix_activities_audience", "audience", postgresql_using="gin"),
    )

    title: Mapped[dict[str, str]] = mapped_column(JSONB)
    description: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    kind: Mapped[str] = mapped_column(String(32))
    topics: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"), default=list)
    audience: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"), default=list)
    language: Mapped[str | None] = mapped_column(String(100))
    host_org_id: Mapped[UUID]
    site_id: Mapped[UUID | None] = mapped_column(ForeignKey("sites.id"))
    series_id: Mapped[UUID | None] = mapped_column(ForeignKey("series.id"))
    price_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    mode: Mapped[str] = mapped_column(String(16), default="in_person", server_default="in_person")
    # Where online (and hybrid) learners join: shown only to people holding a confirmed booking (by booking).
    join_url: Mapped[str | None] = mapped_column(String(500))
    # Search words (services/catalog/search/text.py) for `q`: the titles alone (ranked highest), the site's and
    # series' names (kept in step by the service), and everything, descriptions included (what `q` matches).
    search_title: Mapped[str] = mapped_column(Text, Computed("catalog.localized_search_words(title)"))
    search_names: Mapped[str] = mapped_column(Text, server_default="")
    search_text: Mapped[str] = mapped_column(Text, server_default="")


class ActivitySession(IdMixin, TimestampMixin, UpdatedAtMixin, CatalogBase):
    """One bookable occurrence of an activity ("session" in the API; the name avoids the database session)."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="times_ordered"),
        CheckConstraint(f"capacity BETWEEN 1 AND {MAX_CAPACITY}", name="capacity_range"),
        CheckConstraint(_in("status", SESSION_STATUSES), name="status_known"),
        CheckConstraint("accessible_seats BETWEEN 0 AND capacity", name="accessible_seats_within_capacity"),
        CheckConstraint(f"online_capacity BETWEEN 0 AND {MAX_CAPACITY}", name="online_capacity_range"),
        CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_at_iff_cancelled"),
        CheckConstraint(
            "booking_opens_at IS NULL OR booking_closes_at IS NULL OR booking_opens_at < booking_closes_at",
            name="booking_window_ordered",
        ),
        CheckConstraint("booking_opens_at IS NULL OR booking_opens_at < ends_at", name="booking_opens_before_end"),
        CheckConstraint("booking_closes_at IS NULL OR booking_closes_at <= ends_at", name="booking_closes_by_end"),
        Index("ix_sessions_activity_id_starts_at", "activity_id", "starts_at"),
        # Search: upcoming sessions at the sites found near a point, and the time-ordered listing.
        Index("ix_sessions_site_id_starts_at", "site_id", "starts_at", postgresql_where=text("status = 'scheduled'")),
        Index("ix_sessions_starts_at_id", "starts_at", "id", postgresql_where=text("status = 'scheduled'")),
        # Search with `near`: the online sessions (no site) that follow the walkable ones.
        Index(
            "ix_sessions_online_starts_at_id",
            "starts_at",
            "id",
            postgresql_where=text("status = 'scheduled' AND site_id IS NULL"),
        ),
    )

    activity_id: Mapped[UUID] = mapped_column(ForeignKey("activities.id"))
    # Copied from the activity (and kept in step when the activity moves), so search joins sites directly.
    site_id: Mapped[UUID | None] = mapped_column(ForeignKey("sites.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int] = mapped_column(Integer)
    # Of `capacity`, the seats kept for people who ask for an accessible one (wheelchair spaces).
    accessible_seats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A hybrid session's online seats, apart from the in-person `capacity`.
    online_capacity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="scheduled", server_default="scheduled")
    booking_opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    booking_closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))


class SessionAvailability(CatalogBase):
    """The booking service's figures for a session, as its `availability.changed` events report them.

    A projection: catalog never reads booking's schema. No row yet means booking has reported nothing.
    """

    __tablename__ = "session_availability"
    __table_args__ = (
        CheckConstraint(
            "capacity >= 0 AND confirmed_seats >= 0 AND seats_available >= 0 AND waitlist_length >= 0",
            name="figures_not_negative",
        ),
    )

    session_id: Mapped[UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)
    confirmed_seats: Mapped[int] = mapped_column(Integer)
    seats_available: Mapped[int] = mapped_column(Integer)
    waitlist_length: Mapped[int] = mapped_column(Integer)
    accessible_capacity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    accessible_available: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    online_capacity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    online_available: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


metadata = CatalogBase.metadata
event_tables = define_event_tables(metadata)
audit_log = define_audit_table(metadata)
