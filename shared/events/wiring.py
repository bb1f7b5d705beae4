"""Events for one service: its outbox, its inbox and its relay, built from its settings."""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, nullcontext
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from shared.db import driver_url
from shared.events.inbox import Handler, Inbox
from shared.events.outbox import Outbox
from shared.events.relay import Relay, RelayPolicy
from shared.events.tables import EventTables
from shared.settings import ServiceSettings
from shared.tasks import running


def subscriber_urls(settings: ServiceSettings) -> dict[str, str]:
    urls: dict[str, str] = {}
    for subscriber in settings.event_subscriptions:
        url = getattr(settings, f"{subscriber}_url", None)
        if not isinstance(url, str):
            raise ValueError(f"event subscriber {subscriber!r} needs a `{subscriber}_url` setting")
        urls[subscriber] = url
    return urls


def build_relay(app: FastAPI, producer: str, tables: EventTables) -> Relay:
    settings: ServiceSettings = app.state.settings
    return Relay(
        database=app.state.database,
        tables=tables,
        producer=producer,
        subscriber_urls=subscriber_urls(settings),
        http=app.state.http,
        internal_secret=settings.internal_secret.get_secret_value(),
        listen_dsn=driver_url(settings.database_url),
        policy=RelayPolicy(
            batch_size=settings.relay_batch_size,
            delivery_batch=settings.relay_delivery_batch,
            delivery_max_bytes=settings.max_body_bytes,
            linger_s=settings.relay_linger_s,
            poll_interval_s=settings.relay_poll_interval_s,
            max_attempts=settings.relay_max_attempts,
            backoff_base_s=settings.relay_backoff_base_s,
            backoff_cap_s=settings.relay_backoff_cap_s,
        ),
    )


@asynccontextmanager
async def service_events(
    app: FastAPI, *, producer: str, tables: EventTables, handlers: Mapping[str, Handler]
) -> AsyncIterator[None]:
    """Sets `app.state.outbox`, `app.state.inbox` and `app.state.relay`; runs the relay in the background
    unless `relay_enabled` is off (tests drive it by hand; `learncity relay` runs it alone)."""
    settings: ServiceSettings = app.state.settings
    app.state.outbox = Outbox(tables, producer=producer, subscriptions=settings.event_subscriptions)
    app.state.inbox = Inbox(tables, handlers)
    app.state.relay = relay = build_relay(app, producer, tables)
    async with running(relay.run_forever()) if settings.relay_enabled else nullcontext():
        yield


async def _outbox(request: Request) -> Outbox:
    outbox: Outbox = request.app.state.outbox
    return outbox


OutboxDep = Annotated[Outbox, Depends(_outbox)]
