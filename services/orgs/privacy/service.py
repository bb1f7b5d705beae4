from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.orgs.auth.service import check_password, count_sign_in_attempt, throttle_key
from services.orgs.joining.service import invitation_status
from services.orgs.models import Person, RevokedSubject
from services.orgs.peers import PersonExports
from services.orgs.privacy.repository import PersonalDataRepository
from services.orgs.privacy.schemas import (
    ExportedInvitation,
    ExportedJoinRequest,
    ExportedMembership,
    ExportedPerson,
    PersonalData,
)
from services.orgs.settings import OrgsSettings
from shared.db import Database
from shared.errors import Forbidden, Unauthorized
from shared.events.outbox import Outbox
from shared.events.schemas import PersonErased
from shared.ids import new_id
from shared.revocation import subject_hash


async def export(session: AsyncSession, person: Person, peers: PersonExports) -> PersonalData:
    personal_data = PersonalDataRepository(session)
    memberships = await personal_data.memberships_with_names(person.id)
    join_requests = await personal_data.join_requests_with_names(person.id)
    invitations = await personal_data.invitations_with_names(person.id, person.email)
    booking, notify = await peers.of(person.id)
    now = datetime.now(UTC)
    return PersonalData(
        exported_at=now,
        person=ExportedPerson(
            id=person.id,
            email=person.email,
            display_name=person.display_name,
            language=person.language,
            roles=sorted(person.roles),
            created_at=person.created_at,
        ),
        memberships=[
            ExportedMembership(
                organization_id=membership.organization_id,
                organization_name=name,
                role=membership.role,
                joined_at=membership.created_at,
            )
            for membership, name in memberships
        ],
        join_requests=[
            ExportedJoinRequest(
                id=request.id,
                organization_id=request.organization_id,
                organization_name=name,
                status=request.status,
                message=request.message,
                created_at=request.created_at,
                decided_at=request.decided_at,
            )
            for request, name in join_requests
        ],
        invitations=[
            ExportedInvitation(
                id=invitation.id,
                organization_id=invitation.organization_id,
                organization_name=name,
                email=invitation.email,
                role=invitation.role,
                status=invitation_status(invitation, now),
                created_at=invitation.created_at,
                expires_at=invitation.expires_at,
                accepted_at=invitation.accepted_at,
            )
            for invitation, name in invitations
        ],
        booking=booking,
        notify=notify,
    )


async def erase(
    session: AsyncSession,
    database: Database,
    outbox: Outbox,
    settings: OrgsSettings,
    person: Person,
    password: str,
) -> None:
    """Check the password (it counts toward the sign-in throttle like a sign-in), then delete every orgs row
    naming the person, revoke their access tokens everywhere and tell booking and notify (`person.erased`), in
    one transaction."""
    await count_sign_in_attempt(database, settings, person.email, datetime.now(UTC))
    if not (await check_password(password, person.password_hash))[0]:
        raise Forbidden("Incorrect password")
    # Locked and read again: of two erasures at once, the second finds no account (401), so one event.
    if await PersonalDataRepository(session).get(person.id, for_update=True) is None:
        raise Unauthorized("Account no longer exists")
    erasure_id = new_id()
    await PersonalDataRepository(session).erase(person.id, person.email, throttle_key(person.email))
    await _revoke_tokens(session, settings, person)
    # The erasure is the event's aggregate, never the person: no subscriber's positions keep their id.
    await outbox.emit(session, "person.erased", erasure_id, PersonErased(erasure_id=erasure_id, person_id=person.id))


async def _revoke_tokens(session: AsyncSession, settings: OrgsSettings, person: Person) -> None:
    """Orgs refuses the person's access tokens at once (the account is gone); the services verifying tokens
    themselves learn from `orgs.revoked_subjects` (polled) to refuse them too, until the last could expire.
    Rows whose tokens have all expired go."""
    now = datetime.now(UTC)
    expires_at = now + timedelta(seconds=settings.access_token_ttl_s + settings.jwt_leeway_s)
    await session.execute(delete(RevokedSubject).where(RevokedSubject.expires_at <= now))
    await session.execute(
        insert(RevokedSubject).values(subject_hash=subject_hash(person.id), revoked_at=now, expires_at=expires_at)
    )
