"""Schema-driven fuzzing of every service's OpenAPI with schemathesis's default checks, over real HTTP
against the live processes, signed in as the owner of an organization with a site, an activity, a session
and a booking, so generated requests pass authentication and some hit real rows.

Bounded and derandomized: the same cases on every run (CI is reproducible), a few dozen per operation."""

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.hardening.conftest import World
from tests.live import LiveSystem

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis 4.x is needed for the fuzzing suite")

positive_data_acceptance = pytest.importorskip("schemathesis.specs.openapi.checks").positive_data_acceptance
negative_data_rejection = pytest.importorskip("schemathesis.specs.openapi.checks").negative_data_rejection

pytestmark = pytest.mark.system

FUZZ_SETTINGS = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Every other positive case has its generated ids replaced by ids of real rows.
_alternate = itertools.cycle((False, True))


def _load(live_system: LiveSystem, service: str) -> Any:
    return schemathesis.openapi.from_url(live_system.urls[service] + "/openapi.json")


@pytest.fixture(scope="session")
def orgs_schema(live_system: LiveSystem) -> Any:
    return _load(live_system, "orgs")


@pytest.fixture(scope="session")
def catalog_schema(live_system: LiveSystem) -> Any:
    return _load(live_system, "catalog")


@pytest.fixture(scope="session")
def booking_schema(live_system: LiveSystem) -> Any:
    return _load(live_system, "booking")


@pytest.fixture(scope="session")
def notify_schema(live_system: LiveSystem) -> Any:
    return _load(live_system, "notify")


def _is_positive(case: Any) -> bool:
    meta = getattr(case, "_meta", None)
    return meta is None or str(meta.generation.mode).lower().endswith("positive")


def _point_at_real_rows(case: Any, world: World) -> None:
    if not _is_positive(case) or not next(_alternate):
        return
    for name in case.path_parameters or {}:
        if name in world.ids:
            case.path_parameters[name] = world.ids[name]


# Rules an OpenAPI schema cannot express, so a schema-valid request may still break them (422 with a pointer
# here): cursors made by the server, ids that must name existing rows, ordered pairs, compound query formats.
SEMANTIC_POINTERS = frozenset(
    {
        "/body",  # model-level validators: cross-field rules (ends_on not before starts_on)
        "/query/cursor",
        "/query/bbox",
        "/query/near",
        "/query/from",
        "/query/to",
        "/query/sort",
        "/query/accessibility",  # comma-separated features, each one the catalog knows
        "/body/starts_at",
        "/body/ends_at",
        "/body/booking_opens_at",
        "/body/booking_closes_at",
        "/body/recurrence",
        "/body/recurrence/rrule",
        "/body/recurrence/until",
        "/body/recurrence/timezone",
        "/body/email",  # syntactically valid, yet a reserved domain (example.test) that email-validator refuses
        "/body/host_org_id",
        "/body/owner_org_id",
        "/body/organizer_org_id",
        "/body/site_id",
        "/body/series_id",
        # An organization block: seats up to BOOKING_ORGANIZATION_MAX_SEATS (a personal booking 1 to 10), at most
        # one named member per seat, each a member of the organization (`/body/members/<i>`).
        "/body/seats",
        "/body/members",
        # A session's kind of learning decides what it may have: a join link and online seats only online or
        # hybrid, accessible seats only in person, an organization's block standard seats only.
        "/body/join_url",
        "/body/online_capacity",
        "/body/accessible_seats",
        "/body/mode",
        "/body/seat",
    }
)


def _semantic_rejection(response: Any) -> bool:
    if response.status_code != 422:
        return False
    errors = response.json().get("errors") or []
    # PostgreSQL cannot store NUL characters: every string refuses them, which no string schema says.
    return bool(errors) and all(
        _semantic_pointer(error.get("pointer", "")) or "NUL character" in error.get("detail", "") for error in errors
    )


# List items named one by one (`/body/members/<i>`: each must be a member of the organization).
SEMANTIC_ITEM_POINTERS = frozenset({"/body/members"})


def _semantic_pointer(pointer: str) -> bool:
    return pointer in SEMANTIC_POINTERS or pointer.rsplit("/", 1)[0] in SEMANTIC_ITEM_POINTERS


@schemathesis.check  # type: ignore[untyped-decorator,unused-ignore]
def positive_data_acceptance_but_semantics(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis's `positive_data_acceptance`, except for the documented semantic rules above."""
    if _semantic_rejection(response):
        return None
    verdict: bool | None = positive_data_acceptance(ctx, response, case)
    return verdict


@schemathesis.check  # type: ignore[untyped-decorator,unused-ignore]
def negative_data_rejection_or_too_large(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis's `negative_data_rejection`, where a 413 (the body over the service's size limit, before
    any schema is read: a district collection's schema allows more vertices than a request may carry) is a
    rejection too."""
    if response.status_code == 413:
        return None
    verdict: bool | None = negative_data_rejection(ctx, response, case)
    return verdict


def _call(case: Any, world: World) -> None:
    _point_at_real_rows(case, world)
    headers = dict(world["owner"].headers)
    case.call_and_validate(
        headers=headers,
        timeout=30,
        excluded_checks=[positive_data_acceptance, negative_data_rejection],
        additional_checks=[positive_data_acceptance_but_semantics, negative_data_rejection_or_too_large],
    )


@pytest.fixture(autouse=True)
def _schemathesis_on_pytest_9(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.x reads `node._nodeid`, which pytest 9 no longer has: give it the public node id."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


orgs = schemathesis.pytest.from_fixture("orgs_schema")
catalog = schemathesis.pytest.from_fixture("catalog_schema")
booking = schemathesis.pytest.from_fixture("booking_schema")
notify = schemathesis.pytest.from_fixture("notify_schema")


@orgs.parametrize()  # type: ignore[untyped-decorator,unused-ignore]
@FUZZ_SETTINGS
def test_orgs_api(case: Any, world: World) -> None:
    _call(case, world)


@catalog.parametrize()  # type: ignore[untyped-decorator,unused-ignore]
@FUZZ_SETTINGS
def test_catalog_api(case: Any, world: World) -> None:
    _call(case, world)


@booking.parametrize()  # type: ignore[untyped-decorator,unused-ignore]
@FUZZ_SETTINGS
def test_booking_api(case: Any, world: World) -> None:
    _call(case, world)


@notify.parametrize()  # type: ignore[untyped-decorator,unused-ignore]
@FUZZ_SETTINGS
def test_notify_api(case: Any, world: World) -> None:
    _call(case, world)
