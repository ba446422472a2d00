"""Forms of the backup pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField


class RestoreForm(FlaskForm):
    """A backup file to restore into this (empty) account."""

    file = FileField("Backup file (.json)")
    confirm = BooleanField("Restore it into this account")
