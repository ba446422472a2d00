"""Edge values sent to every route the app has: no answer may be a 5xx.

The routes come from the app itself (its url_map, and the API's documented operations for
their bodies and query parameters), so a route added tomorrow is fuzzed without touching this
file. Form fields are the ones the app's own pages render, found by reading those pages.
Each value goes in every query parameter and every body field at once, and, for the forms,
into one field at a time with the others left as the page filled them (so the value reaches
the code behind the first check). Routes that delete or sign out run last.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urlsplit

from homelog import tokens
from homelog.api.core import OPERATIONS
from homelog.extensions import db, limiter
from homelog.models import Home, HomeMember, MeterEvent, Tariff
from homelog.web import MAX_JSON_DEPTH

LONG = "x" * 100_000
# Right-to-left override, other control characters, a line separator and emoji, in one text.
ODD = "\u202egnp.exe\u202c\x01\x08\x1b[2J\x7f\u0085\u2028🔥💧⚡\u200d👩‍👩‍👧"
TEXT_EDGES = [
    "\x00",
    LONG,
    ODD,
    "\r\n\t=1+1",
    "1e308",
    "-1e308",
    "NaN",
    "0001-01-01T00:00",
    "9999-12-31T23:59:59",
    "9999-12-31",
    "-1",
    "99999999999999999999999",
    "",
]
# The values most likely to break what reads them, for the wider sweeps.
SHORT_EDGES = ["\x00", LONG, ODD, "NaN", "0001-01-01T00:00", "9999-12-31"]
NESTED = json.loads("[" * (MAX_JSON_DEPTH - 2) + "]" * (MAX_JSON_DEPTH - 2))
JSON_EDGES = [
    "\x00",
    LONG,
    ODD,
    "1e308",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "-1",
    "",
    1e308,
    -1e308,
    float("nan"),
    2**63,
    True,
    None,
    [],
    {"\x00": 1},
    NESTED,
]
RAW_BODIES = [
    b'["\\u0000",' + b"[" * 2000,
    b'{"a":' * 2000 + b"1" + b"}" * 2000,
    b"NaN",
    b"{",
]
# The query names any page or operation reads; every one gets each edge value.
PAGE_QUERY = [
    "q",
    "page",
    "before",
    "start",
    "end",
    "kind",
    "period",
    "day",
    "from",
    "to",
    "at",
    "next",
    "limit",
    "offset",
    "cursor",
    "format",
    "metric",
    "year",
    "month",
]
# Routes that check a password spend ~0.1 s on each attempt (argon2, on purpose): they get
# every third value only, so the run stays short.
PASSWORD_CHECKS = {
    "auth.login",
    "auth.setup",
    "auth.password",
    "admin.reset_password",
    "api.login",
    "api.change_password",
}
# Order of the last routes: those that end the session or delete what the others need.
DESTRUCTIVE = re.compile(r"delete|remove|leave|logout|revoke|deactivate|confirm|restore")


class _Forms(HTMLParser):
    """Collect each POST form of a page: its action and its fields with their values."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._fields: dict[str, str] | None = None
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self._fields = {}
            self.forms.append((attrs.get("action") or "", self._fields))
        elif self._fields is None:
            return
        elif tag == "input" and attrs.get("name") and attrs.get("type") not in ("submit",):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                self._fields.setdefault(attrs["name"], "")
            else:
                self._fields[attrs["name"]] = attrs.get("value") or ""
        elif tag == "textarea" and attrs.get("name"):
            self._textarea = attrs["name"]
            self._fields[self._textarea] = ""
        elif tag == "select" and attrs.get("name"):
            self._select = attrs["name"]
            self._fields.setdefault(self._select, "")
        elif (
            tag == "option"
            and self._select
            and ("selected" in attrs or not self._fields.get(self._select))
        ):
            self._fields[self._select] = attrs.get("value") or ""

    def handle_data(self, data):
        if self._textarea and self._fields is not None:
            self._fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._fields = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


class World:
    """What the fuzzed routes aim at: the signed-in admin's sources and everything on them."""

    def __init__(self, app, client, auth, admin, make_user, make_source, make_reading):
        self.app, self.client, self.auth, self.admin = app, client, auth, admin
        other = make_user("other@example.com", name="Otto")
        meter = make_source(admin, "Meter", metrics={"import": "kWh", "export": "kWh"})
        sensor = make_source(admin, "Cellar", kind="sensor", metrics={"temperature": "°C"})
        start = datetime(2026, 1, 1, tzinfo=UTC)
        readings = [
            make_reading(
                meter, {"import": 100.0 + n, "export": n}, timestamp=start + timedelta(days=n)
            )
            for n in range(5)
        ]
        make_reading(sensor, {"temperature": 12.5}, timestamp=start)
        home = Home(owner_id=admin.id, name="Home", timezone="Europe/Berlin")
        db.session.add(home)
        db.session.flush()
        member = HomeMember(location_id=home.id, user_id=other.id, role="viewer")
        meter.location_id = home.id
        tariff = Tariff(
            data_source_id=meter.id,
            metric="import",
            effective_from=start.date(),
            unit_price=Decimal("0.3"),
            standing_charge=Decimal("0.1"),
        )
        swap = MeterEvent(
            data_source_id=meter.id,
            at=start + timedelta(days=2, hours=1),
            old_final={"import": 102.5},
            new_start={"import": 0.0},
        )
        db.session.add_all([member, tariff, swap])
        db.session.commit()
        self.ids = {
            "source_id": meter.id,
            "reading_id": str(readings[-1].id),
            "tariff_id": tariff.id,
            "swap_id": swap.id,
            "location_id": home.id,
            "member_id": member.id,
            "user_id": other.id,
            "filename": "css/app.css",
        }
        self.sign_in()

    def sign_in(self) -> None:
        """Sign the browser client in and give the API calls a fresh token."""
        limiter.reset()
        response = self.auth.login("admin@example.com")
        assert response.status_code == 302, response.data
        raw, token = tokens.issue_token(self.admin, "fuzz")
        self.token_id = token.id
        self.bearer = {"Authorization": f"Bearer {raw}"}

    def url(self, rule: str, **overrides) -> str:
        """Return rule with its variables filled from ids (or overrides)."""

        def fill(match):
            name = match.group(2)
            value = overrides.get(name, self.ids.get(name, self.token_id))
            return str(value)

        return re.sub(r"<(?:(\w+):)?(\w+)>", fill, rule)


def _sorted_rules(app):
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
    return sorted(rules, key=lambda r: (bool(DESTRUCTIVE.search(r.endpoint)), -len(r.rule)))


class _Sender:
    """Sends requests through the test client and keeps every crash and 5xx answer."""

    def __init__(self, client):
        self.client = client
        self.failures: list[str] = []
        self.sent = 0

    def __call__(self, method: str, url: str, what: str, **kwargs) -> None:
        self.sent += 1
        try:
            response = self.client.open(url, method=method, **kwargs)
        except Exception as error:  # noqa: BLE001 - every crash is a finding
            self.failures.append(f"{method} {url[:120]} {what}: raised {error!r}"[:400])
            return
        if response.status_code >= 500:
            self.failures.append(f"{method} {url[:120]} {what}: {response.status_code}"[:400])


def _page_forms(app, client, world: World) -> dict[str, dict[str, str]]:
    """Return the forms the app's own pages render, by the path they post to."""
    forms: dict[str, dict[str, str]] = {}
    for rule in _sorted_rules(app):
        if "GET" in rule.methods and not rule.rule.startswith("/api"):
            page = client.get(world.url(rule.rule))
            if page.mimetype == "text/html":
                parser = _Forms()
                parser.feed(page.get_data(as_text=True))
                for action, fields in parser.forms:
                    path = urlsplit(action).path or urlsplit(world.url(rule.rule)).path
                    forms.setdefault(path, {}).update(fields)
    return forms


def _send_edges(send, world, rule, method, op, forms, every_field) -> None:
    """Send each edge value in every query parameter and every body field at once."""
    url = world.url(rule.rule)
    api = rule.rule.startswith("/api")
    headers = dict(world.bearer) if api else {}
    query_names = list(op.query.model_fields) if op and op.query else PAGE_QUERY
    body_names = list(op.body.model_fields) if op and op.body else []
    values = JSON_EDGES if api else SHORT_EDGES
    if rule.endpoint in PASSWORD_CHECKS:
        values = values[::3]
    elif api and method == "GET" and not (op and op.query):
        values = ["\x00", LONG]  # no query parameters to reach
    for value in values:
        text = value if isinstance(value, str) else json.dumps(value)
        query = dict.fromkeys(query_names, text[:2000])
        if api and method != "GET":
            body = dict.fromkeys(body_names or ["value"], value)
            send(
                method,
                url,
                f"all fields = {text[:40]!r}",
                query_string=query,
                data=json.dumps(body),
                content_type="application/json",
                headers=headers,
            )
        elif method == "GET":
            send(method, url, f"query = {text[:40]!r}", query_string=query, headers=headers)
        else:
            fields = forms.get(url) or dict.fromkeys(every_field, "")
            data = {name: text for name in fields if name != "csrf_token"}
            send(method, url, f"all fields = {text[:40]!r}", data=data)


def _send_api_bodies(send, world, rule, method, op) -> None:
    """Send bodies no parser should crash on: broken JSON, a form, raw text."""
    url, headers = world.url(rule.rule), dict(world.bearer)
    for raw in RAW_BODIES:
        send(
            method,
            url,
            f"body {raw[:20]!r}",
            data=raw,
            content_type="application/json",
            headers=headers,
        )
    send(method, url, "form body", data={"\x00": "\x00"}, headers=headers)
    if op and op.raw_body:
        for value in TEXT_EDGES:
            send(
                method,
                url,
                f"raw {value[:20]!r}",
                data=value.encode(),
                content_type="text/csv",
                headers=headers,
            )


def _send_form_fields(send, rule, method, url, page_fields) -> None:
    """Send edge values one field at a time, the others as the page filled them."""
    fields = {k: v for k, v in page_fields.items() if k != "csrf_token"}
    step = 9 if rule.endpoint in PASSWORD_CHECKS else 4
    for index, name in enumerate(fields):
        for value in TEXT_EDGES[index % step :: step]:
            send(method, url, f"{name} = {value[:40]!r}", data={**fields, name: value})
    for value in TEXT_EDGES[:3]:
        send(
            method,
            url,
            "multipart",
            content_type="multipart/form-data",
            data={**dict.fromkeys(fields, value)},
        )


def test_no_route_answers_5xx_to_edge_values(
    app, client, auth, admin, make_user, make_source, make_reading
):
    world = World(app, client, auth, admin, make_user, make_source, make_reading)
    send = _Sender(client)
    forms = _page_forms(app, client, world)
    assert len(forms) >= 15, sorted(forms)
    every_field = sorted({name for fields in forms.values() for name in fields} - {"csrf_token"})

    operations = {(f"/api{op.rule}", method): op for op in OPERATIONS for method in op.methods}
    for rule in _sorted_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = world.url(rule.rule)
            api = rule.rule.startswith("/api")
            headers = dict(world.bearer) if api else {}
            op = operations.get((rule.rule, method))
            # Path variables out of range and of the wrong shape.
            bad = {**dict.fromkeys(world.ids, 2**63), "reading_id": "not-a-uuid\x00"}
            send(method, world.url(rule.rule, **bad), "path", headers=headers)
            _send_edges(send, world, rule, method, op, forms, every_field)
            if api and method != "GET":
                _send_api_bodies(send, world, rule, method, op)
            elif method != "GET" and url in forms:
                _send_form_fields(send, rule, method, url, forms[url])
            if DESTRUCTIVE.search(rule.endpoint) or rule.endpoint in ("api.update_user",):
                world.sign_in()  # the route may have ended the session or revoked the token
    assert send.sent > 1000
    print(f"{send.sent} requests")
    failures = send.failures
    assert not failures, f"{len(failures)} of {send.sent} requests failed:\n" + "\n".join(failures)
