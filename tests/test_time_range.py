"""One supported range for every time homelog takes (homelog.timeutil): a clear 422 outside."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from homelog import timeutil, tokens
from homelog.extensions import db
from homelog.models import Reading

RANGE = timeutil.RANGE_MESSAGE
OUTSIDE = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59",
    "1899-12-31T23:59:59Z",
    "1900-01-01T00:00:00+01:00",  # 1899-12-31T23:00Z
    "3000-01-01T00:00:00Z",
    "2999-12-31T23:00:00-02:00",  # 3000-01-01T01:00Z
]


@pytest.fixture
def headers(user):
    raw, _ = tokens.issue_token(user, "phone")
    return {"Authorization": f"Bearer {raw}"}


# ---- the rule itself --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1900, 1, 1, tzinfo=UTC),
        datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1900, 1, 1, 13, tzinfo=timezone(timedelta(hours=13))),
        datetime(1900, 1, 1),
        datetime(2999, 12, 31, 23, 59),
    ],
)
def test_times_inside_the_range_pass(moment):
    assert timeutil.check_time(moment) is moment


@pytest.mark.parametrize("text", OUTSIDE)
def test_times_outside_the_range_are_refused_without_overflow(text):
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        with pytest.raises(ValueError, match=RANGE):
            timeutil.to_utc(moment, ZoneInfo("Pacific/Kiritimati"))
    else:
        with pytest.raises(ValueError, match=RANGE):
            timeutil.check_time(moment)
    with pytest.raises(ValueError, match=RANGE):
        timeutil.parse_local(text, ZoneInfo("Pacific/Kiritimati"))


def test_a_local_time_is_placed_in_its_zone_before_the_range_is_checked():
    berlin = ZoneInfo("Europe/Berlin")
    with pytest.raises(ValueError, match=RANGE):
        timeutil.to_utc(datetime(1900, 1, 1, 0, 30), berlin)  # 1899-12-31T23:30Z
    assert timeutil.to_utc(datetime(2999, 12, 31, 23, 59), berlin).tzinfo is UTC


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1899, 12, 31), date(3000, 1, 1)])
def test_days_outside_the_range_are_refused(day):
    with pytest.raises(ValueError, match=RANGE):
        timeutil.check_day(day)
    assert timeutil.check_day(date(1900, 1, 1)) == date(1900, 1, 1)


# ---- every face of the app ------------------------------------------------------------------


@pytest.mark.parametrize("at", OUTSIDE)
def test_value_at_an_instant_outside_the_range_is_a_422(client, headers, user, make_source, at):
    source = make_source(user)
    response = client.get(
        f"/api/sources/{source.id}/value", query_string={"at": at}, headers=headers
    )
    assert response.status_code == 422, response.data
    assert response.json["errors"]["at"] == [RANGE]


@pytest.mark.parametrize("at", ["1900-01-01T00:00:00Z", "2999-12-31T23:59:59Z"])
def test_value_at_the_ends_of_the_range_answers(
    client, headers, user, make_source, make_reading, at
):
    source = make_source(user)
    make_reading(source, {"import": 5.0}, timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    response = client.get(
        f"/api/sources/{source.id}/value", query_string={"at": at}, headers=headers
    )
    assert response.status_code in (200, 404), response.data


@pytest.mark.parametrize("stamp", OUTSIDE)
def test_a_reading_outside_the_range_is_a_422_in_the_api(client, headers, user, make_source, stamp):
    source = make_source(user)
    response = client.post(
        f"/api/sources/{source.id}/readings",
        json={"timestamp": stamp, "values": {"import": 1.0}},
        headers=headers,
    )
    assert response.status_code == 422, response.data
    assert response.json["errors"]["timestamp"] == [RANGE]
    listed = client.get(
        f"/api/sources/{source.id}/readings", query_string={"start": stamp}, headers=headers
    )
    assert listed.status_code == 422 and listed.json["errors"]["start"] == [RANGE]
    assert db.session.scalar(db.select(db.func.count()).select_from(Reading)) == 0


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00", "9999-12-31T23:59", "1899-12-31T23:59"])
def test_a_reading_outside_the_range_is_refused_by_the_form(logged_in, user, make_source, stamp):
    source = make_source(user)
    response = logged_in.post(
        f"/sources/{source.id}/readings",
        data={f"s{source.id}-timestamp": stamp, f"s{source.id}-value_0": "1"},
    )
    assert response.status_code == 422
    assert RANGE.encode() in response.data
    assert db.session.scalar(db.select(db.func.count()).select_from(Reading)) == 0


@pytest.mark.parametrize(
    "query", [{"end": "9999-12-31"}, {"start": "1000-01-01"}, {"start": "0001-01-01"}]
)
def test_export_of_days_outside_the_range_is_a_422(logged_in, user, make_source, query):
    source = make_source(user)
    response = logged_in.get(f"/sources/{source.id}/export.csv", query_string=query)
    assert response.status_code == 422
    assert RANGE.encode() in response.data


def test_export_up_to_the_last_day_of_the_range_works(logged_in, user, make_source, make_reading):
    source = make_source(user)
    make_reading(source, {"import": 5.0}, timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    response = logged_in.get(
        f"/sources/{source.id}/export.csv",
        query_string={"start": "1900-01-01", "end": "2999-12-31"},
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("\n") == 2
