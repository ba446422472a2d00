"""ORM models: users, homes, data sources, readings, tariffs, meter swaps and API tokens."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from homelog.extensions import db

KINDS = ("meter", "sensor")


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


#: Integer primary keys are 32-bit on PostgreSQL: a larger number in a URL is no row.
MAX_ID = 2**31 - 1


def parse_id(value: object) -> int | None:
    """Return value (an int or decimal text) as a row id, or None when it cannot be one."""
    try:
        wanted = int(str(value), 10)
    except (TypeError, ValueError):
        return None
    return wanted if 0 < wanted <= MAX_ID else None


def uuid7() -> uuid.UUID:
    """Return a time-ordered UUID (version 7, RFC 9562) so new rows append to the index."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


class UTCDateTime(sa.types.TypeDecorator):
    """A timezone-aware datetime stored in UTC on every database.

    SQLite has no timezone type: values go in as naive UTC and come back with UTC attached,
    so the application only ever sees aware datetimes.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class User(UserMixin, db.Model):
    """Someone who signs in: a homeowner or an administrator."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Set for accounts created or reset by an admin: the user picks a new password first.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    # ISO 4217 code that tariffs and costs are in.
    currency: Mapped[str] = mapped_column(sa.String(3), default="EUR", server_default="EUR")
    # The interface's language ("en", "de"); None follows the browser (homelog.i18n).
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sources: Mapped[list[DataSource]] = relationship(
        back_populates="owner",
        cascade="all, delete-orphan",
        passive_deletes=True,
        foreign_keys="DataSource.owner_id",
    )

    #: The key of the browser session this request signed in with (homelog.sessions): what
    #: Flask-Login keeps in the session and remember-me cookies. Not a column.
    session_key = None

    def get_id(self) -> str:
        """Return the session identity: the key of this browser's server-side session."""
        if not self.session_key:
            raise RuntimeError("A user signs in through homelog.sessions.start, not directly.")
        return self.session_key

    def __eq__(self, other: object) -> bool:
        # UserMixin compares get_id(), which is now per browser session: compare accounts.
        if not isinstance(other, User):
            return NotImplemented
        return self.id is not None and self.id == other.id

    __hash__ = object.__hash__

    @property
    def display_name(self) -> str:
        """Return the name to show, falling back to the email address."""
        return self.name or self.email


class Home(db.Model):
    """A home: groups sources and gives them a timezone."""

    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MetricList:
    """A source's metrics read from its ordered [[name, unit], …] list (`metric_list`).

    Shared by the DataSource model and the hot path's SourceRow (homelog.pgdirect).
    """

    @property
    def metrics(self) -> dict[str, str]:
        """Return the metrics as an ordered {name: unit} mapping."""
        return {name: unit for name, unit in self.metric_list}

    @property
    def metric_names(self) -> list[str]:
        """Return the metric names in display order."""
        return [name for name, _ in self.metric_list]


class DataSource(MetricList, db.Model):
    """A meter (cumulative register values) or a sensor (instantaneous values)."""

    __tablename__ = "data_sources"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('meter', 'sensor')", name="kind"),
        sa.CheckConstraint("cycle_day BETWEEN 1 AND 31", name="cycle_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("locations.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    kind: Mapped[str] = mapped_column(sa.String(10), default="meter")
    # Ordered list of [name, unit] pairs: a JSON list keeps its order on every database,
    # a JSON object does not (PostgreSQL jsonb sorts keys).
    metric_list: Mapped[list] = mapped_column("metrics", sa.JSON, default=list)
    # Usage and cost settings (homelog/usage_db/settings.py): register size per metric where it
    # wraps ({"import": 100000}), the billing cycle's first day of the month, the monthly
    # advance payment and the billing year's first day, and the gap after which an
    # interpolated value counts as estimated.
    # (Nullable, read as {}: PostgreSQL's json type has no equality for a server default.)
    rollover_at: Mapped[dict | None] = mapped_column(sa.JSON, default=dict)
    cycle_day: Mapped[int] = mapped_column(sa.SmallInteger, default=1, server_default="1")
    monthly_advance: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 2))
    billing_year_start: Mapped[date | None] = mapped_column(sa.Date)
    max_gap_hours: Mapped[int] = mapped_column(default=48, server_default="48")
    # Reading reminder (homelog/reminders.py): "day", "week" (reminder_day = weekday, 0 is
    # Monday) or "month" (reminder_day = day of the month, 1-31); None for no reminder.
    reminder_every: Mapped[str | None] = mapped_column(sa.String(10))
    reminder_day: Mapped[int | None] = mapped_column(sa.SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship(back_populates="sources", foreign_keys=[owner_id])
    home: Mapped[Home | None] = relationship()

    @MetricList.metrics.setter
    def metrics(self, value: dict[str, str]) -> None:
        self.metric_list = [[name, unit] for name, unit in value.items()]


class Reading(db.Model):
    """One timestamped set of values of a source's metrics."""

    __tablename__ = "readings"
    __table_args__ = (
        sa.Index("ix_readings_source_timestamp", "data_source_id", "timestamp", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid7)
    data_source_id: Mapped[int] = mapped_column(
        sa.ForeignKey("data_sources.id", ondelete="CASCADE")
    )
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    values: Mapped[dict] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    # The user confirmed a meter value below the previous one: usage takes it (as a rollover
    # where the register has a size) instead of leaving it out as suspect.
    confirmed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    source: Mapped[DataSource] = relationship()
    created_by: Mapped[User | None] = relationship()


# ---- Usage bookkeeping (PostgreSQL; see homelog/usage_db/stream.py) --------------------------


class ReadingBreak(db.Model):
    """A reading where a source's values stop rising in step with the reading before it.

    Some metric's value is below that reading's, or the two readings have different metrics.
    Between breaks every metric only rises, so usage needs just the readings beside period
    boundaries and breaks. Kept by homelog.usage_db.stream from reading_breaks_stale.
    """

    __tablename__ = "reading_breaks"

    data_source_id: Mapped[int] = mapped_column(
        sa.ForeignKey("data_sources.id", ondelete="CASCADE"), primary_key=True
    )
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    reading_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)


class StaleBreaks(db.Model):
    """Breaks of a source not yet recomputed from `since` on.

    A PostgreSQL trigger on readings adds a row for every write statement that is not already
    covered by an earlier `since`, so every writer (forms, API, sync, imports, restores, SQL)
    is seen; a source with such a row has its readings read in full.
    """

    __tablename__ = "reading_breaks_stale"
    __table_args__ = (sa.Index("ix_reading_breaks_stale_source_since", "data_source_id", "since"),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    data_source_id: Mapped[int] = mapped_column(
        sa.ForeignKey("data_sources.id", ondelete="CASCADE")
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class Tariff(db.Model):
    """A price of one metric of a source, in force from local midnight of effective_from."""

    __tablename__ = "tariffs"
    __table_args__ = (sa.UniqueConstraint("data_source_id", "metric", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    data_source_id: Mapped[int] = mapped_column(
        sa.ForeignKey("data_sources.id", ondelete="CASCADE")
    )
    metric: Mapped[str] = mapped_column(sa.String(50))
    effective_from: Mapped[date] = mapped_column(sa.Date)
    # In the owner's currency: per unit of the metric, and per day.
    unit_price: Mapped[Decimal] = mapped_column(sa.Numeric(12, 6))
    standing_charge: Mapped[Decimal] = mapped_column(
        sa.Numeric(12, 6), default=Decimal(0), server_default="0"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    source: Mapped[DataSource] = relationship()


class MeterEvent(db.Model):
    """A meter replaced at `at`: the old meter's final and the new one's first values."""

    __tablename__ = "meter_events"
    __table_args__ = (sa.UniqueConstraint("data_source_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    data_source_id: Mapped[int] = mapped_column(
        sa.ForeignKey("data_sources.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    old_final: Mapped[dict] = mapped_column(sa.JSON)  # {metric: number}
    new_start: Mapped[dict] = mapped_column(sa.JSON)  # {metric: number}
    # The new meter's register sizes where they differ from the old one's ({metric: size}).
    rollover_at: Mapped[dict | None] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    source: Mapped[DataSource] = relationship()


class ApiToken(db.Model):
    """A bearer token for one device; only its SHA-256 hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """A signed-in browser: its signed session and remember-me cookies carry the key.

    Only the key's SHA-256 hash is stored. Signing out, a password change and deactivation
    revoke the row; an idle or old one expires (homelog/sessions.py).
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    remember: Mapped[bool] = mapped_column(default=False)
    user_agent: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class SignInThrottle(db.Model):
    """Failed sign-ins of one account name (known or not), shared by every worker and host.

    Current-password checks count too. See homelog/throttle.py for the backoff.
    """

    __tablename__ = "sign_in_throttles"

    account: Mapped[str] = mapped_column(sa.String(254), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TrustedClient(db.Model):
    """A browser (its device cookie) or an address that signed in to an account before.

    Such a client may still try while the account's backoff holds strangers off, so whoever
    knows an email cannot lock its owner out. Only a SHA-256 hash of the value is stored.
    """

    __tablename__ = "trusted_clients"
    __table_args__ = (sa.UniqueConstraint("user_id", "kind", "value_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(10))  # "device" or "address"
    value_hash: Mapped[str] = mapped_column(sa.String(64))
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# ---- Sync bookkeeping (written by homelog/changes.py, read by homelog/feed.py) -------------------


class SyncCounter(db.Model):
    """Each owner's change counter; incrementing it locks the row until commit.

    Holding that lock for the rest of the transaction makes an owner's change numbers
    commit in order, so a change feed never skips a number that commits late.
    """

    __tablename__ = "sync_counters"

    owner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class SyncChange(db.Model):
    """The latest change of one source or reading: its change number, or its tombstone."""

    __tablename__ = "sync_changes"
    __table_args__ = (sa.Index("ix_sync_changes_owner_seq", "owner_id", "seq", unique=True),)

    kind: Mapped[str] = mapped_column(sa.String(10), primary_key=True)  # "source" | "reading"
    object_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # For readings: their source; the source's deletion removes these rows (its tombstone
    # stands for all of its readings).
    data_source_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("data_sources.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    deleted: Mapped[bool] = mapped_column(default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportUpload(db.Model):
    """A CSV file kept between its preview and the user's confirmation (homelog/importer/).

    Kept in the database, not in the session cookie or on one server's disk, so any worker
    can answer the confirmation. An upload is deleted when it is imported or cancelled; older
    than a day, or beyond the person's quota, on their next upload.
    """

    __tablename__ = "import_uploads"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # a random token
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    data_source_id: Mapped[int] = mapped_column(
        sa.ForeignKey("data_sources.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    content: Mapped[str] = mapped_column(sa.Text)
    # Characters of content, counted against the person's quota (homelog.importer.UPLOAD_QUOTA).
    size: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportLayout(db.Model):
    """The columns a person chose for a CSV layout of a source, used for the next such file.

    key: a fingerprint of the file's column headings (homelog.importer.Layout.key).
    mapping: {"1": metric name, "note" or "" (ignored)} by column, 1 the first after the date.
    """

    __tablename__ = "import_layouts"
    __table_args__ = (sa.UniqueConstraint("data_source_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    data_source_id: Mapped[int] = mapped_column(
        sa.ForeignKey("data_sources.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(sa.String(64))
    mapping: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    date_order: Mapped[str | None] = mapped_column(sa.String(3))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


ROLES = ("viewer", "editor")


class HomeMember(db.Model):
    """Someone the owner shares a home with: a viewer sees it, an editor also records readings."""

    __tablename__ = "location_members"
    __table_args__ = (
        sa.UniqueConstraint("location_id", "user_id"),
        sa.CheckConstraint("role IN ('viewer', 'editor')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(
        sa.ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(10), default="viewer")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    home: Mapped[Home] = relationship()
    user: Mapped[User] = relationship()


class HomeInvitation(db.Model):
    """An offer to share a home with whoever signs in with email, until they accept or decline.

    Addressed to an email address, not to an account: the owner learns nothing about which
    addresses have accounts, and someone who gets an account later still finds it waiting.
    """

    __tablename__ = "home_invitations"
    __table_args__ = (
        sa.UniqueConstraint("location_id", "email"),
        sa.CheckConstraint("role IN ('viewer', 'editor')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(
        sa.ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    # Normalised (homelog.accounts.normalize_email), as users' emails are.
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    role: Mapped[str] = mapped_column(sa.String(10), default="viewer")
    invited_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    home: Mapped[Home] = relationship()
    invited_by: Mapped[User | None] = relationship()
