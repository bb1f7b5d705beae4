from typing import Annotated, Any

import pydantic_core
from fastapi import APIRouter, Depends, Query, Request, Response

from services.catalog.districts import service
from services.catalog.districts.render import GEOJSON_MEDIA_TYPE, SVG_MEDIA_TYPE, report_geojson, report_svg
from services.catalog.districts.report import build_report, report_json
from services.catalog.districts.schemas import DistrictCode, DistrictCollection, DistrictsCoverageOut, DistrictsLoaded
from services.catalog.geo import DEFAULT_WALK_MINUTES, WalkMinutes
from services.catalog.sites.schemas import SiteKind
from shared import audit
from shared.auth import CurrentPerson, Principal
from shared.db import SessionDep
from shared.errors import AppError, Forbidden, problem_responses
from shared.events.wiring import OutboxDep
from shared.schemas import AcceptLanguage

router = APIRouter(prefix="/v1/coverage/districts", tags=["coverage"])

BOUNDARY_RULE = (
    "A site (or a cell centre) belongs to the district whose polygon covers it, boundary included; on a shared "
    "boundary (or where polygons overlap) the district with the smallest `code` (compared as text) takes it."
)
JSON_MEDIA_TYPE = "application/json"
DEFAULT_CELL_M = 500


class NotAcceptable(AppError):
    status = 406
    slug = "not-acceptable"


async def _operator(principal: CurrentPerson) -> Principal:
    if not principal.is_operator:
        raise Forbidden("Only platform operators load districts")
    return principal


Operator = Annotated[Principal, Depends(_operator)]


@router.post(
    "",
    summary="Load districts as GeoJSON polygons (operators)",
    description="Body: a GeoJSON FeatureCollection (RFC 7946, [longitude, latitude], WGS 84) of at most 200 "
    "Polygon or MultiPolygon features, each with `properties: {code, name (a string or {zh-CN, en}), urban, "
    "population?}`; at most 20,000 vertices per district, and the request body within the size limit. "
    "Geometries must be valid (closed rings, no self-intersection); foreign members are ignored. Districts "
    "are upserted by `code` (others stay as they are); nothing is written unless every feature is valid. "
    "Then every site's district is decided again and each site whose district (or its name or urban flag) "
    "changed is sent to booking as a `site.changed` event. " + BOUNDARY_RULE + " Area: Lambert cylindrical "
    "equal-area projection about the district's middle latitude on the authalic sphere.",
    operation_id="loadDistricts",
    responses=problem_responses(401, 403, 413, 422),
)
async def load_districts(
    body: DistrictCollection,
    operator: Operator,
    db: SessionDep,
    outbox: OutboxDep,
    accept_language: AcceptLanguage = None,
) -> DistrictsLoaded:
    return await service.load_districts(db, outbox, body, accept_language, actor=audit.Actor.of(operator))


def _preferred(accept: str | None) -> str:
    """The media type `Accept` prefers among JSON, GeoJSON and SVG (q-values honoured; JSON by default)."""
    if not accept:
        return JSON_MEDIA_TYPE
    offered = (JSON_MEDIA_TYPE, GEOJSON_MEDIA_TYPE, SVG_MEDIA_TYPE)
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(accept[:1024].split(",")):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        if media in offered:
            choice = media
        elif media in ("*/*", "application/*"):
            choice = JSON_MEDIA_TYPE
        elif media == "image/*":
            choice = SVG_MEDIA_TYPE
        else:
            continue
        # Highest quality wins; on equal quality, the more specific, then the earlier.
        specificity = 0 if "*" in media else 1
        candidate = (quality + specificity * 1e-3, -position, choice)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        raise NotAcceptable(f"Available as {', '.join(offered)}")
    return best[2]


GEOJSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 7946 FeatureCollection: features with `properties.feature` = `district` (Polygon or "
    "MultiPolygon, with the district's figures), `uncovered_cell` (a small square Polygon with "
    "`nearest_site_id`, `nearest_site_name`, `distance_m`, `walk_minutes`) or `site` (Point with `kind`). "
    "Foreign members: walk_minutes, cell_m, share_covered, share_basis, cells_total, cells_covered.",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "walk_minutes": {"type": "integer"},
        "cell_m": {"type": ["integer", "null"]},
        "share_covered": {"type": ["number", "null"]},
        "share_basis": {"type": "string", "enum": ["population", "cells"]},
        "cells_total": {"type": "integer"},
        "cells_covered": {"type": "integer"},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "geometry", "properties"],
                "properties": {
                    "type": {"type": "string", "enum": ["Feature"]},
                    "id": {"type": "string"},
                    "geometry": {
                        "type": "object",
                        "description": "Polygon, MultiPolygon or Point ([longitude, latitude])",
                        "required": ["type", "coordinates"],
                        "properties": {
                            "type": {"type": "string", "enum": ["Polygon", "MultiPolygon", "Point"]},
                            "coordinates": {"type": "array", "items": {}},
                        },
                    },
                    "properties": {"type": "object", "additionalProperties": True},
                },
            },
        },
    },
}


GEOJSON_EXAMPLE: dict[str, Any] = {
    "type": "FeatureCollection",
    "walk_minutes": 15,
    "cell_m": 500,
    "share_covered": 0.0132,
    "share_basis": "population",
    "features": [
        {
            "type": "Feature",
            "id": "01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e0f",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[120.05, 30.22], [120.16, 30.21], [120.16, 30.27], [120.05, 30.33], [120.05, 30.22]]],
            },
            "properties": {"feature": "district", "code": "330106", "name": "西湖区", "share_covered": 0.021},
        },
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [120.0702, 30.1471],
                        [120.0754, 30.1471],
                        [120.0754, 30.1516],
                        [120.0702, 30.1516],
                        [120.0702, 30.1471],
                    ]
                ],
            },
            "properties": {
                "feature": "uncovered_cell",
                "nearest_site_name": "中国美术学院象山校区",
                "distance_m": 1530.2,
                "walk_minutes": 21,
            },
        },
        {
            "type": "Feature",
            "id": "01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e10",
            "geometry": {"type": "Point", "coordinates": [120.1459, 30.2533]},
            "properties": {"feature": "site", "name": "浙江省博物馆孤山馆区", "kind": "museum"},
        },
    ],
}


@router.get(
    "",
    summary="Coverage of the 15-minute circle per district, as JSON, GeoJSON or an SVG map",
    description="The districts are cut into one lattice of cells about `cell_m` on a side (cell (i, j) centred "
    "at ((i + 0.5) * lat_step, (j + 0.5) * lon_step), see `grid`); a cell belongs to a district when the "
    "district's polygon covers its centre. " + BOUNDARY_RULE + " A cell is covered when a counted site is "
    "within `walk_minutes` of its centre (ceil(distance_m / 75) <= walk_minutes, straight line on the "
    "earthdistance sphere): sites of `kind` when given, else every site but online ones. Each uncovered "
    "cell comes with its nearest counted site. The city's `share_covered` is population-weighted when every "
    "listed district has a population, else by cells. `code` narrows the answer to some districts (the "
    "lattice stays the same).\n\n"
    "Content negotiation on `Accept`: `application/json` (default); `application/geo+json`: an RFC 7946 "
    "FeatureCollection of district polygons, uncovered cells (small squares) and sites (Points with their "
    "kind), for MapLibre or Leaflet as is; `image/svg+xml`: a map drawn by the service (district outlines "
    "with names in zh-CN and en, covered and uncovered cells, sites by kind, legend and title; "
    "self-contained, opens offline). `Accept-Language` picks `name_display`, GeoJSON `name` properties and "
    "the first label line of the map.",
    operation_id="getDistrictCoverage",
    response_model=DistrictsCoverageOut,
    responses={
        200: {
            "content": {
                GEOJSON_MEDIA_TYPE: {"schema": GEOJSON_SCHEMA, "example": GEOJSON_EXAMPLE},
                SVG_MEDIA_TYPE: {
                    "schema": {"type": "string", "description": "An SVG 1.1 document"},
                    "example": '<svg xmlns="http://www.w3.org/2000/svg" width="1210" height="752">'
                    '<text class="title">15分钟学习圈 · 15-minute learning circle by district</text>'
                    '<path class="district" data-code="330106" d="M600,200L640,200L640,260Z"/>'
                    '<text class="district-name" data-code="330106">西湖区 Xihu 2%</text></svg>',
                },
            },
        },
        **problem_responses(406, 422),
    },
)
async def get_district_coverage(
    request: Request,
    db: SessionDep,
    walk_minutes: WalkMinutes = DEFAULT_WALK_MINUTES,
    cell_m: Annotated[
        int, Query(ge=100, le=100_000, description="Cell size in metres (at most 600,000 cells in all)")
    ] = DEFAULT_CELL_M,
    kind: Annotated[SiteKind | None, Query()] = None,
    code: Annotated[
        list[DistrictCode] | None, Query(max_length=200, description="Only these districts (repeatable)")
    ] = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    # `Accept` is read here rather than declared as a parameter: it is content negotiation (the responses'
    # media types above), not an input of the figures.
    media_type = _preferred(request.headers.get("accept"))
    report = await build_report(
        db, walk_minutes=walk_minutes, cell_m=cell_m, kind=kind.value if kind else None, codes=code
    )
    headers = {"Vary": "Accept, Accept-Language"}
    if media_type == SVG_MEDIA_TYPE:
        return Response(report_svg(report, accept_language), media_type=SVG_MEDIA_TYPE, headers=headers)
    if media_type == GEOJSON_MEDIA_TYPE:
        body = pydantic_core.to_json(report_geojson(report, accept_language))
        return Response(body, media_type=GEOJSON_MEDIA_TYPE, headers=headers)
    return Response(
        pydantic_core.to_json(report_json(report, accept_language)), media_type=JSON_MEDIA_TYPE, headers=headers
    )
