import re
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BeforeValidator

from services.booking.dependencies import CollaboratorsDep
from services.booking.learning_records import report_csv, service
from services.booking.learning_records.schemas import MemberLearningOut, MyLearningRecordOut, OrganizationsActivityOut
from shared.errors import problem_responses
from shared.pagination import Page, PageDep
from shared.schemas import AcceptLanguage

router = APIRouter(prefix="/v1/learning-records", tags=["learning-records"])

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _rfc3339_only(value: object) -> object:
    """Pydantic would also read numbers as Unix times (`to=0.5`); the contract says RFC 3339."""
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError("expected an RFC 3339 date-time with offset, e.g. 2027-03-02T19:00:00+08:00")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]
From = Annotated[
    Moment | None,
    Query(alias="from", description="Sessions starting at or after this time (RFC 3339 with offset)"),
]
To = Annotated[Moment | None, Query(description="Sessions starting before this time (RFC 3339 with offset)")]


@router.get(
    "/me",
    summary="Your learning record",
    description="Totals over every check-in whose session started in `[from, to)`, minutes per kind, and "
    "the check-ins themselves, newest first and paged (`limit`, `cursor`). A booking you neither cancelled "
    "nor attended becomes a no-show (never credited); `standing` tells how many you have within the window "
    "and, past the threshold, until when your active-bookings limit is lowered.",
    operation_id="getMyLearningRecord",
    responses=problem_responses(401, 422),
)
async def my_learning_record(
    c: CollaboratorsDep,
    page: PageDep,
    from_: From = None,
    to: To = None,
    accept_language: AcceptLanguage = None,
) -> MyLearningRecordOut:
    return await service.my_record(c, page, from_, to, accept_language)


CSV_EXAMPLE = (
    "person_id,display_name,role,month,total_minutes,minutes_at_organization,minutes_elsewhere,"
    "sessions_attended,no_shows\r\n"
    "01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e0f,王小明 Wang Xiaoming,member,2027-02,150,90,60,2,0\r\n"
    "01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e0f,王小明 Wang Xiaoming,member,2027-03,45,0,45,1,1\r\n"
    "01936f4e-9c1d-7e2f-8a3b-4c5d6e7f8a9b,李华 Li Hua,admin,,0,0,0,0,0\r\n"
)


@router.get(
    "",
    response_model=Page[MemberLearningOut],
    summary="Learning report of an organization's members (its admins)",
    description="One item per current member (zeros when they did nothing) over sessions that started in "
    "`[from, to)`: minutes at the organization's own sessions and elsewhere, sessions attended, no-shows, "
    "minutes per kind, and the same per month (`YYYY-MM` in the city's time zone, `BOOKING_TIMEZONE`, only "
    "months with activity). Ordered by person id and paged. Admins (or owners) of the organization and "
    "operators only.\n\n"
    "**`Accept: text/csv`** gives the same report as one CSV document for spreadsheets: every member (no "
    "paging), a header row, then one row per member and month, or one row with an empty `month` and zeros "
    "for a member without activity. UTF-8 with a byte order mark (so Excel shows Chinese names), CRLF line "
    "ends; a text cell starting with `=`, `+`, `-`, `@`, tab or carriage return is prefixed with `'` so that "
    "no spreadsheet runs it as a formula.",
    operation_id="listOrganizationLearningRecords",
    responses={
        200: {
            "description": "The report: JSON (default), or CSV with `Accept: text/csv`",
            "content": {report_csv.MEDIA_TYPE: {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
        },
        **problem_responses(401, 403, 404, 422),
    },
)
async def organization_learning_records(
    c: CollaboratorsDep,
    organization_id: UUID,
    page: PageDep,
    request: Request,
    response: Response,
    from_: From = None,
    to: To = None,
) -> Page[MemberLearningOut] | Response:
    # Caches must keep the two representations apart.
    response.headers["Vary"] = "Accept"
    if not _prefers_csv(request.headers.get("accept")):
        return await service.organization_report(c, organization_id, page, from_, to)
    report = await service.organization_report(c, organization_id, None, from_, to)
    return Response(
        report_csv.render(report.items),
        media_type=report_csv.MEDIA_TYPE,
        headers={
            "Vary": "Accept",
            "Content-Disposition": f'attachment; filename="learning-records-{organization_id}.csv"',
            "Cache-Control": "private, no-store",
        },
    )


def _prefers_csv(accept: str | None) -> bool:
    """`Accept` ranks text/csv above JSON (ties, `*/*` and no header at all mean JSON)."""
    return accept is not None and _quality(accept, report_csv.MEDIA_TYPE) > _quality(accept, "application/json")


def _quality(accept: str, media_type: str) -> float:
    """The `q` of the most specific range of `accept` that matches `media_type` (0 when none does)."""
    family = media_type.split("/")[0] + "/*"
    best, quality = -1, 0.0
    for media_range in accept.split(","):
        name, *parameters = (part.strip() for part in media_range.split(";"))
        specificity = {media_type: 2, family: 1, "*/*": 0}.get(name.lower(), -1)
        if specificity <= best:
            continue
        best, quality = specificity, 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
    return quality


@router.get(
    "/organizations-activity",
    summary="Active organizations per kind (operators)",
    description="For every organization kind: how many organizations there are, and how many were active "
    "within the last `days` days (1..366, default 90): they hosted a session (not cancelled) that started "
    "then, or a booking of theirs (an organization block or a member line) was checked in then. Operators only.",
    operation_id="getOrganizationsActivity",
    responses=problem_responses(401, 403, 422),
)
async def organizations_activity(
    c: CollaboratorsDep,
    days: Annotated[int, Query(ge=1, le=366, description="The window: the last this many days")] = 90,
) -> OrganizationsActivityOut:
    return await service.organizations_activity(c, days)
