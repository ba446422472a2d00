"""The account, sign-in, home, admin and backup pages in German (Accept-Language: de).

English stays the default (the other tests read English); a browser asking for German gets
German labels, hints, flash messages and form errors, and the JSON API keeps speaking English.
"""

from __future__ import annotations

import io
import re

import pytest

from homelog import homes, tokens
from tests.conftest import PASSWORD

DE = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


def page(client, url: str) -> str:
    response = client.get(url, headers=DE)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_first_run_setup_speaks_german_and_so_do_its_errors(client):
    text = page(client, "/setup")
    assert "Willkommen bei homelog" in text
    assert "Passwort wiederholen" in text
    assert "Tippen zum Suchen, z. B. Berlin oder New_York." in text
    assert "Administrator anlegen" in text
    assert "Create administrator" not in text

    response = client.post(
        "/setup",
        headers=DE,
        data={
            "name": "Anna",
            "email": "anna@example.com",
            "password": "kurz",
            "confirm": "anders",
            "timezone": "Europe/Berlin",
        },
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Verwende mindestens 10 Zeichen." in text
    assert "Die Passwörter stimmen nicht überein." in text
    assert "Use at least" not in text


def test_sign_in_page_and_its_messages_are_german(client, user):
    text = page(client, "/login")
    assert "<h1>Anmelden</h1>" in text
    assert "Auf diesem Gerät angemeldet bleiben" in text

    wrong = client.post("/login", headers=DE, data={"email": user.email, "password": "falsch!"})
    assert wrong.status_code == 401
    assert "E-Mail oder Passwort ist falsch" in wrong.get_data(as_text=True)

    empty = client.post("/login", headers=DE, data={"email": "", "password": ""})
    assert "Gib deine E-Mail-Adresse ein." in empty.get_data(as_text=True)

    client.post("/login", headers=DE, data={"email": user.email, "password": PASSWORD})
    assert "Willkommen zurück, Olive Owner." in page(client, "/")


def test_account_page_is_german(logged_in, user):
    tokens.issue_token(user, "")
    text = page(logged_in, "/account")
    assert "Dein Konto" in text
    assert "Angemeldet als <strong>owner@example.com</strong>" in text
    assert "Angemeldete Geräte" in text and "Angemeldete Browser" in text
    assert 'data-label="Zuletzt aktiv"' in text
    assert "Unbenanntes Gerät" in text
    assert "„Unbenanntes Gerät“ abmelden?" in text
    assert "Dieser Browser" in text
    assert "gerade eben" in text  # the relative time of this browser's sign-in
    assert "Sicherung herunterladen" in text
    assert "Your account" not in text


def test_profile_errors_and_confirmation_are_german(logged_in):
    bad = logged_in.post(
        "/account/profile", headers=DE, data={"name": "O", "timezone": "Mars/Base", "currency": "E"}
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "Wähle eine Zeitzone aus der Liste, etwa Europe/Berlin." in text
    assert "Gib einen Währungscode aus drei Buchstaben ein, etwa EUR oder USD." in text

    logged_in.post(
        "/account/profile",
        headers=DE,
        data={"name": "Olive", "timezone": "Europe/Berlin", "currency": "EUR"},
    )
    assert "Deine Einstellungen sind gespeichert." in page(logged_in, "/account")


def test_password_change_is_german_and_a_short_password_is_refused_in_german(logged_in):
    text = page(logged_in, "/account/password")
    assert "Passwort ändern" in text and "Neues Passwort wiederholen" in text
    assert "Mindestens 10 Zeichen." in text

    short = logged_in.post(
        "/account/password",
        headers=DE,
        data={"current_password": PASSWORD, "new_password": "kurz", "confirm": "kurz"},
    )
    assert short.status_code == 422
    text = short.get_data(as_text=True)
    assert "Verwende mindestens 10 Zeichen." in text
    assert "Mindestens 10 Zeichen." not in text  # the hint gives way to the error

    wrong = logged_in.post(
        "/account/password",
        headers=DE,
        data={"current_password": "nicht-richtig", "new_password": "x" * 12, "confirm": "x" * 12},
    )
    assert "Das ist nicht dein aktuelles Passwort." in wrong.get_data(as_text=True)

    new = "ein-langes-neues-passwort"
    done = logged_in.post(
        "/account/password",
        headers=DE,
        data={"current_password": PASSWORD, "new_password": new, "confirm": new},
    )
    assert done.status_code == 302
    assert "Dein Passwort ist geändert. Andere Geräte wurden abgemeldet." in page(
        logged_in, "/account"
    )


@pytest.fixture
def home(user, make_source):
    source = make_source(user, "Strom")
    return homes.create_home(user, "Stadtwohnung", "Europe/Berlin", [source.id])


def test_homes_list_and_home_page_are_german(logged_in, user, make_user, home):
    member = make_user("mia@example.com", name="Mia")
    homes.accept_invitation(member, homes.invite(home, member.email, "editor"))
    homes.invite(home, "tom@example.com", "viewer")

    text = page(logged_in, "/homes")
    assert "Haushalte" in text and "+ Neuer Haushalt" in text
    assert "1 Quelle · 1 Mitglied" in text

    text = page(logged_in, f"/homes/{home.id}")
    assert "Personen" in text and "Jemanden einladen" in text
    assert ">Besitzer</span>" in text
    assert "Rolle von Mia" in text
    assert ">Zähler</span>" in text
    assert "Offene Einladungen" in text and "noch nicht angenommen" in text
    assert "Betrachter (kann ansehen)" in text
    assert "E-Mail-Adresse der Person" in text


def test_invitations_and_their_messages_are_german(client, auth, user, make_user, home):
    auth.login()
    own = client.post(
        f"/homes/{home.id}/members", headers=DE, data={"email": user.email, "role": "viewer"}
    )
    assert own.status_code == 422
    assert "Das bist du: Dieser Haushalt gehört dir." in own.get_data(as_text=True)

    sent = client.post(
        f"/homes/{home.id}/members", headers=DE, data={"email": "mia@example.com", "role": "editor"}
    )
    assert sent.status_code == 302
    text = page(client, f"/homes/{home.id}")
    assert "Die Einladung an mia@example.com als Bearbeiter wartet" in text
    auth.logout()

    make_user("mia@example.com", name="Mia")
    auth.login("mia@example.com")
    dashboard = page(client, "/")
    assert "Einladungen" in dashboard
    assert "lädt dich als Bearbeiter zu <strong>„Stadtwohnung“</strong> ein." in dashboard
    assert "Annehmen" in dashboard and "Ablehnen" in dashboard

    invitation_id = re.search(r'id="invitation-(\d+)"', dashboard).group(1)
    accepted = client.post(f"/invitations/{invitation_id}/accept", headers=DE)
    assert accepted.status_code == 302
    assert "„Stadtwohnung“ ist mit dir als Bearbeiter geteilt." in page(
        client, accepted.headers["Location"]
    )


def test_home_page_of_a_member_is_german(client, auth, user, make_user, home):
    member = make_user("mia@example.com", name="Mia")
    homes.accept_invitation(member, homes.invite(home, member.email, "viewer"))
    auth.login("mia@example.com")
    text = page(client, f"/homes/{home.id}")
    assert "mit dir geteilt · Betrachter" in text
    assert "gehört Olive Owner" in text
    assert "Haushalt verlassen" in text


def test_admin_users_pages_are_german(client, auth, admin, user):
    auth.login(admin.email)
    text = page(client, "/admin/users")
    assert "<h1>Benutzer</h1>" in text
    assert 'placeholder="E-Mail oder Name"' in text
    assert "2 Benutzer" in text
    assert "Letzte Anmeldung" in text and "Zum Admin machen" in text
    assert 'aria-label="Olive Owner deaktivieren"' in text

    text = page(client, f"/admin/users/{user.id}")
    assert "Passwort zurücksetzen" in text and "Benutzer löschen…" in text

    short = client.post(
        "/admin/users/new",
        headers=DE,
        data={"email": "neu@example.com", "timezone": "UTC", "password": "kurz"},
    )
    assert short.status_code == 422
    assert "Verwende mindestens 10 Zeichen." in short.get_data(as_text=True)

    taken = client.post(
        "/admin/users/new", headers=DE, data={"email": user.email, "timezone": "UTC"}
    )
    assert "Es gibt schon ein Konto mit dieser E-Mail-Adresse." in taken.get_data(as_text=True)

    client.post(f"/admin/users/{user.id}/deactivate", headers=DE)
    assert "Olive Owner ist deaktiviert und überall abgemeldet." in page(
        client, f"/admin/users/{user.id}"
    )
    refused = client.post(f"/admin/users/{admin.id}/deactivate", headers=DE)
    assert refused.status_code == 302
    assert "Du kannst dein eigenes Konto nicht deaktivieren." in page(client, "/admin/users")


def test_restore_page_and_its_errors_are_german(logged_in):
    text = page(logged_in, "/account/restore")
    assert "Sicherung wiederherstellen" in text
    assert "Sicherungsdatei (.json)" in text
    assert "In dieses Konto wiederherstellen" in text

    missing = logged_in.post("/account/restore", headers=DE, data={"confirm": "y"})
    assert missing.status_code == 422
    assert "Wähle die Sicherungsdatei." in missing.get_data(as_text=True)

    unticked = logged_in.post(
        "/account/restore",
        headers=DE,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(b"{}"), "backup.json")},
    )
    assert "Hake das an, um wiederherzustellen." in unticked.get_data(as_text=True)


def test_english_stays_the_default(client, user):
    text = client.get("/login").get_data(as_text=True)
    assert "Remember me on this device" in text and "Anmelden" not in text


def test_the_api_keeps_english_for_a_german_browser(client, user, home):
    raw, _ = tokens.issue_token(user, "phone")
    headers = {"Authorization": f"Bearer {raw}", **DE}
    response = client.post(
        f"/api/homes/{home.id}/invitations",
        headers=headers,
        json={"email": user.email, "role": "viewer"},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["email"] == ["That is you: you own this home."]
