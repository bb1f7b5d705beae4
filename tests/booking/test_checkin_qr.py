"""GET /v1/bookings/{id}/checkin-qr.svg: the holder's check-in code as a QR code, read back by a real decoder
(zxing-cpp) from the pixels the SVG draws, never from the encoder's own matrix."""

import io

import httpx
import numpy as np
import segno
import zxingcpp

from tests.booking.conftest import CatalogStandIn, Mint, book, organization
from tests.booking.qr import decode, decode_qr_svg, svg_modules
from tests.support import assert_problem


def test_the_decoder_reads_what_the_svg_draws() -> None:
    """The parser and the decoder themselves: another code's image reads as that other code."""
    qr = segno.make_qr("not-the-code", error="m")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=3, border=4)
    assert decode_qr_svg(out.getvalue()) == "not-the-code"
    blank = np.zeros((37, 37), dtype=bool)
    assert decode(blank) == []


async def test_the_holder_gets_the_code_as_a_qr_code(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule()
    holder = mint()
    booking = (await book(client, holder, session.session_id)).json()
    response = await client.get(f"/v1/bookings/{booking['id']}/checkin-qr.svg", headers=holder.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["cache-control"] == "private, no-store"
    assert response.content.startswith(b"<svg")  # no XML declaration
    modules = svg_modules(response.content)
    assert not modules[:4].any() and not modules[-4:].any()  # the quiet zone
    assert not modules[:, :4].any() and not modules[:, -4:].any()
    (result,) = decode(modules)
    assert result.format == zxingcpp.BarcodeFormat.QRCode
    assert result.text == booking["checkin_code"]
    assert result.ec_level == "M"


async def test_only_the_holder_of_a_confirmed_booking_gets_it(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    org = await organization(client, roles=("admin", "coordinator"))
    session = await catalog.schedule(capacity=1, host_org_id=org.id)
    holder = org["owner"]
    booking = (await book(client, holder, session.session_id, organization_id=org.id)).json()
    path = f"/v1/bookings/{booking['id']}/checkin-qr.svg"
    assert (await client.get(path, headers=holder.headers)).status_code == 200
    # The organization's admin sees the code in the booking, host staff and operators see the booking:
    # the image is the holder's alone, and to anyone else the booking does not exist.
    assert (await client.get(f"/v1/bookings/{booking['id']}", headers=org["admin"].headers)).status_code == 200
    for other in (org["admin"], org["coordinator"], mint(roles=["operator"]), mint()):
        assert_problem(await client.get(path, headers=other.headers), 404)
    unauthenticated = await client.get(path)
    assert_problem(unauthenticated, 401)
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    unknown = "00000000-0000-7000-8000-000000000000"
    assert_problem(await client.get(f"/v1/bookings/{unknown}/checkin-qr.svg", headers=holder.headers), 404)


async def test_a_booking_without_a_code_is_409_saying_why(
    client: httpx.AsyncClient, catalog: CatalogStandIn, mint: Mint
) -> None:
    session = await catalog.schedule(capacity=1)
    holder, waiting = mint(), mint()
    held = (await book(client, holder, session.session_id)).json()
    waitlisted = (await book(client, waiting, session.session_id)).json()
    problem = assert_problem(
        await client.get(f"/v1/bookings/{waitlisted['id']}/checkin-qr.svg", headers=waiting.headers), 409
    )
    assert (problem["reason"], "waitlisted" in str(problem["detail"])) == ("booking_waitlisted", True)
    await client.post(f"/v1/bookings/{held['id']}/cancel", headers=holder.headers)
    problem = assert_problem(await client.get(f"/v1/bookings/{held['id']}/checkin-qr.svg", headers=holder.headers), 409)
    assert (problem["reason"], "cancelled" in str(problem["detail"])) == ("booking_cancelled", True)
    # The waitlisted booking was promoted by the cancellation: now it has its code.
    promoted = await client.get(f"/v1/bookings/{waitlisted['id']}/checkin-qr.svg", headers=waiting.headers)
    view = (await client.get(f"/v1/bookings/{waitlisted['id']}", headers=waiting.headers)).json()
    assert decode_qr_svg(promoted.text) == view["checkin_code"]
