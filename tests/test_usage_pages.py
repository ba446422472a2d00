"""Usage pages: the usage panel (page and htmx fragment), prices, meter swaps and settings,
the dashboard's monthly comparison, confirming readings, and the account's currency."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from homelog.extensions import db
from homelog.models import MeterEvent, Reading, Tariff
from homelog.usage_db.swaps import create_swap
from homelog.usage_db.tariffs import create_tariff
from tests.conftest import BERLIN
from tests.conftest import berlin as local

HX = {"HX-Request": "true"}


@pytest.fixture
def meter(worked_example_meter):
    """Return the worked example's meter (tests/conftest.py)."""
    return worked_example_meter


def usage_url(source, **query) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/sources/{source.id}/usage" + (f"?{params}" if params else "")


def table_rows(html: str) -> dict[str, str]:
    """Return {period label: the rest of its row's text} of the usage table."""
    body = html.split('<table class="usage-table">', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        label = re.search(r'<th scope="row"[^>]*>(.*?)</th>', row, re.S)
        if label:
            rows[label.group(1).strip()] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
    return rows


# ---- the usage panel ------------------------------------------------------------------------


def test_the_source_page_loads_the_usage_panel_and_reloads_it_on_changes(logged_in, meter):
    text = logged_in.get(f"/sources/{meter.id}").get_data(as_text=True)
    loader = re.search(r'<section id="usage-panel"[^>]*>', text, re.S).group(0)
    assert f'hx-get="/sources/{meter.id}/usage"' in loader
    assert 'hx-trigger="load, readings-changed from:body"' in loader
    assert f'href="/sources/{meter.id}/usage"' in text  # without JavaScript: a link


@pytest.mark.parametrize("kind", ["day", "week", "month", "year", "cycle"])
def test_usage_panel_full_page_and_fragment(logged_in, meter, kind):
    url = usage_url(meter, period=kind, start="2025-12-01", end="2026-03-01")
    page = logged_in.get(url)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<html" in text and 'id="usage-panel"' in text and "<svg" in text
    fragment = logged_in.get(url, headers=HX)
    assert fragment.status_code == 200
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and body.count('id="usage-panel"') == 1
    assert "HX-Request" in fragment.headers["Vary"]
    # The refreshed panel keeps the chosen period and range when readings change.
    panel = re.search(r'<section id="usage-panel"[^>]*>', body, re.S).group(0)
    assert f"period={kind}" in panel and 'hx-trigger="readings-changed from:body"' in panel
    assert f'aria-current="page">{ {"cycle": "Billing cycle"}.get(kind, kind.title()) }<' in body
    # Charts and markup stay CSP-safe: no inline styles or scripts.
    assert "style=" not in body and "<script" not in body


def test_monthly_usage_with_a_swap_and_prices_added_through_the_pages(logged_in, meter):
    url = usage_url(meter, period="month", start="2025-12-01", end="2026-03-01")
    rows = table_rows(logged_in.get(url).get_data(as_text=True))
    # Without the swap the new meter's readings are suspect: January is known until the 16th.
    assert "155 kWh partly" in rows["Jan 2026"]
    answer = logged_in.post(
        f"/sources/{meter.id}/swaps",
        data={
            "swap-at": "2026-01-26T12:00",
            "swap-old_final_0": "10700",
            "swap-new_start_0": "0",
            "swap-rollover_at_0": "",
            "swap-note": "smart meter",
        },
    )
    assert answer.status_code == 302
    for day, price, standing in [("2025-01-01", "0,30", "0.45"), ("2026-01-16", "0.34", "0.5")]:
        answer = logged_in.post(
            f"/sources/{meter.id}/tariffs",
            data={
                "metric": "import",
                "effective_from": day,
                "unit_price": price,
                "standing_charge": standing,
            },
        )
        assert answer.status_code == 302, answer.get_data(as_text=True)
    text = logged_in.get(url).get_data(as_text=True)
    rows = table_rows(text)
    assert "310 kWh" in rows["Jan 2026"] and "est." not in rows["Jan 2026"]
    assert "114.15 €" in rows["Jan 2026"]
    # The month before the first reading's is partly covered; it has ended, so not "so far".
    assert "45 kWh" in rows["Dec 2025"] and "partly" in rows["Dec 2025"]
    assert "so far" not in rows["Dec 2025"]
    assert "1 reading left out" in text  # the typo of Jan 9


def test_suspect_readings_can_be_confirmed(logged_in, meter):
    typo = db.session.scalar(
        db.select(Reading).where(
            Reading.values["import"].as_float() < 2000, Reading.timestamp < local(2026, 1, 20)
        )
    )
    text = logged_in.get(usage_url(meter, start="2025-12-01", end="2026-03-01")).get_data(
        as_text=True
    )
    assert f"/readings/{typo.id}/confirm" in text
    answer = logged_in.post(f"/sources/{meter.id}/readings/{typo.id}/confirm", headers=HX)
    assert answer.status_code == 200
    assert "readings-changed" in answer.headers["HX-Trigger"]
    assert db.session.get(Reading, typo.id).confirmed


def test_confirming_a_lower_value_in_the_reading_form_marks_it_confirmed(logged_in, meter):
    prefix = f"s{meter.id}-"
    data = {f"{prefix}timestamp": "2026-02-10T12:00", f"{prefix}note": "", f"{prefix}value_0": "50"}
    assert logged_in.post(f"/sources/{meter.id}/readings", data=data).status_code == 422
    data[f"{prefix}confirm_lower"] = "y"
    assert logged_in.post(f"/sources/{meter.id}/readings", data=data).status_code == 302
    saved = db.session.scalar(db.select(Reading).where(Reading.timestamp == local(2026, 2, 10, 12)))
    assert saved.confirmed
    data[f"{prefix}timestamp"] = "2026-02-11T12:00"
    data[f"{prefix}value_0"] = "60"
    assert logged_in.post(f"/sources/{meter.id}/readings", data=data).status_code == 302
    later = db.session.scalar(db.select(Reading).where(Reading.timestamp == local(2026, 2, 11, 12)))
    assert not later.confirmed  # not lower than the one before: nothing to confirm


def test_sensor_statistics_panel(logged_in, user, make_source):
    sensor = make_source(user, "Cellar", kind="sensor", metrics={"temperature": "°C"})
    start = local(2026, 3, 1)
    for hour in range(49):
        db.session.add(
            Reading(
                data_source_id=sensor.id,
                timestamp=start + timedelta(hours=hour),
                values={"temperature": 10.0 + hour % 2},
            )
        )
    db.session.commit()
    text = logged_in.get(usage_url(sensor, start="2026-03-01", end="2026-03-03")).get_data(
        as_text=True
    )
    assert "Statistics" in text and "temperature average" in text
    assert table_rows(text)["Sun 1 Mar"].split() == ["Sun", "1", "Mar", "10", "10.5", "11"]
    assert "Prices" not in text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=hour", "Choose day, week, month, year or cycle."),
        ("start=2026-13-01", "is not a date like 2026-03-31"),
        ("start=2026-02-01&end=2026-01-01", "The end must be after the start."),
    ],
)
def test_bad_usage_parameters(logged_in, meter, query, message):
    answer = logged_in.get(f"/sources/{meter.id}/usage?{query}")
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)


# ---- dashboard ------------------------------------------------------------------------------


def test_dashboard_cards_load_this_month_vs_last_month_and_last_year(logged_in, user, make_source):
    source = make_source(user, "Water", metrics={"volume": "m³"})
    now = datetime.now(UTC)
    for day in range(0, 430, 2):
        db.session.add(
            Reading(
                data_source_id=source.id,
                timestamp=now - timedelta(days=day),
                values={"volume": 1000.0 - day * 0.5},
            )
        )
    db.session.commit()
    create_tariff(source, "volume", "2020-01-01", "2", "0")
    dashboard = logged_in.get("/").get_data(as_text=True)
    assert f'hx-get="/sources/{source.id}/usage/summary"' in dashboard
    fragment = logged_in.get(f"/sources/{source.id}/usage/summary", headers=HX)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body
    assert "This month so far" in body and "Last month" in body
    last_year = (now.astimezone(BERLIN).replace(day=1) - timedelta(days=360)).strftime("%B %Y")
    assert last_year in body
    assert "€" in body and 'hx-trigger="readings-changed from:body"' in body
    plain = logged_in.get(f"/sources/{source.id}/usage/summary")
    assert plain.status_code == 302


# ---- prices ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"unit_price": ""}, "Enter an amount."),
        ({"unit_price": "abc"}, "Enter an amount, like 0.32."),
        ({"effective_from": "1.1.2026"}, "Enter a date like 2026-03-31."),
        ({"standing_charge": "-1"}, "Enter an amount from 0 to 999999.999999."),
        ({"metric": "gas"}, "Not a valid choice."),
    ],
)
def test_price_form_shows_messages_beside_fields(logged_in, meter, data, message):
    form = {
        "metric": "import",
        "effective_from": "2026-01-01",
        "unit_price": "0.3",
        "standing_charge": "0",
        **data,
    }
    answer = logged_in.post(f"/sources/{meter.id}/tariffs", data=form)
    assert answer.status_code == 422
    text = answer.get_data(as_text=True)
    assert message in text and 'class="error"' in text
    assert db.session.scalar(db.select(db.func.count()).select_from(Tariff)) == 0


def test_prices_add_edit_delete(logged_in, meter):
    url = f"/sources/{meter.id}/tariffs"
    assert "No prices yet" in logged_in.get(url).get_data(as_text=True)
    logged_in.post(
        url,
        data={
            "metric": "import",
            "effective_from": "2026-01-01",
            "unit_price": "0.30",
            "standing_charge": "",
        },
    )
    tariff = db.session.scalar(db.select(Tariff))
    assert tariff.unit_price == Decimal("0.3") and tariff.standing_charge == 0
    twice = logged_in.post(
        url, data={"metric": "import", "effective_from": "2026-01-01", "unit_price": "0.4"}
    )
    assert twice.status_code == 422
    assert "already has a price starting on 2026-01-01" in twice.get_data(as_text=True)
    edit = f"{url}/{tariff.id}/edit"
    assert 'value="0.3"' in logged_in.get(edit).get_data(as_text=True)
    assert (
        logged_in.post(
            edit,
            data={
                "metric": "import",
                "effective_from": "2026-02-01",
                "unit_price": "0.31",
                "standing_charge": "0.5",
            },
        ).status_code
        == 302
    )
    db.session.refresh(tariff)
    assert (tariff.effective_from, tariff.standing_charge) == (date(2026, 2, 1), Decimal("0.5"))
    assert logged_in.post(f"{url}/{tariff.id}/delete").status_code == 302
    assert db.session.scalar(db.select(Tariff)) is None


# ---- meter: settings and swaps --------------------------------------------------------------


def test_meter_settings_and_rollover(logged_in, user, make_source):
    source = make_source(user, "Water", metrics={"volume": "m³"})
    for day, value in [(1, 99_990.0), (2, 5.0), (3, 15.0)]:
        db.session.add(
            Reading(
                data_source_id=source.id, timestamp=local(2026, 3, day), values={"volume": value}
            )
        )
    db.session.commit()
    url = usage_url(source, period="day", start="2026-03-01", end="2026-03-03")
    assert "2 readings left out" in logged_in.get(url).get_data(as_text=True)
    page = logged_in.get(f"/sources/{source.id}/meter").get_data(as_text=True)
    assert 'value="48"' in page and 'value="1"' in page
    bad = logged_in.post(
        f"/sources/{source.id}/meter",
        data={
            "settings-rollover_at_0": "0",
            "settings-cycle_day": "32",
            "settings-max_gap_hours": "48",
            "settings-monthly_advance": "x",
            "settings-billing_year_start": "",
        },
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "Enter a number above 0." in text and "Enter a day of the month from 1 to 31." in text
    assert "Enter an amount, like 0.32." in text
    good = logged_in.post(
        f"/sources/{source.id}/meter",
        data={
            "settings-rollover_at_0": "100000",
            "settings-cycle_day": "17",
            "settings-max_gap_hours": "72",
            "settings-monthly_advance": "40",
            "settings-billing_year_start": "2026-01-01",
        },
    )
    assert good.status_code == 302
    db.session.refresh(source)
    assert (source.rollover_at, source.cycle_day, source.monthly_advance) == (
        {"volume": 100000.0},
        17,
        Decimal("40"),
    )
    text = logged_in.get(url).get_data(as_text=True)
    assert "left out" not in text
    assert table_rows(text)["Sun 1 Mar"].split()[:5] == ["Sun", "1", "Mar", "15", "m³"]


def test_swap_form_validation_and_delete(logged_in, meter):
    bad = logged_in.post(
        f"/sources/{meter.id}/swaps",
        data={"swap-at": "2026-03-29T02:30", "swap-old_final_0": "1", "swap-new_start_0": "0"},
    )
    assert bad.status_code == 422
    assert "does not exist in Europe/Berlin" in bad.get_data(as_text=True)
    bad = logged_in.post(
        f"/sources/{meter.id}/swaps",
        data={"swap-at": "2026-01-26T12:00", "swap-old_final_0": "10700", "swap-new_start_0": ""},
    )
    assert "Enter both the old meter" in bad.get_data(as_text=True)
    logged_in.post(
        f"/sources/{meter.id}/swaps",
        data={"swap-at": "2026-01-26T12:00", "swap-old_final_0": "10700", "swap-new_start_0": "0"},
    )
    event = db.session.scalar(db.select(MeterEvent))
    assert event.at == local(2026, 1, 26, 12)
    page = logged_in.get(f"/sources/{meter.id}/meter").get_data(as_text=True)
    assert "10,700 → 0" in page
    assert logged_in.post(f"/sources/{meter.id}/swaps/{event.id}/delete").status_code == 302
    assert db.session.scalar(db.select(MeterEvent)) is None


# ---- isolation, CSRF, currency --------------------------------------------------------------


def test_others_sources_are_404_on_every_usage_page(client, auth, make_user, meter):
    make_user("other@example.com")
    auth.login("other@example.com")
    tariff = create_tariff(meter, "import", "2026-01-01", "0.3")
    event = create_swap(meter, None, local(2026, 1, 26), {"import": 1}, {"import": 0})
    reading = db.session.scalar(db.select(Reading))
    base = f"/sources/{meter.id}"
    for method, url in [
        ("GET", f"{base}/usage"),
        ("GET", f"{base}/usage/summary"),
        ("GET", f"{base}/tariffs"),
        ("GET", f"{base}/tariffs/{tariff.id}/edit"),
        ("POST", f"{base}/tariffs/{tariff.id}/delete"),
        ("GET", f"{base}/meter"),
        ("POST", f"{base}/meter"),
        ("POST", f"{base}/swaps"),
        ("POST", f"{base}/swaps/{event.id}/delete"),
        ("POST", f"{base}/readings/{reading.id}/confirm"),
    ]:
        assert client.open(url, method=method).status_code == 404, (method, url)
    assert db.session.get(Tariff, tariff.id) and db.session.get(MeterEvent, event.id)


def test_writes_need_the_csrf_token(logged_in, meter):
    answer = logged_in.post(
        f"/sources/{meter.id}/tariffs",
        csrf=False,
        data={"metric": "import", "effective_from": "2026-01-01", "unit_price": "0.3"},
    )
    assert answer.status_code == 400
    assert db.session.scalar(db.select(Tariff)) is None


def test_usage_pages_need_sign_in(client, meter):
    answer = client.get(f"/sources/{meter.id}/usage")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_the_account_page_sets_the_currency_costs_are_shown_in(logged_in, user, meter):
    assert 'value="EUR"' in logged_in.get("/account").get_data(as_text=True)
    bad = logged_in.post(
        "/account/profile", data={"name": "Olive", "timezone": "Europe/Berlin", "currency": "euro"}
    )
    assert bad.status_code == 422
    assert "Enter a three-letter currency code" in bad.get_data(as_text=True)
    logged_in.post(
        "/account/profile", data={"name": "Olive", "timezone": "Europe/Berlin", "currency": "chf"}
    )
    db.session.refresh(user)
    assert user.currency == "CHF"
    create_tariff(meter, "import", "2025-01-01", "0.3")
    text = logged_in.get(f"/sources/{meter.id}/tariffs").get_data(as_text=True)
    assert "Prices in CHF" in text


def test_a_swap_time_that_is_no_time_is_refused_beside_its_field(logged_in, meter):
    answer = logged_in.post(
        f"/sources/{meter.id}/swaps",
        data={"swap-at": "yesterday", "swap-old_final_0": "10700", "swap-new_start_0": "0"},
    )
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    field = re.search(r'<div class="field[^"]*has-error[^"]*">\s*<label for="swap-at"', page)
    assert field, "the error is not beside the time field"
    assert db.session.scalar(select(func.count()).select_from(MeterEvent)) == 0
