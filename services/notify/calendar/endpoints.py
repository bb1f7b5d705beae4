from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from services.notify.calendar import service
from services.notify.calendar.schemas import CalendarFeedOut
from services.notify.dependencies import ContextDep
from shared.auth import CurrentPerson
from shared.db import SessionDep
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])

CALENDAR_MEDIA_TYPE = "text/calendar"
_FEED_EXAMPLE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Learning City//notify//EN\r\nX-WR-CALNAME:学习城市\r\n"
    "BEGIN:VEVENT\r\nUID:01936f4e-8a2b-7c3d-9e4f-5a6b7c8d9e0f@learncity\r\nSEQUENCE:0\r\n"
    "DTSTART;TZID=Asia/Shanghai:20270302T190000\r\nDTEND;TZID=Asia/Shanghai:20270302T203000\r\n"
    "SUMMARY:西湖读书会\r\nLOCATION:湖滨图书馆\\, 湖滨路1号\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@router.post(
    "/feed",
    status_code=status.HTTP_201_CREATED,
    summary="A new secret URL of your calendar feed",
    description="Subscribe to the URL in a calendar app: it holds your confirmed sessions, and follows "
    "them when they move or are cancelled. Each call makes a new URL; the previous one then answers 404.",
    operation_id="createCalendarFeed",
    responses=problem_responses(401, 422),
)
async def create_feed(
    principal: CurrentPerson, context: ContextDep, db: SessionDep, request: Request
) -> CalendarFeedOut:
    token = await service.new_feed_token(db, principal.person_id)
    base = context.settings.public_base_url or str(request.base_url).rstrip("/")
    return CalendarFeedOut(url=f"{base}{router.prefix}/{token}.ics")


@router.get(
    "/{token}.ics",
    summary="A calendar feed (anyone with its URL)",
    description="RFC 5545 iCalendar of the feed owner's confirmed sessions, times in Asia/Shanghai. "
    "404 for a URL that was never made or has been replaced.",
    operation_id="getCalendarFeed",
    response_class=Response,
    responses={
        200: {
            "description": "The feed",
            "content": {CALENDAR_MEDIA_TYPE: {"schema": {"type": "string"}, "example": _FEED_EXAMPLE}},
        },
        **problem_responses(404, 422),
    },
)
async def get_feed(
    token: Annotated[str, Path(max_length=128, description="The secret part of the feed URL")],
    context: ContextDep,
    db: SessionDep,
) -> Response:
    body = await service.feed(db, context, token)
    # Private: the URL is a secret, shared caches must not keep what it shows.
    return Response(
        body, media_type=f"{CALENDAR_MEDIA_TYPE}; charset=utf-8", headers={"Cache-Control": "private, max-age=300"}
    )
