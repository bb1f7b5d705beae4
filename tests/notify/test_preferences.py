"""Notice preferences: defaults until saved, bounded input, and the language they choose."""

import httpx
import pytest
from fastapi import FastAPI

from tests.notify.conftest import Bookings, Catalog, Mint, inbox, put_contact
from tests.support import assert_problem

PREFERENCES = "/v1/notifications/preferences"


async def test_defaults_until_saved_then_what_was_saved(client: httpx.AsyncClient, mint: Mint) -> None:
    person = mint()
    defaults = await client.get(PREFERENCES, headers=person.headers)
    assert defaults.status_code == 200, defaults.text
    assert defaults.json() == {"email": True, "language": "zh-CN", "reminders_minutes_before": [1440, 120]}

    chosen = {"email": False, "language": "en", "reminders_minutes_before": [30, 10080, 30, 60]}
    saved = await client.put(PREFERENCES, json=chosen, headers=person.headers)
    assert saved.status_code == 200, saved.text
    expected = {"email": False, "language": "en", "reminders_minutes_before": [30, 10080, 60]}
    assert saved.json() == expected
    assert (await client.get(PREFERENCES, headers=person.headers)).json() == expected
    # Someone else still has the defaults.
    assert (await client.get(PREFERENCES, headers=mint().headers)).json()["email"] is True


async def test_the_default_language_is_what_orgs_knows(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], mint: Mint
) -> None:
    person = mint()
    await put_contact(apps["notify"], person, email="en@example.org", language="en")
    assert (await client.get(PREFERENCES, headers=person.headers)).json()["language"] == "en"


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"reminders_minutes_before": [4]}, "/body/reminders_minutes_before/0"),
        ({"reminders_minutes_before": [20161]}, "/body/reminders_minutes_before/0"),
        ({"reminders_minutes_before": [10, 20, 30, 40, 50, 60]}, "/body/reminders_minutes_before"),
        ({"language": "fr"}, "/body/language"),
        ({"email": "maybe"}, "/body/email"),
        ({"email": 0}, "/body/email"),
        ({"reminders_minutes_before": ["60"]}, "/body/reminders_minutes_before/0"),
        ({"extra": 1}, "/body/extra"),
    ],
)
async def test_bad_preferences_are_422(
    client: httpx.AsyncClient, mint: Mint, change: dict[str, object], pointer: str
) -> None:
    body = {"email": True, "language": "zh-CN", "reminders_minutes_before": [60]} | change
    problem = assert_problem(await client.put(PREFERENCES, json=body, headers=mint().headers), 422)
    assert pointer in [error["pointer"] for error in problem["errors"]]  # type: ignore[attr-defined]


async def test_a_missing_field_and_no_token_are_refused(client: httpx.AsyncClient, mint: Mint) -> None:
    assert_problem(await client.put(PREFERENCES, json={"email": True}, headers=mint().headers), 422)
    assert_problem(await client.get(PREFERENCES), 401)
    assert_problem(await client.put(PREFERENCES, json={}), 401)


async def test_the_chosen_language_writes_the_notices(
    client: httpx.AsyncClient, apps: dict[str, FastAPI], catalog: Catalog, bookings: Bookings, mint: Mint
) -> None:
    person = mint()
    await put_contact(apps["notify"], person, email=None, language="zh-CN")
    chosen = {"email": True, "language": "en", "reminders_minutes_before": [120]}
    assert (await client.put(PREFERENCES, json=chosen, headers=person.headers)).status_code == 200
    session = await catalog.schedule()
    await bookings.confirm(person.id, session.session_id)
    assert (await inbox(client, person))[0]["title"] == "Booking confirmed: West Lake reading circle"
