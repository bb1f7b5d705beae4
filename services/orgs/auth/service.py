import asyncio
import functools
import hashlib
import math
import secrets
from datetime import UTC, datetime, timedelta

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.orgs.auth.language import preferred_language
from services.orgs.auth.repository import LoginThrottleRepository, PersonRepository, RefreshTokenRepository
from services.orgs.auth.schemas import MembershipRef, MeOut, RegisterIn, TokenOut
from services.orgs.keys import SigningKeys
from services.orgs.models import Person, RefreshToken
from services.orgs.settings import OrgsSettings
from shared.db import Database
from shared.errors import Conflict, TooManyRequests, Unauthorized
from shared.ids import new_id

# argon2id with argon2-cffi's defaults (t=3, m=64 MiB, p=4): above OWASP's minimum (t=2, m=19 MiB, p=1).
password_hasher = PasswordHash.recommended()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so a miss costs as much time as a wrong password.
    Made on first use: hashing at import would slow every start."""
    return password_hasher.hash("not-a-real-password-just-for-timing")


async def check_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Whether `password` matches, and a new hash when the stored one uses outdated parameters. An account
    without a usable password (a hash no hasher knows, e.g. "!") never matches."""

    def verify() -> tuple[bool, str | None]:
        try:
            return password_hasher.verify_and_update(password, password_hash)
        except UnknownHashError:
            return False, None

    # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
    return await asyncio.to_thread(verify)


async def hash_password(password: str) -> str:
    # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
    return await asyncio.to_thread(password_hasher.hash, password)


async def register(session: AsyncSession, body: RegisterIn, *, accept_language: str | None) -> Person:
    people = PersonRepository(session)
    if await people.by_email(body.email) is not None:
        raise Conflict("An account with this email already exists")
    person = Person(
        email=body.email,
        display_name=body.display_name,
        password_hash=await hash_password(body.password),
        language=preferred_language(accept_language),
    )
    try:
        return await people.add(person)
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("An account with this email already exists") from exc


def token_digest(token: str) -> str:
    """How a bearer secret (a refresh token, an invitation token) is stored: its SHA-256, so a leaked table
    hands out no working token. The tokens are 256 random bits: no salt or slow hash is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalized_email(email: str) -> str:
    return email.strip().lower()[:254]


def throttle_key(email: str) -> str:
    """The login throttle's key of an account: a digest, so the table never holds an email (models.py)."""
    return hashlib.sha256(normalized_email(email).encode()).hexdigest()


async def count_sign_in_attempt(database: Database, settings: OrgsSettings, email: str, now: datetime) -> None:
    """Count an attempt at the account's password as a failure until it succeeds (a success clears the
    count); 429 while the account is locked. Every attempt counts before the password is checked: a burst
    of parallel guesses cannot all pass the lock check before the first failure is recorded. Counted in a
    transaction of its own: a failing request rolls its own back, the count must stay."""
    async with database.separate_transaction() as separate:
        locked_until = await LoginThrottleRepository(separate).count_attempt(
            throttle_key(email),
            now,
            window_s=settings.login_failure_window_s,
            max_failures=settings.login_max_failures,
            lockout_s=settings.login_lockout_s,
        )
    if locked_until is not None:
        raise TooManyRequests(
            "Too many failed sign-in attempts for this account; try again later",
            retry_after_s=math.ceil((locked_until - now).total_seconds()),
        )


async def _issue_tokens(
    session: AsyncSession, keys: SigningKeys, settings: OrgsSettings, person: Person, family_id: object = None
) -> TokenOut:
    now = datetime.now(UTC)
    refresh_token = secrets.token_urlsafe(32)
    await RefreshTokenRepository(session).add(
        RefreshToken(
            person_id=person.id,
            family_id=family_id or new_id(),
            token_hash=token_digest(refresh_token),
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s),
        )
    )
    access_token, expires_in = keys.issue_access_token(person.id, list(person.roles))
    return TokenOut(access_token=access_token, expires_in=expires_in, refresh_token=refresh_token)


async def login(
    session: AsyncSession, database: Database, keys: SigningKeys, settings: OrgsSettings, email: str, password: str
) -> TokenOut:
    email = normalized_email(email)
    await count_sign_in_attempt(database, settings, email, datetime.now(UTC))
    person = await PersonRepository(session).by_email(email)
    valid, new_hash = await check_password(password, person.password_hash if person else _dummy_hash())
    if person is None or not valid:
        raise Unauthorized("Incorrect email or password")
    if new_hash is not None:
        person.password_hash = new_hash
    await LoginThrottleRepository(session).clear(throttle_key(email))
    return await _issue_tokens(session, keys, settings, person)


async def refresh(
    session: AsyncSession, database: Database, keys: SigningKeys, settings: OrgsSettings, token: str
) -> TokenOut:
    now = datetime.now(UTC)
    tokens = RefreshTokenRepository(session)
    stored = await tokens.by_hash(token_digest(token))
    if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
        raise Unauthorized("Refresh token is invalid, expired or revoked")
    if not await tokens.claim(stored.id, now):
        # A used token came back: it leaked. Revoke its whole family, and keep that even though we fail.
        async with database.separate_transaction() as separate:
            await RefreshTokenRepository(separate).revoke_family(stored.family_id, now)
        raise Unauthorized("Refresh token was already used; every session of this sign-in is revoked")
    person = await PersonRepository(session).get(stored.person_id)
    if person is None:
        raise Unauthorized("Account no longer exists")
    return await _issue_tokens(session, keys, settings, person, family_id=stored.family_id)


async def me(session: AsyncSession, person: Person) -> MeOut:
    memberships = await PersonRepository(session).memberships(person.id)
    return MeOut(
        id=person.id,
        email=person.email,
        display_name=person.display_name,
        memberships=[MembershipRef(organization_id=m.organization_id, role=m.role) for m in memberships],
        roles=sorted(person.roles),
    )
