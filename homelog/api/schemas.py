"""Request and response schemas of the JSON API (pydantic), kept apart from the ORM models.

The same classes validate requests and build the OpenAPI document (homelog/api/openapi.py),
so the documentation cannot drift from what the server accepts. Field names follow the
origin "Home Log" API that mobile clients were written against.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, WithJsonSchema

from homelog import timeutil

MAX_PAGE = 500
MAX_BATCH = 1000


def _iso_datetime(value: Any) -> datetime:
    """Parse an ISO 8601 date-time text (an offset is optional) in the supported range
    (homelog.timeutil); reject everything else."""
    if isinstance(value, datetime):
        return timeutil.check_time(value)
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("Give an ISO 8601 date and time, like 2026-03-31T18:45:00+02:00.")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            "Give an ISO 8601 date and time, like 2026-03-31T18:45:00+02:00."
        ) from None
    return timeutil.check_time(parsed)


Timestamp = Annotated[
    datetime,
    BeforeValidator(_iso_datetime),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": (
                "ISO 8601; without an offset the time is in the user's timezone. From "
                "1900-01-01T00:00:00Z to 2999-12-31T23:59:59Z."
            ),
            "examples": ["2026-03-31T18:45:00+02:00"],
        },
        mode="validation",
    ),
]
# A reading value: a JSON number (not a boolean, not text), finite.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
StrictBool = Annotated[bool, Field(strict=True)]
StrictId = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]
Text = Annotated[str, Field(strict=True)]


class Request(BaseModel):
    """A request body: unknown fields are an error (they are usually typos)."""

    model_config = ConfigDict(extra="forbid")
    # Fields of the response shape that a client may send back unchanged (a PUT of what a GET
    # returned); they are dropped before validation.
    read_only: ClassVar[frozenset[str]] = frozenset()


class Response(BaseModel):
    """A response body."""

    model_config = ConfigDict(from_attributes=True)


class Query(BaseModel):
    """Query-string parameters (text, converted)."""

    model_config = ConfigDict(extra="ignore")


# ---- Errors ---------------------------------------------------------------------------------


class Error(Response):
    """Every error under /api."""

    detail: str = Field(examples=["Some values are invalid."])
    errors: dict[str, list[str]] = Field(
        default_factory=dict, examples=[{"values.import": ["Enter a finite number."]}]
    )


# ---- Auth -----------------------------------------------------------------------------------


class LoginIn(Request):
    """Credentials for a new token."""

    username: Text = Field(
        max_length=254, description="The account's email address.", examples=["olive@example.com"]
    )
    password: Text = Field(max_length=256, examples=["a long passphrase"])
    device_name: Text = Field(
        "", max_length=100, description="Shown on the account page.", examples=["Olive's phone"]
    )


class TokenOut(Response):
    """A new bearer token: shown once, keep it safe."""

    access_token: str = Field(examples=["hl_3q2-7wJt3Yd8..."])
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class ValidateOut(Response):
    """Who the credentials belong to."""

    user_id: int
    expires_at: datetime | None = Field(description="Null for a browser session.")


class PasswordIn(Request):
    """A password change."""

    current_password: Text = Field(max_length=256)
    new_password: Text = Field(max_length=256, examples=["another long passphrase"])


# ---- Users ----------------------------------------------------------------------------------


class UserOut(Response):
    """A user account (never its password)."""

    id: int
    email: str = Field(examples=["olive@example.com"])
    name: str = Field(examples=["Olive"])
    is_admin: bool
    is_active: bool
    timezone: str = Field(examples=["Europe/Berlin"])
    created_at: datetime


class UserCreate(Request):
    """A new account (admins only)."""

    email: Text = Field(max_length=254, examples=["olive@example.com"])
    password: Text = Field(max_length=256, examples=["a long passphrase"])
    name: Text = Field("", max_length=100, examples=["Olive"])
    is_admin: StrictBool = False
    timezone: Text = Field("UTC", max_length=64, examples=["Europe/Berlin"])


class UserUpdate(Request):
    """Changes to an account; fields left out keep their value."""

    read_only: ClassVar[frozenset[str]] = frozenset({"id", "created_at"})

    email: Text | None = Field(None, max_length=254)
    name: Text | None = Field(None, max_length=100)
    timezone: Text | None = Field(None, max_length=64)
    password: Text | None = Field(
        None, max_length=256, description="Admins only: a temporary password to change."
    )
    current_password: Text | None = Field(
        None,
        max_length=256,
        description="Your password: needed to change your own email (a wrong one counts as a "
        "failed sign-in).",
    )
    is_admin: StrictBool | None = Field(None, description="Admins only.")
    is_active: StrictBool | None = Field(None, description="False deactivates (admins only).")


# ---- Sources --------------------------------------------------------------------------------

METRICS_EXAMPLE = {"import": "kWh", "export": "kWh"}


class SourceOut(Response):
    """A meter or sensor."""

    id: int
    name: str = Field(examples=["Electricity"])
    description: str
    kind: Literal["meter", "sensor"]
    metrics: dict[str, str] = Field(
        description="Ordered {metric name: unit}.", examples=[METRICS_EXAMPLE]
    )
    location_id: int | None
    owner_id: int
    created_at: datetime
    updated_at: datetime
    role: Literal["owner", "editor", "viewer"] = Field(
        description="The caller's role: `owner`; `editor` (adds and edits readings) or "
        "`viewer` (reads) of a source in a home shared with them."
    )


class SourceCreate(Request):
    """A new meter or sensor."""

    name: Text = Field(max_length=200, examples=["Electricity"])
    description: Text = Field("", max_length=4000)
    kind: Literal["meter", "sensor"] = "meter"
    metrics: dict[str, Text] = Field(
        description="Ordered {metric name: unit}; at least one.", examples=[METRICS_EXAMPLE]
    )
    location_id: None = Field(
        None, description="Always null: put sources in a home with `PATCH /api/homes/{id}`."
    )


class SourceUpdate(Request):
    """Changes to a source; fields left out keep their value."""

    read_only: ClassVar[frozenset[str]] = frozenset(
        {"id", "owner_id", "created_at", "updated_at", "location_id", "role"}
    )

    name: Text | None = Field(None, max_length=200)
    description: Text | None = Field(None, max_length=4000)
    kind: Literal["meter", "sensor"] | None = None
    metrics: dict[str, Text] | None = Field(
        None, description="The complete new ordered {name: unit}; metrics left out are removed."
    )
    renames: dict[str, Text] = Field(
        default_factory=dict,
        description="{old name: new name}: values move to the new name.",
        examples=[{"import": "consumption"}],
    )
    confirm_remove: StrictBool = Field(
        False, description="Needed to remove a metric that readings have values for."
    )


class PageQuery(Query):
    """Paging of a list."""

    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=2**31 - 1)


# ---- Readings -------------------------------------------------------------------------------

VALUES_EXAMPLE = {"import": 1234.5, "export": 17.0}
CONFIRMED = (
    "True: a meter value below the previous reading is right (the user checked it), so usage "
    "counts it (as a rollover where the register has a size); false: such a value is left out "
    "of usage as suspect. A single reading that drops needs true (422 without it); a sync "
    "batch stores it either way. No effect on other readings or on sensors."
)


class ReadingOut(Response):
    """One timestamped set of values."""

    id: uuid.UUID
    data_source_id: int
    timestamp: datetime
    values: dict[str, float] = Field(examples=[VALUES_EXAMPLE])
    note: str | None
    confirmed: bool = Field(description="A lower meter value the user confirmed.")
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime


class ReadingCreate(Request):
    """A new reading; `id` may be chosen by the client so a retry never duplicates it."""

    read_only: ClassVar[frozenset[str]] = frozenset(
        {"data_source_id", "created_by_id", "created_at", "updated_at"}
    )

    id: uuid.UUID | None = Field(None, description="A client-generated UUID (optional).")
    timestamp: Timestamp
    values: dict[str, Number] = Field(
        description="{metric: number} for the source's metrics.", examples=[VALUES_EXAMPLE]
    )
    note: Text | None = Field(None, max_length=500)
    confirmed: StrictBool = Field(False, description=CONFIRMED)


class ReadingUpdate(Request):
    """Changes to a reading; fields left out keep their value, values merge by metric."""

    read_only: ClassVar[frozenset[str]] = frozenset(
        {"id", "data_source_id", "created_by_id", "created_at", "updated_at"}
    )

    timestamp: Timestamp | None = None
    values: dict[str, Number] | None = Field(None, examples=[{"import": 1240.0}])
    note: Text | None = Field(None, max_length=500, description='Send "" to clear it.')
    confirmed: StrictBool | None = Field(None, description=CONFIRMED)


class ReadingsQuery(Query):
    """Filters and paging of a source's readings (newest first)."""

    limit: int = Field(50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(
        None, max_length=200, description='From the `Link: rel="next"` of the previous page.'
    )
    offset: int = Field(
        0, ge=0, le=2**31 - 1, description="Readings to skip (after the cursor, if any)."
    )
    start: Timestamp | None = Field(None, description="Only readings at or after this time.")
    end: Timestamp | None = Field(None, description="Only readings before this time.")


class ConflictOut(Error):
    """The id holds different content: here is the server's copy."""

    current: ReadingOut | None = None


# ---- Sync -----------------------------------------------------------------------------------


class SyncReading(Request):
    """One reading of a batch: the client's id is required."""

    read_only: ClassVar[frozenset[str]] = frozenset({"created_by_id", "created_at", "updated_at"})

    id: uuid.UUID
    data_source_id: StrictId
    timestamp: Timestamp
    values: dict[str, Number] = Field(examples=[VALUES_EXAMPLE])
    note: Text | None = Field(None, max_length=500)
    confirmed: StrictBool = Field(False, description=CONFIRMED)


class SyncReadingsIn(Request):
    """A batch of readings for any of the user's sources."""

    readings: list[SyncReading] = Field(max_length=MAX_BATCH)


class SyncBatchIn(Request):
    """The batch as first parsed: items are validated one by one (see SyncReadingsIn)."""

    readings: list[Any] = Field(max_length=MAX_BATCH)


class SyncItemResult(Response):
    """What happened to one item (same order as sent)."""

    index: int
    id: uuid.UUID | None
    status: Literal["created", "unchanged", "conflict", "invalid"]
    reason: str | None = None
    errors: dict[str, list[str]] = Field(default_factory=dict)
    current: ReadingOut | None = Field(None, description="The server's copy, on a conflict.")


class SyncReadingsOut(Response):
    """Per-item results and counts."""

    results: list[SyncItemResult]
    created: int
    unchanged: int
    conflict: int
    invalid: int


class ChangesQuery(Query):
    """Where to continue the change feed."""

    since: str | None = Field(
        None,
        max_length=16_000,
        pattern=r"^[0-9a-z.~-]*$",
        description="next_cursor of the previous answer (opaque); empty: all.",
    )
    limit: int = Field(500, ge=1, le=MAX_BATCH)


class Tombstone(Response):
    """A deleted source or reading. A deleted source's readings are gone with it."""

    type: Literal["source", "reading"]
    id: str
    data_source_id: int | None
    deleted_at: datetime


class ChangesOut(Response):
    """What changed after the cursor, oldest change first; apply sources, readings, deleted."""

    sources: list[SourceOut]
    readings: list[ReadingOut]
    deleted: list[Tombstone]
    next_cursor: str = Field(description="Pass as `since` next time.", examples=["1042"])
    has_more: bool = Field(description="True: ask again at once with next_cursor.")


# ---- Lists ----------------------------------------------------------------------------------


class UserList(RootModel[list[UserOut]]):
    """A page of users."""


class SourceList(RootModel[list[SourceOut]]):
    """A page of sources, newest first."""


class ReadingList(RootModel[list[ReadingOut]]):
    """A page of readings, newest first."""
