"""Routes: the Record screen, its web app manifest, its service worker and its session check.

The Record page is an app shell: the same HTML for everyone reading its language, kept by the
service worker for offline use, so it holds no user data and no CSRF token. Its script reads
the data from IndexedDB and asks `/record/session` who is signed in (and for the CSRF token the
API needs with a browser session) whenever the phone is online.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, current_app, jsonify, render_template, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from homelog import i18n
from homelog.i18n import _

bp = Blueprint("record", __name__)

THEME_COLOUR = "#0b6bcb"
# Static files the service worker keeps for offline use (paths under static/).
SHELL_STATIC = (
    "css/app.css",
    "css/record.css",
    "js/record.js",
    "js/record-store.js",
    "vendor/idb-keyval/idb-keyval-6.2.2.umd.js",
    "favicon.svg",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/maskable-512.png",
)
SHELL_TEMPLATES = ("record/index.html", "record/sw.js")
#: Scripts the service worker imports (also part of SHELL_STATIC).
WORKER_IMPORTS = ("vendor/idb-keyval/idb-keyval-6.2.2.umd.js", "js/record-store.js")


def shell_version() -> str:
    """Return a short hash of everything the service worker caches and runs.

    Any change to a shell file changes /sw.js, so browsers install the new version and the
    Record screen offers to reload into it.
    """
    digest = hashlib.sha256()
    static = Path(current_app.static_folder)
    templates = Path(current_app.root_path, current_app.template_folder)
    catalogues = sorted(Path(current_app.root_path, "translations").glob("*/LC_MESSAGES/*.mo"))
    for path in (
        [static / name for name in SHELL_STATIC]
        + [templates / name for name in SHELL_TEMPLATES]
        + catalogues
    ):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    # The shell is kept in the reader's language: another language is another version, so
    # changing it on the account page installs the shell anew.
    return f"{digest.hexdigest()[:12]}-{i18n.locale_code()}"


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/record")
def index():
    """Show the Record screen (an app shell: it loads its data itself, also offline)."""
    return render_template("record/index.html", theme_colour=THEME_COLOUR)


@bp.route("/record/session")
def session():
    """Say who is signed in and give the CSRF token for the API; 401 when nobody is."""
    if not current_user.is_authenticated:
        response = jsonify({"detail": _("Sign in to send readings."), "errors": {}})
        response.status_code = 401
        return _no_store(response)
    user = current_user
    return _no_store(
        jsonify(
            {
                "user_id": user.id,
                "email": user.email,
                "name": user.display_name,
                "csrf_token": generate_csrf(),
            }
        )
    )


def _icon(name: str, size: int, purpose: str) -> dict:
    return {
        "src": url_for("static", filename=f"icons/{name}"),
        "sizes": f"{size}x{size}",
        "type": "image/png",
        "purpose": purpose,
    }


@bp.route("/manifest.webmanifest")
def manifest():
    """Describe the installable app (name, icons, start URL) to the browser."""
    response = jsonify(
        {
            "id": url_for("record.index"),
            "name": _("homelog — record readings"),
            "short_name": "homelog",
            "description": _("Record meter and sensor readings, also offline."),
            "start_url": url_for("record.index"),
            "scope": "/",
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": THEME_COLOUR,
            "icons": [
                _icon("icon-192.png", 192, "any"),
                _icon("icon-512.png", 512, "any"),
                _icon("maskable-512.png", 512, "maskable"),
            ],
        }
    )
    response.mimetype = "application/manifest+json"
    return response


@bp.route("/sw.js")
def service_worker():
    """Serve the service worker from the root, so its scope covers the whole app."""
    body = render_template(
        "record/sw.js",
        version=shell_version(),
        shell=[url_for("record.index"), url_for("record.manifest")]
        + [url_for("static", filename=name) for name in SHELL_STATIC],
        imports=[url_for("static", filename=name) for name in WORKER_IMPORTS],
        record_url=url_for("record.index"),
    )
    response = current_app.response_class(body, mimetype="text/javascript")
    # The browser checks for a new version on every visit; never let a cache answer that.
    response.headers["Cache-Control"] = "no-cache"
    return response
