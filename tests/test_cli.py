"""`flask user ...` commands, as scripts and other tools call them."""

from __future__ import annotations

from homelog import accounts, sessions
from homelog.extensions import db
from homelog.models import User
from tests.conftest import PASSWORD


def test_create_user(runner):
    result = runner.invoke(args=["user", "create", "Ada@Example.com", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "Created user ada@example.com" in result.output
    user = accounts.find_by_email("ada@example.com")
    assert user is not None and not user.is_admin and user.name == ""
    assert accounts.verify_password(user, PASSWORD)
    assert not user.must_change_password
    assert PASSWORD not in result.output


def test_create_admin_with_name(runner):
    result = runner.invoke(
        args=[
            "user",
            "create",
            "ada@example.com",
            "--password",
            PASSWORD,
            "--admin",
            "--name",
            "Ada Admin",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created administrator ada@example.com" in result.output
    user = accounts.find_by_email("ada@example.com")
    assert user.is_admin and user.name == "Ada Admin"


def test_created_user_can_sign_in(runner, client, auth):
    runner.invoke(args=["user", "create", "ada@example.com", "--password", PASSWORD])
    assert auth.login(email="ada@example.com").status_code == 302


def test_create_prompts_for_password_twice(runner):
    result = runner.invoke(
        args=["user", "create", "ada@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    assert accounts.verify_password(accounts.find_by_email("ada@example.com"), PASSWORD)


def test_create_prompt_rejects_mismatch_then_accepts(runner):
    result = runner.invoke(
        args=["user", "create", "ada@example.com"],
        input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output


def test_create_existing_email_fails(runner, make_user):
    make_user("ada@example.com")
    result = runner.invoke(args=["user", "create", "ADA@example.com", "--password", PASSWORD])
    assert result.exit_code == 1
    assert (
        "Error: Cannot create user ADA@example.com: An account with this email already "
        "exists." in result.output
    )
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1


def test_create_weak_password_fails(runner):
    for password, message in [
        ("short", "Use at least 10 characters."),
        ("password123", "too easy to guess"),
    ]:
        result = runner.invoke(args=["user", "create", "ada@example.com", "--password", password])
        assert result.exit_code == 1
        assert message in result.output
        assert accounts.find_by_email("ada@example.com") is None


def test_create_invalid_email_and_timezone_fail(runner):
    result = runner.invoke(args=["user", "create", "not-an-email", "--password", PASSWORD])
    assert result.exit_code == 1 and "Enter a valid email address" in result.output
    result = runner.invoke(
        args=[
            "user",
            "create",
            "ada@example.com",
            "--password",
            PASSWORD,
            "--timezone",
            "Mars/Olympus",
        ]
    )
    assert result.exit_code == 1 and "Choose a timezone" in result.output
    assert accounts.user_count() == 0


def test_create_without_email_is_a_usage_error(runner):
    result = runner.invoke(args=["user", "create", "--password", PASSWORD])
    assert result.exit_code == 2 and "Missing argument 'EMAIL'" in result.output


def test_list_users(runner, make_user):
    make_user("ada@example.com", name="Ada", is_admin=True)
    make_user("bob@example.com", is_active=False)
    result = runner.invoke(args=["user", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert "ada@example.com" in lines[0] and "admin" in lines[0] and "Ada" in lines[0]
    assert "bob@example.com" in lines[1] and "inactive" in lines[1]
    result = runner.invoke(args=["user", "list", "--search", "BOB"])
    assert "bob@example.com" in result.output and "ada@example.com" not in result.output


def test_list_without_users(runner):
    result = runner.invoke(args=["user", "list"])
    assert result.exit_code == 0 and "No users." in result.output


def test_set_password(runner, make_user):
    user = make_user("ada@example.com")
    sessions.start(user)
    new = "a brand new passphrase"
    result = runner.invoke(args=["user", "set-password", "ADA@example.com", "--password", new])
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert accounts.verify_password(user, new) and not user.must_change_password
    assert sessions.user_sessions(user) == []  # the open browser session ended


def test_set_password_prompts_and_can_be_temporary(runner, make_user):
    user = make_user("ada@example.com")
    new = "a brand new passphrase"
    result = runner.invoke(
        args=["user", "set-password", "ada@example.com", "--temporary"], input=f"{new}\n{new}\n"
    )
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert accounts.verify_password(user, new) and user.must_change_password


def test_set_password_errors(runner, make_user):
    user = make_user("ada@example.com")
    result = runner.invoke(
        args=["user", "set-password", "nobody@example.com", "--password", "a brand new passphrase"]
    )
    assert result.exit_code == 1 and "There is no user nobody@example.com." in result.output
    result = runner.invoke(args=["user", "set-password", "ada@example.com", "--password", "short"])
    assert result.exit_code == 1 and "Use at least 10 characters." in result.output
    db.session.refresh(user)
    assert accounts.verify_password(user, PASSWORD)
