"""What operators send (a GeoJSON FeatureCollection of districts) and what the coverage answers hold."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from services.catalog.sites.schemas import SiteKind
from shared.schemas import DisplayText, Input, LocalizedText, LocalizedTitle, Output

MAX_DISTRICTS = 200
# Positions per ring and rings per (multi)polygon, before the exact count (20,000 vertices per district).
MAX_RING_POSITIONS = 20_000
MAX_RINGS = 500

Position = Annotated[
    list[float], Field(min_length=2, max_length=3, description="[longitude, latitude] (an altitude is dropped)")
]
Ring = Annotated[list[Position], Field(min_length=4, max_length=MAX_RING_POSITIONS)]
PolygonCoordinates = Annotated[list[Ring], Field(min_length=1, max_length=MAX_RINGS)]


class GeoJsonMember(Input):
    """GeoJSON objects may carry foreign members (RFC 7946 6.1): they are ignored, not refused."""

    model_config = ConfigDict(extra="ignore")


class PolygonGeometry(GeoJsonMember):
    type: Literal["Polygon"]
    coordinates: PolygonCoordinates


class MultiPolygonGeometry(GeoJsonMember):
    type: Literal["MultiPolygon"]
    coordinates: Annotated[list[PolygonCoordinates], Field(min_length=1, max_length=MAX_RINGS)]


DistrictCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
        description="The operator's key for the area (e.g. the administrative division code); loading the same "
        "code again replaces that district",
        examples=["330106"],
    ),
]


class DistrictProperties(GeoJsonMember):
    code: DistrictCode
    name: LocalizedTitle
    urban: bool = Field(description="Urban district (true) or rural county (false)")
    population: Annotated[int | None, Field(ge=0, le=2_000_000_000)] = None


class DistrictFeature(GeoJsonMember):
    type: Literal["Feature"]
    properties: DistrictProperties
    geometry: Annotated[PolygonGeometry | MultiPolygonGeometry, Field(discriminator="type")]


class DistrictCollection(GeoJsonMember):
    """A GeoJSON FeatureCollection (RFC 7946, [longitude, latitude] in WGS 84) of Polygon or MultiPolygon
    districts; foreign members (`name`, `description`, `bbox`, extra properties) are ignored."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {
                                "code": "330106",
                                "name": {"zh-CN": "西湖区", "en": "Xihu"},
                                "urban": True,
                                "population": 1128000,
                            },
                            "geometry": {
                                "type": "Polygon",
                                "coordinates": [
                                    [
                                        [120.05, 30.22],
                                        [120.16, 30.21],
                                        [120.16, 30.27],
                                        [120.05, 30.33],
                                        [120.05, 30.22],
                                    ]
                                ],
                            },
                        }
                    ],
                }
            ]
        },
    )

    type: Literal["FeatureCollection"]
    features: Annotated[list[DistrictFeature], Field(min_length=1, max_length=MAX_DISTRICTS)]


class DistrictOut(Output):
    id: UUID
    code: str = Field(examples=["330106"])
    name: LocalizedText
    name_display: DisplayText
    urban: bool
    population: int | None
    area_m2: float = Field(description="Area in square metres (equal-area projection on the authalic sphere)")
    bbox: list[float] = Field(description="[min_lon, min_lat, max_lon, max_lat]")
    updated_at: datetime


class DistrictsLoaded(Output):
    items: list[DistrictOut] = Field(description="The districts of the collection, as stored, by code")
    sites_changed: int = Field(
        description="Sites whose district (or its name or urban flag) changed: each one "
        "was sent to booking as a `site.changed` event"
    )


class CountedSiteOut(Output):
    site_id: UUID
    name: LocalizedText
    kind: SiteKind
    lat: float
    lon: float


class NearestSite(Output):
    site_id: UUID = Field(description="One of `sites` (listed once there, with its name, kind and place)")
    distance_m: float = Field(description="Straight-line metres from the cell centre (earthdistance sphere)")
    walk_minutes: int = Field(description="ceil(distance_m / 75)")


class UncoveredCell(Output):
    lat: float
    lon: float
    nearest_site: NearestSite | None = Field(description="The nearest counted site (null: there is none)")


class DistrictCoverage(Output):
    district_id: UUID
    code: str = Field(examples=["330106"])
    name: LocalizedText
    name_display: DisplayText
    urban: bool
    population: int | None
    area_m2: float
    cells_total: int = Field(description="Grid cells whose centre lies in the district")
    cells_covered: int = Field(description="Of those, the cells within `walk_minutes` of a counted site")
    share_covered: float | None = Field(description="cells_covered / cells_total (null: no cell centre inside)")
    uncovered: list[UncoveredCell] = Field(description="Every uncovered cell's centre, by lat then lon")


class CoverageGrid(Output):
    """Cell (i, j) is centred at ((i + 0.5) * lat_step, (j + 0.5) * lon_step) degrees: one lattice for every
    district, cells about `cell_m` on a side (exactly at `ref_lat`)."""

    cell_m: int
    lat_step: float
    lon_step: float
    ref_lat: float


class DistrictsCoverageOut(Output):
    walk_minutes: int
    kind: SiteKind | None
    grid: CoverageGrid | None = Field(description="null: no district is loaded")
    cells_total: int
    cells_covered: int
    share_covered: float | None = Field(
        description="The city's share: population-weighted (sum of population * share / sum of population) when "
        "every listed district has a population, else cells_covered / cells_total"
    )
    share_basis: Literal["population", "cells"]
    items: list[DistrictCoverage] = Field(description="By code")
    sites: list[CountedSiteOut] = Field(
        description="The sites counted (of `kind` when given), each once: uncovered cells name their nearest by id"
    )
