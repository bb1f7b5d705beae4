"""Districts as shapes: administrative areas loaded by operators as GeoJSON polygons, the district of every
site (point in polygon), and coverage of the 15-minute circle per district (JSON, GeoJSON, an SVG map).

Boundary rule: a point (a site, or a coverage cell's centre) belongs to every district whose polygon
*covers* it, boundary included; when several do (a point exactly on a shared edge, or overlapping polygons),
the district with the smallest `code` (compared as text) takes it. So every point is in at most one
district, and a site on the line between 330102 and 330105 belongs to 330102.
"""
