"""Real-browser fixtures: the app served on a local port, driven by Debian's Chromium.

Chromium comes from the `chromium` Debian package (installed by .ci/run); Playwright only
drives it (executable_path), it never downloads a browser.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(items):
    """Mark every test under tests/e2e as `e2e` (deselect with -m "not e2e").

    Without Chromium they are skipped (tests/conftest.py counts them aloud), except in CI,
    where a missing browser must fail the run rather than pass it with fewer tests.
    """
    missing = not os.path.exists(CHROMIUM) and not _in_ci()
    skip = pytest.mark.skip(reason=f"no browser: {CHROMIUM} is missing")
    for item in items:
        if "/tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
            if missing:
                item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell that the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _watch_network(page) -> list[str]:
    """Record the page's requests and their answers, to print when a test fails."""
    log: list[str] = []
    page.on("request", lambda r: log.append(f"-> {r.method} {r.url}"))
    page.on("response", lambda r: log.append(f"<- {r.status} {r.request.method} {r.url}"))
    page.on("requestfailed", lambda r: log.append(f"!! {r.method} {r.url} {r.failure}"))
    page.on("console", lambda m: log.append(f"console.{m.type}: {m.text}"))
    return log


def _print_on_failure(request, page, log: list[str]) -> None:
    """After a failed test: print what the browser asked and got, and keep a screenshot."""
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed:
        return
    print("Browser network and console, in order:", *log, sep="\n  ")
    try:
        print("Screenshot:", screenshot(page, f"failed-{request.node.name}"))
    except Exception as error:  # the page may be gone; the log above is what matters
        print("No screenshot:", error)


@pytest.fixture(scope="session")
def live_server(_session_app):
    """Serve the test app on a free local port for the whole session; yield its base URL."""
    server = make_server("127.0.0.1", 0, _session_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    """Launch headless Chromium once per session."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


# htmx sets up what it swapped in after a settle delay (20 ms in production). The browser tests
# stretch it, so a test that types into or clicks swapped-in content before htmx_settled()
# fails every time instead of once in a while on a slow CI machine.
SLOW_SETTLE = (
    "document.addEventListener('DOMContentLoaded', function () {"
    " if (window.htmx) { htmx.config.defaultSettleDelay = 150; } });"
)


@contextmanager
def _browser_page(request, browser, live_server: str, **options):
    """Open a page in a fresh context (own cookies) on the live server; close it after.

    After a failed test it prints what the page asked and got (_print_on_failure).
    """
    context = browser.new_context(base_url=live_server, **options)
    context.set_default_timeout(10_000)
    context.add_init_script(SLOW_SETTLE)
    page = context.new_page()
    log = _watch_network(page)
    try:
        yield page
    finally:
        _print_on_failure(request, page, log)
        context.close()


@pytest.fixture
def page(request, browser, live_server, app):
    """Return a fresh page (own cookies) at desktop size; base URL is the live server."""
    errors: list[str] = []
    with _browser_page(
        request, browser, live_server, viewport={"width": 1280, "height": 900}
    ) as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                errors.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        yield page
    # JavaScript errors and CSP violations are bugs a user would hit.
    assert not errors, errors


#: A phone's screen and touch, as the phone-size tests open pages.
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def phone_page(request, browser, live_server, app):
    """Return a fresh page at phone size (390x844)."""
    with _browser_page(request, browser, live_server, **PHONE) as page:
        yield page


@pytest.fixture
def german_phone(request, browser, live_server, app):
    """Return a fresh phone-size page (390x844) of a browser that asks for German."""
    with _browser_page(request, browser, live_server, locale="de-DE", **PHONE) as page:
        yield page


def fits_the_screen(page) -> None:
    """Fail when the page scrolls sideways, naming the widest elements that stick out.

    Tables inside a .table-wrap scroll in their own box and are not named.
    """
    overflow = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const wide = [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 1 && e.offsetParent !== null
                         && !e.closest('.table-wrap'))
            .map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 40));
          return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5)};
        }"""
    )
    assert overflow["scroll"] <= overflow["width"], (page.url, overflow)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under tests/e2e/artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def docs_screenshot(page, name: str) -> None:
    """Refresh the README's screenshot `name` with `make screenshots`; other runs leave it."""
    if os.environ.get("HOMELOG_DOCS_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS_SCREENSHOTS / f"{name}.png"), full_page=True)


def htmx_settled(page) -> None:
    """Wait until htmx has no request in flight and has settled what it swapped in.

    htmx inserts new content at once but sets it up a moment later (the settle step): only
    then does a new form get its htmx behaviour and its `autofocus` field the focus. Typing
    before that can land in the wrong field (CI once typed a reading's export value into
    its import field, which the settle step had just focused).
    """
    expect(
        page.locator(".htmx-request, .htmx-added, .htmx-settling, .htmx-swapping")
    ).to_have_count(0)


def source_page_ready(page) -> None:
    """Wait until a source page is live: htmx has set it up and its usage panel has loaded.

    The usage panel loads itself once htmx has processed the page, so after this a click on
    the add form is htmx's, and the panel no longer changes size above the form.
    """
    expect(page.locator("#usage-panel")).to_be_visible()
    expect(page.locator("#usage-panel[aria-busy]")).to_have_count(0)
    htmx_settled(page)


def sign_in(page, email: str, password: str) -> None:
    """Sign in through the real form."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
