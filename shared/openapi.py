"""OpenAPI post-processing: every error response is documented as RFC 9457 problem+json, and every JSON
request and response body carries an example (the schemas' own examples, zh-CN text included) so the docs
and generated clients show realistic payloads."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from shared.errors import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, AppError, FieldProblem, Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_REPLACED_SCHEMAS = ("HTTPValidationError", "ValidationError")
_EXAMPLE_MEDIA_TYPES = ("application/json", "application/x-www-form-urlencoded")
# Stand-ins for formats no field example covers; realistic for the demo city (Hangzhou, UTC+8).
_FORMAT_EXAMPLES: dict[str, Any] = {
    "uuid": "01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e0f",
    "date-time": "2027-03-02T19:00:00+08:00",
    "date": "2027-03-02",
    "email": "xiaoming@example.org",
    "uri": "https://library.example.org/",
}
_MAX_EXAMPLE_DEPTH = 8  # recursive schemas stop here


def _problem_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (Problem, FieldProblem):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


# A typical `detail` per status; the real one names the actual reason.
_PROBLEM_DETAILS = {
    400: "The Idempotency-Key header is required",
    401: "Missing or invalid bearer token",
    403: "This needs the admin role in the organization",
    404: "Session not found",
    409: "Booking for this session is closed",
    410: "This invitation has expired",
    413: "The request body is larger than 1048576 bytes",
    422: "The request is invalid",
    429: "Too many requests; retry after 20 seconds",
    503: "The catalog service is unavailable",
}


_QUERY_PROBLEM = ("/query/limit", "Input should be less than or equal to 100")
_SLUGS = {error.status: error.slug for error in AppError.__subclasses__()}


def _problem_example(status: int, *, has_body: bool) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase
    example: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + _SLUGS.get(status, phrase.lower().replace(" ", "-")),
        "title": phrase,
        "status": status,
        "detail": _PROBLEM_DETAILS.get(status, phrase),
    }
    if status == 422:
        where, detail = ("/body/seats", "Input should be less than or equal to 10") if has_body else _QUERY_PROBLEM
        example["errors"] = [{"pointer": where, "detail": detail}]
    return example


def schema_example(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """An example value for a JSON schema: its own `example(s)` first, otherwise built from its parts."""
    if "$ref" in schema:
        return schema_example(components[schema["$ref"].rsplit("/", 1)[-1]], components, depth)
    if schema.get("examples"):
        return schema["examples"][0]
    for key in ("example", "const", "default"):
        if schema.get(key) is not None:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    if depth > _MAX_EXAMPLE_DEPTH:
        return None
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            options = [option for option in schema[combinator] if option.get("type") != "null"]
            return schema_example(options[0], components, depth + 1) if options else None
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = schema_example(part, components, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties: dict[str, Any] = schema.get("properties", {})
        if properties:
            return {name: schema_example(part, components, depth + 1) for name, part in properties.items()}
        extra = schema.get("additionalProperties")
        return {"key": schema_example(extra, components, depth + 1)} if isinstance(extra, dict) else {}
    if kind == "array":
        return [schema_example(schema.get("items", {}), components, depth + 1)]
    if kind == "string":
        return _FORMAT_EXAMPLES.get(schema.get("format", ""), "string")
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    return None


def _add_examples(operation: dict[str, Any], components: dict[str, Any]) -> None:
    bodies = [operation.get("requestBody", {})] + [
        response for status, response in operation["responses"].items() if status.startswith("2")
    ]
    for body in bodies:
        for media_type, content in body.get("content", {}).items():
            has_example = "example" in content or "examples" in content
            if media_type in _EXAMPLE_MEDIA_TYPES and "schema" in content and not has_example:
                content["example"] = schema_example(content["schema"], components)


def install_problem_openapi(app: FastAPI) -> None:
    """Replace FastAPI's default error bodies (HTTPValidationError, plain JSON) with `Problem`, and give
    every body an example."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
            # Relative: requests go to whatever origin serves the docs (gateway, own port, intranet host).
            servers=[{"url": "/", "description": "The origin serving these docs"}],
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in _REPLACED_SCHEMAS:
            components.pop(name, None)
        components.update(_problem_schemas())
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                # What the platform itself may answer on any route, documented everywhere it can happen.
                platform = ["422", "503"]
                if "requestBody" in operation:
                    # 413 over the size cap; 400 when the body is not parseable at all (not JSON, bad UTF-8).
                    platform += ["400", "413"]
                if operation.get("security"):
                    platform.append("401")
                else:
                    operation["security"] = []  # explicitly public (linters flag a missing requirement)
                for status in platform:
                    responses.setdefault(status, {"description": HTTPStatus(int(status)).phrase})
                for status, response in responses.items():
                    if status.isdigit() and int(status) >= 400:
                        problem = {
                            "schema": _PROBLEM_REF,
                            "example": _problem_example(int(status), has_body="requestBody" in operation),
                        }
                        response["content"] = {PROBLEM_CONTENT_TYPE: problem}
                _add_examples(operation, components)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
