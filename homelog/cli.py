"""`flask` commands: user management and demo data."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from homelog import accounts
from homelog.extensions import db

user_cli = AppGroup("user", help="Manage users.")


@user_cli.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (prompted for when left out).")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--name", default="", help="Display name.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA timezone.")
def create_user_command(email: str, password: str, admin: bool, name: str, timezone: str):
    """Create a user."""
    try:
        user = accounts.create_user(email, password, name=name, is_admin=admin, timezone=timezone)
    except accounts.AccountError as error:
        db.session.rollback()
        raise click.ClickException(f"{error.field or 'user'}: {error}") from None
    role = "administrator" if user.is_admin else "user"
    click.echo(f"Created {role} {user.email} (id {user.id}).")


def register_cli(app: Flask) -> None:
    """Attach the command groups to app."""
    app.cli.add_command(user_cli)
