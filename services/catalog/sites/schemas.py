from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field

from services.catalog.schemas import Latitude, Location, Longitude, display_example, text_example
from shared.schemas import Input, LocalizedTitle, Output

District = Annotated[str, Field(min_length=1, max_length=100, examples=["西湖区 Xihu"])]


class SiteKind(StrEnum):
    library = "library"
    museum = "museum"
    theatre = "theatre"
    cinema = "cinema"
    cultural_hall = "cultural_hall"
    community_center = "community_center"
    school = "school"
    park = "park"
    online = "online"


class Accessibility(StrEnum):
    step_free = "step_free"
    hearing_loop = "hearing_loop"
    sign_language = "sign_language"
    braille = "braille"
    large_print = "large_print"
    accessible_toilet = "accessible_toilet"
    quiet_room = "quiet_room"
    wheelchair_loan = "wheelchair_loan"
    audio_description = "audio_description"
    accessible_parking = "accessible_parking"


class LocationIn(Input):
    lat: Latitude
    lon: Longitude


class SiteCreate(Input):
    name: LocalizedTitle
    kind: SiteKind
    location: LocationIn
    address: Annotated[str, Field(min_length=1, max_length=300, examples=["杭州市上城区解放东路58号"])]
    district: District | None = None
    owner_org_id: UUID
    accessibility: Annotated[list[Accessibility], Field(max_length=len(Accessibility))] = Field(default_factory=list)
    opening_hours: Annotated[
        str | None,
        Field(min_length=1, max_length=200, description="OpenStreetMap syntax", examples=["Tu-Su 09:00-17:00"]),
    ] = None


class SiteSummary(Output):
    """What a result list shows of a site (search items); `SiteOut` has the rest."""

    id: UUID
    name: dict[str, str] = text_example("杭州图书馆（总馆）", "Hangzhou Library (Main Building)")
    name_display: str = display_example("杭州图书馆（总馆）")
    kind: SiteKind
    location: Location
    address: str = Field(examples=["杭州市上城区解放东路58号（58 Jiefang East Road, Shangcheng District）"])
    district: str | None = Field(examples=["上城区 Shangcheng"])
    accessibility: list[str] = Field(examples=[["step_free", "hearing_loop"]])


class SiteOut(SiteSummary):
    district_id: UUID | None = Field(
        description="The loaded district whose polygon covers the site (GET /v1/coverage/districts; on a shared "
        "boundary the smallest code); null outside every district. `district` stays a free-text address detail"
    )
    owner_org_id: UUID
    opening_hours: str | None = Field(examples=["Mo-Su 09:00-21:00"])
    created_at: datetime


class SiteListItem(SiteOut):
    distance_m: float | None = Field(description="Straight-line metres from `near`; null without `near`")
    walk_minutes: int | None = Field(description="ceil(distance_m / 75); null without `near`")
