"""What notify's event handlers, workers and endpoints share: settings, the time zone, the peers."""

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx

from services.notify.peers import Peers
from services.notify.settings import NotifySettings


@dataclass(frozen=True)
class NotifyContext:
    settings: NotifySettings
    zone: ZoneInfo
    peers: Peers

    @classmethod
    def build(cls, settings: NotifySettings, http: httpx.AsyncClient) -> "NotifyContext":
        return cls(settings=settings, zone=settings.zone, peers=Peers.of(settings, http))
