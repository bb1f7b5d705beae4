"""Write every service's OpenAPI document to `<out>/<service>.json` (default `clients/openapi/`).

The specs are built from the application objects, so no database or server is needed:
`uv run python scripts/export_openapi.py [OUT_DIR]`.
"""

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from shared.topology import SERVICES

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "clients" / "openapi"


def service_spec(service: str) -> dict[str, Any]:
    """The spec a service serves at `/openapi.json` (the app is built, never started)."""
    application = importlib.import_module(f"services.{service}.app").create_app()
    spec: dict[str, Any] = application.openapi()
    return spec


def export_specs(out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for service in SERVICES:
        path = out_dir / f"{service}.json"
        # Sorted keys and a trailing newline: a diff of two exports shows only real contract changes.
        path.write_text(json.dumps(service_spec(service), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        written[service] = path
    return written


def main(argv: list[str]) -> None:
    out_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    for service, path in export_specs(out_dir).items():
        print(f"{service}: {path}")


if __name__ == "__main__":
    main(sys.argv)
