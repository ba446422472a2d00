"""Uploads kept between a preview and its confirmation, within a quota per person."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from sqlalchemy import delete, func, select

from homelog.extensions import db
from homelog.importer.csvfile import MAX_IMPORT_BYTES
from homelog.models import DataSource, ImportUpload, User, utcnow

#: Characters of uploads a person may keep waiting for confirmation (over every source); a
#: new upload deletes their oldest waiting ones beyond it.
UPLOAD_QUOTA = 2 * MAX_IMPORT_BYTES
UPLOAD_MAX_AGE = timedelta(days=1)

_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # as secrets.token_urlsafe makes them


def save_upload(user: User, source: DataSource, text: str, filename: str = "") -> ImportUpload:
    """Keep text for user's import into source and commit; return it (its id is secret).

    Deletes user's uploads older than UPLOAD_MAX_AGE, and their oldest ones beyond
    UPLOAD_QUOTA characters with this one.
    """
    db.session.execute(
        delete(ImportUpload).where(
            ImportUpload.user_id == user.id, ImportUpload.created_at < utcnow() - UPLOAD_MAX_AGE
        )
    )
    kept = len(text)
    waiting = db.session.execute(
        select(ImportUpload.id, ImportUpload.size)
        .where(ImportUpload.user_id == user.id)
        .order_by(ImportUpload.created_at.desc(), ImportUpload.id)
    ).all()
    over = []
    for upload_id, size in waiting:
        kept += size
        if kept > UPLOAD_QUOTA:
            over.append(upload_id)
    if over:
        db.session.execute(delete(ImportUpload).where(ImportUpload.id.in_(over)))
    upload = ImportUpload(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        data_source_id=source.id,
        filename="".join(ch for ch in filename or "" if ch.isprintable())[:255],
        content=text,
        size=len(text),
    )
    db.session.add(upload)
    db.session.commit()
    return upload


def get_upload(user: User, source: DataSource, upload_id: object) -> ImportUpload | None:
    """Return user's upload for source with upload_id, or None (expired, or not theirs)."""
    if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
        return None
    upload = db.session.get(ImportUpload, upload_id)
    if (
        upload is None
        or upload.user_id != user.id
        or upload.data_source_id != source.id
        or upload.created_at < utcnow() - UPLOAD_MAX_AGE
    ):
        return None
    return upload


def discard_upload(upload: ImportUpload) -> None:
    """Delete an upload the person cancelled, and commit."""
    db.session.delete(upload)
    db.session.commit()


def uploads_size(user: User) -> int:
    """Return the characters of user's uploads waiting for confirmation."""
    return db.session.scalar(
        select(func.coalesce(func.sum(ImportUpload.size), 0)).where(ImportUpload.user_id == user.id)
    )
