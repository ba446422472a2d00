"""Dashboard and source pages: create, edit (metric rows, renames, removals), delete, isolation."""

from __future__ import annotations

import pytest

from homelog.extensions import db
from homelog.models import DataSource, Reading
from tests.conftest import hour

HX = {"HX-Request": "true"}


def source_data(**overrides) -> dict:
    """Return a valid create-source form with two metrics."""
    data = {
        "name": "Electricity",
        "description": "Main meter in the hall",
        "kind": "meter",
        "metrics-0-name": "import",
        "metrics-0-unit": "kWh",
        "metrics-1-name": "export",
        "metrics-1-unit": "kWh",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def edit_data(source: DataSource, **overrides) -> dict:
    """Return the edit form as the page shows it for source."""
    data = {"name": source.name, "description": source.description, "kind": source.kind}
    for index, (name, unit) in enumerate(source.metric_list):
        data[f"metrics-{index}-name"] = name
        data[f"metrics-{index}-unit"] = unit
        data[f"metrics-{index}-original"] = name
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def all_sources() -> list[DataSource]:
    return db.session.scalars(db.select(DataSource).order_by(DataSource.id)).all()


# ---- dashboard ------------------------------------------------------------------------------


def test_dashboard_requires_sign_in(client, user):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.location


def test_dashboard_shows_each_source_with_last_reading(
    logged_in, user, make_source, make_reading, make_user
):
    meter = make_source(user, "Electricity", metrics={"import": "kWh", "export": "kWh"})
    make_reading(meter, {"import": 100.0, "export": 1.0}, timestamp=hour(1))
    make_reading(meter, {"import": 1234.5, "export": 7.25}, timestamp=hour(2))
    make_source(user, "Living room", kind="sensor", metrics={"temperature": "°C"})
    make_source(make_user(), "Not mine")
    page = logged_in.get("/").get_data(as_text=True)
    assert "Electricity" in page and "Living room" in page and "Not mine" not in page
    assert "1,234.5" in page and "7.25" in page
    assert "kWh" in page and "°C" in page
    assert "ago" in page  # how long ago the last reading was
    assert "No readings yet." in page  # the sensor
    assert ">meter<" in page and ">sensor<" in page


def test_dashboard_empty_state(logged_in):
    page = logged_in.get("/").get_data(as_text=True)
    assert "Add your first source" in page


def test_dashboard_fragment(logged_in, user, make_source):
    make_source(user, "Gas")
    response = logged_in.get("/", headers=HX)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="source-list"' in text and "Gas" in text and "<html" not in text
    assert "HX-Request" in response.headers["Vary"]


def test_quick_add_link_works_without_javascript(logged_in, user, make_source):
    source = make_source(user)
    page = logged_in.get("/").get_data(as_text=True)
    assert f'href="/sources/{source.id}#add-reading"' in page
    assert f'hx-get="/sources/{source.id}/quick-add"' in page


# ---- create ---------------------------------------------------------------------------------


def test_create_page(logged_in):
    response = logged_in.get("/sources/new")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="metrics-0-name"' in text and '<datalist id="units">' in text
    assert '<option value="kWh">' in text and '<option value="m³">' in text


def test_create_source(logged_in, user):
    response = logged_in.post("/sources/new", data=source_data())
    [source] = all_sources()
    assert response.status_code == 302
    assert response.location == f"/sources/{source.id}"
    assert source.owner_id == user.id and source.kind == "meter"
    assert source.metric_list == [["import", "kWh"], ["export", "kWh"]]
    assert "is ready" in logged_in.get(response.location).get_data(as_text=True)


def test_create_source_htmx_redirects(logged_in):
    response = logged_in.post("/sources/new", data=source_data(), headers=HX)
    [source] = all_sources()
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/sources/{source.id}"


def test_create_source_ignores_blank_rows(logged_in):
    logged_in.post("/sources/new", data=source_data(**{"metrics-5-name": "", "metrics-5-unit": ""}))
    assert all_sources()[0].metric_names == ["import", "export"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "Enter a name."),
        ({"name": "x" * 101}, "Use at most 100 characters."),
        ({"description": "x" * 2001}, "Use at most 2000 characters."),
        ({"kind": "gauge"}, "Choose meter or sensor."),
        (
            {
                "metrics-0-name": "",
                "metrics-0-unit": "",
                "metrics-1-name": "",
                "metrics-1-unit": "",
            },
            "Add at least one metric.",
        ),
        ({"metrics-1-name": ""}, "Enter a metric name."),
        ({"metrics-1-name": "x" * 41}, "Use at most 40 characters."),
        ({"metrics-1-unit": "x" * 21}, "Use at most 20 characters."),
        ({"metrics-1-name": "Import"}, "“Import” is already a metric of this source."),
        ({f"metrics-{i}-name": f"m{i}" for i in range(2, 21)}, "Use at most 20 metrics."),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_create_source_validation(logged_in, overrides, message, htmx):
    for key in list(overrides):
        if key.endswith("-name") and key.startswith("metrics-") and overrides[key]:
            overrides.setdefault(key.replace("-name", "-unit"), "kWh")
    response = logged_in.post(
        "/sources/new", data=source_data(**overrides), headers=HX if htmx else None
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message.replace("“", "&#8220;") in text or message in text
    assert all_sources() == []
    # The input is kept.
    assert 'value="kWh"' in text
    assert ("<html" in text) is not htmx
    if htmx:
        assert text.lstrip().startswith('<form id="source-form"')


def test_create_requires_csrf(logged_in):
    response = logged_in.post("/sources/new", data=source_data(), csrf=False)
    assert response.status_code == 400
    assert all_sources() == []


def test_add_metric_row_without_javascript(logged_in):
    response = logged_in.post("/sources/new", data=source_data(add_metric="1"))
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="metrics-2-name"' in text and 'value="export"' in text
    assert all_sources() == []


def test_add_metric_row_fragment(logged_in):
    response = logged_in.post("/sources/new", data=source_data(add_metric="1"), headers=HX)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert text.strip().startswith('<div class="metric-row" id="metric-row-2"')
    assert 'name="metrics-2-name"' in text and "metrics-1" not in text
    assert all_sources() == []


def test_add_metric_row_stops_at_twenty(logged_in):
    data = source_data(**{f"metrics-{i}-name": f"m{i}" for i in range(2, 20)})
    response = logged_in.post("/sources/new", data=dict(data, add_metric="1"), headers=HX)
    assert response.headers["HX-Reswap"] == "none"
    assert "at most 20 metrics" in response.get_data(as_text=True)


def test_remove_metric_row_without_javascript(logged_in):
    response = logged_in.post("/sources/new", data=source_data(remove_metric="0"))
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="metrics-0-name"' not in text and 'value="export"' in text


def test_metric_rows_with_gaps_keep_order(logged_in):
    data = source_data(
        **{
            "metrics-0-name": None,
            "metrics-0-unit": None,
            "metrics-7-name": "solar",
            "metrics-7-unit": "kWh",
        }
    )
    logged_in.post("/sources/new", data=data)
    assert all_sources()[0].metric_names == ["export", "solar"]


# ---- edit -----------------------------------------------------------------------------------


def test_edit_page_and_fragment(logged_in, user, make_source):
    source = make_source(user, metrics={"import": "kWh"})
    page = logged_in.get(f"/sources/{source.id}/edit").get_data(as_text=True)
    assert "<html" in page and 'name="metrics-0-original" type="hidden" value="import"' in page
    fragment = logged_in.get(f"/sources/{source.id}/edit", headers=HX)
    assert fragment.status_code == 200
    assert fragment.get_data(as_text=True).lstrip().startswith('<form id="source-form"')


def test_edit_source(logged_in, user, make_source):
    source = make_source(user, "Power")
    response = logged_in.post(
        f"/sources/{source.id}/edit",
        data=edit_data(source, name="Power meter", kind="sensor", description="New"),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (source.name, source.kind, source.description) == ("Power meter", "sensor", "New")


def test_edit_validation_htmx(logged_in, user, make_source):
    source = make_source(user, "Power")
    response = logged_in.post(
        f"/sources/{source.id}/edit", data=edit_data(source, name=""), headers=HX
    )
    assert response.status_code == 422
    assert "Enter a name." in response.get_data(as_text=True)


def test_rename_metric_keeps_readings(logged_in, user, make_source, make_reading):
    source = make_source(user, metrics={"import": "kWh"})
    make_reading(source, {"import": 5.0}, timestamp=hour(1))
    response = logged_in.post(
        f"/sources/{source.id}/edit", data=edit_data(source, **{"metrics-0-name": "consumption"})
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert source.metric_names == ["consumption"]
    assert db.session.scalar(db.select(Reading)).values == {"consumption": 5.0}
    assert "5" in logged_in.get(f"/sources/{source.id}").get_data(as_text=True)


def test_removing_metric_with_readings_asks_first(logged_in, user, make_source, make_reading):
    source = make_source(user, metrics={"import": "kWh", "export": "kWh"})
    make_reading(source, {"import": 1.0, "export": 2.0}, timestamp=hour(1))
    data = edit_data(source)
    for key in ("metrics-1-name", "metrics-1-unit", "metrics-1-original"):
        del data[key]
    response = logged_in.post(f"/sources/{source.id}/edit", data=data)
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "1 reading has a value for" in text and "export" in text
    assert 'name="confirm_remove"' in text
    db.session.expire_all()
    assert source.metric_names == ["import", "export"]
    response = logged_in.post(f"/sources/{source.id}/edit", data=dict(data, confirm_remove="y"))
    assert response.status_code == 302
    db.session.expire_all()
    assert source.metric_names == ["import"]
    assert db.session.scalar(db.select(Reading)).values == {"import": 1.0}


def test_add_metric_on_edit_fragment(logged_in, user, make_source):
    source = make_source(user, metrics={"import": "kWh"})
    response = logged_in.post(
        f"/sources/{source.id}/edit", data=edit_data(source, add_metric="1"), headers=HX
    )
    assert 'id="metric-row-1"' in response.get_data(as_text=True)


# ---- delete ---------------------------------------------------------------------------------


def test_delete_confirmation_says_how_many_readings(logged_in, user, make_source, make_reading):
    source = make_source(user)
    for i in range(3):
        make_reading(source, timestamp=hour(i))
    page = logged_in.get(f"/sources/{source.id}/delete")
    assert page.status_code == 200
    assert "3 readings will be deleted" in page.get_data(as_text=True)
    fragment = logged_in.get(f"/sources/{source.id}/delete", headers=HX).get_data(as_text=True)
    assert "3 readings will be deleted" in fragment and "<html" not in fragment
    # Inline (in the dashboard card) it removes the card; its own page posts and redirects.
    assert f'hx-target="#source-{source.id}"' in fragment
    assert "hx-post" not in page.get_data(as_text=True).split("<main")[1]
    assert all_sources() == [source]


def test_delete_source(logged_in, user, make_source, make_reading):
    source = make_source(user)
    make_reading(source)
    response = logged_in.post(f"/sources/{source.id}/delete")
    assert response.status_code == 302 and response.location == "/"
    assert all_sources() == []
    assert db.session.scalar(db.select(db.func.count()).select_from(Reading)) == 0
    assert "are deleted" in logged_in.get("/").get_data(as_text=True)


def test_delete_source_htmx(logged_in, user, make_source):
    source = make_source(user, "Gas")
    response = logged_in.post(f"/sources/{source.id}/delete", headers=HX)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "readings-changed" in response.headers["HX-Trigger"]
    assert "hx-swap-oob" in text and "“Gas” and its 0 readings are deleted." in text
    assert all_sources() == []


def test_delete_requires_csrf(logged_in, user, make_source):
    source = make_source(user)
    assert logged_in.post(f"/sources/{source.id}/delete", csrf=False).status_code == 400
    assert all_sources() == [source]


# ---- isolation ------------------------------------------------------------------------------


def test_someone_elses_source_is_404_everywhere(logged_in, make_user, make_source, make_reading):
    theirs = make_source(make_user(), "Theirs")
    reading = make_reading(theirs)
    sid, rid = theirs.id, reading.id
    routes = [
        ("GET", f"/sources/{sid}"),
        ("GET", f"/sources/{sid}/edit"),
        ("POST", f"/sources/{sid}/edit"),
        ("GET", f"/sources/{sid}/delete"),
        ("POST", f"/sources/{sid}/delete"),
        ("GET", f"/sources/{sid}/readings"),
        ("POST", f"/sources/{sid}/readings"),
        ("GET", f"/sources/{sid}/quick-add"),
        ("POST", f"/sources/{sid}/quick-add"),
        ("GET", f"/sources/{sid}/readings/{rid}"),
        ("GET", f"/sources/{sid}/readings/{rid}/edit"),
        ("POST", f"/sources/{sid}/readings/{rid}/edit"),
        ("GET", f"/sources/{sid}/readings/{rid}/delete"),
        ("POST", f"/sources/{sid}/readings/{rid}/delete"),
        ("POST", f"/sources/{sid}/readings/restore"),
    ]
    for headers in (None, HX):
        for method, url in routes:
            response = logged_in.open(
                url,
                method=method,
                headers=headers,
                data=source_data() if method == "POST" else None,
            )
            assert response.status_code == 404, (method, url, headers)
            assert b"Theirs" not in response.data
    db.session.expire_all()
    assert all_sources()[0].name == "Theirs"
    assert db.session.get(Reading, rid) is not None


def test_unknown_ids_are_404(logged_in, user, make_source):
    source = make_source(user)
    for url in (
        "/sources/999999",
        "/sources/abc",
        f"/sources/{source.id}/readings/nope/edit",
        f"/sources/{source.id}/readings/00000000-0000-0000-0000-000000000000",
    ):
        assert logged_in.get(url).status_code == 404, url


def test_expired_session_under_htmx_redirects_to_sign_in(client, user, make_source):
    source = make_source(user)
    response = client.get(f"/sources/{source.id}/quick-add", headers=HX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_ids_beyond_the_integer_column_are_404_not_500(logged_in):
    for path in (
        "/sources/2147483648",
        "/sources/99999999999999999999/edit",
        "/sources/2147483648/readings",
    ):
        assert logged_in.get(path).status_code == 404, path
