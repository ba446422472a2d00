"""The Record app's server side: the shell page, the session check, manifest and worker."""

from __future__ import annotations

import re

from homelog.record import routes as record_routes
from tests.conftest import PASSWORD


def test_the_record_page_is_an_app_shell_without_user_data(logged_in, user):
    response = logged_in.get("/record")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Kept offline and shown to whoever opens it next: nothing of this user or session.
    assert user.email not in html and "Olive" not in html
    assert "csrf" not in html.lower()
    assert 'rel="manifest"' in html
    assert "<script>" not in html  # the CSP allows only script files of our own
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_navigation_links_the_record_screen(logged_in):
    html = logged_in.get("/").get_data(as_text=True)
    assert re.search(r'<a href="/record"[^>]*>Record</a>', html)


def test_the_session_check_says_who_is_signed_in_and_gives_the_csrf_token(logged_in, user):
    response = logged_in.get("/record/session")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert (body["user_id"], body["email"]) == (user.id, user.email)
    # The token works with the session for the API's unsafe methods.
    sent = logged_in.post(
        "/api/sync/readings",
        json={"readings": []},
        headers={"X-CSRFToken": body["csrf_token"]},
        csrf=False,
    )
    assert sent.status_code == 200
    assert (
        logged_in.post("/api/sync/readings", json={"readings": []}, csrf=False).status_code == 400
    )


def test_the_session_check_answers_401_when_signed_out(client):
    response = client.get("/record/session")
    assert response.status_code == 401
    assert response.get_json()["detail"] == "Sign in to send readings."
    assert response.headers["Cache-Control"] == "no-store"


def test_signing_in_from_the_record_screen_comes_back_to_it(client, user):
    response = client.post("/login?next=/record", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/record"


def test_the_manifest_describes_an_installable_app(client):
    response = client.get("/manifest.webmanifest")
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json()
    assert manifest["start_url"] == "/record"
    assert manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"] and manifest["theme_color"]
    icons = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert icons == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png"
        width = int.from_bytes(image.data[16:20], "big")  # the PNG header's width
        assert f"{width}x{width}" == icon["sizes"]


def test_the_service_worker_is_served_at_the_root_and_never_cached(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    body = response.get_data(as_text=True)
    assert f'"{record_routes.shell_version()}"' in body
    # Everything it caches exists.
    shell = re.search(r"const SHELL = (\[.*?\]);", body).group(1)
    for url in re.findall(r'"([^"]+)"', shell):
        assert client.get(url).status_code == 200, url


def test_the_version_changes_with_any_shell_file(app, tmp_path, monkeypatch):
    static = tmp_path / "static"
    templates = tmp_path / "templates"
    for name in record_routes.SHELL_STATIC:
        (static / name).parent.mkdir(parents=True, exist_ok=True)
        (static / name).write_text(name)
    for name in record_routes.SHELL_TEMPLATES:
        (templates / name).parent.mkdir(parents=True, exist_ok=True)
        (templates / name).write_text(name)
    monkeypatch.setattr(app, "static_folder", str(static))
    monkeypatch.setattr(app, "template_folder", str(templates))
    first = record_routes.shell_version()
    assert record_routes.shell_version() == first
    (static / "js/record.js").write_text("changed")
    assert record_routes.shell_version() != first
