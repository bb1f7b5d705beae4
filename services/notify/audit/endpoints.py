"""`GET /v1/notifications/audit`: notify's trail.

Notify has no staff actions of its own: people manage their own notices, preferences and calendar feed, and
everything else it does follows events. The one operator action it records is `learncity events --retry`
(`event_delivery.retried`, one entry per failed delivery of notify's outbox queued again; no organization, so
operators read them)."""

from services.notify.models import audit_log
from shared.audit import audit_router

router = audit_router(
    "/v1/notifications",
    table=audit_log,
    operation_id="listNotifyAuditEntries",
    tag="audit",
    recorded="Operators queueing notify's failed event deliveries again (`event_delivery.retried`, from "
    "`learncity events --retry`); notify has no staff actions of its own.",
)
