"""`ServiceClient`: bounded retries with backoff, a 503 problem when the peer is down, and once a peer is
known to be down, one attempt per call (a fast 503) until it answers again."""

import httpx
import pytest

from shared.clients import ServiceClient
from shared.errors import ServiceUnavailable
from shared.settings import ServiceSettings


class Peer:
    """A peer behind an in-process transport: refusing connections, or answering 200; counts attempts."""

    def __init__(self) -> None:
        self.up = False
        self.attempts = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"ok": True})


async def test_a_peer_known_down_gets_one_attempt_until_it_answers() -> None:
    peer = Peer()
    settings = ServiceSettings(http_retries=2)
    async with httpx.AsyncClient(transport=httpx.MockTransport(peer.handle)) as http:
        # A base URL of this test's own: what the clients remember is per peer.
        client = ServiceClient("peer", "http://peer-known-down.test", settings, http)

        async def attempts_of_one_call() -> int:
            before = peer.attempts
            with pytest.raises(ServiceUnavailable):
                await client.get_json("/thing")
            return peer.attempts - before

        assert await attempts_of_one_call() == 3  # the first failure: the retries with backoff
        assert await attempts_of_one_call() == 1  # known down: at once
        peer.up = True
        assert await client.get_json("/thing") == {"ok": True}  # back: noticed by the very next call
        peer.up = False
        assert await attempts_of_one_call() == 3  # healthy again, so a new outage is retried again
