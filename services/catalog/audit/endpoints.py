"""`GET /v1/activities/audit`: the catalog's trail (mounted before the activities router, whose
`/{activity_id}` would otherwise read `audit` as an id)."""

from services.catalog.models import audit_log
from shared.audit import audit_router

router = audit_router(
    "/v1/activities",
    table=audit_log,
    operation_id="listCatalogAuditEntries",
    tag="audit",
    recorded="Sites created; activities created and updated; sessions scheduled, updated (seats, times, booking "
    "window) and cancelled (with status and reason before and after); series created. An entry's organization "
    "is the site's owner, the activity's (or session's) host, the series' organizer.",
)
