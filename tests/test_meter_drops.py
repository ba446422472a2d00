"""The meter-drop rule (homelog.meter_drops): asked for by the pages and the API alike."""

from __future__ import annotations

import pytest

from homelog import meter_drops
from homelog.extensions import db
from homelog.models import MeterEvent
from tests.conftest import hour


@pytest.fixture
def meter(user, make_source, make_reading):
    source = make_source(user, "Power", metrics={"import": "kWh"})
    make_reading(source, {"import": 100.0}, timestamp=hour(1))
    return source


def test_a_drop_is_refused_until_confirmed(meter):
    with pytest.raises(meter_drops.UnconfirmedDrop) as refused:
        meter_drops.check_drop(meter, hour(2), {"import": 90.0}, confirmed=False)
    assert refused.value.lower == {"import": 100.0}
    assert set(refused.value.errors) == {"values.import", "confirmed"}
    assert meter_drops.check_drop(meter, hour(2), {"import": 90.0}, confirmed=True) is True


def test_no_drop_is_no_confirmation(meter, user, make_source):
    assert meter_drops.check_drop(meter, hour(2), {"import": 100.0}, confirmed=True) is False
    assert meter_drops.check_drop(meter, hour(0), {"import": 1.0}, confirmed=False) is False
    sensor = make_source(user, "Cellar", kind="sensor", metrics={"temperature": "°C"})
    assert meter_drops.check_drop(sensor, hour(2), {"temperature": -5.0}, confirmed=False) is False


def test_an_edit_keeping_time_and_values_is_not_judged_again(meter, make_reading):
    drop = make_reading(meter, {"import": 90.0}, timestamp=hour(2), confirmed=True)
    assert meter_drops.check_drop(meter, hour(2), {"import": 90.0}, confirmed=False, reading=drop)
    with pytest.raises(meter_drops.UnconfirmedDrop):
        meter_drops.check_drop(meter, hour(2), {"import": 80.0}, confirmed=False, reading=drop)


def test_a_recorded_swap_explains_the_drop(meter):
    swap = MeterEvent(
        data_source_id=meter.id, at=hour(2), old_final={"import": 100.0}, new_start={"import": 0.0}
    )
    db.session.add(swap)
    db.session.commit()
    assert meter_drops.check_drop(meter, hour(3), {"import": 5.0}, confirmed=False) is False
