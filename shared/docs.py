"""API docs pages with bundled Swagger UI / ReDoc assets (from the fastapi-offline package, no CDN)."""

import json
from pathlib import Path

import fastapi_offline

from shared.topology import SERVICES, docs_paths

OFFLINE_ASSETS = Path(fastapi_offline.__file__).parent / "static"


def combined_docs_html() -> str:
    """The gateway's `/docs`: every service's operations on one page (one Swagger UI per spec).

    Assets and specs are the services' own (`/docs/<service>/static`, `/openapi/<service>.json`), so the
    page works behind any gateway that follows `shared.topology`.
    """
    assets = f"{docs_paths(SERVICES[0])[0]}/static"
    sections = "\n".join(
        f'<section><h2><a href="{docs_paths(s)[0]}">{s}</a></h2><div id="docs-{s}"></div></section>' for s in SERVICES
    )
    specs = json.dumps({service: docs_paths(service)[1] for service in SERVICES})
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Learning City API</title>
<link rel="icon" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<style>body{{font-family:sans-serif;margin:0 1rem}} section h2{{margin:2rem 0 0}}</style>
</head>
<body>
<h1>Learning City API</h1>
<p>Sign in with "Authorize" (OAuth2 password: your email and password), then "Try it out".</p>
{sections}
<script src="{assets}/swagger-ui-bundle.js"></script>
<script>
for (const [service, url] of Object.entries({specs})) {{
  // No "Schemas" section here: several Swagger UIs on one page mix up their models (each service's own
  // page, linked above, lists them).
  SwaggerUIBundle({{url, dom_id: "#docs-" + service, persistAuthorization: true, displayRequestDuration: true,
    deepLinking: false, defaultModelsExpandDepth: -1, presets: [SwaggerUIBundle.presets.apis]}});
}}
</script>
</body>
</html>
"""
