"""What web and mobile teams rely on in the specs: stable operation ids, tags, summaries, examples with
zh-CN text, and every error documented as RFC 9457 problem+json."""

import json
import re
from collections.abc import Iterator
from typing import Any

from shared.errors import PROBLEM_CONTENT_TYPE

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")
CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDERS = ("string", "key")  # what a schema without examples turns into

# Generated clients name their functions after these: renaming one breaks every frontend that calls it.
STABLE_OPERATION_IDS = {
    "orgs": {
        "register", "issueToken", "refreshToken", "getMe", "getJwks", "createOrganization", "listOrganizations",
        "getOrganization", "updateOrganization", "addMember", "listMembers", "removeMember", "getPerson",
        "orgsHealthz", "orgsReadyz", "exportMe", "eraseMe", "createInvitation", "listInvitations",
        "revokeInvitation", "acceptInvitation", "createJoinRequest", "listJoinRequests", "acceptJoinRequest",
        "refuseJoinRequest", "withdrawJoinRequest", "listOrgsAuditEntries",
    },
    "catalog": {
        "createSite", "listSites", "getSite", "createActivity", "getActivity", "updateActivity", "createSessions",
        "listActivitySessions", "getSession", "updateSession", "cancelSession", "createSeries", "getSeries",
        "searchSessions", "getCoverage",
        "loadDistricts", "getDistrictCoverage", "catalogHealthz", "catalogReadyz", "listSessionAlternatives",
        "listCatalogAuditEntries",
    },
    "booking": {
        "createBooking", "listBookings", "getBooking", "cancelBooking", "getAvailability", "createCheckin",
        "getMyLearningRecord", "listOrganizationLearningRecords", "bookingHealthz", "bookingReadyz",
        "getBookingCheckinQr", "getBookingJoinLink", "getOrganizationsActivity",
        "assignBookingSeat", "reassignBookingSeat", "unassignBookingSeat", "listBookingSeatAssignments",
        "listBookingAuditEntries", "getParticipation",
    },
    "notify": {
        "listNotifications", "markNotificationRead", "getNotificationPreferences", "putNotificationPreferences",
        "createCalendarFeed", "getCalendarFeed", "notifyHealthz", "notifyReadyz", "listNotifyAuditEntries",
    },
}  # fmt: skip


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", operation


def bodies(operation: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, media type, media type object) of the request body and every success response."""
    for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
        yield "request", media_type, content
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            for media_type, content in response.get("content", {}).items():
                yield status, media_type, content


def placeholders(value: Any, pointer: str = "") -> list[str]:
    """Pointers to values that came from a schema without examples ("string", {"key": ...})."""
    if isinstance(value, str):
        return [pointer] if value in PLACEHOLDERS else []
    if isinstance(value, dict):
        found = [pointer] if set(value) == {"key"} else []
        return found + [p for key, item in value.items() for p in placeholders(item, f"{pointer}/{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in placeholders(item, f"{pointer}/{index}")]
    return []


def test_operation_ids_are_camel_case_unique_and_stable(specs: dict[str, dict[str, Any]]) -> None:
    seen: dict[str, str] = {}
    for service, spec in specs.items():
        ids = set()
        for where, operation in operations(spec):
            operation_id = operation.get("operationId", "")
            assert CAMEL_CASE.match(operation_id), f"{service} {where}: operationId {operation_id!r}"
            assert operation_id not in seen, f"{operation_id} in both {seen.get(operation_id)} and {service}"
            seen[operation_id] = service
            ids.add(operation_id)
        assert ids == STABLE_OPERATION_IDS[service], f"{service}: operationIds changed"


def test_every_operation_has_a_declared_tag_and_a_summary(specs: dict[str, dict[str, Any]]) -> None:
    for service, spec in specs.items():
        declared = {tag["name"] for tag in spec.get("tags", [])}
        assert all(tag.get("description") for tag in spec["tags"]), f"{service}: a tag without description"
        for where, operation in operations(spec):
            assert operation.get("tags"), f"{service} {where}: no tag"
            assert set(operation["tags"]) <= declared, f"{service} {where}: undeclared tag {operation['tags']}"
            summary = operation.get("summary", "")
            assert 3 <= len(summary) <= 100 and not summary.endswith("."), f"{service} {where}: summary {summary!r}"


def test_every_error_response_is_a_problem_with_an_example(specs: dict[str, dict[str, Any]]) -> None:
    for service, spec in specs.items():
        assert "Problem" in spec["components"]["schemas"]
        assert "HTTPValidationError" not in spec["components"]["schemas"]
        for where, operation in operations(spec):
            statuses = set(operation["responses"])
            # The platform can answer these on any route (validation, overload); protected routes add 401.
            assert {"422", "503"} <= statuses, f"{service} {where}: {sorted(statuses)}"
            if operation.get("security"):
                assert "401" in statuses, f"{service} {where}: protected but no 401"
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                assert list(response["content"]) == [PROBLEM_CONTENT_TYPE], f"{service} {where} {status}"
                content = response["content"][PROBLEM_CONTENT_TYPE]
                assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
                assert content["example"]["status"] == int(status)


def test_every_body_has_a_realistic_example(specs: dict[str, dict[str, Any]]) -> None:
    for service, spec in specs.items():
        for where, operation in operations(spec):
            for status, media_type, content in bodies(operation):
                if "schema" not in content:
                    continue
                assert "example" in content or "examples" in content, f"{service} {where} {status}: no example"
                example = content.get("example")
                assert not placeholders(example), f"{service} {where} {status} {media_type}: {placeholders(example)}"


def test_examples_include_zh_cn_text(specs: dict[str, dict[str, Any]]) -> None:
    request_text = ""
    for service, spec in specs.items():
        texts = [
            json.dumps(content.get("example"), ensure_ascii=False)
            for _, operation in operations(spec)
            for status, _, content in bodies(operation)
        ]
        assert CJK.search("".join(texts)), f"{service}: no example has Chinese text"
        request_text += "".join(
            text for text, (s, _, _) in zip(texts, _all_bodies(spec), strict=True) if s == "request"
        )
    assert '"zh-CN"' in request_text, "no request example shows a multilingual {'zh-CN': ...} field"


def _all_bodies(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for _, operation in operations(spec):
        yield from bodies(operation)


def test_public_operations_say_so_and_protected_ones_name_the_scheme(specs: dict[str, dict[str, Any]]) -> None:
    for service, spec in specs.items():
        schemes = spec["components"].get("securitySchemes", {})
        for where, operation in operations(spec):
            assert "security" in operation, f"{service} {where}: security not stated"
            for requirement in operation["security"]:
                assert set(requirement) <= set(schemes), f"{service} {where}: unknown scheme {requirement}"
        token_url = schemes.get("OAuth2PasswordBearer", {}).get("flows", {}).get("password", {}).get("tokenUrl")
        if schemes:
            assert token_url == "/v1/auth/token", f"{service}: Authorize would post to {token_url}"
