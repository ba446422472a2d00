"""Shared homes: each role (owner, editor, viewer, stranger) on each source route, in pages,
fragments and the API; inviting, changing roles and removing members; who recorded what."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from werkzeug.routing import Rule

from homelog import access, datasources, homes, tokens
from homelog.extensions import db
from homelog.models import (
    DataSource,
    Home,
    HomeInvitation,
    HomeMember,
    MeterEvent,
    Reading,
    Tariff,
    User,
)
from tests.conftest import PASSWORD, share

HTMX = {"HX-Request": "true"}
ROLES = ("owner", "editor", "viewer", "stranger")


@pytest.fixture
def world(app, make_user, make_source, make_reading):
    """A home of Olive with a meter, a reading, a price and a swap; Ed edits, Vi views."""
    owner = make_user("owner@example.com", name="Olive Owner", timezone="Europe/Berlin")
    editor = make_user("editor@example.com", name="Ed Editor")
    viewer = make_user("viewer@example.com", name="Vi Viewer")
    stranger = make_user("stranger@example.com", name="Stan Stranger")
    home = homes.create_home(owner, "Farmhouse", "Europe/Vienna")
    source = make_source(owner, "Power", location_id=home.id)
    reading = make_reading(
        source,
        {"import": 100.0},
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        created_by_id=owner.id,
    )
    tariff = Tariff(
        data_source_id=source.id,
        metric="import",
        effective_from=date(2025, 1, 1),
        unit_price=Decimal("0.3"),
    )
    swap = MeterEvent(
        data_source_id=source.id,
        at=datetime(2025, 6, 1, tzinfo=UTC),
        old_final={"import": 50.0},
        new_start={"import": 0.0},
    )
    db.session.add_all([tariff, swap])
    db.session.commit()
    share(home, editor, "editor")
    share(home, viewer, "viewer")
    return {
        "owner": owner,
        "editor": editor,
        "viewer": viewer,
        "stranger": stranger,
        "home": home,
        "source": source,
        "reading": reading,
        "tariff": tariff,
        "swap": swap,
    }


def expected(role: str, action: str) -> str:
    """Return "ok", "forbidden" or "missing" for role doing action."""
    if role == "stranger":
        return "missing"
    allowed = {"read": ROLES[:3], "write": ("owner", "editor"), "manage": ("owner",)}[action]
    return "ok" if role in allowed else "forbidden"


def outcome(status: int) -> str:
    return {403: "forbidden", 404: "missing"}.get(status, "ok")


# method, URL (formatted with s, r, t, w), action, form/JSON data, headers
PAGE_ROUTES = [
    ("GET", "/sources/{s}", "read", None, {}),
    ("GET", "/sources/{s}", "read", None, HTMX),
    ("GET", "/sources/{s}/readings", "read", None, HTMX),
    ("GET", "/sources/{s}/readings/{r}", "read", None, HTMX),
    ("GET", "/sources/{s}/usage", "read", None, {}),
    ("GET", "/sources/{s}/usage/summary", "read", None, HTMX),
    ("GET", "/sources/{s}/tariffs", "read", None, {}),
    ("GET", "/sources/{s}/meter", "manage", None, {}),
    ("GET", "/sources/{s}/tariffs/{t}/edit", "manage", None, {}),
    ("GET", "/sources/{s}/export.csv", "read", None, {}),
    ("GET", "/sources/{s}/quick-add", "write", None, HTMX),
    (
        "POST",
        "/sources/{s}/readings",
        "write",
        {"s{s}-timestamp": "2026-02-01T10:00", "s{s}-value_0": "120"},
        {},
    ),
    (
        "POST",
        "/sources/{s}/quick-add",
        "write",
        {"s{s}-timestamp": "2026-02-01T10:00", "s{s}-value_0": "120"},
        HTMX,
    ),
    ("GET", "/sources/{s}/readings/{r}/edit", "write", None, HTMX),
    (
        "POST",
        "/sources/{s}/readings/{r}/edit",
        "write",
        {"r{rh}-timestamp": "2026-01-01T01:00", "r{rh}-value_0": "101"},
        HTMX,
    ),
    ("GET", "/sources/{s}/readings/{r}/delete", "write", None, {}),
    ("POST", "/sources/{s}/readings/{r}/delete", "write", {}, HTMX),
    ("POST", "/sources/{s}/readings/restore", "write", {"token": "x"}, {}),
    ("POST", "/sources/{s}/readings/{r}/confirm", "write", {}, {}),
    ("GET", "/sources/{s}/import", "write", None, {}),
    ("POST", "/sources/{s}/import", "write", {"text": "date,import\n2026-03-01,130\n"}, {}),
    ("POST", "/sources/{s}/import/confirm", "write", {"upload": "nope"}, {}),
    ("POST", "/sources/{s}/import/cancel", "write", {"upload": "nope"}, {}),
    ("GET", "/sources/{s}/edit", "manage", None, {}),
    (
        "POST",
        "/sources/{s}/edit",
        "manage",
        {
            "name": "Renamed",
            "kind": "meter",
            "metrics-0-name": "import",
            "metrics-0-unit": "kWh",
            "metrics-0-original": "import",
        },
        {},
    ),
    ("GET", "/sources/{s}/delete", "manage", None, {}),
    ("POST", "/sources/{s}/delete", "manage", {}, {}),
    (
        "POST",
        "/sources/{s}/tariffs",
        "manage",
        {"metric": "import", "effective_from": "2026-01-01", "unit_price": "0.35"},
        {},
    ),
    (
        "POST",
        "/sources/{s}/tariffs/{t}/edit",
        "manage",
        {"metric": "import", "effective_from": "2025-01-01", "unit_price": "0.4"},
        {},
    ),
    ("POST", "/sources/{s}/tariffs/{t}/delete", "manage", {}, {}),
    ("POST", "/sources/{s}/meter", "manage", {"cycle_day": "1", "max_gap_hours": "48"}, {}),
    ("POST", "/sources/{s}/swaps", "manage", {"at": "2026-01-05T00:00"}, {}),
    ("POST", "/sources/{s}/swaps/{w}/delete", "manage", {}, {}),
    ("GET", "/sources/{s}/reminder", "manage", None, {}),
    ("POST", "/sources/{s}/reminder", "manage", {"every": "day"}, {}),
]

API_ROUTES = [
    ("GET", "/api/sources/{s}", "read", None),
    ("GET", "/api/sources/{s}/readings", "read", None),
    ("GET", "/api/sources/{s}/readings/{r}", "read", None),
    ("GET", "/api/sources/{s}/usage", "read", None),
    ("GET", "/api/sources/{s}/tariffs", "read", None),
    ("GET", "/api/sources/{s}/swaps", "read", None),
    ("GET", "/api/sources/{s}/usage-settings", "read", None),
    ("GET", "/api/sources/{s}/export.csv", "read", None),
    (
        "POST",
        "/api/sources/{s}/readings",
        "write",
        {"timestamp": "2026-02-01T10:00:00Z", "values": {"import": 120}},
    ),
    ("PATCH", "/api/sources/{s}/readings/{r}", "write", {"note": "checked"}),
    ("PUT", "/api/sources/{s}/readings/{r}", "write", {"values": {"import": 101}}),
    ("DELETE", "/api/sources/{s}/readings/{r}", "write", None),
    ("POST", "/api/sources/{s}/import", "write", "date,import\n2026-03-01,130\n"),
    ("PATCH", "/api/sources/{s}", "manage", {"name": "Renamed"}),
    ("PUT", "/api/sources/{s}", "manage", {"description": "x"}),
    ("DELETE", "/api/sources/{s}", "manage", None),
    (
        "POST",
        "/api/sources/{s}/tariffs",
        "manage",
        {"metric": "import", "effective_from": "2026-01-01", "unit_price": 0.35},
    ),
    ("PATCH", "/api/sources/{s}/tariffs/{t}", "manage", {"unit_price": 0.4}),
    ("DELETE", "/api/sources/{s}/tariffs/{t}", "manage", None),
    (
        "POST",
        "/api/sources/{s}/swaps",
        "manage",
        {"at": "2026-01-05T00:00:00Z", "old_final": {"import": 110}, "new_start": {"import": 0}},
    ),
    ("PATCH", "/api/sources/{s}/swaps/{w}", "manage", {"note": "x"}),
    ("DELETE", "/api/sources/{s}/swaps/{w}", "manage", None),
    ("PATCH", "/api/sources/{s}/usage-settings", "manage", {"cycle_day": 5}),
    ("GET", "/api/sources/{s}/reminder", "read", None),
    ("PUT", "/api/sources/{s}/reminder", "manage", {"every": "day"}),
]


def fill(text: str, world) -> str:
    return text.format(
        s=world["source"].id,
        r=world["reading"].id,
        rh=world["reading"].id.hex,
        t=world["tariff"].id,
        w=world["swap"].id,
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "method, url, action, data, headers",
    PAGE_ROUTES,
    ids=[f"{m} {u} {h.get('HX-Request') and 'htmx' or ''}" for m, u, _, _, h in PAGE_ROUTES],
)
def test_pages_and_fragments_enforce_roles(
    client, auth, world, role, method, url, action, data, headers
):
    auth.login(f"{role}@example.com", PASSWORD)
    form = {fill(k, world): fill(v, world) for k, v in (data or {}).items()}
    response = client.open(fill(url, world), method=method, data=form, headers=headers)
    assert outcome(response.status_code) == expected(role, action), (
        response.status_code,
        response.get_data(as_text=True)[:300],
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "method, url, action, body", API_ROUTES, ids=[f"{m} {u}" for m, u, _, _ in API_ROUTES]
)
def test_api_enforces_roles(client, world, role, method, url, action, body):
    raw, _ = tokens.issue_token(world[role], "phone")
    headers = {"Authorization": f"Bearer {raw}"}
    if isinstance(body, str):
        response = client.open(
            fill(url, world),
            method=method,
            data=body.encode(),
            headers={**headers, "Content-Type": "text/csv"},
        )
    else:
        response = client.open(fill(url, world), method=method, json=body, headers=headers)
    assert outcome(response.status_code) == expected(role, action), (
        response.status_code,
        response.get_data(as_text=True)[:300],
    )
    assert response.status_code == 204 or response.is_json or response.mimetype == "text/csv"


def test_a_viewers_write_changes_nothing(client, world):
    raw, _ = tokens.issue_token(world["viewer"], "phone")
    reading = world["reading"]
    response = client.delete(
        f"/api/sources/{world['source'].id}/readings/{reading.id}",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 403
    assert "editor" in response.get_json()["detail"]
    assert db.session.get(Reading, reading.id) is not None


def test_an_editor_records_readings_that_show_who_recorded_them(client, auth, world):
    auth.login("editor@example.com")
    source = world["source"]
    client.post(
        f"/sources/{source.id}/readings",
        data={f"s{source.id}-timestamp": "2026-02-01T10:00", f"s{source.id}-value_0": "120"},
    )
    stored = db.session.scalar(select(Reading).where(Reading.created_by_id == world["editor"].id))
    assert stored.values == {"import": 120.0}
    auth.logout()
    auth.login("owner@example.com")
    page = client.get(f"/sources/{source.id}").get_data(as_text=True)
    assert "by Ed Editor" in page


def test_sync_upload_respects_roles(client, world):
    import uuid

    source = world["source"]
    for role, status in (("editor", "created"), ("viewer", "invalid")):
        raw, _ = tokens.issue_token(world[role], "phone")
        item = {
            "id": str(uuid.uuid4()),
            "data_source_id": source.id,
            "timestamp": "2026-04-01T00:00:00Z",
            "values": {"import": 150},
        }
        response = client.post(
            "/api/sync/readings",
            json={"readings": [item]},
            headers={"Authorization": f"Bearer {raw}"},
        )
        assert response.get_json()["results"][0]["status"] == status, response.get_json()


def test_members_see_the_shared_home_on_their_dashboard(client, auth, world):
    auth.login("viewer@example.com")
    page = client.get("/").get_data(as_text=True)
    assert "Farmhouse" in page and "shared by Olive Owner · viewer" in page
    assert "Power" in page
    assert f"/sources/{world['source'].id}/edit" not in page  # no buttons they cannot use
    assert "+ Add reading" not in page
    api = client.get("/api/sources").get_json()
    assert [s["name"] for s in api] == ["Power"]
    auth.logout()
    auth.login("stranger@example.com")
    assert "Power" not in client.get("/").get_data(as_text=True)


def test_removing_a_member_revokes_access_at_once(client, auth, world):
    auth.login("editor@example.com")
    url = f"/sources/{world['source'].id}"
    assert client.get(url).status_code == 200
    member = db.session.scalar(select(HomeMember).where(HomeMember.user_id == world["editor"].id))
    homes.remove_member(member)
    assert client.get(url).status_code == 404  # the same signed-in session


def test_changing_a_role_takes_effect_at_once(client, auth, world):
    auth.login("viewer@example.com")
    source = world["source"]
    data = {f"s{source.id}-timestamp": "2026-02-01T10:00", f"s{source.id}-value_0": "120"}
    assert client.post(f"/sources/{source.id}/readings", data=data).status_code == 403
    member = db.session.scalar(select(HomeMember).where(HomeMember.user_id == world["viewer"].id))
    homes.change_role(member, "editor")
    assert client.post(f"/sources/{source.id}/readings", data=data).status_code == 302


# ---- the home pages --------------------------------------------------------------------------


def test_owner_creates_a_home_with_sources_and_its_periods_follow_its_timezone(
    client, auth, user, make_source
):
    from homelog.usage_db.inputs import source_zone

    source = make_source(user, "Gas")
    auth.login()
    response = client.post(
        "/homes/new", data={"name": "Cabin", "timezone": "Asia/Tokyo", "sources": [str(source.id)]}
    )
    assert response.status_code == 302
    home = db.session.scalar(select(Home))
    assert db.session.get(DataSource, source.id).location_id == home.id
    assert source_zone(db.session.get(DataSource, source.id)).key == "Asia/Tokyo"
    page = client.get("/").get_data(as_text=True)
    assert "Cabin" in page


def test_home_form_validation(client, auth, user):
    auth.login()
    response = client.post("/homes/new", data={"name": "", "timezone": "Mars/Base"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Enter a name" in page and "Choose a timezone" in page


def test_owner_invites_and_the_invitee_accepts_then_role_changes_and_removal(client, auth, world):
    home = world["home"]
    auth.login("owner@example.com")
    page = client.get(f"/homes/{home.id}").get_data(as_text=True)
    assert "Ed Editor" in page and "Vi Viewer" in page
    response = client.post(
        f"/homes/{home.id}/members", data={"email": "STRANGER@example.com", "role": "viewer"}
    )
    assert response.status_code == 302
    # Nothing is shared before the invitee says yes.
    assert datasources.role_for(world["stranger"], world["source"]) is None
    page = client.get(f"/homes/{home.id}").get_data(as_text=True)
    assert "Invitations waiting" in page and "stranger@example.com" in page
    auth.logout()

    auth.login("stranger@example.com")
    dashboard = client.get("/").get_data(as_text=True)
    assert "Olive Owner" in dashboard and "“Farmhouse”" in dashboard and "as viewer" in dashboard
    assert "Power" not in dashboard
    invitation = db.session.scalar(select(HomeInvitation))
    response = client.post(f"/invitations/{invitation.id}/accept")
    assert response.status_code == 302 and response.location == f"/homes/{home.id}"
    dashboard = client.get("/").get_data(as_text=True)
    assert "Power" in dashboard and "Invitations" not in dashboard
    assert db.session.scalar(select(func.count()).select_from(HomeInvitation)) == 0
    auth.logout()

    auth.login("owner@example.com")
    member = db.session.scalar(select(HomeMember).where(HomeMember.user_id == world["stranger"].id))
    assert member.role == "viewer"
    assert "Invitations waiting" not in client.get(f"/homes/{home.id}").get_data(as_text=True)
    client.post(f"/homes/{home.id}/members/{member.id}", data={f"m{member.id}-role": "editor"})
    db.session.refresh(member)
    assert member.role == "editor"
    member_id = member.id
    client.post(f"/homes/{home.id}/members/{member_id}/remove")
    db.session.expunge_all()
    assert db.session.get(HomeMember, member_id) is None


def _invite(client, home, email: str, role: str = "viewer"):
    return client.post(
        f"/homes/{home.id}/members", data={"email": email, "role": role}, follow_redirects=True
    )


def test_the_owner_cannot_tell_which_emails_have_accounts(client, auth, world):
    """An invitation to an address with an account reads exactly like one without."""
    auth.login("owner@example.com")
    client.get("/")  # shows the sign-in greeting
    home = world["home"]
    with_account = _invite(client, home, "stranger@example.com")
    without_account = _invite(client, home, "nobody@example.com")
    assert with_account.status_code == without_account.status_code == 200
    said = [
        re.findall(r'<p class="flash[^"]*">(.*?)</p>', r.text)
        for r in (with_account, without_account)
    ]
    assert said[0] and said[0] == [m.replace("nobody@", "stranger@") for m in said[1]]
    listed = db.session.scalars(select(HomeInvitation.email).order_by(HomeInvitation.email))
    assert list(listed) == ["nobody@example.com", "stranger@example.com"]


def test_an_invitation_waits_for_an_account_made_later(client, auth, world, make_user):
    auth.login("owner@example.com")
    _invite(client, world["home"], "Later@Example.com", "editor")
    auth.logout()
    later = make_user("later@example.com", name="Lee Later")
    auth.login("later@example.com")
    invitation = db.session.scalar(select(HomeInvitation))
    assert "invites you to <strong>“Farmhouse”</strong> as editor" in client.get("/").text
    client.post(f"/invitations/{invitation.id}/accept")
    assert datasources.role_for(later, world["source"]) == "editor"


def test_the_invitee_declines_and_the_owner_withdraws(client, auth, world, make_user):
    home = world["home"]
    make_user("dee@example.com")
    auth.login("owner@example.com")
    _invite(client, home, "stranger@example.com")
    _invite(client, home, "dee@example.com")
    stranger_invitation, dee_invitation = db.session.scalars(
        select(HomeInvitation.id).order_by(HomeInvitation.id)
    )
    response = client.post(f"/homes/{home.id}/invitations/{dee_invitation}/withdraw")
    assert response.status_code == 302
    auth.logout()
    auth.login("dee@example.com")
    assert "Invitations" not in client.get("/").text
    assert client.post(f"/invitations/{dee_invitation}/accept").status_code == 404
    auth.logout()
    auth.login("stranger@example.com")
    assert client.post(f"/invitations/{stranger_invitation}/decline").status_code == 302
    assert "Invitations" not in client.get("/").text
    assert db.session.scalar(select(func.count()).select_from(HomeInvitation)) == 0
    assert datasources.role_for(world["stranger"], world["source"]) is None


def test_only_the_invitee_answers_an_invitation_and_only_with_the_csrf_token(client, auth, world):
    auth.login("owner@example.com")
    _invite(client, world["home"], "stranger@example.com")
    invitation_id = db.session.scalar(select(HomeInvitation.id))
    for answer in ("accept", "decline"):  # the owner, and then another member
        assert client.post(f"/invitations/{invitation_id}/{answer}").status_code == 404
    auth.logout()
    auth.login("viewer@example.com")
    for answer in ("accept", "decline"):
        assert client.post(f"/invitations/{invitation_id}/{answer}").status_code == 404
    auth.logout()
    auth.login("stranger@example.com")
    for answer in ("accept", "decline"):
        response = client.post(f"/invitations/{invitation_id}/{answer}", csrf=False)
        assert response.status_code == 400
    assert db.session.get(HomeInvitation, invitation_id) is not None
    assert datasources.role_for(world["stranger"], world["source"]) is None


def test_inviting_again_changes_the_role_of_the_waiting_invitation(client, auth, world):
    auth.login("owner@example.com")
    _invite(client, world["home"], "stranger@example.com", "viewer")
    _invite(client, world["home"], "stranger@example.com", "editor")
    assert [(i.email, i.role) for i in db.session.scalars(select(HomeInvitation))] == [
        ("stranger@example.com", "editor")
    ]


def test_waiting_invitations_are_bounded(client, auth, world):
    auth.login("owner@example.com")
    for n in range(homes.MAX_PENDING_INVITATIONS):
        homes.invite(world["home"], f"guest{n}@example.com", "viewer")
    response = client.post(
        f"/homes/{world['home'].id}/members", data={"email": "one@example.com", "role": "viewer"}
    )
    assert response.status_code == 422 and "withdraw some first" in response.text


@pytest.mark.parametrize(
    "email, message",
    [
        ("not an address", "Enter a valid email address"),
        ("", "Enter an email address"),
        ("owner@example.com", "you own this home"),
        ("editor@example.com", "already a member"),
    ],
)
def test_invitations_that_cannot_be(client, auth, world, email, message):
    auth.login("owner@example.com")
    response = client.post(
        f"/homes/{world['home'].id}/members", data={"email": email, "role": "viewer"}
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(HomeInvitation)) == 0


HOME_ROUTES = [
    ("GET", "/homes/{h}", "read"),
    ("GET", "/homes/{h}/edit", "manage"),
    ("POST", "/homes/{h}/edit", "manage"),
    ("GET", "/homes/{h}/delete", "manage"),
    ("POST", "/homes/{h}/delete", "manage"),
    ("POST", "/homes/{h}/members", "manage"),
    ("POST", "/homes/{h}/members/{m}", "manage"),
    ("POST", "/homes/{h}/members/{m}/remove", "manage"),
    ("POST", "/homes/{h}/invitations/{i}/withdraw", "manage"),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, url, action", HOME_ROUTES)
def test_home_pages_enforce_roles(client, auth, world, role, method, url, action):
    member = db.session.scalar(
        select(HomeMember.id).where(HomeMember.user_id == world["viewer"].id)
    )
    invitation = homes.invite(world["home"], "guest@example.com", "viewer")
    auth.login(f"{role}@example.com")
    response = client.open(
        url.format(h=world["home"].id, m=member, i=invitation.id),
        method=method,
        data={"name": "X", "timezone": "UTC", "email": "x@example.com", "role": "viewer"},
    )
    assert outcome(response.status_code) == expected(role, action)


def test_a_member_leaves_and_the_owner_deletes_a_home(client, auth, world):
    auth.login("viewer@example.com")
    client.post(f"/homes/{world['home'].id}/leave")
    assert datasources.role_for(world["viewer"], world["source"]) is None
    auth.logout()
    auth.login("owner@example.com")
    client.post(f"/homes/{world['home'].id}/delete")
    assert db.session.scalar(select(func.count()).select_from(Home)) == 0
    assert db.session.get(DataSource, world["source"].id).location_id is None
    assert db.session.scalar(select(func.count()).select_from(HomeMember)) == 0
    assert datasources.role_for(world["editor"], world["source"]) is None


def test_moving_a_source_out_of_a_shared_home_ends_the_members_access(client, auth, world):
    homes.update_home(world["home"], "Farmhouse", "Europe/Vienna", [])
    user = db.session.get(User, world["editor"].id)
    assert db.session.scalar(datasources.visible_sources(user)) is None


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_members_see_prices_without_owner_controls(client, auth, world, role):
    auth.login(email=f"{role}@example.com")
    source = world["source"]
    prices = client.get(f"/sources/{source.id}/tariffs")
    assert prices.status_code == 200 and b"0.3" in prices.data
    assert b"Add price" not in prices.data and b"/delete" not in prices.data
    assert f"/sources/{source.id}/tariffs/{world['tariff'].id}/edit" not in prices.text
    usage = client.get(f"/sources/{source.id}/usage")
    assert usage.status_code == 200 and f"/sources/{source.id}/meter" not in usage.text
    auth.logout()
    auth.login(email="owner@example.com")
    assert b"Add price" in client.get(f"/sources/{source.id}/tariffs").data
    assert b"Record swap" in client.get(f"/sources/{source.id}/meter").data


def test_an_editor_warned_of_a_drop_is_told_to_ask_the_owner_for_the_swap(client, auth, world):
    """Only the owner records meter swaps, so an editor gets no link to the meter page."""
    auth.login("editor@example.com")
    source = world["source"]
    response = client.post(
        f"/sources/{source.id}/readings",
        headers=HTMX,
        data={f"s{source.id}-timestamp": "2026-02-01T10:00", f"s{source.id}-value_0": "50"},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "Lower than the previous reading." in text
    assert "Ask Olive Owner to record the meter swap" in text
    assert f"/sources/{source.id}/meter" not in text


def test_form_pages_are_read_from_the_url_map():
    """A GET page is a form when its endpoint or its URL also takes a form's POST."""
    rules = [
        Rule("/sources/<int:source_id>/gadget", endpoint="sources.gadget", methods=["GET", "POST"]),
        Rule("/sources/<int:source_id>/import", endpoint="sources.import_page", methods=["GET"]),
        Rule(
            "/sources/<int:source_id>/import", endpoint="sources.import_preview", methods=["POST"]
        ),
        Rule(
            "/sources/<int:source_id>/tariffs", endpoint="sources.tariffs", methods=["GET", "POST"]
        ),
        Rule("/sources/<int:source_id>", endpoint="sources.detail", methods=["GET"]),
        Rule("/api/sources/<int:source_id>", endpoint="api.get_source", methods=["GET"]),
        Rule("/api/sources/<int:source_id>", endpoint="api.delete_source", methods=["DELETE"]),
    ]
    assert access.form_pages(rules) == {
        "sources.gadget": "manage",
        "sources.import_page": "write",
    }


def test_every_form_page_of_the_app_needs_its_forms_action(app):
    pages = app.extensions["homelog_form_pages"]
    assert pages["sources.meter"] == pages["sources.edit_tariff"] == "manage"
    assert pages["sources.edit_reading"] == pages["sources.import_page"] == "write"
    assert "sources.tariffs" not in pages and "sources.detail" not in pages
