from uuid import UUID

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse, Response

from services.booking.bookings import decisions, service
from services.booking.bookings.schemas import BookingCreate, BookingOut, BookingStatus, JoinLinkOut
from services.booking.dependencies import CollaboratorsDep
from services.booking.idempotency import service as idempotency
from shared.auth import CurrentPerson
from shared.authz import OrgsMemberships, orgs_client
from shared.errors import problem_responses
from shared.pagination import Page, PageDep

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])
QR_MEDIA_TYPE = "image/svg+xml"

IDEMPOTENCY_DESCRIPTION = f"""Book seats of a session. Confirmed while seats are free and nobody is waiting;
otherwise waitlisted (first come, first served; `waitlist_position` 1 is next). A confirmed booking carries
its `checkin_code`.

**`Idempotency-Key` header (required, 1..{idempotency.MAX_KEY_LENGTH} characters)**: a key you make up
per booking attempt (e.g. a UUID), scoped to you. Keys are kept for **24 hours**. Sending the same key
again with the same body returns the original response (status and body, with header
`{idempotency.REPLAYED_HEADER}: true`) and books nothing more; the same key with a different body is 422;
while the first request with the key is still running, a duplicate gets 409 (retry shortly). Only a
created booking is remembered: a request that failed may be retried with the same key.

**Seats** (`seat`): `standard` unless you ask for `accessible` (seats a session keeps for people who need
an accessible one: only people who ask take them; 409 `no_accessible_seats` where the session keeps none, 422
`seat_not_offered` for an online session) or `online` (a hybrid session's online seats, counted apart from
its in-person ones; 422 `seat_not_offered` for any other session: an online session's seats are its standard
ones). Each kind of seat has its own waitlist and `waitlist_position`; a freed seat goes to its own kind's
line. The answer shows `seat` unless it is standard. Organization blocks take standard seats only (422).

Sessions: 404 when unknown; 409 when cancelled, started (a session is past once `starts_at` has come),
outside `[booking_opens_at, booking_closes_at)`, or when you already hold an active booking for it.

**Organization blocks** (`organization_id`): you must be coordinator (or higher) of that organization (403
otherwise); one active block per organization and session (409 `organization_block_exists`); up to
`BOOKING_ORGANIZATION_MAX_SEATS` seats (default 50; personal bookings 1..10; 422 beyond, pointer
`/body/seats`). `members` names who takes the seats: current members (any role) of the organization, each
once, at most `seats` (422 naming those who are not members, `person_ids`). A confirmed block answers with a
`lines` entry per member: each member's own booking line (own check-in code, listed in their
`GET /v1/bookings`, credited to their learning record); the other seats are `unassigned_seats` (the block's
own code admits them). A waitlisted block keeps the names (`pending_members`) and makes the lines when it is
confirmed. 409 `member_already_booked` (naming `person_ids`, nothing booked) when a named member already
holds a seat of the session. Member lines never count against anyone's active-bookings limit; the block
counts once against yours.
Limits: `BOOKING_RATE_PER_MINUTE` requests per person per minute and `BOOKING_MAX_ACTIVE_PER_PERSON`
active bookings (confirmed or waitlisted, session not ended); beyond them 429 with `Retry-After`.
503 with `Retry-After` when the session is new to booking and the catalog cannot be reached, when the
database cannot be, and when `BOOKING_SESSION_BACKLOG_LIMIT` requests for the session are already waiting
(a festival's opening second): come back after `Retry-After`."""


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BookingOut,
    summary="Book seats (idempotent with Idempotency-Key)",
    description=IDEMPOTENCY_DESCRIPTION,
    operation_id="createBooking",
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 429, 503),
    openapi_extra={
        "parameters": [
            {
                "name": idempotency.HEADER,
                "in": "header",
                "required": True,
                "description": "Your key for this booking attempt, e.g. a UUID; kept 24 hours",
                "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
                "example": "6f1c2d9e-3b7a-4c5d-8e9f-0a1b2c3d4e5f",
            }
        ]
    },
)
async def create_booking(body: BookingCreate, principal: CurrentPerson, request: Request) -> JSONResponse:
    # Read by hand (documented below): a missing or too long key is the contract's 400, not a 422.
    key = idempotency.require_key(request.headers.get(idempotency.HEADER))
    service.ensure_seats_allowed(body, request.app.state.settings)
    if body.organization_id is not None:  # orgs is asked before the request queues for its session's batch
        memberships = OrgsMemberships(orgs_client(request.app))
        await service.ensure_may_book_for_organization(memberships, principal, body)
    fingerprint = idempotency.request_fingerprint(body.model_dump(mode="json"))
    booking = decisions.BookingRequest(principal.person_id, body, key, fingerprint)
    stored = await decisions.submit(request.app.state, booking)
    replayed = {idempotency.REPLAYED_HEADER: "true"} if stored.replayed else {}
    return JSONResponse(stored.body, status_code=stored.status, headers=replayed)


@router.get(
    "",
    summary="Your bookings, or a session's roster for its host staff",
    description="Your own bookings, oldest first: the member lines an organization booked for you among "
    "them (with `block_id` and their own `checkin_code`), and the organization blocks you booked (with "
    "`lines` and `unassigned_seats`). With `session_id`, staff (coordinator or higher) of the hosting "
    "organization get every booking of that session, blocks and lines alike (other people's check-in codes "
    "are not shown).",
    operation_id="listBookings",
    responses=problem_responses(401, 422),
)
async def list_bookings(
    c: CollaboratorsDep,
    page: PageDep,
    status: BookingStatus | None = None,
    session_id: UUID | None = None,
) -> Page[BookingOut]:
    return await service.list_bookings(c, page, status=status, session_id=session_id)


@router.get(
    "/{booking_id}",
    summary="A booking (its holder, host staff, or its organization's admins)",
    description="A member line is read by its member, the coordinator who booked its block and the "
    "organization's admins (each with its `checkin_code`), host staff and operators; anyone else, other "
    "members of the organization included, gets 404.",
    operation_id="getBooking",
    responses=problem_responses(401, 404, 422),
)
async def get_booking(booking_id: UUID, c: CollaboratorsDep) -> BookingOut:
    return await service.get(c, booking_id)


@router.get(
    "/{booking_id}/checkin-qr.svg",
    summary="Your booking's check-in code as a QR code (its holder)",
    description="An SVG image of the booking's `checkin_code` (QR code, error correction M) to show at the "
    "door. Only the booking's holder gets it (404 for anyone else); 409 while the booking has no code "
    "(waitlisted, or cancelled). Not cached (`Cache-Control: private, no-store`): the image is the secret.",
    operation_id="getBookingCheckinQr",
    response_class=Response,
    responses={
        200: {"description": "The QR code (an SVG document)", "content": {QR_MEDIA_TYPE: {}}},
        **problem_responses(401, 404, 409, 422),
    },
)
async def get_checkin_qr(booking_id: UUID, c: CollaboratorsDep) -> Response:
    svg = await service.checkin_qr(c, booking_id)
    return Response(svg, media_type=QR_MEDIA_TYPE, headers={"Cache-Control": "private, no-store"})


@router.get(
    "/{booking_id}/join",
    summary="Your online seat's join link (its holder)",
    description="The link to join the session online, for the holder of a confirmed booking of an online "
    "session or of a hybrid session's online seat (`seat: online`); a hybrid session's in-person holders are "
    "not given it (its online seats are counted apart). Anyone else, host staff and organization admins "
    "included, gets 404. For the holder, 409 with a `reason`: `booking_waitlisted`, `booking_cancelled`, "
    "`booking_no_show`, `in_person_seat`, or `join_link_pending` (the host has not given the link yet). Not "
    "cached (`Cache-Control: private, no-store`).",
    operation_id="getBookingJoinLink",
    responses=problem_responses(401, 404, 409, 422),
)
async def get_join_link(booking_id: UUID, c: CollaboratorsDep, response: Response) -> JoinLinkOut:
    join_url = await service.join_link(c, booking_id)
    response.headers["Cache-Control"] = "private, no-store"
    return JoinLinkOut(join_url=join_url)


@router.post(
    "/{booking_id}/cancel",
    summary="Cancel a booking (its holder or its organization's admins)",
    description="Frees the seats, which go to the waitlist in order (each waitlisted booking promoted "
    "exactly once). A member line (cancelled by its member, the block's coordinator or the organization's "
    "admins) frees its one seat: the block holds one seat fewer (and is cancelled with its last). Cancelling "
    "an organization block cancels its member lines too. Cancelling a cancelled booking answers it again. "
    "409 once checked in (a block: once any of its lines is) or once the session has started; 403 for host "
    "staff (who may only read it).",
    operation_id="cancelBooking",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def cancel_booking(booking_id: UUID, c: CollaboratorsDep) -> BookingOut:
    return await service.cancel(c, booking_id)
