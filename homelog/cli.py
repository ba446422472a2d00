"""`flask` commands: user management, demo data and (lazily) Flask-Migrate's `flask db`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from homelog import accounts
from homelog.extensions import db

user_cli = AppGroup("user", help="Manage users.")


@user_cli.command("create")
@click.argument("email")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The password (prompted for when left out).",
)
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--name", default="", help="Display name.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA timezone.")
def create_user_command(email: str, password: str, admin: bool, name: str, timezone: str):
    """Create a user."""
    try:
        user = accounts.create_user(email, password, name=name, is_admin=admin, timezone=timezone)
    except accounts.AccountError as error:
        db.session.rollback()
        raise click.ClickException(f"Cannot create user {email}: {error}") from None
    role = "administrator" if user.is_admin else "user"
    click.echo(f"Created {role} {user.email} (id {user.id}).")


@user_cli.command("list")
@click.option("--search", default="", help="Only users whose email or name contains this.")
def list_users_command(search: str):
    """List users: id, email, role, status and name."""
    page_number, shown = 1, 0
    while True:
        page = accounts.search_users(search, page_number, per_page=200)
        for user in page.items:
            role = "admin" if user.is_admin else "user"
            status = "active" if user.is_active else "inactive"
            click.echo(f"{user.id:>6}  {user.email:<40} {role:<5}  {status:<8}  {user.name}")
            shown += 1
        if not page.has_next:
            break
        page_number += 1
    if not shown:
        click.echo("No users." if not search else f"No user matches {search!r}.", err=True)


@user_cli.command("set-password")
@click.argument("email")
@click.option(
    "--password",
    prompt="New password",
    hide_input=True,
    confirmation_prompt=True,
    help="The new password (prompted for when left out).",
)
@click.option(
    "--temporary", is_flag=True, help="Make the user choose a new password at their next sign-in."
)
def set_password_command(email: str, password: str, temporary: bool):
    """Set a user's password and sign them out everywhere."""
    user = accounts.find_by_email(email)
    if user is None:
        raise click.ClickException(f"There is no user {email}.")
    try:
        accounts.set_password(user, password, must_change=temporary)
    except accounts.AccountError as error:
        db.session.rollback()
        raise click.ClickException(f"Cannot set the password of {user.email}: {error}") from None
    click.echo(f"Password of {user.email} changed; their open sessions have ended.")


class _MigrateCommands(click.Group):
    """`flask db ...`: Flask-Migrate's group, imported only when it is used.

    Listed in `flask --help` under its own help text; invoking it (with any arguments, --help
    too) hands over to flask_migrate.cli.db, whose commands then set the app's Flask-Migrate
    up through the stand-in that homelog.extensions.LazyMigrate left.
    """

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        from flask_migrate.cli import db as migrate_cli

        return migrate_cli.make_context(info_name, args, parent=parent, **extra)


def register_cli(app: Flask) -> None:
    """Attach the command groups to app."""
    app.cli.add_command(user_cli)
    app.cli.add_command(_MigrateCommands("db", help="Perform database migrations."))
