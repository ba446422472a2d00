"""Browser flow: import a German spreadsheet export, then the same file again (phone, desktop)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from homelog.extensions import db
from homelog.models import ImportUpload, Reading
from tests.conftest import PASSWORD
from tests.e2e.conftest import docs_screenshot, fits_the_screen, htmx_settled, screenshot, sign_in

# LibreOffice's German defaults: semicolons, decimal commas, two-digit years.
WATER_CSV = "Datum;Zählerstand (m³)\n" + "".join(
    f"{day:02d}.04.26 07:31;{100 + day * 0.25:.2f}\n".replace(".", ",").replace(",", ".", 2)
    for day in range(1, 21)
)


def _watch_console(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _preview(page, source_id: int) -> None:
    page.goto(f"/sources/{source_id}/import")
    htmx_settled(page)
    page.set_input_files(
        "#file",
        files=[{"name": "zaehler.csv", "mimeType": "text/csv", "buffer": WATER_CSV.encode()}],
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#import-result")).to_be_visible()
    htmx_settled(page)


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_import_a_spreadsheet_then_the_same_file_again(request, user, make_source, size):
    page = request.getfixturevalue("phone_page" if size == "phone" else "page")
    errors = _watch_console(page)
    water = make_source(user, "Water", metrics={"water": "m³"})
    sign_in(page, user.email, PASSWORD)

    _preview(page, water.id)
    result = page.locator("#import-result")
    expect(result.locator(".summary")).to_contain_text("20 readings will be imported from 20 lines")
    expect(result.locator(".read-as")).to_contain_text("decimal comma")
    expect(result.locator(".read-as")).to_contain_text("“Zählerstand (m³)” is read as “water”")
    expect(result.get_by_label("Zählerstand (m³)")).to_have_value("water")
    # The preview's own button sends from inside the form (htmx once logged an error here).
    page.get_by_role("button", name="Update preview").click()
    htmx_settled(page)
    expect(result.locator(".summary")).to_contain_text("20 readings will be imported")
    fits_the_screen(page)
    screenshot(page, f"import-preview-{size}")
    if size == "desktop":
        docs_screenshot(page, "import-preview")

    page.get_by_role("button", name="Import 20 readings").click()
    page.wait_for_url(f"**/sources/{water.id}")
    expect(page.locator("#readings-body tr.reading-row").first).to_be_visible()
    assert db.session.scalar(select(func.count()).select_from(Reading)) == 20

    _preview(page, water.id)
    expect(result.locator(".summary")).to_have_text(
        "All 20 readings are already stored — nothing to do."
    )
    expect(result.get_by_text("Lines with problems")).to_have_count(0)
    expect(result.get_by_role("button")).to_have_text(["Done"])  # nothing else to do
    fits_the_screen(page)
    screenshot(page, f"import-all-stored-{size}")

    page.get_by_role("button", name="Done").click()
    expect(page.locator("#import-result")).to_have_count(0)  # back to an empty import page
    db.session.rollback()  # end the test's read transaction: see what the server wrote since
    assert db.session.scalar(select(func.count()).select_from(ImportUpload)) == 0
    assert not errors, errors


def test_a_file_over_the_limit_is_refused_before_it_is_sent(page, user, make_source):
    water = make_source(user, "Water", metrics={"water": "m³"})
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/sources/{water.id}/import")
    htmx_settled(page)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    big = b"date;water\n" + b"01.04.2026 07:31;1\n" * (17 * 1024 * 1024 // 19 + 1)
    page.set_input_files(
        "#file", files=[{"name": "big.csv", "mimeType": "text/csv", "buffer": big}]
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#file-error")).to_have_text("The file is larger than 16 MB.")
    expect(page.locator("#file")).to_have_attribute("aria-invalid", "true")
    assert posts == []


def test_a_preview_clears_the_upload_forms_earlier_error(phone_page, user, make_source):
    """Preview with nothing chosen, then with pasted lines: the old "choose a file" goes."""
    page = phone_page
    water = make_source(user, "Water", metrics={"water": "m³"})
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/sources/{water.id}/import")
    htmx_settled(page)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#file-error")).to_have_text("Choose a CSV file or paste its lines.")
    htmx_settled(page)

    page.get_by_label("…or paste the lines").fill("date;water\n01.04.2026 07:31;100,5\n")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#import-result .summary")).to_contain_text("1 reading will be imported")
    htmx_settled(page)
    expect(page.locator("#file-error")).to_be_hidden()
    expect(page.locator("#import-upload .has-error")).to_have_count(0)
    expect(page.locator("#import-upload [aria-invalid]")).to_have_count(0)
    fits_the_screen(page)
