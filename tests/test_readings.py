"""Readings on the source page: add (page, htmx, dashboard), edit in place, delete, undo, paging."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from homelog.extensions import db
from homelog.models import Reading
from tests.conftest import hour

HX = {"HX-Request": "true"}


@pytest.fixture
def meter(user, make_source):
    """Return the user's electricity meter with two metrics."""
    return make_source(user, "Electricity", metrics={"import": "kWh", "export": "kWh"})


def add_data(source, values=("1234,5", "7"), timestamp="2026-03-01T12:00", note="", **extra):
    """Return the add-reading form of source filled in."""
    prefix = f"s{source.id}-"
    data = {f"{prefix}timestamp": timestamp, f"{prefix}note": note}
    for index, value in enumerate(values):
        data[f"{prefix}value_{index}"] = value
    data.update({f"{prefix}{key}": value for key, value in extra.items()})
    return data


def edit_data(reading, values, timestamp, note="", **extra):
    """Return the edit form of reading filled in."""
    prefix = f"r{reading.id.hex}-"
    data = {f"{prefix}timestamp": timestamp, f"{prefix}note": note}
    for index, value in enumerate(values):
        data[f"{prefix}value_{index}"] = value
    data.update({f"{prefix}{key}": value for key, value in extra.items()})
    return data


def all_readings() -> list[Reading]:
    return db.session.scalars(db.select(Reading).order_by(Reading.timestamp)).all()


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="reading-([0-9a-f-]{36})"', html)


# ---- the source page ------------------------------------------------------------------------


def test_source_page_has_add_form_with_decimal_inputs(logged_in, meter):
    response = logged_in.get(f"/sources/{meter.id}")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert text.count('inputmode="decimal"') == 2
    assert 'type="text"' in text and 'type="datetime-local"' in text
    assert "No readings yet." in text


def test_timestamp_defaults_to_now_in_users_timezone(logged_in, meter):
    text = logged_in.get(f"/sources/{meter.id}").get_data(as_text=True)
    value = re.search(r'name="s\d+-timestamp" type="datetime-local" value="([^"]+)"', text)
    shown = datetime.strptime(value.group(1), "%Y-%m-%dT%H:%M")
    from zoneinfo import ZoneInfo

    now_berlin = datetime.now(ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
    assert abs(now_berlin - shown) < timedelta(minutes=2)
    assert "Europe/Berlin" in text


def test_source_page_fragment(logged_in, meter, make_reading):
    make_reading(meter, timestamp=hour(1))
    response = logged_in.get(f"/sources/{meter.id}", headers=HX)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in text
    assert text.lstrip().startswith('<div id="readings-panel"')
    assert len(row_ids(text)) == 1


def test_rows_show_each_value_and_escape_what_users_wrote(
    logged_in, user, make_user, make_source, make_reading
):
    """The rows (homelog/sources/rows.py) are written as HTML in Python: every name, unit,
    note and user name a person typed must arrive as text, never as markup."""
    other = make_user("other@example.com", name='<b onmouseover="x()">Bo</b>')
    source = make_source(user, "Power", metrics={"import": "kWh", "<i>peak</i>": "", "t&x": '"m3"'})
    first = make_reading(
        source,
        {"import": 100.0, "<i>peak</i>": 7, "t&x": 0.1 + 0.2},
        timestamp=datetime(2026, 1, 1, 11, 30, tzinfo=UTC),
        note='<script>alert("x")</script> & more',
        created_by_id=other.id,
    )
    second = make_reading(
        source, {"import": 90.5}, timestamp=datetime(2026, 1, 2, tzinfo=UTC), created_by_id=user.id
    )
    page = logged_in.get(f"/sources/{source.id}").get_data(as_text=True)
    rows = dict(
        zip(row_ids(page), re.findall(r"<tr id=\"reading-.*?</tr>", page, re.S), strict=True)
    )
    assert list(rows) == [str(second.id), str(first.id)]  # newest first
    older = rows[str(first.id)]
    # Europe/Berlin is UTC+1 in January; the title says how long ago.
    assert '<time datetime="2026-01-01T11:30:00+00:00" title="' in older
    assert ">2026-01-01 12:30</time>" in older and " ago" in older
    assert '<span class="cell">100 <span class="unit">kWh</span></span>' in older
    assert 'data-label="&lt;i&gt;peak&lt;/i&gt;"><span class="cell">7</span>' in older
    assert (
        'data-label="t&amp;x"><span class="cell">0.3 <span class="unit">&#34;m3&#34;</span>'
    ) in older  # float noise gone, the unit's quotes escaped
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in older
    assert "by &lt;b onmouseover=&#34;x()&#34;&gt;Bo&lt;/b&gt;" in older
    assert "<script>" not in page and "<b onmouseover" not in page
    newer = rows[str(second.id)]
    assert 'class="reading-row flagged"' in newer  # 90.5 is below 100
    assert 'title="Lower than the reading before (100)">↓ lower' in newer
    assert newer.count('<span class="muted">—</span>') == 2  # no value for two metrics
    assert " by " not in newer  # the signed-in user's own reading
    assert f'href="/sources/{source.id}/readings/{second.id}/edit"' in newer
    assert f'hx-post="/sources/{source.id}/readings/{second.id}/delete"' in newer


# ---- add ------------------------------------------------------------------------------------


def test_add_reading_with_decimal_comma(logged_in, user, meter):
    response = logged_in.post(
        f"/sources/{meter.id}/readings", data=add_data(meter, note=" first one ")
    )
    assert response.status_code == 302 and response.location == f"/sources/{meter.id}"
    [reading] = all_readings()
    assert reading.values == {"import": 1234.5, "export": 7.0}
    assert reading.note == "first one" and reading.created_by_id == user.id
    # 12:00 in Berlin (the user's timezone) is 11:00 UTC.
    assert reading.timestamp == datetime(2026, 3, 1, 11, tzinfo=UTC)
    page = logged_in.get(response.location).get_data(as_text=True)
    assert "Reading saved." in page and "1,234.5" in page and "2026-03-01 12:00" in page


def test_add_reading_htmx_puts_row_in_its_place(logged_in, meter, make_reading):
    older = make_reading(
        meter, {"import": 1.0, "export": 1.0}, timestamp=datetime(2026, 2, 1, tzinfo=UTC)
    )
    newer = make_reading(
        meter, {"import": 9000.0, "export": 9.0}, timestamp=datetime(2026, 4, 1, tzinfo=UTC)
    )
    response = logged_in.post(f"/sources/{meter.id}/readings", data=add_data(meter), headers=HX)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "readings-changed"
    new = next(r for r in all_readings() if r.id not in (older.id, newer.id))
    assert row_ids(text) == [str(newer.id), str(new.id), str(older.id)]
    assert "just-saved" in text and "Reading saved." in text and "hx-swap-oob" in text
    # The form comes back empty for the next reading.
    assert 'value="1234,5"' not in text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter a number."),
        ("   ", "Enter a number."),
        ("abc", "Enter a number, like 1234.5."),
        ("NaN", "Enter a finite number."),
        ("inf", "Enter a finite number."),
        ("-infinity", "Enter a finite number."),
        ("1" * 31, "That number is too long."),
        ("1e300", "That number is too large."),
        ("12,34.5", "Use one decimal separator, like 1234.5 or 1234,5."),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_add_reading_rejects_bad_numbers(logged_in, meter, value, message, htmx):
    response = logged_in.post(
        f"/sources/{meter.id}/readings",
        data=add_data(meter, values=("12,5", value)),
        headers=HX if htmx else None,
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in text
    assert 'value="12,5"' in text  # the user's input is kept
    assert 'aria-invalid="true"' in text
    assert all_readings() == []
    if htmx:
        assert text.lstrip().startswith('<form id="add-reading"')
        assert response.headers["HX-Retarget"] == "#add-reading"
    else:
        assert "<html" in text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timestamp", "", "Enter a date and time."),
        ("timestamp", "yesterday", "Enter a date and time like"),
        ("timestamp", "2026-03-29T02:30", "the clocks skip that hour"),
        ("timestamp", "1800-01-01T00:00", "Enter a date between the years 1900 and 2999."),
        ("timestamp", "x" * 41, "That date and time is too long."),
        ("note", "n" * 501, "Use at most 500 characters."),
    ],
)
def test_add_reading_other_validation(logged_in, meter, field, value, message):
    data = add_data(meter)
    data[f"s{meter.id}-{field}"] = value
    response = logged_in.post(f"/sources/{meter.id}/readings", data=data, headers=HX)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert all_readings() == []


def test_a_time_days_ahead_is_refused_with_a_hint_to_check_the_date(
    logged_in, user, meter, make_reading
):
    """A mistyped year (2062 for 2026) would mark every later real reading as lower."""
    ahead = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = logged_in.post(
        f"/sources/{meter.id}/readings", data=add_data(meter, timestamp=ahead), headers=HX
    )
    assert response.status_code == 422
    assert "That time is in the future: check the date." in response.get_data(as_text=True)
    assert all_readings() == []

    reading = make_reading(meter, {"import": 1, "export": 1})
    response = logged_in.post(
        f"/sources/{meter.id}/readings/{reading.id}/edit",
        data=edit_data(reading, ("1", "1"), "2062-03-01T12:00"),
        headers=HX,
    )
    assert response.status_code == 422
    assert "That time is in the future: check the date." in response.get_data(as_text=True)

    # A few hours ahead passes: a phone's clock or timezone may differ from the account's.
    soon = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    response = logged_in.post(
        f"/sources/{meter.id}/readings", data=add_data(meter, timestamp=soon), headers=HX
    )
    assert response.status_code == 200


def test_missing_value_field_is_rejected(logged_in, meter):
    data = add_data(meter)
    del data[f"s{meter.id}-value_1"]
    response = logged_in.post(f"/sources/{meter.id}/readings", data=data)
    assert response.status_code == 422 and b"Enter a number." in response.data


def test_add_reading_requires_csrf(logged_in, meter):
    response = logged_in.post(f"/sources/{meter.id}/readings", data=add_data(meter), csrf=False)
    assert response.status_code == 400
    assert all_readings() == []


# ---- meter drops ----------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True])
def test_lower_meter_value_is_flagged_then_saved_on_confirm(logged_in, meter, make_reading, htmx):
    make_reading(
        meter, {"import": 5000.0, "export": 1.0}, timestamp=datetime(2026, 2, 1, tzinfo=UTC)
    )
    headers = HX if htmx else None
    response = logged_in.post(
        f"/sources/{meter.id}/readings", data=add_data(meter), headers=headers
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Lower than the previous reading." in text
    assert "the reading before was 5,000 kWh" in text
    assert "Save anyway: the value is right" in text
    assert 'value="1234,5"' in text
    assert len(all_readings()) == 1
    response = logged_in.post(
        f"/sources/{meter.id}/readings", data=add_data(meter, confirm_lower="y"), headers=headers
    )
    assert response.status_code == (200 if htmx else 302)
    assert len(all_readings()) == 2
    # The saved drop stays visible in the table.
    page = logged_in.get(f"/sources/{meter.id}").get_data(as_text=True)
    assert 'class="reading-row flagged' in page and "↓ lower" in page


def test_a_drop_points_to_recording_the_swap_which_keeps_usage_whole(
    logged_in, user, meter, make_reading
):
    """Saving a drop alone would count it as negative use; the warning sends the owner to
    record the meter swap first, after which the reading is no drop and continues the usage."""
    from datetime import date

    from homelog.usage_db.query import usage_for
    from homelog.usage_db.swaps import create_swap

    make_reading(
        meter, {"import": 1000.0, "export": 10.0}, timestamp=datetime(2026, 3, 1, 8, tzinfo=UTC)
    )
    make_reading(
        meter, {"import": 1200.0, "export": 12.0}, timestamp=datetime(2026, 3, 4, 8, tzinfo=UTC)
    )
    data = add_data(meter, values=("100", "1"), timestamp="2026-03-05T09:00")
    warned = logged_in.post(f"/sources/{meter.id}/readings", data=data, headers=HX)
    text = warned.get_data(as_text=True)
    assert warned.status_code == 422 and "Lower than the previous reading." in text
    assert f'href="/sources/{meter.id}/meter" target="_blank"' in text
    assert "Record the swap" in text and len(all_readings()) == 2

    create_swap(
        meter,
        user,
        datetime(2026, 3, 4, 12, tzinfo=UTC),
        {"import": 1250, "export": 13},
        {"import": 5, "export": 0},
    )
    # Below the new meter's first value: still a drop, measured from that value.
    below = logged_in.post(
        f"/sources/{meter.id}/readings",
        headers=HX,
        data=add_data(meter, values=("3", "1"), timestamp="2026-03-05T09:00"),
    )
    assert below.status_code == 422 and "the reading before was 5 kWh" in below.get_data(
        as_text=True
    )
    # Above it: the swap explains the drop, so the reading is saved without a question and
    # its row is not flagged.
    saved = logged_in.post(f"/sources/{meter.id}/readings", data=data, headers=HX)
    assert saved.status_code == 200 and len(all_readings()) == 3
    assert "flagged" not in saved.get_data(as_text=True)
    usage = usage_for(meter, "month", date(2026, 3, 1), date(2026, 4, 1))
    (march,) = usage.meter["import"].periods
    assert march.measured_usage == pytest.approx(250 + 95)  # not 100 - 1200
    assert not usage.suspects


def test_a_register_wrapping_round_is_no_drop(logged_in, user, make_source, make_reading):
    """With a register size set, a small step past the top (99,990 -> 5 of 100,000) is what
    usage counts on as a rollover: no question. A big fall is still asked about."""
    from datetime import date

    from homelog.usage_db.query import usage_for
    from homelog.usage_db.swaps import create_swap

    meter = make_source(user, "Gas", metrics={"volume": "m³"}, rollover_at={"volume": 100000})
    make_reading(meter, {"volume": 99990.0}, timestamp=datetime(2026, 3, 1, 8, tzinfo=UTC))
    fall = logged_in.post(
        f"/sources/{meter.id}/readings",
        headers=HX,
        data=add_data(meter, values=("40000",), timestamp="2026-03-02T09:00"),
    )
    assert fall.status_code == 422 and "Lower than the previous reading." in fall.get_data(
        as_text=True
    )
    wrapped = logged_in.post(
        f"/sources/{meter.id}/readings",
        headers=HX,
        data=add_data(meter, values=("5",), timestamp="2026-03-02T09:00"),
    )
    assert wrapped.status_code == 200 and "flagged" not in wrapped.get_data(as_text=True)
    usage = usage_for(meter, "month", date(2026, 3, 1), date(2026, 4, 1))
    (march,) = usage.meter["volume"].periods
    assert march.measured_usage == pytest.approx(15) and not usage.suspects

    # A swap well before put in a five-digit register: its size is the one that wraps now.
    water = make_source(user, "Water", metrics={"volume": "m³"}, rollover_at={"volume": 1e6})
    create_swap(
        water,
        user,
        datetime(2026, 3, 1, tzinfo=UTC),
        {"volume": 500},
        {"volume": 99000},
        {"volume": 100000},
    )
    make_reading(water, {"volume": 99995.0}, timestamp=datetime(2026, 3, 4, tzinfo=UTC))
    five_digits = logged_in.post(
        f"/sources/{water.id}/readings",
        headers=HX,
        data=add_data(water, values=("7",), timestamp="2026-03-05T09:00"),
    )
    assert five_digits.status_code == 200  # 99,995 -> 7 of 100,000, not of 1,000,000


def test_sensor_values_may_go_down(logged_in, user, make_source, make_reading):
    sensor = make_source(user, "Hall", kind="sensor", metrics={"temperature": "°C"})
    make_reading(sensor, {"temperature": 21.0}, timestamp=datetime(2026, 2, 1, tzinfo=UTC))
    response = logged_in.post(
        f"/sources/{sensor.id}/readings", data=add_data(sensor, values=("-3,5",))
    )
    assert response.status_code == 302
    assert [r.values for r in all_readings()][-1] == {"temperature": -3.5}


def test_higher_or_earliest_meter_values_are_not_flagged(logged_in, meter, make_reading):
    make_reading(
        meter, {"import": 5000.0, "export": 1.0}, timestamp=datetime(2026, 4, 1, tzinfo=UTC)
    )
    # Before the only reading: nothing earlier to compare with.
    response = logged_in.post(f"/sources/{meter.id}/readings", data=add_data(meter))
    assert response.status_code == 302


# ---- dashboard quick add --------------------------------------------------------------------


def test_quick_add_form_fragment_and_page(logged_in, meter):
    response = logged_in.get(f"/sources/{meter.id}/quick-add", headers=HX)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in text
    assert text.lstrip().startswith(f'<form id="quick-add-{meter.id}"')
    page = logged_in.get(f"/sources/{meter.id}/quick-add")
    assert page.status_code == 302
    assert page.location == f"/sources/{meter.id}#add-reading"


def test_quick_add_saves_and_redraws_card(logged_in, meter):
    response = logged_in.post(f"/sources/{meter.id}/quick-add", data=add_data(meter), headers=HX)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == f"#source-{meter.id}"
    assert response.headers["HX-Trigger"] == "readings-changed"
    assert f'<article class="card source-card" id="source-{meter.id}">' in text
    assert "1,234.5" in text and "saved" in text
    assert len(all_readings()) == 1


def test_quick_add_invalid_returns_form(logged_in, meter):
    response = logged_in.post(
        f"/sources/{meter.id}/quick-add", data=add_data(meter, values=("x", "1")), headers=HX
    )
    assert response.status_code == 422
    assert b"Enter a number, like 1234.5." in response.data
    assert all_readings() == []


def test_quick_add_without_javascript(logged_in, meter):
    response = logged_in.post(f"/sources/{meter.id}/quick-add", data=add_data(meter))
    assert response.status_code == 302 and response.location == "/"
    response = logged_in.post(
        f"/sources/{meter.id}/quick-add", data=add_data(meter, values=("", ""))
    )
    assert response.status_code == 422 and b"<html" in response.data


# ---- paging ---------------------------------------------------------------------------------


def test_load_more_pages_through_60_readings_once_each(logged_in, meter, make_reading):
    made = set()
    for i in range(60):
        # Pairs share a timestamp, so a page boundary falls between equal timestamps.
        made.add(
            str(make_reading(meter, {"import": float(i), "export": 0.0}, timestamp=hour(i // 2)).id)
        )
    page = logged_in.get(f"/sources/{meter.id}").get_data(as_text=True)
    seen = row_ids(page)
    assert len(seen) == 25 and "60 in total" in page
    url = re.search(r'hx-get="([^"]+before=[^"]+)"', page).group(1).replace("&amp;", "&")
    while url:
        response = logged_in.get(url, headers=HX)
        text = response.get_data(as_text=True)
        assert response.status_code == 200 and "<html" not in text
        seen.extend(row_ids(text))
        more = re.search(r'hx-get="([^"]+before=[^"]+)"', text)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == 60 and set(seen) == made
    stamps = [db.session.get(Reading, __import__("uuid").UUID(i)).timestamp for i in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_older_pages_without_javascript(logged_in, meter, make_reading):
    for i in range(30):
        make_reading(meter, timestamp=hour(i))
    page = logged_in.get(f"/sources/{meter.id}").get_data(as_text=True)
    link = re.search(r'<a class="button" href="([^"]+before=[^"]+)"', page).group(1)
    older = logged_in.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert len(row_ids(older)) == 5 and "Newest readings" in older
    # The page URL for a plain request of the rows goes to the source page.
    response = logged_in.get(
        link.replace(f"/sources/{meter.id}?", f"/sources/{meter.id}/readings?").replace(
            "&amp;", "&"
        )
    )
    assert response.status_code == 302


def test_bad_cursor_is_400(logged_in, meter):
    assert logged_in.get(f"/sources/{meter.id}?before=garbage").status_code == 400
    assert logged_in.get(f"/sources/{meter.id}/readings?before=x", headers=HX).status_code == 400


# ---- edit in place --------------------------------------------------------------------------


def test_edit_row_fragment_and_page(logged_in, meter, make_reading):
    reading = make_reading(meter, {"import": 12.25, "export": 1.0}, timestamp=hour(1), note="hello")
    fragment = logged_in.get(f"/sources/{meter.id}/readings/{reading.id}/edit", headers=HX)
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert text.lstrip().startswith(f'<tr id="reading-{reading.id}" class="editing">')
    assert 'value="12.25"' in text and "hello" in text
    # 2026-01-01 01:00 UTC is 02:00 in Berlin.
    assert 'value="2026-01-01T02:00"' in text
    page = logged_in.get(f"/sources/{meter.id}/readings/{reading.id}/edit")
    assert page.status_code == 200 and b"<html" in page.data


def test_edit_in_place(logged_in, meter, make_reading):
    reading = make_reading(meter, {"import": 12.0, "export": 1.0}, timestamp=hour(1))
    response = logged_in.post(
        f"/sources/{meter.id}/readings/{reading.id}/edit",
        data=edit_data(reading, ("13,5", "2"), "2026-01-01T02:00", note="fixed"),
        headers=HX,
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert text.lstrip().startswith(f'<tr id="reading-{reading.id}" class="reading-row')
    assert response.headers["HX-Trigger"] == "readings-changed"
    assert "13.5" in text and "Reading updated." in text
    db.session.expire_all()
    assert reading.values == {"import": 13.5, "export": 2.0} and reading.note == "fixed"
    assert reading.timestamp == hour(1)


def test_edit_keeps_seconds_of_unchanged_time(logged_in, meter, make_reading):
    stamp = hour(1) + timedelta(seconds=42)
    reading = make_reading(meter, {"import": 12.0, "export": 1.0}, timestamp=stamp)
    logged_in.post(
        f"/sources/{meter.id}/readings/{reading.id}/edit",
        data=edit_data(reading, ("12", "1"), "2026-01-01T02:00"),
        headers=HX,
    )
    db.session.expire_all()
    assert reading.timestamp == stamp


def test_edit_moving_time_redraws_table(logged_in, meter, make_reading):
    a = make_reading(meter, {"import": 1.0, "export": 1.0}, timestamp=hour(1))
    b = make_reading(meter, {"import": 2.0, "export": 1.0}, timestamp=hour(2))
    response = logged_in.post(
        f"/sources/{meter.id}/readings/{a.id}/edit",
        data=edit_data(a, ("3", "1"), "2026-01-01T05:00"),
        headers=HX,
    )
    assert response.headers["HX-Retarget"] == "#readings-body"
    assert row_ids(response.get_data(as_text=True)) == [str(a.id), str(b.id)]


def test_edit_without_javascript(logged_in, meter, make_reading):
    reading = make_reading(meter, {"import": 12.0, "export": 1.0}, timestamp=hour(1))
    response = logged_in.post(
        f"/sources/{meter.id}/readings/{reading.id}/edit",
        data=edit_data(reading, ("14", "1"), "2026-01-01T02:00"),
    )
    assert response.status_code == 302 and response.location == f"/sources/{meter.id}"
    db.session.expire_all()
    assert reading.values["import"] == 14.0


@pytest.mark.parametrize("htmx", [False, True])
def test_edit_validation(logged_in, meter, make_reading, htmx):
    reading = make_reading(meter, {"import": 12.0, "export": 1.0}, timestamp=hour(1))
    response = logged_in.post(
        f"/sources/{meter.id}/readings/{reading.id}/edit",
        data=edit_data(reading, ("nan", "1"), "2026-01-01T02:00"),
        headers=HX if htmx else None,
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "Enter a finite number." in text
    assert ('class="editing"' in text) is htmx
    db.session.expire_all()
    assert reading.values["import"] == 12.0


def test_edit_lower_meter_value_asks_first(logged_in, meter, make_reading):
    make_reading(meter, {"import": 10.0, "export": 1.0}, timestamp=hour(1))
    later = make_reading(meter, {"import": 20.0, "export": 1.0}, timestamp=hour(2))
    url = f"/sources/{meter.id}/readings/{later.id}/edit"
    response = logged_in.post(
        url, data=edit_data(later, ("5", "1"), "2026-01-01T03:00"), headers=HX
    )
    assert response.status_code == 422 and b"Save anyway" in response.data
    response = logged_in.post(
        url, data=edit_data(later, ("5", "1"), "2026-01-01T03:00", confirm_lower="y"), headers=HX
    )
    assert response.status_code == 200 and b"flagged" in response.data
    db.session.expire_all()
    assert later.values["import"] == 5.0


def test_cancel_edit_returns_row(logged_in, meter, make_reading):
    reading = make_reading(meter, timestamp=hour(1))
    response = logged_in.get(f"/sources/{meter.id}/readings/{reading.id}", headers=HX)
    assert response.status_code == 200
    assert row_ids(response.get_data(as_text=True)) == [str(reading.id)]
    page = logged_in.get(f"/sources/{meter.id}/readings/{reading.id}")
    assert page.status_code == 302


def test_reading_of_another_source_is_404(logged_in, user, meter, make_source, make_reading):
    other = make_source(user, "Gas", metrics={"volume": "m³"})
    reading = make_reading(other)
    for url in (
        f"/sources/{meter.id}/readings/{reading.id}",
        f"/sources/{meter.id}/readings/{reading.id}/edit",
        f"/sources/{meter.id}/readings/{reading.id}/delete",
    ):
        assert logged_in.get(url, headers=HX).status_code == 404
    assert logged_in.post(f"/sources/{meter.id}/readings/{reading.id}/delete").status_code == 404
    assert len(all_readings()) == 1


# ---- delete and undo ------------------------------------------------------------------------


def test_delete_confirmation_page_and_fragment(logged_in, meter, make_reading):
    reading = make_reading(meter, {"import": 42.0, "export": 1.0}, timestamp=hour(1))
    page = logged_in.get(f"/sources/{meter.id}/readings/{reading.id}/delete")
    assert page.status_code == 200 and b"Delete this reading?" in page.data
    fragment = logged_in.get(f"/sources/{meter.id}/readings/{reading.id}/delete", headers=HX)
    text = fragment.get_data(as_text=True)
    assert text.lstrip().startswith(f'<tr id="reading-{reading.id}" class="confirm-row">')
    assert "42" in text
    assert len(all_readings()) == 1


def test_delete_without_javascript(logged_in, meter, make_reading):
    reading = make_reading(meter, timestamp=hour(1))
    response = logged_in.post(f"/sources/{meter.id}/readings/{reading.id}/delete")
    assert response.status_code == 302
    assert all_readings() == []
    assert b"is deleted" in logged_in.get(response.location).data


def test_delete_in_place_and_undo(logged_in, user, meter, make_reading):
    reading = make_reading(
        meter,
        {"import": 42.0, "export": 1.0},
        timestamp=hour(1),
        note="keep me",
        created_by_id=user.id,
    )
    rid = reading.id
    response = logged_in.post(f"/sources/{meter.id}/readings/{rid}/delete", headers=HX)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "readings-changed"
    assert f'<tr id="reading-{rid}" class="deleted-row">' in text and "Undo" in text
    assert all_readings() == []
    token = re.search(r'name="token" value="([^"]+)"', text).group(1)
    response = logged_in.post(
        f"/sources/{meter.id}/readings/restore", data={"token": token}, headers=HX
    )
    assert response.status_code == 200
    assert row_ids(response.get_data(as_text=True)) == [str(rid)]
    [restored] = all_readings()
    assert restored.id == rid and restored.values == {"import": 42.0, "export": 1.0}
    assert restored.note == "keep me" and restored.timestamp == hour(1)
    assert restored.created_by_id == user.id
    # Undo twice: it is back already.
    again = logged_in.post(
        f"/sources/{meter.id}/readings/restore", data={"token": token}, headers=HX
    )
    assert again.status_code == 200 and len(all_readings()) == 1


def test_undo_token_is_tied_to_its_source(logged_in, user, meter, make_source, make_reading):
    gas = make_source(user, "Gas", metrics={"import": "kWh", "export": "kWh"})
    reading = make_reading(meter, timestamp=hour(1))
    text = logged_in.post(f"/sources/{meter.id}/readings/{reading.id}/delete", headers=HX).get_data(
        as_text=True
    )
    token = re.search(r'name="token" value="([^"]+)"', text).group(1)
    assert (
        logged_in.post(f"/sources/{gas.id}/readings/restore", data={"token": token}).status_code
        == 404
    )
    assert (
        logged_in.post(
            f"/sources/{meter.id}/readings/restore", data={"token": token + "x"}
        ).status_code
        == 400
    )
    assert all_readings() == []


def test_delete_requires_csrf(logged_in, meter, make_reading):
    reading = make_reading(meter)
    assert (
        logged_in.post(f"/sources/{meter.id}/readings/{reading.id}/delete", csrf=False).status_code
        == 400
    )
    assert (
        logged_in.post(f"/sources/{meter.id}/readings/{reading.id}/edit", csrf=False).status_code
        == 400
    )
    assert logged_in.post(f"/sources/{meter.id}/readings/restore", csrf=False).status_code == 400
    assert len(all_readings()) == 1


def test_readings_of_two_users_stay_apart(client, auth, user, make_user, make_source, make_reading):
    mine = make_source(user, "Mine")
    other = make_user("other@example.com")
    theirs = make_source(other, "Theirs")
    my_reading = make_reading(mine, timestamp=hour(1))
    their_reading = make_reading(theirs, timestamp=hour(1))
    auth.login("other@example.com")
    assert client.get(f"/sources/{mine.id}").status_code == 404
    assert client.get(f"/sources/{theirs.id}/readings/{my_reading.id}/edit").status_code == 404
    assert client.get(f"/sources/{theirs.id}/readings/{their_reading.id}/edit").status_code == 200
    page = client.get("/").get_data(as_text=True)
    assert "Theirs" in page and "Mine" not in page


def test_editing_only_the_note_of_a_confirmed_drop_does_not_ask_again(
    logged_in, meter, make_reading
):
    make_reading(meter, {"import": 10.0, "export": 1.0}, timestamp=hour(1))
    drop = make_reading(meter, {"import": 5.0, "export": 1.0}, timestamp=hour(2))
    response = logged_in.post(
        f"/sources/{meter.id}/readings/{drop.id}/edit",
        data=edit_data(drop, ("5", "1"), "2026-01-01T03:00", note="meter replaced"),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert drop.note == "meter replaced"


def test_quick_add_of_a_backdated_reading_keeps_newest_on_card(logged_in, meter, make_reading):
    make_reading(
        meter, {"import": 9000.0, "export": 9.0}, timestamp=datetime(2026, 6, 1, tzinfo=UTC)
    )
    response = logged_in.post(
        f"/sources/{meter.id}/quick-add",
        data=add_data(meter, timestamp="2026-01-01T00:00", values=("1", "1")),
        headers=HX,
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "9,000" in text


def test_readings_header_gives_the_count_of_a_long_history(logged_in, user, make_source):
    """After a large import the header gives the number, not "more than 10,000"."""
    source = make_source(user)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    db.session.execute(
        sa.insert(Reading),
        [
            {
                "id": uuid.uuid4(),
                "data_source_id": source.id,
                "timestamp": start + timedelta(hours=i),
                "values": {"import": float(i)},
            }
            for i in range(10_042)
        ],
    )
    db.session.commit()
    page = logged_in.get(f"/sources/{source.id}").get_data(as_text=True)
    assert "10,042 in total" in page and "more than" not in page


def test_readings_header_count_follows_every_way_of_writing(
    logged_in, client, user, meter, make_reading
):
    """The page remembers its count until the owner's next change: every write path shows."""
    import uuid

    from homelog import tokens

    def total() -> str:
        page = logged_in.get(f"/sources/{meter.id}").get_data(as_text=True)
        return re.search(r"(\d+) in total", page).group(1)

    for i in range(3):
        make_reading(meter, {"import": float(i), "export": 0.0}, timestamp=hour(i))
    assert total() == "3"
    assert total() == "3"  # remembered, unchanged
    panel = logged_in.post(
        f"/sources/{meter.id}/readings",
        headers=HX,
        data=add_data(meter, values=("10", "1"), timestamp="2026-01-02T00:00"),
    )
    assert panel.status_code == 200 and "4 in total" in panel.get_data(as_text=True)
    raw, _ = tokens.issue_token(user, "phone")
    bearer = {"Authorization": f"Bearer {raw}"}
    created = client.post(
        f"/api/sources/{meter.id}/readings",
        headers=bearer,
        json={"timestamp": "2026-01-03T00:00:00Z", "values": {"import": 11, "export": 1}},
    )
    assert created.status_code == 201
    assert total() == "5"
    batch = [
        {
            "id": str(uuid.uuid4()),
            "data_source_id": meter.id,
            "timestamp": f"2026-01-0{day}T00:00:00Z",
            "values": {"import": 10 + day, "export": 1},
        }
        for day in (4, 5)
    ]
    synced = client.post("/api/sync/readings", headers=bearer, json={"readings": batch})
    assert synced.status_code == 200 and synced.json["created"] == 2
    assert total() == "7"
    reading_id = created.json["id"]
    assert logged_in.post(f"/sources/{meter.id}/readings/{reading_id}/delete").status_code == 302
    assert total() == "6"
