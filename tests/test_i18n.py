"""The interface's languages: every visible template text is marked for translation, the
compiled catalogues match their sources, and a German reader gets German words and formats.
"""

from __future__ import annotations

import io
import json
import re
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment

from homelog import i18n
from homelog.errors import Conflict, ValidationFailed
from homelog.extensions import db

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
TRANSLATIONS = ROOT / "homelog" / "translations"

# ---- Unmarked visible text in templates ------------------------------------------------------

#: Words shown as they are in every language: the product's name, units, codes.
ALLOWED_WORDS = {"homelog", "API", "kWh", "Wh", "MWh", "m³", "l", "EUR", "USD", "GBP", "CSV"}
#: Attributes a person sees or hears (hx-confirm opens a dialog with its text).
VISIBLE_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "hx-confirm"}
#: A Jinja expression, statement or comment in the skeleton the checker parses.
PLACEHOLDER = "\x01"
WORD = re.compile(r"[^\W\d_]+")


def template_skeleton(source: str) -> str:
    """Return source with everything but template data replaced by a placeholder.

    Jinja's lexer finds the data (text outside {{ }}, {% %} and {# #}); data inside
    {% trans %}…{% endtrans %} is marked, so it is replaced too. Lines stay where they were.
    """
    env = Environment(extensions=["jinja2.ext.i18n"])
    out: list[str] = []
    line = 1
    in_trans = False
    expect_name = False
    for lineno, kind, value in env.lex(source):
        if kind == "block_begin":
            expect_name = True
            continue
        if kind == "whitespace":
            continue
        if expect_name and kind == "name":
            if value == "trans":
                in_trans = True
            elif value == "endtrans":
                in_trans = False
        expect_name = False
        if kind != "data" or in_trans:
            if not out or out[-1] != PLACEHOLDER:
                out.append(PLACEHOLDER)
            continue
        if lineno > line:
            out.append("\n" * (lineno - line))
            line = lineno
        out.append(value)
        line += value.count("\n")
    return "".join(out)


def _words(text: str) -> list[str]:
    return [word for word in WORD.findall(text) if word not in ALLOWED_WORDS]


class _VisibleText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._hidden_depth = 0  # inside <script>, <style> or <code> (configuration, not words)

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code"):
            self._hidden_depth += 1
        attributes = dict(attrs)
        shown = set(VISIBLE_ATTRIBUTES)
        # A button shows its content, not its value; an input button shows its value.
        if tag == "input" and attributes.get("type") in ("submit", "button", "reset"):
            shown.add("value")
        for name, value in attrs:
            if name in shown and value and _words(value.replace(PLACEHOLDER, " ")):
                self.found.append((self.getpos()[0], f'{name}="{value.replace(PLACEHOLDER, "…")}"'))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style", "code"):
            self._hidden_depth -= 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code") and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data):
        if self._hidden_depth:
            return
        text = data.replace(PLACEHOLDER, " ")
        if _words(text):
            line = self.getpos()[0] + data[: len(data) - len(data.lstrip())].count("\n")
            self.found.append((line, " ".join(text.split())))


def unmarked_texts(source: str) -> list[tuple[int, str]]:
    """Return (line, text) for each visible text of a template not marked for translation."""
    parser = _VisibleText()
    parser.feed(template_skeleton(source))
    parser.close()
    return parser.found


def test_the_checker_finds_unmarked_text_and_names_its_line():
    source = (
        '{% extends "base.html" %}\n'
        "{% block content %}\n"
        "<h1>{{ _('Readings') }}</h1>\n"
        "<p>{% trans count=n %}{{ count }} reading{% pluralize %}{{ count }} readings"
        "{% endtrans %}</p>\n"
        "<p>Unmarked words</p>\n"
        '<input type="submit" value="Send">\n'
        '<a href="#" title="{{ _(\'Fine\') }}" aria-label="Open it">{{ name }} · 12 kWh</a>\n'
        "<select><option value=\"de\">{{ _('German') }}</option><option>Dutch</option></select>\n"
        "{# a comment with words #}<!-- an HTML comment -->\n"
        '<script type="application/json">{"Save": "Speichern"}</script>\n'
        "{% endblock %}\n"
    )
    assert unmarked_texts(source) == [
        (5, "Unmarked words"),
        (6, 'value="Send"'),
        (7, 'aria-label="Open it"'),
        (8, "Dutch"),
    ]


def test_the_checker_passes_marked_text():
    source = (
        '<button type="submit" class="primary">{{ _(\'Save\') }}</button>\n'
        '<span class="unit">m³</span> <span>€ · {{ value | number }} %</span>\n'
        "<b>homelog &middot; API</b>\n"
        "<p>\n  {% trans name=source.name %}Delete {{ name }}?{% endtrans %}\n</p>\n"
    )
    assert unmarked_texts(source) == []


def test_every_visible_template_text_is_marked_for_translation():
    problems = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(ROOT)
        for line, text in unmarked_texts(path.read_text(encoding="utf-8")):
            problems.append(f"{name}:{line}: {text}")
    assert not problems, "Visible text not marked for translation:\n" + "\n".join(problems)


# ---- Catalogues --------------------------------------------------------------------------


def _catalogues():
    return sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def _key(message_id):
    return tuple(message_id) if isinstance(message_id, list | tuple) else message_id


@pytest.mark.parametrize("po_path", _catalogues(), ids=lambda path: path.parts[-3])
def test_compiled_catalogue_is_current(po_path):
    with po_path.open("rb") as handle:
        catalogue = read_po(handle, locale=po_path.parts[-3])
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    with po_path.with_suffix(".mo").open("rb") as handle:
        committed = read_mo(handle)
    fresh = read_mo(compiled)
    fresh_messages = {_key(message.id): message.string for message in fresh if message.id}
    committed_messages = {_key(message.id): message.string for message in committed if message.id}
    assert committed_messages == fresh_messages, "run `make i18n-compile` and commit the .mo"


def test_no_fuzzy_translations():
    for po_path in _catalogues():
        with po_path.open("rb") as handle:
            catalogue = read_po(handle)
        # A catalogue whose header is fuzzy (or missing) is skipped by `pybabel compile`.
        assert not catalogue.fuzzy, f"{po_path}: the catalogue's header is missing or fuzzy"
        fuzzy = [message.id for message in catalogue if message.id and message.fuzzy]
        assert not fuzzy, f"{po_path}: fuzzy entries {fuzzy}"


# ---- Lazy texts -----------------------------------------------------------------------------


def test_lazy_text_reads_as_english_outside_the_app():
    text = i18n._l("Deleted %(name)s.", name="Water")
    assert i18n.is_lazy(text)
    assert str(text) == "Deleted Water." and f"{text}" == "Deleted Water."


def test_the_i18n_module_imports_no_flask_at_the_top():
    import ast

    tree = ast.parse((ROOT / "homelog" / "i18n.py").read_text())
    top_imports = [
        alias.name if isinstance(node, ast.Import) else node.module
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in (node.names if isinstance(node, ast.Import) else [node])
    ]
    assert not [name for name in top_imports if name and name.split(".")[0].startswith("flask")]
    assert "flask" in sys.modules  # (the test app imported it; the check above is static)


def test_lazy_texts_leave_the_api_as_plain_english_strings(app):
    from homelog.api import core
    from homelog.api.schemas import ConflictOut

    failed = ValidationFailed(
        {"values": [i18n._l("Enter a number.")]}, detail=i18n._l("Some values are invalid.")
    )
    with (
        app.app_context(),
        app.test_request_context("/api/sources", headers={"Accept-Language": "de"}),
    ):
        response = core.validation_failed(failed)
        assert response.status_code == 422
        assert response.get_json() == {
            "detail": "Some values are invalid.",
            "errors": {"values": ["Enter a number."]},
        }
        conflict_response, status = core.conflict(Conflict(i18n._l("Dashboard")))
        assert status == 409 and conflict_response.get_json()["detail"] == "Dashboard"
        assert app.json.dumps({"a": i18n._l("Dashboard")}) == '{"a": "Dashboard"}'
        assert core.serialize(ConflictOut, {"detail": i18n._l("Dashboard"), "errors": {}}) == {
            "detail": "Dashboard",
            "errors": {},
            "current": None,
        }


def test_lazy_texts_show_in_the_readers_language_on_pages(app):
    save = i18n._l("Dashboard")
    with (
        app.app_context(),
        app.test_request_context("/", headers={"Accept-Language": "de-DE,de;q=0.9"}),
    ):
        assert str(save) == "Übersicht"
    with (
        app.app_context(),
        app.test_request_context("/api/sources", headers={"Accept-Language": "de"}),
    ):
        assert str(save) == "Dashboard"  # the API speaks English


# ---- Numbers and dates ----------------------------------------------------------------------


def test_numbers_and_dates_in_english_and_german(app):
    from homelog.sources.usage_routes import amount_filter, change_filter, money_filter
    from homelog.usage.periods import Period
    from homelog.usage_db.labels import chart_label, display_label

    week = Period(
        datetime(2026, 11, 24, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
        first_day=date(2026, 11, 24),
        last_day=date(2026, 11, 30),
    )
    month = Period(
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
        first_day=date(2026, 11, 1),
        last_day=date(2026, 11, 30),
    )
    expected = {
        "en": (
            "1,234.5",
            "70.90\N{NO-BREAK SPACE}€",
            "24–30 Nov",
            "Nov 2026",
            "24 Nov",
            "02/12/2026",
        ),
        "de": (
            "1.234,5",
            "70,90\N{NO-BREAK SPACE}€",
            "24.–30. Nov.",
            "Nov. 2026",
            "24. Nov.",
            "02.12.2026",
        ),
    }
    for language, (number, money, week_label, month_label, tick, day) in expected.items():
        with (
            app.app_context(),
            app.test_request_context("/", headers={"Accept-Language": language}),
        ):
            assert amount_filter(1234.5, 1) == number
            assert money_filter(Decimal("70.9")) == money
            assert display_label("week", week) == week_label
            assert display_label("month", month) == month_label
            assert chart_label("week", week) == tick
            assert i18n.format_date(date(2026, 12, 2)) == day
            assert change_filter(-0.05) == "−5\N{NO-BREAK SPACE}%"


@pytest.mark.parametrize(
    ("typed", "value"),
    [("1234,5", 1234.5), ("1.234,5", 1234.5), ("1,234.5", 1234.5), ("1.234.567", 1234567.0)],
)
def test_typed_numbers_may_group_thousands_either_way(typed, value):
    from homelog.numbers import parse_number

    assert parse_number(typed) == value


@pytest.mark.parametrize("typed", ["12,34.5", "1.234,5,6", "1.23,4"])
def test_typed_numbers_with_muddled_marks_are_refused(typed):
    from homelog.numbers import parse_number

    with pytest.raises(ValueError, match="one decimal separator"):
        parse_number(typed)


# ---- The language setting and German pages ------------------------------------------------


def test_the_account_page_saves_the_language(logged_in, user):
    page = logged_in.get("/account").get_data(as_text=True)
    assert 'name="locale"' in page and "Automatic (from your browser)" in page
    assert ">Deutsch</option>" in page
    response = logged_in.post(
        "/account/profile", data={"name": "Olive", "timezone": "Europe/Berlin", "locale": "de"}
    )
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.locale == "de"
    page = logged_in.get("/account").get_data(as_text=True)
    assert '<html lang="de">' in page and "Übersicht" in page and "Sprache" in page
    # Automatic: NULL, and the browser decides again.
    logged_in.post(
        "/account/profile", data={"name": "Olive", "timezone": "Europe/Berlin", "locale": ""}
    )
    db.session.refresh(user)
    assert user.locale is None
    assert '<html lang="en">' in logged_in.get("/account").get_data(as_text=True)


def test_a_language_not_on_the_list_is_refused(logged_in, user):
    response = logged_in.post(
        "/account/profile", data={"name": "Olive", "timezone": "Europe/Berlin", "locale": "xx"}
    )
    assert response.status_code == 422
    assert "Choose a language from the list." in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.locale is None


def test_the_language_setting_needs_the_csrf_token(logged_in, user):
    response = logged_in.post(
        "/account/profile",
        data={"name": "Olive", "timezone": "Europe/Berlin", "locale": "de"},
        csrf=False,
    )
    assert response.status_code == 400
    db.session.refresh(user)
    assert user.locale is None


def test_the_chosen_language_wins_over_the_browser(logged_in, user):
    user.locale = "en"
    db.session.commit()
    page = logged_in.get("/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="en">' in page and ">Dashboard<" in page


def test_a_german_browser_gets_german_words_numbers_and_dates(
    logged_in, user, make_source, make_reading
):
    meter = make_source(user, "Strom", metrics={"import": "kWh"})
    make_reading(meter, {"import": 1234.5}, timestamp=datetime(2026, 12, 2, 11, tzinfo=UTC))
    german = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
    page = logged_in.get("/", headers=german).get_data(as_text=True)
    assert '<html lang="de">' in page and ">Übersicht<" in page and ">Abmelden<" in page
    assert "1.234,5" in page and "1234.5" not in page
    readings = logged_in.get(f"/sources/{meter.id}", headers=german).get_data(as_text=True)
    # 11:00 UTC is 12:00 in Berlin (the user's timezone).
    assert "02.12.2026 12:00" in readings and "2026-12-02 12:00" not in readings
    english = logged_in.get(f"/sources/{meter.id}").get_data(as_text=True)
    assert "2026-12-02 12:00" in english and "1,234.5" in english


def test_the_setup_and_sign_in_pages_follow_the_browser(client, make_user):
    page = client.get("/setup", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="de">' in page
    make_user()
    page = client.get("/login", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="de">' in page
    page = client.get("/login", headers={"Accept-Language": "fr, en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="en">' in page


def test_the_api_speaks_english_whatever_the_account_says(app, logged_in, user):
    user.locale = "de"
    db.session.commit()
    with (
        app.app_context(),
        app.test_request_context("/api/sources", headers={"Accept-Language": "de"}),
    ):
        assert i18n.select_locale() == "en"
    response = logged_in.get("/api/sources/999999", headers={"Accept-Language": "de"})
    assert response.status_code == 404 and response.is_json
    error_page = logged_in.get("/sources/999999", headers={"Accept-Language": "de"})
    assert error_page.status_code == 404 and "Nicht gefunden" in error_page.get_data(as_text=True)


def test_the_record_screen_carries_its_texts_translated(client):
    page = client.get("/record", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="de">' in page
    texts = json.loads(
        re.search(r'<script type="application/json" id="i18n">(.*?)</script>', page, re.S).group(1)
    )
    assert texts["Save anyway"] == "Trotzdem speichern"
    assert texts["Last: {value} · {time} ({ago})"] == "Zuletzt: {value} · {time} ({ago})"
    # Every text record.js asks for is in the block.
    script = (ROOT / "static" / "js" / "record.js").read_text()
    asked = set(re.findall(r'\bt\(\s*"((?:[^"\\]|\\.)*)"', script))
    assert asked and asked <= set(texts), asked - set(texts)
    # Another language is another version of the offline shell.
    english = client.get("/sw.js").get_data(as_text=True)
    german = client.get("/sw.js", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert english != german


def test_the_page_frame_carries_the_texts_of_app_js(client, user):
    page = client.get("/login", headers={"Accept-Language": "de"}).get_data(as_text=True)
    texts = json.loads(
        re.search(r'<script type="application/json" id="i18n">(.*?)</script>', page, re.S).group(1)
    )
    script = (ROOT / "static" / "js" / "app.js").read_text()
    asked = set(re.findall(r'\bt\(\s*"((?:[^"\\]|\\.)*)"', script))
    assert asked and asked <= set(texts), asked - set(texts)
    assert texts["Dismiss this message"] == "Diese Meldung schließen"
