"""homelog: record meter and sensor readings and see what a household uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from homelog import config as config_module
from homelog import i18n, observability
from homelog.extensions import csrf, db, limiter, login_manager, migrate


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the application.

    Args:
        config: settings that override the environment (tests pass a mapping here;
            when given, the environment is not read for SECRET_KEY or DATABASE_URL).
    """
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.from_mapping(config_module.DEFAULTS)
    if config is None:
        app.config.from_mapping(config_module.from_environment(app.instance_path))
    else:
        app.config.from_mapping(config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Flask-SQLAlchemy puts relative SQLite files under instance/; make sure it exists.
        import os

        os.makedirs(app.instance_path, exist_ok=True)
    if app.config.get("TRUST_PROXY"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    db.init_app(app)
    observability.init_app(app)  # first: its hooks time and tag every other hook
    migrate.init_app(app, db, directory=_migrations_dir())
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    i18n.init_app(app)

    from homelog import access, web
    from homelog import auth as _auth  # noqa: F401  (registers the user loader)
    from homelog import changes as _changes  # noqa: F401  (records every write of the session)
    from homelog.admin.routes import bp as admin_bp
    from homelog.api.routes import bp as api_bp
    from homelog.auth.routes import bp as auth_bp
    from homelog.backup_pages.routes import bp as backups_bp
    from homelog.cli import register_cli
    from homelog.home_pages.routes import bp as homes_bp
    from homelog.record.routes import bp as record_bp
    from homelog.sources.routes import bp as sources_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(sources_bp)
    app.register_blueprint(backups_bp)
    app.register_blueprint(homes_bp)
    app.register_blueprint(record_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(api_bp, url_prefix="/api")
    web.init_app(app)
    access.init_app(app)  # after the blueprints: its check runs after their sign-in hooks
    register_cli(app)
    return app


def _migrations_dir() -> str:
    import os

    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")
