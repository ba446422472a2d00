"""Admin user management: pages, fragments, rules and access control."""

from __future__ import annotations

import re

import pytest

from homelog import accounts, sessions
from homelog.extensions import db
from homelog.models import DataSource, Reading, User
from tests.conftest import PASSWORD

HX = {"HX-Request": "true"}


@pytest.fixture
def as_admin(client, auth, admin):
    """Return a client signed in as the administrator."""
    assert auth.login(email=admin.email).status_code == 302
    return client


def _sign_in(app, email: str, password: str = PASSWORD):
    other = app.test_client()
    response = other.post("/login", data={"email": email, "password": password})
    return other, response


def _text(response) -> str:
    return response.get_data(as_text=True)


# --- access -------------------------------------------------------------------------------

ADMIN_URLS = [
    ("GET", "/admin/users"),
    ("GET", "/admin/users/new"),
    ("POST", "/admin/users/new"),
    ("GET", "/admin/users/{id}"),
    ("POST", "/admin/users/{id}/deactivate"),
    ("POST", "/admin/users/{id}/reactivate"),
    ("POST", "/admin/users/{id}/make-admin"),
    ("POST", "/admin/users/{id}/remove-admin"),
    ("GET", "/admin/users/{id}/reset-password"),
    ("POST", "/admin/users/{id}/reset-password"),
    ("GET", "/admin/users/{id}/delete"),
    ("POST", "/admin/users/{id}/delete"),
]


@pytest.mark.parametrize(("method", "url"), ADMIN_URLS)
def test_anonymous_is_sent_to_sign_in(client, make_user, method, url):
    target = make_user("target@example.com")
    url = url.format(id=target.id)
    response = client.open(url, method=method)
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    response = client.open(url, method=method, headers=HX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")
    db.session.refresh(target)
    assert target.is_active and not target.is_admin


@pytest.mark.parametrize(("method", "url"), ADMIN_URLS)
def test_non_admin_gets_403(logged_in, user, make_user, method, url):
    target = make_user("target@example.com")
    url = url.format(id=target.id)
    response = logged_in.open(url, method=method, data={"email": "new@example.com"})
    assert response.status_code == 403
    assert logged_in.open(url, method=method, headers=HX).status_code == 403
    db.session.refresh(target)
    assert target.is_active and not target.is_admin
    assert accounts.find_by_email("new@example.com") is None


def test_non_admin_has_no_users_link(logged_in):
    assert b'href="/admin/users"' not in logged_in.get("/account").data


def test_admin_sees_users_link(as_admin):
    assert b'href="/admin/users"' in as_admin.get("/account").data


@pytest.mark.parametrize(
    "url",
    [
        "/admin/users/999999",
        "/admin/users/999999/reset-password",
        "/admin/users/999999/delete",
        "/admin/users/abc",
        "/admin/users/-1",
        "/admin/users/1.5/delete",
    ],
)
def test_unknown_user_is_404(as_admin, url):
    assert as_admin.get(url).status_code == 404


@pytest.mark.parametrize(
    "action",
    [
        "deactivate",
        "reactivate",
        "make-admin",
        "remove-admin",
        "reset-password",
        "delete",
    ],
)
@pytest.mark.parametrize("user_id", ["999999", "abc"])
def test_unknown_user_actions_are_404(as_admin, action, user_id):
    assert as_admin.post(f"/admin/users/{user_id}/{action}").status_code == 404
    assert as_admin.post(f"/admin/users/{user_id}/{action}", headers=HX).status_code == 404


@pytest.mark.parametrize(
    "action",
    [
        "deactivate",
        "reactivate",
        "make-admin",
        "remove-admin",
        "reset-password",
        "delete",
    ],
)
def test_actions_require_csrf(as_admin, make_user, action):
    target = make_user("target@example.com")
    sessions.start(target)
    before = (target.is_active, target.is_admin, target.password_hash, 1)
    response = as_admin.post(f"/admin/users/{target.id}/{action}", csrf=False)
    assert response.status_code == 400
    db.session.expire_all()
    target = db.session.get(User, target.id)
    assert target is not None
    assert (
        target.is_active,
        target.is_admin,
        target.password_hash,
        len(sessions.user_sessions(target)),
    ) == before


def test_create_requires_csrf(as_admin):
    response = as_admin.post(
        "/admin/users/new", data={"email": "new@example.com", "timezone": "UTC"}, csrf=False
    )
    assert response.status_code == 400
    assert accounts.find_by_email("new@example.com") is None


# --- list and search ----------------------------------------------------------------------


def test_users_page_lists_users(as_admin, admin, make_user):
    make_user("olive@example.com", name="Olive Owner")
    make_user("gone@example.com", is_active=False)
    response = as_admin.get("/admin/users")
    page = _text(response)
    assert response.status_code == 200
    assert "<html" in page and 'id="users-results"' in page
    assert "Olive Owner" in page and "olive@example.com" in page and "gone@example.com" in page
    assert "deactivated" in page and "3 users" in page
    assert f'id="user-{admin.id}"' in page
    assert "HX-Request" in response.headers["Vary"]


def test_users_fragment_is_the_results_only(as_admin, make_user):
    make_user("olive@example.com", name="Olive Owner")
    response = as_admin.get("/admin/users?q=olive", headers=HX)
    page = _text(response)
    assert response.status_code == 200
    assert "<html" not in page
    assert page.lstrip().startswith('<div id="users-results"')
    assert "olive@example.com" in page and "admin@example.com" not in page
    assert "HX-Request" in response.headers["Vary"]


def test_boosted_or_history_restore_gets_full_page(as_admin):
    for headers in ({**HX, "HX-Boosted": "true"}, {**HX, "HX-History-Restore-Request": "true"}):
        assert b"<html" in as_admin.get("/admin/users", headers=headers).data


@pytest.mark.parametrize(
    ("query", "found", "missing"),
    [
        ("olive", ["olive@example.com"], ["bob@example.com"]),
        ("OWNER", ["olive@example.com"], ["bob@example.com"]),  # by name, any case
        ("EXAMPLE.ORG", ["bob@example.org"], ["olive@example.com"]),
        ("%", [], ["olive@example.com", "bob@example.org"]),  # LIKE wildcards are literal
        ("_", ["under_score@example.com"], ["olive@example.com"]),
    ],
)
def test_search(as_admin, make_user, query, found, missing):
    make_user("olive@example.com", name="Olive Owner")
    make_user("bob@example.org", name="Bob")
    make_user("under_score@example.com")
    page = _text(as_admin.get("/admin/users", query_string={"q": query}))
    for email in found:
        assert email in page
    for email in missing:
        assert email not in page


def test_search_without_match_says_so(as_admin):
    page = _text(as_admin.get("/admin/users?q=nobody-here"))
    assert "No user matches “nobody-here”." in page


def test_search_keeps_the_query_in_the_box(as_admin):
    assert b'value="olive"' in as_admin.get("/admin/users?q=olive").data


def test_users_are_paged(as_admin, make_user):
    for n in range(30):
        make_user(f"user{n:02d}@example.com")
    first = _text(as_admin.get("/admin/users"))
    assert "31 users" in first and "page 1 of 2" in first
    assert first.count('<tr id="user-') == 25
    assert 'href="/admin/users?page=2"' in first and 'rel="next"' in first
    second = _text(as_admin.get("/admin/users?page=2", headers=HX))
    assert second.count('<tr id="user-') == 6
    assert "page 2 of 2" in second and 'rel="prev"' in second
    # Out-of-range or nonsense page numbers show the nearest real page instead of failing.
    assert "page 2 of 2" in _text(as_admin.get("/admin/users?page=99"))
    assert "page 1 of 2" in _text(as_admin.get("/admin/users?page=abc"))
    assert "page 1 of 2" in _text(as_admin.get("/admin/users?page=-3"))


def test_pager_keeps_the_search(as_admin, make_user):
    for n in range(27):
        make_user(f"match{n:02d}@example.com")
    page = _text(as_admin.get("/admin/users?q=match"))
    assert 'href="/admin/users?q=match&amp;page=2"' in page


def test_own_row_has_no_buttons(as_admin, admin):
    page = _text(as_admin.get("/admin/users"))
    row = re.search(rf'<tr id="user-{admin.id}".*?</tr>', page, re.S).group(0)
    assert "you" in row and "<button" not in row


# --- create -------------------------------------------------------------------------------


def test_create_page(as_admin):
    response = as_admin.get("/admin/users/new")
    assert response.status_code == 200
    assert b"Temporary password" in response.data and b'name="csrf_token"' in response.data


def test_create_user_with_typed_password(app, as_admin):
    temporary = "a temporary passphrase"
    response = as_admin.post(
        "/admin/users/new",
        data={
            "email": " New@Example.com ",
            "name": "Nina New",
            "timezone": "Europe/Paris",
            "password": temporary,
        },
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert temporary in _text(response)
    created = accounts.find_by_email("new@example.com")
    assert created.name == "Nina New" and created.timezone == "Europe/Paris"
    assert created.must_change_password and not created.is_admin and created.is_active
    # The new user must choose their own password before anything else.
    other, response = _sign_in(app, "new@example.com", temporary)
    assert response.status_code == 302
    assert other.get("/").location == "/account/password"


def test_create_user_with_generated_password(app, as_admin):
    response = as_admin.post(
        "/admin/users/new",
        data={
            "email": "gen@example.com",
            "timezone": "UTC",
            "is_admin": "y",
        },
    )
    assert response.status_code == 200
    shown = re.search(
        r'<code class="secret" id="temporary-password">([^<]+)</code>', _text(response)
    ).group(1)
    assert len(shown) >= 20 and accounts.password_problem(shown) is None
    created = accounts.find_by_email("gen@example.com")
    assert created.is_admin and created.must_change_password
    assert accounts.verify_password(created, shown)
    # Not kept anywhere it could be shown again.
    assert shown.encode() not in as_admin.get(f"/admin/users/{created.id}").data
    with as_admin.session_transaction() as session:
        assert shown not in str(dict(session))


def test_generated_passwords_differ_and_are_strong():
    passwords = {accounts.generate_temporary_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(accounts.password_problem(p) is None for p in passwords)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "", "Enter an email address."),
        ("email", "not-an-email", "Enter a valid email address"),
        ("email", "admin@example.com", "An account with this email already exists."),
        ("email", "ADMIN@example.com", "An account with this email already exists."),
        ("name", "x" * 101, "Use at most 100 characters."),
        ("timezone", "Mars/Olympus", "Choose a timezone from the list"),
        ("password", "short", "Use at least 10 characters."),
        ("password", "password123", "too easy to guess"),
        ("password", "x" * 257, "Use at most 256 characters."),
    ],
)
def test_create_validation_messages_keep_input(as_admin, field, value, message):
    data = {
        "email": "new@example.com",
        "name": "Nina New",
        "timezone": "Europe/Paris",
        "password": "a temporary passphrase",
    }
    data[field] = value
    response = as_admin.post("/admin/users/new", data=data)
    page = _text(response)
    assert response.status_code == 422
    assert message in page
    assert 'aria-invalid="true"' in page
    if field != "name":
        assert 'value="Nina New"' in page
    if field != "timezone":
        assert 'value="Europe/Paris"' in page
    assert accounts.user_count() == 1


def test_create_rejects_email_as_password(as_admin):
    response = as_admin.post(
        "/admin/users/new",
        data={"email": "someone@example.com", "timezone": "UTC", "password": "someone@example.com"},
    )
    assert response.status_code == 422
    assert "Do not use your email address" in _text(response)


# --- detail -------------------------------------------------------------------------------


def test_user_page(as_admin, make_user, make_source, make_reading):
    target = make_user("olive@example.com", name="Olive Owner", timezone="Europe/Berlin")
    source = make_source(target)
    make_reading(source)
    make_reading(source)
    page = _text(as_admin.get(f"/admin/users/{target.id}"))
    assert "Olive Owner" in page and "olive@example.com" in page and "Europe/Berlin" in page
    assert "1 source, 2 readings" in page
    for action in ("deactivate", "make-admin", "reset-password", "delete"):
        assert f"/admin/users/{target.id}/{action}" in page


def test_own_user_page_offers_no_self_harm(as_admin, admin):
    page = _text(as_admin.get(f"/admin/users/{admin.id}"))
    assert "This is you." in page
    assert f"/admin/users/{admin.id}/deactivate" not in page


# --- deactivate / reactivate --------------------------------------------------------------


def test_deactivate_ends_sessions_and_blocks_sign_in(app, as_admin, make_user):
    target = make_user("olive@example.com")
    other, response = _sign_in(app, target.email)
    assert response.status_code == 302 and other.get("/").status_code == 200

    response = as_admin.post(
        f"/admin/users/{target.id}/deactivate", data={"next": "/admin/users?q=olive"}
    )
    assert response.status_code == 302 and response.location == "/admin/users?q=olive"
    assert "is deactivated" in _text(as_admin.get(response.location))
    db.session.refresh(target)
    assert not target.is_active

    assert other.get("/").status_code == 302  # their open session has ended
    assert _sign_in(app, target.email)[1].status_code == 401


def test_deactivate_fragment_returns_row_and_flash(app, as_admin, make_user):
    target = make_user("olive@example.com")
    response = as_admin.post(
        f"/admin/users/{target.id}/deactivate", headers=HX, data={"next": "/admin/users"}
    )
    page = _text(response)
    assert response.status_code == 200
    assert page.lstrip().startswith(f'<tr id="user-{target.id}"')
    assert "deactivated" in page and "Reactivate" in page
    assert 'hx-swap-oob="innerHTML"' in page and "is deactivated" in page
    assert "<html" not in page
    # The flash was consumed by the fragment, not left for the next page.
    assert "is deactivated" not in _text(as_admin.get("/admin/users"))


def test_reactivate(app, as_admin, make_user):
    target = make_user("olive@example.com", is_active=False)
    response = as_admin.post(f"/admin/users/{target.id}/reactivate", headers=HX)
    assert response.status_code == 200 and "Deactivate" in _text(response)
    assert "can sign in again" in _text(response)
    db.session.refresh(target)
    assert target.is_active
    assert _sign_in(app, target.email)[1].status_code == 302


def test_reactivate_page(as_admin, make_user):
    target = make_user("olive@example.com", is_active=False)
    response = as_admin.post(f"/admin/users/{target.id}/reactivate")
    assert response.location == f"/admin/users/{target.id}"
    assert "can sign in again" in _text(as_admin.get(response.location))


def test_admin_cannot_deactivate_self(as_admin, admin):
    response = as_admin.post(f"/admin/users/{admin.id}/deactivate")
    assert response.status_code == 302
    assert "You cannot deactivate your own account." in _text(as_admin.get(response.location))
    db.session.refresh(admin)
    assert admin.is_active
    assert as_admin.get("/admin/users").status_code == 200


def test_admin_cannot_deactivate_self_fragment(as_admin, admin):
    response = as_admin.post(f"/admin/users/{admin.id}/deactivate", headers=HX)
    assert response.status_code == 409
    assert "You cannot deactivate your own account." in _text(response)
    assert "<html" not in _text(response)


def test_deactivating_another_admin_is_allowed(app, as_admin, make_user):
    other_admin = make_user("second@example.com", is_admin=True)
    as_admin.post(f"/admin/users/{other_admin.id}/deactivate")
    db.session.refresh(other_admin)
    assert not other_admin.is_active


# --- admin role ---------------------------------------------------------------------------


def test_make_and_remove_admin(app, as_admin, make_user):
    target = make_user("olive@example.com")
    response = as_admin.post(f"/admin/users/{target.id}/make-admin")
    assert response.status_code == 302
    assert "is now an administrator" in _text(as_admin.get(response.location))
    db.session.refresh(target)
    assert target.is_admin
    other, _ = _sign_in(app, target.email)
    assert other.get("/admin/users").status_code == 200

    response = as_admin.post(f"/admin/users/{target.id}/remove-admin", headers=HX)
    assert response.status_code == 200
    assert "Make admin" in _text(response) and "no longer an administrator" in _text(response)
    db.session.refresh(target)
    assert not target.is_admin
    assert other.get("/admin/users").status_code == 403


def test_make_admin_fragment(as_admin, make_user):
    target = make_user("olive@example.com")
    response = as_admin.post(f"/admin/users/{target.id}/make-admin", headers=HX)
    page = _text(response)
    assert page.lstrip().startswith(f'<tr id="user-{target.id}"')
    assert "Remove admin" in page and "administrator" in page


def test_admin_cannot_demote_self(as_admin, admin, make_user):
    make_user("second@example.com", is_admin=True)  # even when another admin exists
    response = as_admin.post(f"/admin/users/{admin.id}/remove-admin", follow_redirects=True)
    assert "You cannot remove your own administrator role." in _text(response)
    db.session.refresh(admin)
    assert admin.is_admin
    response = as_admin.post(f"/admin/users/{admin.id}/remove-admin", headers=HX)
    assert response.status_code == 409
    assert "You cannot remove your own administrator role." in _text(response)


def test_next_must_be_local(as_admin, make_user):
    target = make_user("olive@example.com")
    response = as_admin.post(
        f"/admin/users/{target.id}/make-admin", data={"next": "https://evil.example/"}
    )
    assert response.location == f"/admin/users/{target.id}"


# --- last administrator (rules in the domain; the UI cannot reach them without "self") ----


def test_last_admin_cannot_be_removed(app, make_user):
    only = make_user("only@example.com", is_admin=True)
    cli_actor = User(id=-1, email="cli@localhost")  # e.g. a script acting on the database
    with pytest.raises(accounts.AccountError, match="last active administrator"):
        accounts.set_active(cli_actor, only, False)
    with pytest.raises(accounts.AccountError, match="last administrator cannot be demoted"):
        accounts.set_admin(cli_actor, only, False)
    with pytest.raises(accounts.AccountError, match="last administrator cannot be deleted"):
        accounts.delete_user(cli_actor, only)
    db.session.rollback()
    db.session.refresh(only)
    assert only.is_admin and only.is_active


def test_inactive_admins_do_not_count(make_user):
    active = make_user("active@example.com", is_admin=True)
    make_user("sleeping@example.com", is_admin=True, is_active=False)
    assert accounts.admin_count() == 1
    with pytest.raises(accounts.AccountError, match="last administrator cannot be demoted"):
        accounts.set_admin(User(id=-1, email="cli@localhost"), active, False)


# --- reset password -----------------------------------------------------------------------


def test_reset_password_page(as_admin, make_user):
    target = make_user("olive@example.com")
    response = as_admin.get(f"/admin/users/{target.id}/reset-password")
    assert response.status_code == 200
    assert b"olive@example.com" in response.data and b"New temporary password" in response.data


def test_reset_password_forces_change_and_ends_sessions(app, as_admin, make_user):
    target = make_user("olive@example.com")
    other, _ = _sign_in(app, target.email)
    assert other.get("/").status_code == 200

    response = as_admin.post(f"/admin/users/{target.id}/reset-password", data={"password": ""})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    shown = re.search(r'id="temporary-password">([^<]+)<', _text(response)).group(1)
    db.session.refresh(target)
    assert target.must_change_password

    assert other.get("/").status_code == 302  # signed out
    assert _sign_in(app, target.email)[1].status_code == 401  # old password is gone
    fresh, response = _sign_in(app, target.email, shown)
    assert response.status_code == 302
    assert fresh.get("/").location == "/account/password"
    new = "my very own passphrase"
    response = fresh.post(
        "/account/password", data={"current_password": shown, "new_password": new, "confirm": new}
    )
    assert response.status_code == 302
    assert fresh.get("/").status_code == 200
    db.session.refresh(target)
    assert not target.must_change_password


def test_reset_password_with_typed_password(app, as_admin, make_user):
    target = make_user("olive@example.com")
    typed = "typed temporary phrase"
    response = as_admin.post(f"/admin/users/{target.id}/reset-password", data={"password": typed})
    assert typed in _text(response)
    assert _sign_in(app, target.email, typed)[1].status_code == 302


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("short", "Use at least 10 characters."),
        ("qwertyuiop", "too easy to guess"),
        ("olive@example.com", "Do not use your email address"),
    ],
)
def test_reset_password_validation(as_admin, make_user, value, message):
    target = make_user("olive@example.com")
    before = target.password_hash
    response = as_admin.post(f"/admin/users/{target.id}/reset-password", data={"password": value})
    assert response.status_code == 422 and message in _text(response)
    db.session.refresh(target)
    assert target.password_hash == before and not target.must_change_password


def test_admin_cannot_reset_own_password_here(as_admin, admin):
    before = [session.id for session in sessions.user_sessions(admin)]
    assert before
    response = as_admin.post(f"/admin/users/{admin.id}/reset-password", data={"password": ""})
    assert response.status_code == 302
    assert "Change your own password" in _text(as_admin.get(response.location))
    db.session.refresh(admin)
    assert [session.id for session in sessions.user_sessions(admin)] == before
    assert not admin.must_change_password


# --- delete -------------------------------------------------------------------------------


def test_delete_asks_first_and_counts_data(as_admin, make_user, make_source, make_reading):
    target = make_user("olive@example.com", name="Olive")
    source = make_source(target)
    for _ in range(3):
        make_reading(source)
    response = as_admin.get(f"/admin/users/{target.id}/delete")
    page = _text(response)
    assert response.status_code == 200
    assert "Delete Olive?" in page and "1 source" in page and "3 readings" in page
    assert db.session.get(User, target.id) is not None


def test_delete_removes_user_and_data(app, as_admin, make_user, make_source, make_reading):
    target = make_user("olive@example.com", name="Olive")
    source = make_source(target)
    make_reading(source)
    target_id, source_id = target.id, source.id
    other, _ = _sign_in(app, target.email)
    response = as_admin.post(f"/admin/users/{target_id}/delete")
    assert response.status_code == 302 and response.location == "/admin/users"
    assert "Olive and all their data are deleted." in _text(as_admin.get("/admin/users"))
    db.session.expire_all()
    assert db.session.get(User, target_id) is None
    assert db.session.get(DataSource, source_id) is None
    assert db.session.scalar(db.select(db.func.count()).select_from(Reading)) == 0
    assert other.get("/").status_code == 302


def test_delete_keeps_readings_others_made(as_admin, make_user, make_source, make_reading):
    owner = make_user("owner2@example.com")
    helper = make_user("helper@example.com")
    reading = make_reading(make_source(owner), created_by_id=helper.id)
    as_admin.post(f"/admin/users/{helper.id}/delete")
    db.session.expire_all()
    kept = db.session.get(Reading, reading.id)
    assert kept is not None and kept.created_by_id is None


def test_admin_cannot_delete_self(as_admin, admin):
    response = as_admin.post(f"/admin/users/{admin.id}/delete")
    assert response.status_code == 302
    assert "You cannot delete your own account here." in _text(as_admin.get(response.location))
    assert db.session.get(User, admin.id) is not None
