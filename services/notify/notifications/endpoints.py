from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from services.notify.notifications import service
from services.notify.notifications.schemas import NotificationOut
from shared.auth import CurrentPerson
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.pagination import Page, PageDep

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


@router.get(
    "",
    summary="Your notices, newest first",
    description="Booking confirmed, waitlisted, promoted from the waitlist, cancelled; session moved or "
    "cancelled by its host; reminders before your sessions. Each cause makes one notice, however often "
    "it is reported. `unread=true`: only those not marked read.",
    operation_id="listNotifications",
    responses=problem_responses(401, 422),
)
async def list_notifications(
    principal: CurrentPerson,
    db: SessionDep,
    page: PageDep,
    unread: Annotated[bool, Query(description="Only notices not marked read")] = False,
) -> Page[NotificationOut]:
    return await service.list_notifications(db, principal, page, unread=unread)


@router.post(
    "/{notification_id}/read",
    summary="Mark a notice read",
    description="Marking it again keeps the first time. 404 for a notice that is not yours.",
    operation_id="markNotificationRead",
    responses=problem_responses(401, 404, 422),
)
async def mark_read(notification_id: UUID, principal: CurrentPerson, db: SessionDep) -> NotificationOut:
    return await service.mark_read(db, principal, notification_id)
