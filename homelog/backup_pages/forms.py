"""Forms of the backup pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField

from homelog.i18n import _l


class RestoreForm(FlaskForm):
    """A backup file to restore into this (empty) account."""

    file = FileField(_l("Backup file (.json)"))
    confirm = BooleanField(_l("Restore it into this account"))
