"""Reading reminders: schedules, due and overdue in the source's days, dashboard and API."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from homelog import homes, reminders, tokens
from homelog.errors import ValidationFailed
from homelog.extensions import db
from tests.conftest import share

# Wednesday 2026-03-11, 12:00 in Berlin.
NOW = datetime(2026, 3, 11, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "every, day, after, expected",
    [
        ("day", None, date(2026, 3, 10), date(2026, 3, 11)),
        ("week", 0, date(2026, 3, 9), date(2026, 3, 16)),  # Monday -> next Monday
        ("week", 0, date(2026, 3, 8), date(2026, 3, 9)),  # Sunday -> Monday
        ("week", 4, date(2026, 3, 11), date(2026, 3, 13)),  # Wednesday -> Friday
        ("month", 15, date(2026, 3, 10), date(2026, 3, 15)),
        ("month", 15, date(2026, 3, 15), date(2026, 4, 15)),
        ("month", 31, date(2026, 4, 1), date(2026, 4, 30)),  # the last day of shorter months
        ("month", 31, date(2026, 12, 31), date(2027, 1, 31)),
    ],
)
def test_first_occurrence_after(every, day, after, expected):
    assert reminders.first_after(every, day, after) == expected


@pytest.mark.parametrize(
    "every, day, message",
    [
        ("hourly", None, "Choose daily, weekly or monthly."),
        ("week", 7, "Choose a weekday."),
        ("week", None, "Choose a weekday."),
        ("month", 0, "from 1 to 31"),
        ("month", "x", "from 1 to 31"),
    ],
)
def test_invalid_schedules(every, day, message):
    with pytest.raises(ValidationFailed) as caught:
        reminders.clean_schedule(every, day)
    assert message in str(caught.value.errors)


@pytest.mark.parametrize(
    "every, day, text",
    [
        ("day", None, "every day"),
        ("week", 0, "every Monday"),
        ("month", 1, "monthly on the 1st"),
        ("month", 22, "monthly on the 22nd"),
        ("month", 31, "monthly on the last day"),
        (None, None, "no reminder"),
    ],
)
def test_schedules_in_words(every, day, text):
    assert reminders.describe(every, day) == text


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    "every, day, last, status, since",
    [
        ("day", None, _at(11, 6), "ok", None),  # read this morning
        ("day", None, _at(10), "due", date(2026, 3, 11)),
        ("day", None, _at(8), "overdue", date(2026, 3, 9)),
        ("week", 0, _at(9), "ok", None),  # read on Monday
        ("week", 2, _at(4), "due", date(2026, 3, 11)),  # Wednesdays; last read a week ago
        ("week", 0, _at(1), "overdue", date(2026, 3, 2)),
        ("month", 11, _at(2), "due", date(2026, 3, 11)),
        ("month", 1, datetime(2026, 2, 1, tzinfo=UTC), "overdue", date(2026, 3, 1)),
        ("week", 0, None, "due", date(2026, 3, 11)),  # never read
    ],
)
def test_status(make_source, user, every, day, last, status, since):
    source = make_source(user)
    reminders.set_schedule(source, every, day)
    reminder = reminders.status_of(source, last, NOW)
    assert (reminder.status, reminder.due_since) == (status, since)
    if status == "overdue":
        assert reminder.days_overdue == (date(2026, 3, 11) - since).days


def test_days_are_the_sources_local_days(make_source, user):
    """22:30 UTC on the 10th is the 11th in Tokyo (done there), still the 10th in Berlin."""
    source = make_source(user)
    source.location_id = homes.create_home(user, "Flat", "Asia/Tokyo").id
    reminders.set_schedule(source, "day")
    last = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)
    assert reminders.status_of(source, last, NOW).status == "ok"
    source.location_id = None
    db.session.commit()
    db.session.refresh(source)
    assert reminders.status_of(source, last, NOW).status == "due"  # Berlin: the 11th is open


def test_dashboard_lists_due_and_overdue_sources(logged_in, user, make_source, make_reading):
    late = make_source(user, "Gas")
    fine = make_source(user, "Water")
    make_source(user, "Unscheduled")
    reminders.set_schedule(late, "week", 0)
    reminders.set_schedule(fine, "month", 31)
    make_reading(late, timestamp=datetime(2020, 1, 1, tzinfo=UTC))
    make_reading(fine, timestamp=datetime.now(UTC))
    page = logged_in.get("/").get_data(as_text=True)
    assert "Readings due" in page
    start = page.index('id="reminders"')
    section = page[start : page.index("</section>", start)]
    assert "Gas" in section and "overdue" in section and "every Monday" in section
    assert "Water" not in section and "Unscheduled" not in section


def test_the_reminder_page_sets_the_schedule(logged_in, user, make_source):
    source = make_source(user)
    assert logged_in.get(f"/sources/{source.id}/reminder").status_code == 200
    response = logged_in.post(
        f"/sources/{source.id}/reminder", data={"every": "week", "weekday": "4", "month_day": "1"}
    )
    assert response.status_code == 302
    db.session.refresh(source)
    assert (source.reminder_every, source.reminder_day) == ("week", 4)
    assert "Reminder: every Friday" in logged_in.get(f"/sources/{source.id}").get_data(as_text=True)
    bad = logged_in.post(
        f"/sources/{source.id}/reminder", data={"every": "month", "month_day": "40"}
    )
    assert bad.status_code == 422 and "from 1 to 31" in bad.get_data(as_text=True)
    logged_in.post(f"/sources/{source.id}/reminder", data={"every": ""})
    db.session.refresh(source)
    assert source.reminder_every is None


def test_api_lists_the_same_reminders(client, user, make_user, make_source, make_reading):
    source = make_source(user, "Gas")
    reminders.set_schedule(source, "day")
    make_reading(source, timestamp=datetime(2020, 1, 1, tzinfo=UTC))
    other = make_source(user, "Later")
    reminders.set_schedule(other, "month", 31)
    make_reading(other, timestamp=datetime.now(UTC))
    raw, _ = tokens.issue_token(user, "phone")
    headers = {"Authorization": f"Bearer {raw}"}
    body = client.get("/api/reminders", headers=headers).get_json()
    assert [(r["source_name"], r["status"], r["schedule"]) for r in body] == [
        ("Gas", "overdue", "every day")
    ]
    assert body[0]["due_since"] == "2020-01-02" and body[0]["days_overdue"] > 2000
    everything = client.get("/api/reminders?all=true", headers=headers).get_json()
    assert [r["source_name"] for r in everything] == ["Gas", "Later"]
    # A stranger's list does not include them; and cannot read the schedule.
    stranger = make_user("s@example.com")
    raw2, _ = tokens.issue_token(stranger, "phone")
    assert (
        client.get("/api/reminders", headers={"Authorization": f"Bearer {raw2}"}).get_json() == []
    )
    assert (
        client.get(
            f"/api/sources/{source.id}/reminder", headers={"Authorization": f"Bearer {raw2}"}
        ).status_code
        == 404
    )


def test_api_sets_the_schedule(client, user, make_source):
    source = make_source(user)
    raw, _ = tokens.issue_token(user, "phone")
    headers = {"Authorization": f"Bearer {raw}"}
    response = client.put(
        f"/api/sources/{source.id}/reminder", headers=headers, json={"every": "month", "day": 15}
    )
    assert response.get_json() == {"every": "month", "day": 15, "schedule": "monthly on the 15th"}
    bad = client.put(
        f"/api/sources/{source.id}/reminder", headers=headers, json={"every": "week", "day": 9}
    )
    assert bad.status_code == 422
    assert (
        client.put(
            f"/api/sources/{source.id}/reminder", headers=headers, json={"every": None}
        ).get_json()["schedule"]
        == "no reminder"
    )
    document = client.get("/api/openapi.json").get_json()
    assert "/api/reminders" in document["paths"]
    assert "put" in document["paths"]["/api/sources/{source_id}/reminder"]


def test_members_see_shared_reminders_but_only_the_owner_sets_them(
    client, user, make_user, make_source
):
    home = homes.create_home(user, "Home", "Europe/Berlin")
    source = make_source(user, location_id=home.id)
    reminders.set_schedule(source, "day")
    editor = make_user("e@example.com")
    share(home, editor, "editor")
    raw, _ = tokens.issue_token(editor, "phone")
    headers = {"Authorization": f"Bearer {raw}"}
    assert [r["source_id"] for r in client.get("/api/reminders", headers=headers).get_json()] == [
        source.id
    ]
    assert (
        client.put(
            f"/api/sources/{source.id}/reminder", headers=headers, json={"every": None}
        ).status_code
        == 403
    )
