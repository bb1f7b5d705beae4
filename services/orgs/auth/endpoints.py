from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, status

from services.orgs.auth import service
from services.orgs.auth.schemas import MeOut, PersonOut, RefreshIn, RegisterIn, TokenOut
from services.orgs.dependencies import SettingsDep, SignedInAccount, SigningKeysDep
from services.orgs.joining.service import accept_invitation
from shared.db import DatabaseDep, SessionDep
from shared.errors import problem_responses
from shared.events.wiring import OutboxDep

router = APIRouter(prefix="/v1", tags=["auth"])


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account",
    description="Notices are then written in the language `Accept-Language` prefers of zh-CN (any `zh`) and "
    "en (any `en`), by q-value; naming neither leaves the choice to the person's notification preferences.\n\n"
    "With `invitation_token` (from an invitation mail) the account joins that organization with the invited "
    "role, in the same step: an unknown token (404) or one expired, used or revoked (410) creates no account.",
    operation_id="register",
    responses=problem_responses(404, 409, 410, 413, 422),
)
async def register(
    body: RegisterIn,
    session: SessionDep,
    outbox: OutboxDep,
    accept_language: Annotated[
        str | None, Header(max_length=512, description="e.g. `zh-CN,zh;q=0.9,en;q=0.8`: notices in zh-CN")
    ] = None,
) -> PersonOut:
    person = await service.register(session, body, accept_language=accept_language)
    if body.invitation_token is not None:
        # One transaction: a refused token rolls the new account back with it.
        await accept_invitation(session, outbox, person, body.invitation_token)
    return PersonOut.model_validate(person)


@router.post(
    "/auth/token",
    summary="Sign in (OAuth2 password grant)",
    description="Form fields `username` (the email) and `password`. Repeated failures for one account "
    "lock it for a while: 429 with `Retry-After`.",
    operation_id="issueToken",
    responses=problem_responses(401, 422, 429),
)
async def issue_token(
    username: Annotated[
        str, Form(min_length=1, max_length=254, description="The account's email", examples=["xiaoming@example.org"])
    ],
    password: Annotated[str, Form(min_length=1, max_length=128, examples=["correct horse battery"])],
    session: SessionDep,
    database: DatabaseDep,
    keys: SigningKeysDep,
    settings: SettingsDep,
) -> TokenOut:
    return await service.login(session, database, keys, settings, username, password)


@router.post(
    "/auth/refresh",
    summary="Exchange a refresh token for a new pair",
    description="Refresh tokens rotate: the one presented stops working. Presenting a used one revokes "
    "every token of that sign-in.",
    operation_id="refreshToken",
    responses=problem_responses(401, 422),
)
async def refresh_token(
    body: RefreshIn, session: SessionDep, database: DatabaseDep, keys: SigningKeysDep, settings: SettingsDep
) -> TokenOut:
    return await service.refresh(session, database, keys, settings, body.refresh_token)


@router.get("/me", summary="The signed-in person", operation_id="getMe", responses=problem_responses(401))
async def get_me(person: SignedInAccount, session: SessionDep) -> MeOut:
    return await service.me(session, person)


jwks_router = APIRouter(tags=["auth"])


_JWKS_EXAMPLE = {
    "keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "key-1", "alg": "EdDSA", "use": "sig", "x": "11qYAY"}]
}


@jwks_router.get(
    "/.well-known/jwks.json",
    summary="Public keys that verify access tokens",
    operation_id="getJwks",
    responses={200: {"content": {"application/json": {"example": _JWKS_EXAMPLE}}}},
)
async def jwks(keys: SigningKeysDep) -> dict[str, Any]:
    return keys.jwks()
