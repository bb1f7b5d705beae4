"""Time-ordered UUIDs (RFC 9562 version 7): index-friendly primary keys; and the demo city's fixed ids."""

from uuid import UUID, uuid5

from uuid6 import uuid7


def new_id() -> UUID:
    return uuid7()


# Fixed forever: demo ids must be the same on every machine and every run, and in every service.
_DEMO_NAMESPACE = UUID("6f1c2a4e-3b7d-5e9f-8a1b-2c3d4e5f6a7b")


def demo_id(kind: str, key: str) -> UUID:
    """The demo city's deterministic ids (uuid5 of a kind and a key), so each service's seed can name the
    rows of the others (an organization's id in the catalog) without reading their schemas."""
    return uuid5(_DEMO_NAMESPACE, f"{kind}:{key}")
