"""The homes API: homes, members and invitations, with the rules of the home pages."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from homelog import datasources
from homelog.extensions import db
from homelog.models import HomeInvitation, HomeMember


@pytest.fixture
def meter(user, make_source):
    return make_source(user, "Power")


def test_an_owner_creates_renames_and_deletes_a_home(client, user, meter, api_headers):
    created = client.post(
        "/api/homes",
        headers=api_headers,
        json={"name": "Farmhouse", "timezone": "Europe/Vienna", "source_ids": [meter.id]},
    )
    assert created.status_code == 201, created.get_json()
    home = created.get_json()
    assert created.headers["Location"] == f"/api/homes/{home['id']}"
    assert (home["role"], home["source_ids"], home["owner_id"]) == ("owner", [meter.id], user.id)
    renamed = client.patch(f"/api/homes/{home['id']}", headers=api_headers, json={"name": "Barn"})
    assert renamed.get_json()["name"] == "Barn" and renamed.get_json()["source_ids"] == [meter.id]
    assert (
        client.put(
            f"/api/homes/{home['id']}", headers=api_headers, json=renamed.get_json()
        ).status_code
        == 200
    )
    assert [h["name"] for h in client.get("/api/homes", headers=api_headers).get_json()] == ["Barn"]
    assert client.delete(f"/api/homes/{home['id']}", headers=api_headers).status_code == 204
    assert client.get(f"/api/homes/{home['id']}", headers=api_headers).status_code == 404
    assert db.session.get(datasources.DataSource, meter.id).location_id is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "", "timezone": "UTC"}, "name"),
        ({"name": "Home", "timezone": "Mars/Base"}, "timezone"),
        ({"name": "Home", "timezone": "UTC", "source_ids": [999]}, "sources"),
        ({"name": "Home"}, "timezone"),
        ({"name": 5, "timezone": "UTC"}, "name"),
    ],
)
def test_bad_homes_are_refused(client, api_headers, body, field):
    response = client.post("/api/homes", headers=api_headers, json=body)
    assert response.status_code == 422 and field in response.get_json()["errors"]


def _invite(client, headers, home_id, email, role="viewer"):
    return client.post(
        f"/api/homes/{home_id}/invitations", headers=headers, json={"email": email, "role": role}
    )


def test_inviting_accepting_and_managing_members(
    client, user, other, meter, api_headers, other_headers
):
    home = client.post(
        "/api/homes",
        headers=api_headers,
        json={"name": "Farmhouse", "timezone": "UTC", "source_ids": [meter.id]},
    ).get_json()
    with_account = _invite(client, api_headers, home["id"], "Other@example.com", "editor")
    without_account = _invite(client, api_headers, home["id"], "nobody@example.com", "editor")
    assert with_account.status_code == without_account.status_code == 201
    shape = [set(r.get_json()) for r in (with_account, without_account)]
    assert shape[0] == shape[1]
    assert with_account.get_json()["email"] == "other@example.com"
    # Nothing is shared before the invitee accepts.
    assert client.get(f"/api/homes/{home['id']}", headers=other_headers).status_code == 404
    assert client.get("/api/sources", headers=other_headers).get_json() == []
    pending = client.get(f"/api/homes/{home['id']}/invitations", headers=api_headers).get_json()
    assert [i["email"] for i in pending] == ["other@example.com", "nobody@example.com"]

    received = client.get("/api/invitations", headers=other_headers).get_json()
    assert [(i["home_name"], i["role"], i["invited_by_name"]) for i in received] == [
        ("Farmhouse", "editor", user.display_name)
    ]
    invitation_id = received[0]["id"]
    # Only the invitee answers it.
    for headers in (api_headers,):
        assert (
            client.post(f"/api/invitations/{invitation_id}/accept", headers=headers).status_code
            == 404
        )
    accepted = client.post(f"/api/invitations/{invitation_id}/accept", headers=other_headers)
    assert accepted.status_code == 200 and accepted.get_json()["role"] == "editor"
    assert [s["role"] for s in client.get("/api/sources", headers=other_headers).get_json()] == [
        "editor"
    ]
    members = client.get(f"/api/homes/{home['id']}/members", headers=other_headers).get_json()
    assert [(m["email"], m["role"]) for m in members] == [("other@example.com", "editor")]
    member_id = members[0]["id"]

    # A member may not manage the home.
    for method, url, body in [
        ("PATCH", f"/api/homes/{home['id']}", {"name": "Mine"}),
        ("DELETE", f"/api/homes/{home['id']}", None),
        ("PATCH", f"/api/homes/{home['id']}/members/{member_id}", {"role": "viewer"}),
        ("DELETE", f"/api/homes/{home['id']}/members/{member_id}", None),
        ("GET", f"/api/homes/{home['id']}/invitations", None),
        ("POST", f"/api/homes/{home['id']}/invitations", {"email": "x@example.com"}),
    ]:
        response = client.open(url, method=method, headers=other_headers, json=body)
        assert response.status_code == 403, (method, url)

    changed = client.patch(
        f"/api/homes/{home['id']}/members/{member_id}", headers=api_headers, json={"role": "viewer"}
    )
    assert changed.get_json()["role"] == "viewer"
    assert client.get("/api/sources", headers=other_headers).get_json()[0]["role"] == "viewer"
    bad = client.patch(
        f"/api/homes/{home['id']}/members/{member_id}", headers=api_headers, json={"role": "owner"}
    )
    assert bad.status_code == 422
    removed = client.delete(f"/api/homes/{home['id']}/members/{member_id}", headers=api_headers)
    assert removed.status_code == 204
    assert client.get("/api/sources", headers=other_headers).get_json() == []


def test_decline_withdraw_and_leave(client, user, other, meter, api_headers, other_headers):
    home = client.post(
        "/api/homes", headers=api_headers, json={"name": "Farmhouse", "timezone": "UTC"}
    ).get_json()
    first = _invite(client, api_headers, home["id"], other.email).get_json()
    assert (
        client.post(f"/api/invitations/{first['id']}/decline", headers=other_headers).status_code
        == 204
    )
    assert client.get("/api/invitations", headers=other_headers).get_json() == []
    second = _invite(client, api_headers, home["id"], other.email).get_json()
    withdrawn = client.delete(
        f"/api/homes/{home['id']}/invitations/{second['id']}", headers=api_headers
    )
    assert withdrawn.status_code == 204
    assert (
        client.post(f"/api/invitations/{second['id']}/accept", headers=other_headers).status_code
        == 404
    )
    third = _invite(client, api_headers, home["id"], other.email).get_json()
    client.post(f"/api/invitations/{third['id']}/accept", headers=other_headers)
    assert client.post(f"/api/homes/{home['id']}/leave", headers=api_headers).status_code == 403
    assert client.post(f"/api/homes/{home['id']}/leave", headers=other_headers).status_code == 204
    assert db.session.scalar(select(func.count()).select_from(HomeMember)) == 0
    assert db.session.scalar(select(func.count()).select_from(HomeInvitation)) == 0


@pytest.mark.parametrize(
    "email, message",
    [
        ("not an address", "valid email"),
        ("{own}", "you own this home"),
    ],
)
def test_invitations_that_cannot_be(client, user, api_headers, email, message):
    home = client.post(
        "/api/homes", headers=api_headers, json={"name": "Farmhouse", "timezone": "UTC"}
    ).get_json()
    response = _invite(client, api_headers, home["id"], email.format(own=user.email.upper()))
    assert response.status_code == 422
    assert message in response.get_json()["errors"]["email"][0]


def test_someone_elses_home_is_a_404(client, user, other, make_headers, api_headers, other_headers):
    home = client.post(
        "/api/homes", headers=api_headers, json={"name": "Farmhouse", "timezone": "UTC"}
    ).get_json()
    for method, url, body in [
        ("GET", f"/api/homes/{home['id']}", None),
        ("PATCH", f"/api/homes/{home['id']}", {"name": "x"}),
        ("DELETE", f"/api/homes/{home['id']}", None),
        ("GET", f"/api/homes/{home['id']}/members", None),
        ("POST", f"/api/homes/{home['id']}/leave", None),
        ("POST", f"/api/homes/{home['id']}/invitations", {"email": "x@example.com"}),
    ]:
        response = client.open(url, method=method, headers=other_headers, json=body)
        assert response.status_code == 404, (method, url, response.get_json())
    assert client.get("/api/homes", headers=other_headers).get_json() == []


def test_homes_are_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in (
        "/api/homes",
        "/api/homes/{home_id}",
        "/api/homes/{home_id}/members",
        "/api/homes/{home_id}/members/{member_id}",
        "/api/homes/{home_id}/invitations",
        "/api/homes/{home_id}/invitations/{invitation_id}",
        "/api/homes/{home_id}/leave",
        "/api/invitations",
        "/api/invitations/{invitation_id}/accept",
        "/api/invitations/{invitation_id}/decline",
    ):
        assert path in paths, path
