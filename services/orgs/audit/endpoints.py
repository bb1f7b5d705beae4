"""`GET /v1/organizations/audit`: the orgs trail (mounted before the organizations router, whose
`/{organization_id}` would otherwise read `audit` as an id). Memberships are read from orgs' own tables."""

from services.orgs.dependencies import DatabaseMemberships, SignedInPerson
from services.orgs.models import audit_log
from shared.audit import audit_router
from shared.auth import Principal
from shared.authz import MembershipSource
from shared.db import SessionDep


async def _memberships(session: SessionDep) -> MembershipSource:
    return DatabaseMemberships(session)


async def _reader(principal: SignedInPerson) -> Principal:
    return principal


router = audit_router(
    "/v1/organizations",
    table=audit_log,
    memberships=_memberships,
    principal=_reader,
    operation_id="listOrgsAuditEntries",
    tag="audit",
    recorded="Organizations created and updated; members added (directly, by invitation or by request), "
    "removed or leaving (`membership.*`: entity_id is the member's person id); invitations created, revoked "
    "and accepted (no address, no token); join requests accepted or refused; the operator role granted at the "
    "command line (`person.operator_granted`, no organization).",
)
