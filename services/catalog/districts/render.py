"""The coverage report as GeoJSON (RFC 7946) and as an SVG map drawn here (no tiles, fonts or scripts from
anywhere: it opens offline in any browser)."""

import math
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from services.catalog.districts.geometry import FloatArray, IntArray
from services.catalog.districts.report import Report
from services.catalog.geo import WALK_METRES_PER_MINUTE
from shared.schemas import pick_language

GEOJSON_MEDIA_TYPE = "application/geo+json"
SVG_MEDIA_TYPE = "image/svg+xml"


def _site_in_view(report: Report) -> tuple[float, float, float, float] | None:
    if not report.shapes:
        return None
    bounds = np.array([shape.geometry.bounds for shape in report.shapes])
    return float(bounds[:, 0].min()), float(bounds[:, 1].min()), float(bounds[:, 2].max()), float(bounds[:, 3].max())


def _sites_in(report: Report, view: tuple[float, float, float, float] | None) -> list[int]:
    if view is None:
        return []
    min_lon, min_lat, max_lon, max_lat = view
    return [
        index
        for index, site in enumerate(report.sites)
        if min_lon <= site.lon <= max_lon and min_lat <= site.lat <= max_lat
    ]


def report_geojson(report: Report, accept_language: str | None) -> dict[str, Any]:
    """A FeatureCollection MapLibre or Leaflet draws as is: each district's polygon (with its figures), each
    uncovered cell as a small square Polygon (with its nearest site), and every counted site in view as a
    Point (with its kind). Properties are flat (map styles can use them directly); `feature` tells the three
    apart. [longitude, latitude], exterior rings counterclockwise."""
    share, basis, cells_total, cells_covered = report.city_share()
    features: list[dict[str, Any]] = []
    for district, (total, covered) in zip(report.districts, report.district_totals(), strict=True):
        features.append(
            {
                "type": "Feature",
                "id": str(district.id),
                "geometry": district.boundary,
                "properties": {
                    "feature": "district",
                    "district_id": str(district.id),
                    "code": district.code,
                    "name": pick_language(district.name, accept_language) or district.code,
                    "name_zh": district.name.get("zh-CN"),
                    "name_en": district.name.get("en"),
                    "urban": district.urban,
                    "population": district.population,
                    "area_m2": round(district.area_m2, 1),
                    "cells_total": total,
                    "cells_covered": covered,
                    "share_covered": covered / total if total else None,
                },
            }
        )
    if report.cells is not None and report.lattice is not None and len(report.cells.lat):
        cells, lattice = report.cells, report.lattice
        uncovered = np.flatnonzero(~report.covered)
        rows, cols = cells.rows[uncovered], cells.cols[uncovered]
        west = np.round(cols * lattice.lon_step, 7).tolist()
        east = np.round((cols + 1) * lattice.lon_step, 7).tolist()
        south = np.round(rows * lattice.lat_step, 7).tolist()
        north = np.round((rows + 1) * lattice.lat_step, 7).tolist()
        lats = np.round(cells.lat[uncovered], 7).tolist()
        lons = np.round(cells.lon[uncovered], 7).tolist()
        metres = report.nearest_m[uncovered]
        has_site = np.isfinite(metres)
        distances = np.round(np.where(has_site, metres, 0.0), 1).tolist()
        minutes = np.ceil(np.where(has_site, metres, 0.0) / WALK_METRES_PER_MINUTE).astype(np.int64).tolist()
        nearest = report.nearest[uncovered].tolist()
        owners = cells.district[uncovered].tolist()
        district_ids = [str(district.id) for district in report.districts]
        site_ids = [str(site.id) for site in report.sites]
        site_names = [pick_language(site.name, accept_language) for site in report.sites]
        for w, e, s, n, lat, lon, distance, walk, site_index, owner in zip(
            west, east, south, north, lats, lons, distances, minutes, nearest, owners, strict=True
        ):
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
                    "properties": {
                        "feature": "uncovered_cell",
                        "district_id": district_ids[owner],
                        "lat": lat,
                        "lon": lon,
                        "nearest_site_id": site_ids[site_index] if site_index >= 0 else None,
                        "nearest_site_name": site_names[site_index] if site_index >= 0 else None,
                        "distance_m": distance if site_index >= 0 else None,
                        "walk_minutes": walk if site_index >= 0 else None,
                    },
                }
            )
    for index in _sites_in(report, _site_in_view(report)):
        site = report.sites[index]
        features.append(
            {
                "type": "Feature",
                "id": str(site.id),
                "geometry": {"type": "Point", "coordinates": [site.lon, site.lat]},
                "properties": {
                    "feature": "site",
                    "site_id": str(site.id),
                    "name": pick_language(site.name, accept_language),
                    "kind": site.kind,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        # Foreign members (RFC 7946 6.1): the city-wide figures and the question asked.
        "walk_minutes": report.walk_minutes,
        "cell_m": report.lattice.cell_m if report.lattice else None,
        "share_covered": share,
        "share_basis": basis,
        "cells_total": cells_total,
        "cells_covered": cells_covered,
        "features": features,
    }


# Site kinds: a colour and a symbol each (paths around the origin, about 10 px across).
SITE_STYLES: dict[str, tuple[str, str, str, str]] = {
    # kind: (colour, path, zh-CN, en)
    "library": ("#1f5fbf", "M0,-5A5,5 0 1,1 0,5A5,5 0 1,1 0,-5Z", "图书馆", "Library"),
    "museum": ("#7b3fa0", "M-4.5,-4.5H4.5V4.5H-4.5Z", "博物馆", "Museum"),
    "theatre": ("#c62828", "M0,-6L5.5,4.5H-5.5Z", "剧院", "Theatre"),
    "cinema": ("#ef6c00", "M0,-6L6,0L0,6L-6,0Z", "电影院", "Cinema"),
    "cultural_hall": (
        "#8d5524",
        "M0,-6L1.8,-1.9L6,-1.9L2.6,0.8L3.8,5.2L0,2.6L-3.8,5.2L-2.6,0.8L-6,-1.9L-1.8,-1.9Z",
        "文化礼堂",
        "Cultural hall",
    ),
    "community_center": ("#ad1457", "M-3,-5.2H3L6,0L3,5.2H-3L-6,0Z", "社区中心", "Community centre"),
    "school": ("#5d6b00", "M-1.8,-6H1.8V-1.8H6V1.8H1.8V6H-1.8V1.8H-6V-1.8H-1.8Z", "学校", "School"),
    "park": ("#2e7d32", "M0,6L-5.5,-4.5H5.5Z", "公园", "Park"),
    "online": (
        "#546e7a",
        "M0,-5A5,5 0 1,1 0,5A5,5 0 1,1 0,-5ZM0,-2.5A2.5,2.5 0 1,0 0,2.5A2.5,2.5 0 1,0 0,-2.5Z",
        "线上",
        "Online",
    ),
}
COVERED_FILL = "#8fd19e"
UNCOVERED_FILL = "#f4a6a6"
MAP_WIDTH = 960.0
MAP_MAX_HEIGHT = 900.0
MARGIN = 20.0
TITLE_HEIGHT = 70.0
LEGEND_WIDTH = 230.0
FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif"


class _Projection:
    """Equirectangular about the middle latitude (north up), fitted into the map area."""

    def __init__(self, view: tuple[float, float, float, float]) -> None:
        min_lon, min_lat, max_lon, max_lat = view
        pad_lon, pad_lat = (max_lon - min_lon) * 0.02 or 0.01, (max_lat - min_lat) * 0.02 or 0.01
        self.min_lon, self.max_lat = min_lon - pad_lon, max_lat + pad_lat
        self.cos = math.cos(math.radians((min_lat + max_lat) / 2))
        width_deg = (max_lon - min_lon + 2 * pad_lon) * self.cos
        height_deg = max_lat - min_lat + 2 * pad_lat
        self.scale = min(MAP_WIDTH / width_deg, MAP_MAX_HEIGHT / height_deg)
        self.width = width_deg * self.scale
        self.height = height_deg * self.scale

    def x(self, lon: Any) -> Any:
        return MARGIN + (lon - self.min_lon) * self.cos * self.scale

    def y(self, lat: Any) -> Any:
        return TITLE_HEIGHT + (self.max_lat - lat) * self.scale


def _runs(rows: IntArray, cols: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Cells merged into horizontal runs: (row, first col, last col) of each run."""
    if len(rows) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    starts = np.ones(len(rows), dtype=bool)
    starts[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1] + 1)
    start_index = np.flatnonzero(starts)
    end_index = np.append(start_index[1:] - 1, len(rows) - 1)
    return rows[start_index], cols[start_index], cols[end_index]


def _cells_path(report: Report, projection: _Projection, mask: Any) -> str:
    assert report.cells is not None and report.lattice is not None
    lattice = report.lattice
    row, first, last = _runs(report.cells.rows[mask], report.cells.cols[mask])
    x0: FloatArray = projection.x(first * lattice.lon_step)
    x1: FloatArray = projection.x((last + 1) * lattice.lon_step)
    y0: FloatArray = projection.y((row + 1) * lattice.lat_step)
    y1: FloatArray = projection.y(row * lattice.lat_step)
    return "".join(
        f"M{a:.1f},{b:.1f}H{c:.1f}V{d:.1f}H{a:.1f}Z"
        for a, b, c, d in zip(x0.tolist(), y0.tolist(), x1.tolist(), y1.tolist(), strict=True)
    )


def _ring_path(ring: list[list[float]], projection: _Projection) -> str:
    points = [f"{projection.x(lon):.1f},{projection.y(lat):.1f}" for lon, lat in ring[:-1]]
    return "M" + "L".join(points) + "Z"


def _boundary_path(boundary: dict[str, Any], projection: _Projection) -> str:
    polygons = [boundary["coordinates"]] if boundary["type"] == "Polygon" else boundary["coordinates"]
    return "".join(_ring_path(ring, projection) for polygon in polygons for ring in polygon)


def _other_language(name: dict[str, str], shown: str) -> str | None:
    for tag in ("zh-CN", "en"):
        if tag in name and name[tag] != shown:
            return name[tag]
    return None


def report_svg(report: Report, accept_language: str | None) -> str:
    share, basis, cells_total, cells_covered = report.city_share()
    view = _site_in_view(report)
    projection = _Projection(view or (0.0, 0.0, 1.0, 1.0))
    width = MARGIN * 2 + projection.width + LEGEND_WIDTH
    height = max(TITLE_HEIGHT + projection.height + MARGIN, TITLE_HEIGHT + 420)
    share_text = "—" if share is None else f"{share * 100:.1f}%"
    basis_zh, basis_en = ("按人口加权", "population-weighted") if basis == "population" else ("按网格", "by cells")
    cell_m = report.lattice.cell_m if report.lattice else 0
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}" role="img" '
        'aria-labelledby="map-title">',
        f'<title id="map-title">{report.walk_minutes}分钟学习圈覆盖 · {report.walk_minutes}-minute learning circle'
        "</title>",
        f'<rect class="background" x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#fbfaf7"/>',
        f'<text class="title" x="{MARGIN}" y="30" font-size="20" font-weight="bold" fill="#222">'
        f"{report.walk_minutes}分钟学习圈 · {report.walk_minutes}-minute learning circle by district</text>",
        f'<text class="subtitle" x="{MARGIN}" y="54" font-size="13" fill="#444">'
        f"全市覆盖 City covered: {share_text} ({basis_zh}, {basis_en}) · {cells_covered}/{cells_total} cells of "
        f"{cell_m} m · "
        f"{escape(report.kind or '所有实体场馆 all in-person sites')}</text>",
    ]
    if report.cells is not None and len(report.cells.lat):
        parts.append(
            f'<path class="cells-uncovered" fill="{UNCOVERED_FILL}" stroke="none" '
            f'd="{_cells_path(report, projection, ~report.covered)}"/>'
        )
        parts.append(
            f'<path class="cells-covered" fill="{COVERED_FILL}" stroke="none" '
            f'd="{_cells_path(report, projection, report.covered)}"/>'
        )
    labels = []
    for district, (total, covered) in zip(report.districts, report.district_totals(), strict=True):
        shown = pick_language(district.name, accept_language) or district.code
        other = _other_language(district.name, shown)
        share_d = "—" if not total else f"{covered / total * 100:.0f}%"
        tooltip = f"{shown}{' ' + other if other else ''} ({district.code}): {share_d}"
        parts.append(
            f'<path class="district" data-code={quoteattr(district.code)} fill="none" stroke="#333" '
            f'stroke-width="1.2" stroke-linejoin="round" d="{_boundary_path(district.boundary, projection)}">'
            f"<title>{escape(tooltip)}</title></path>"
        )
        point = next(s for s in report.shapes if s.id == district.id).geometry.representative_point()
        x, y = projection.x(point.x), projection.y(point.y)
        size = 13 if district.area_m2 > 1.5e9 else 10
        second = (
            f'<tspan class="name-second" x="{x:.1f}" dy="{size + 1}" font-size="{size - 2}">{escape(other)}</tspan>'
            if other
            else ""
        )
        labels.append(
            f'<text class="district-name" data-code={quoteattr(district.code)} x="{x:.1f}" y="{y:.1f}" '
            f'font-size="{size}" text-anchor="middle" fill="#111" stroke="#fbfaf7" stroke-width="3" '
            f'paint-order="stroke"><tspan class="name-first" font-weight="bold">{escape(shown)}</tspan>'
            f'{second}<tspan class="share" x="{x:.1f}" dy="{size}" font-size="{size - 3}">{share_d}</tspan>'
            "</text>"
        )
    shown_kinds: list[str] = []
    for index in _sites_in(report, view):
        site = report.sites[index]
        colour, path, _, _ = SITE_STYLES.get(site.kind, SITE_STYLES["library"])
        if site.kind not in shown_kinds:
            shown_kinds.append(site.kind)
        name = pick_language(site.name, accept_language) or ""
        parts.append(
            f'<g class="site" data-kind="{site.kind}" transform="translate({projection.x(site.lon):.1f},'
            f'{projection.y(site.lat):.1f})"><title>{escape(name)} ({site.kind})</title>'
            f'<path d="{path}" fill="{colour}" stroke="#fff" stroke-width="1"/></g>'
        )
    parts.extend(labels)
    parts.append(_legend(MARGIN * 2 + projection.width, shown_kinds))
    parts.append("</svg>")
    return "\n".join(parts)


def _legend(left: float, kinds: list[str]) -> str:
    rows = [
        f'<g class="legend" transform="translate({left:.1f},{TITLE_HEIGHT:.0f})">',
        '<rect x="0" y="0" width="210" height="{height}" fill="#fff" stroke="#999" rx="4"/>',
        '<text x="12" y="22" font-size="14" font-weight="bold">图例 Legend</text>',
        f'<rect x="12" y="36" width="16" height="12" fill="{COVERED_FILL}"/>'
        '<text x="36" y="46" font-size="12">步行可达 Covered</text>',
        f'<rect x="12" y="58" width="16" height="12" fill="{UNCOVERED_FILL}"/>'
        '<text x="36" y="68" font-size="12">未覆盖 Not covered</text>',
        '<rect x="12" y="80" width="16" height="12" fill="none" stroke="#333" stroke-width="1.2"/>'
        '<text x="36" y="90" font-size="12">区县界 District boundary</text>',
    ]
    y = 114
    for kind in sorted(kinds or [k for k in SITE_STYLES if k != "online"], key=list(SITE_STYLES).index):
        colour, path, zh, en = SITE_STYLES[kind]
        rows.append(
            f'<g class="legend-site" data-kind="{kind}"><path transform="translate(20,{y - 4})" d="{path}" '
            f'fill="{colour}" stroke="#fff"/><text x="36" y="{y}" font-size="12">{zh} {en}</text></g>'
        )
        y += 22
    rows.append("</g>")
    rows[1] = rows[1].replace("{height}", str(y))
    return "".join(rows)
