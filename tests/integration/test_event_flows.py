"""What the catalog and booking services tell each other by events and calls, seen from outside: a session
cancelled in the catalog cancels its bookings, more capacity promotes the waitlist, less capacity than is
booked is refused."""

from functools import partial

import httpx
import pytest

from tests.integration.city import Host, book, booking_of, created, eventually, ok, register
from tests.support import assert_problem

pytestmark = pytest.mark.system


def test_a_session_cancelled_in_the_catalog_cancels_its_bookings(api: httpx.Client) -> None:
    host = Host.open(api)
    workshop = host.session(api, capacity=1)
    cleo, dev = register(api, "cleo"), register(api, "dev")
    confirmed = created(book(api, cleo, workshop["id"]))
    waitlisted = created(book(api, dev, workshop["id"]))

    cancelled = ok(
        api.post(f"/v1/sessions/{workshop['id']}/cancel", json={"reason": "flood"}, headers=host.owner.headers)
    )
    assert cancelled["status"] == "cancelled"
    assert ok(api.get(f"/v1/sessions/{workshop['id']}"))["status"] == "cancelled"

    for person, booking in ((cleo, confirmed), (dev, waitlisted)):
        eventually(partial(booking_of, api, person, booking["id"]), lambda b: b["status"] == "cancelled")
    assert_problem(book(api, register(api, "late"), workshop["id"]), 409)
    assert ok(api.get(f"/v1/availability/{workshop['id']}"))["confirmed_seats"] == 0


def test_capacity_raised_in_the_catalog_promotes_the_waitlist(api: httpx.Client) -> None:
    host = Host.open(api)
    workshop = host.session(api, capacity=1)
    eli, fay = register(api, "eli"), register(api, "fay")
    created(book(api, eli, workshop["id"]))
    waiting = created(book(api, fay, workshop["id"]))
    assert waiting["status"] == "waitlisted"

    raised = ok(api.patch(f"/v1/sessions/{workshop['id']}", json={"capacity": 2}, headers=host.owner.headers))
    assert raised["capacity"] == 2
    eventually(lambda: booking_of(api, fay, waiting["id"])["status"], lambda status: status == "confirmed")
    assert ok(api.get(f"/v1/availability/{workshop['id']}"))["confirmed_seats"] == 2

    # Two seats are taken: the catalog asks booking before lowering the capacity, and refuses.
    assert_problem(api.patch(f"/v1/sessions/{workshop['id']}", json={"capacity": 1}, headers=host.owner.headers), 409)
    assert ok(api.get(f"/v1/sessions/{workshop['id']}"))["capacity"] == 2
