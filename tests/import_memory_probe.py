"""Run oversized CSV imports in this process and print how much its memory grew (JSON).

Started by tests/test_import_limits.py in a subprocess, so the measurement sees only the
import: `python -m tests.import_memory_probe DATABASE_URL SOURCE_ID TOKEN EMAIL PASSWORD`.
The address space is capped as well, so a regression fails fast instead of filling the machine.
"""

from __future__ import annotations

import io
import json
import resource
import sys

from homelog import create_app
from tests.conftest import AuthActions, CSRFClient, app_config

HEADROOM = 512 * 1024 * 1024


def _status(field: str) -> int:
    """Return a size from /proc/self/status in bytes."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field))


def measure(send) -> dict:
    """Send a request and return its status, its answer and how far memory rose meanwhile.

    The kernel's high-water mark of resident memory is reset first (clear_refs 5), so it
    shows the peak of this request alone.
    """
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _status("VmRSS:")
    response = send()
    body = response.get_data(as_text=True)
    return {
        "status": response.status_code,
        "grew": _status("VmHWM:") - before,
        "body": body[:50_000],
    }


def main() -> None:
    url, source_id, token, email, password = sys.argv[1:6]
    app = create_app(app_config(url))
    app.test_client_class = CSRFClient
    api = app.test_client()
    page = app.test_client()
    AuthActions(page).login(email, password)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    path = f"/api/sources/{source_id}/import?dry_run=true"

    def post_api(body: bytes):
        return api.post(path, data=body, headers=headers)

    def post_page(body: bytes):
        return page.post(
            f"/sources/{source_id}/import",
            data={"file": (io.BytesIO(body), "big.csv")},
            content_type="multipart/form-data",
        )

    # Warm up both routes (imports, templates, connections) before measuring.
    post_api(b"date,import\n2026-01-01,1\n")
    post_page(b"date,import\n2026-01-01,1\n")
    size = _status("VmSize:")
    resource.setrlimit(resource.RLIMIT_AS, (size + HEADROOM, size + HEADROOM))

    many_lines = b"1\n" * (2 * 1024 * 1024)  # 4 MB, four times the line limit
    too_large = b"2026-01-01," + b"1" * (17 * 1024 * 1024) + b"\n"
    results = {
        "api_many_lines": measure(lambda: post_api(many_lines)),
        "page_many_lines": measure(lambda: post_page(many_lines)),
        "api_too_large": measure(lambda: post_api(too_large)),
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
