"""The orgs service: people, sign-in, organizations and memberships; issuer of access tokens."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.orgs.audit.endpoints import router as audit_router
from services.orgs.auth.endpoints import jwks_router
from services.orgs.auth.endpoints import router as auth_router
from services.orgs.joining.endpoints import router as joining_router
from services.orgs.keys import SigningKeys
from services.orgs.models import SCHEMA, event_tables
from services.orgs.organizations.endpoints import router as organizations_router
from services.orgs.people.endpoints import internal_router
from services.orgs.people.endpoints import router as people_router
from services.orgs.privacy.endpoints import router as privacy_router
from services.orgs.settings import OrgsSettings
from shared.app import ServiceSpec, create_service_app
from shared.auth import KeySource
from shared.events.wiring import service_events


def create_app(
    settings: OrgsSettings | None = None, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or OrgsSettings()
    signing_keys = SigningKeys(settings)

    def key_source(_: FastAPI) -> KeySource:
        return signing_keys.verification_keys()

    @asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        app.state.signing_keys = signing_keys
        # Orgs publishes (person.erased, membership.changed, invitation.created, join_request.changed) and
        # subscribes to nothing: no handlers, no inbox route.
        async with service_events(app, producer=SCHEMA, tables=event_tables, handlers={}):
            yield

    spec = ServiceSpec(
        name=SCHEMA,
        title="Learning City: orgs",
        description="People, sign-in (OAuth2 password grant, rotating refresh tokens), organizations and "
        "their members. Issues the EdDSA access tokens every service verifies against `/.well-known/jwks.json`. "
        "Admins invite by email (a single-use, expiring link that works without an account) and answer join "
        "requests; members leave on their own; every membership change is an event (`membership.changed`). "
        "A person's data is theirs: `GET /v1/me/export` gathers it from every service, `DELETE /v1/me` erases it "
        "everywhere (`person.erased` to booking and notify).",
        # joining before organizations: `/v1/organizations/invitations/accept` is matched before any
        # `/v1/organizations/{organization_id}/...` route could try to read `invitations` as an id.
        routers=[
            auth_router,
            jwks_router,
            joining_router,
            audit_router,  # before organizations_router: `/v1/organizations/audit` is no `/{organization_id}`
            organizations_router,
            people_router,
            privacy_router,
            internal_router,
        ],
        openapi_tags=[
            {"name": "auth", "description": "Accounts and tokens"},
            {"name": "organizations", "description": "Community, workplace and other learning organizations"},
            {"name": "people", "description": "Public profiles"},
            {"name": "privacy", "description": "Your data: export all of it, or erase your account"},
            {"name": "audit", "description": "Who changed what, when: staff and operator actions"},
            {"name": "health", "description": "Liveness and readiness"},
        ],
        key_source=key_source,
        resources=resources,
    )
    return create_service_app(spec, settings, http_transport=http_transport)
