"""OpenAPI post-processing: every error response is documented as RFC 9457 problem+json."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from shared.errors import PROBLEM_CONTENT_TYPE, FieldProblem, Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_REPLACED_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _problem_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (Problem, FieldProblem):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def install_problem_openapi(app: FastAPI) -> None:
    """Replace FastAPI's default error bodies (HTTPValidationError, plain JSON) with `Problem`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                # What the platform itself may answer on any route, documented everywhere it can happen.
                platform = ["422", "503"]
                if "requestBody" in operation:
                    platform.append("413")
                if operation.get("security"):
                    platform.append("401")
                for status in platform:
                    responses.setdefault(status, {"description": HTTPStatus(int(status)).phrase})
                for status, response in responses.items():
                    if status.isdigit() and int(status) >= 400:
                        response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": _PROBLEM_REF}}
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in _REPLACED_SCHEMAS:
            components.pop(name, None)
        components.update(_problem_schemas())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
