"""Data sources (meters and sensors): who may see them, and the rules for changing them.

Every function here is free of request objects, so the pages, the JSON API and the CLI share
them. Bad input raises `homelog.errors.ValidationFailed` with messages fit for users, keyed by
field name ("name", "description", "kind", "metrics"; a problem with one metric row uses
"metrics.<index>.name" or "metrics.<index>.unit" as well, so a form can show it beside the row).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import ColumnElement, Select, bindparam, case, func, literal, or_, select

from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _, ngettext
from homelog.models import (
    KINDS,
    ROLES,
    DataSource,
    HomeMember,
    Reading,
    SyncCounter,
    User,
    parse_id,
)
from homelog.usage_db.inputs import rename_metrics

MAX_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 2000
MAX_METRICS = 20
MAX_METRIC_NAME_LENGTH = 40
MAX_UNIT_LENGTH = 20

# Offered in forms; any unit up to MAX_UNIT_LENGTH characters is accepted.
COMMON_UNITS = (
    "kWh",
    "Wh",
    "MWh",
    "W",
    "kW",
    "m³",
    "l",
    "°C",
    "%",
    "hPa",
    "ppm",
    "µg/m³",
    "lx",
    "dB",
    "kg",
    "h",
)
KIND_LABELS = {
    "meter": "Meter (a register that counts up: usage is the difference)",
    "sensor": "Sensor (instantaneous values: temperature, humidity, …)",
}


def _shared_location_ids(user_id, roles: Sequence[str] = ROLES) -> Select:
    """Return a select of the ids of homes shared with user_id in one of roles."""
    return select(HomeMember.location_id).where(
        HomeMember.user_id == user_id, HomeMember.role.in_(list(roles))
    )


def visible_to(user_id) -> ColumnElement[bool]:
    """Return the condition for a source that user_id (a value, bind parameter or column) may see.

    This is the one place that decides which sources a user may see: their own, and those
    in homes shared with them (homelog.homes); every lookup goes through it.
    """
    return or_(
        DataSource.owner_id == user_id, DataSource.location_id.in_(_shared_location_ids(user_id))
    )


def visible_sources(user: User) -> Select[tuple[DataSource]]:
    """Return a select of the sources user may see, ordered by name."""
    return (
        select(DataSource)
        .where(visible_to(user.id))
        .order_by(func.lower(DataSource.name), DataSource.id)
    )


# get_source_for runs on every source page and API request: built once (building it per call
# cost as much CPU as running it).
_VISIBLE_SOURCE = select(DataSource).where(
    DataSource.id == bindparam("source_id"), visible_to(bindparam("user_id"))
)


def writable_sources(user: User) -> Select[tuple[DataSource]]:
    """Return a select of the sources whose readings user may add, change and delete."""
    return visible_sources(user).where(
        or_(
            DataSource.owner_id == user.id,
            DataSource.location_id.in_(_shared_location_ids(user.id, ("editor",))),
        )
    )


def role_for(user: User, source: DataSource) -> str | None:
    """Return user's role for source: "owner", "editor", "viewer", or None (a stranger)."""
    if source.owner_id == user.id:
        return "owner"
    if source.location_id is None:
        return None
    return db.session.scalar(
        select(HomeMember.role).where(
            HomeMember.location_id == source.location_id, HomeMember.user_id == user.id
        )
    )


def role_of(user_id) -> ColumnElement:
    """Return role_for as SQL: user_id's role for the DataSource row of the query, or NULL.

    For statements that load the source and the caller's role together (homelog.pgdirect);
    tests/test_sharing.py checks every role on every API route, on both paths.
    """
    member_role = (
        select(HomeMember.role)
        .where(HomeMember.location_id == DataSource.location_id, HomeMember.user_id == user_id)
        .scalar_subquery()
    )
    return case((DataSource.owner_id == user_id, literal("owner")), else_=member_role)


#: What each role may do with a source: read it; write its readings; manage the source
#: itself (edit, delete, prices, swaps, settings, reminders) and its home's members.
PERMISSIONS = {
    "owner": frozenset({"read", "write", "manage"}),
    "editor": frozenset({"read", "write"}),
    "viewer": frozenset({"read"}),
}


def can(user: User, source: DataSource, action: str) -> bool:
    """Return True when user may do action ("read", "write" or "manage") with source.

    The one permission check: every route that reads or changes a source or its readings
    asks it (homelog/access.py applies it to pages, fragments and the API).
    """
    return allows(role_for(user, source), action)


def allows(role: str | None, action: str) -> bool:
    """Return True when role ("owner", "editor", "viewer" or None) may do action."""
    return action in PERMISSIONS.get(role or "", frozenset())


def can_write(user: User, source: DataSource) -> bool:
    """Return True when user may add, change and delete source's readings."""
    return can(user, source, "write")


def can_manage(user: User, source: DataSource) -> bool:
    """Return True when user may change or delete source itself (its owner only)."""
    return can(user, source, "manage")


def get_source_for(user: User, source_id: object) -> DataSource | None:
    """Return the source with source_id if user may see it, else None (also for junk ids)."""
    wanted = parse_id(source_id)
    if wanted is None:
        return None
    return db.session.scalar(_VISIBLE_SOURCE, {"source_id": wanted, "user_id": user.id})


# Built once, like _VISIBLE_SOURCE: the bounded count runs on every source page.
_SOURCE_READINGS = select(Reading.id).where(Reading.data_source_id == bindparam("source_id"))
_COUNT_ALL = select(func.count()).select_from(_SOURCE_READINGS.subquery())
_COUNT_AT_MOST = select(func.count()).select_from(
    _SOURCE_READINGS.limit(bindparam("at_most")).subquery()
)


def reading_count(source: DataSource, at_most: int | None = None) -> int:
    """Return how many readings source has, counting no further than at_most when given.

    The bounded count costs the same however long the history is; a source page gives the
    full count, counted once per change (remembered_reading_count).
    """
    if at_most is None:
        return db.session.scalar(_COUNT_ALL, {"source_id": source.id}) or 0
    return db.session.scalar(_COUNT_AT_MOST, {"source_id": source.id, "at_most": at_most}) or 0


# Every write of a reading, by any path (pages, API, sync, import, restore), takes the next
# change number of its source's owner (homelog.changes): while that number stays the same, so
# does the count of the owner's sources' readings.
def change_number_of(owner_id) -> ColumnElement:
    """Return SQL for the change number of owner_id (a value, bind parameter or column)."""
    return select(SyncCounter.value).where(SyncCounter.owner_id == owner_id).scalar_subquery()


_CHANGE_NUMBER = select(change_number_of(bindparam("owner_id")))
_REMEMBERED_COUNTS = 4096
_counts: dict[tuple, tuple[int, int]] = {}  # (source id, created_at, at_most) -> (number, count)


def remembered_reading_count(
    source: DataSource,
    at_most: int | None = None,
    number: int | None = None,
) -> int:
    """Return reading_count(source, at_most), counted again only after the owner's next change.

    A source page asks on every view, and counting even 10,001 index entries cost
    PostgreSQL more than the rest of the page's queries (bench/README.md); the owner's
    change number is one primary-key lookup (number: the caller read it already, after
    the last write it made). Kept per process; a change made behind the app's back (SQL by
    hand) shows after the owner's next change.
    """
    if number is None:
        number = db.session.scalar(_CHANGE_NUMBER, {"owner_id": source.owner_id}) or 0
    # created_at tells a source from an earlier one that had its id (a database recreated).
    key = (source.id, source.created_at, at_most)
    remembered = _counts.get(key)
    if remembered is not None and remembered[0] == number:
        return remembered[1]
    # The number was read first: the count includes at least the changes up to it.
    count = reading_count(source, at_most)
    if len(_counts) >= _REMEMBERED_COUNTS:
        _counts.clear()
    _counts[key] = (number, count)
    return count


def _clean_text(value: object) -> str:
    """Return value as stripped text (None is empty)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError
    return value.strip()


def has_control_characters(text: str) -> bool:
    """Return True when text holds a control, format or line/paragraph separator character."""
    return any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in text)


def _check_name(value: object, errors: dict[str, list[str]]) -> str:
    try:
        name = _clean_text(value)
    except TypeError:
        errors.setdefault("name", []).append(_("Enter the name as text."))
        return ""
    if not name:
        errors.setdefault("name", []).append(_("Enter a name."))
    elif len(name) > MAX_NAME_LENGTH:
        errors.setdefault("name", []).append(
            _("Use at most %(count)s characters.", count=MAX_NAME_LENGTH)
        )
    elif has_control_characters(name):
        errors.setdefault("name", []).append(_("Use letters, digits and punctuation only."))
    return name


def _check_description(value: object, errors: dict[str, list[str]]) -> str:
    try:
        text = _clean_text(value)
    except TypeError:
        errors.setdefault("description", []).append(_("Enter the description as text."))
        return ""
    if len(text) > MAX_DESCRIPTION_LENGTH:
        errors.setdefault("description", []).append(
            _("Use at most %(count)s characters.", count=MAX_DESCRIPTION_LENGTH)
        )
    return text


def _check_kind(value: object, errors: dict[str, list[str]]) -> str:
    if value not in KINDS:
        errors.setdefault("kind", []).append(_("Choose meter or sensor."))
        return ""
    return str(value)


def clean_metrics(
    metrics: Iterable[Sequence[object]] | Mapping[str, object] | None,
    errors: dict[str, list[str]] | None = None,
) -> list[list[str]]:
    """Validate metrics given as (name, unit) pairs (or a {name: unit} mapping).

    Returns the cleaned [[name, unit], ...] list. Problems are added to errors (when given)
    or raised as ValidationFailed.
    """
    own_errors = errors is None
    errors = {} if errors is None else errors
    pairs = _metric_pairs(metrics)
    cleaned: list[list[str]] = []
    if pairs is None:
        errors.setdefault("metrics", []).append(_("Give the metrics as a list of names and units."))
    elif not pairs:
        errors.setdefault("metrics", []).append(_("Add at least one metric."))
    elif len(pairs) > MAX_METRICS:
        errors.setdefault("metrics", []).append(
            _("Use at most %(limit)s metrics.", limit=MAX_METRICS)
        )
    else:
        seen: dict[str, int] = {}
        for index, pair in enumerate(pairs):
            metric = _check_metric(index, pair, seen, errors)
            if metric is not None:
                cleaned.append(metric)
        if any(key.startswith("metrics.") for key in errors):
            errors.setdefault("metrics", []).append(_("Check the metrics marked below."))
    if own_errors and errors:
        raise ValidationFailed(errors)
    return cleaned


def _metric_pairs(
    metrics: Iterable[Sequence[object]] | Mapping[str, object] | None,
) -> list | None:
    """Return metrics as a list of pairs, or None when they are no list or mapping."""
    if isinstance(metrics, Mapping):
        return list(metrics.items())
    try:
        return list(metrics or [])
    except TypeError:
        return None


def _check_metric(
    index: int, pair: object, seen: dict[str, int], errors: dict[str, list[str]]
) -> list[str] | None:
    """Return metric index as [name, unit]; its problems go into errors (None: no pair)."""
    try:
        raw_name, raw_unit = pair
        name, unit = _clean_text(raw_name), _clean_text(raw_unit)
    except (TypeError, ValueError):
        errors.setdefault("metrics", []).append(_("Give each metric as a name and a unit (text)."))
        return None
    name_errors: list[str] = []
    if not name:
        name_errors.append(_("Enter a metric name."))
    elif len(name) > MAX_METRIC_NAME_LENGTH:
        name_errors.append(_("Use at most %(count)s characters.", count=MAX_METRIC_NAME_LENGTH))
    elif has_control_characters(name):
        name_errors.append(_("Use letters, digits and punctuation only."))
    elif name.casefold() in seen:
        name_errors.append(_("“%(name)s” is already a metric of this source.", name=name))
    unit_errors: list[str] = []
    if len(unit) > MAX_UNIT_LENGTH:
        unit_errors.append(_("Use at most %(count)s characters.", count=MAX_UNIT_LENGTH))
    elif has_control_characters(unit):
        unit_errors.append(_("Use letters, digits and punctuation only."))
    if name_errors:
        errors.setdefault(f"metrics.{index}.name", []).extend(name_errors)
    if unit_errors:
        errors.setdefault(f"metrics.{index}.unit", []).extend(unit_errors)
    if name and not name_errors:
        seen[name.casefold()] = index
    return [name, unit]


def clean_source(
    name: object, description: object, kind: object, metrics: object
) -> tuple[str, str, str, list[list[str]]]:
    """Return a source's (name, description, kind, metrics) checked as typed in.

    Raises:
        ValidationFailed: keys "name", "description", "kind", "metrics[...]".
    """
    errors: dict[str, list[str]] = {}
    clean_name = _check_name(name, errors)
    clean_description = _check_description(description, errors)
    clean_kind = _check_kind(kind, errors)
    clean_metric_list = clean_metrics(metrics, errors)
    if errors:
        raise ValidationFailed(errors)
    return clean_name, clean_description, clean_kind, clean_metric_list


def create_source(
    owner: User,
    name: str,
    description: str = "",
    kind: str = "meter",
    metrics: Iterable[Sequence[str]] | Mapping[str, str] = (),
) -> DataSource:
    """Create and commit a source owned by owner.

    Raises:
        ValidationFailed: a field breaks a rule (see the module docstring for the keys).
    """
    clean_name, clean_description, clean_kind, clean_metric_list = clean_source(
        name, description, kind, metrics
    )
    source = DataSource(
        owner_id=owner.id,
        name=clean_name,
        description=clean_description,
        kind=clean_kind,
        metric_list=clean_metric_list,
    )
    db.session.add(source)
    db.session.commit()
    return source


def metric_value_counts(source: DataSource, names: Iterable[str]) -> dict[str, int]:
    """Return how many of source's readings have a value for each of names."""
    wanted = {name: 0 for name in names}
    if not wanted:
        return wanted
    # Scanned in Python: JSON key tests differ between SQLite and PostgreSQL, and a metric
    # name may hold any character (quotes too), which SQLite JSON paths do not escape.
    rows = db.session.execute(
        select(Reading.values).where(Reading.data_source_id == source.id)
    ).scalars()
    for values in rows:
        for name in wanted.keys() & (values or {}).keys():
            wanted[name] += 1
    return wanted


def update_source(
    source: DataSource,
    *,
    name: str | None = None,
    description: str | None = None,
    kind: str | None = None,
    metrics: Iterable[Sequence[str]] | Mapping[str, str] | None = None,
    renames: Mapping[str, str] | None = None,
    confirm_remove: bool = False,
) -> DataSource:
    """Change source and commit; arguments left as None keep their current value.

    Args:
        metrics: the complete new list of (name, unit) pairs, in display order.
        renames: {old name: new name} for metrics that were renamed; their values in every
            reading move to the new name. Old metrics neither kept nor renamed are removed.
        confirm_remove: must be True to remove a metric that readings have values for;
            those values are then deleted (and readings left without any value too).

    Raises:
        ValidationFailed: a field breaks a rule, or a metric with readings would be removed
            without confirm_remove (key "metrics", saying how many readings have values).
    """
    errors: dict[str, list[str]] = {}
    clean_name = _check_name(name, errors) if name is not None else source.name
    clean_description = (
        _check_description(description, errors) if description is not None else source.description
    )
    clean_kind = _check_kind(kind, errors) if kind is not None else source.kind
    new_list: list[list[str]] | None = None
    if metrics is not None:
        new_list = clean_metrics(metrics, errors)
    if errors:
        raise ValidationFailed(errors)

    rename_map: dict[str, str] = {}
    removed: list[str] = []
    if new_list is not None:
        new_names = [metric_name for metric_name, _ in new_list]
        rename_map = _check_renames(source.metric_names, new_names, dict(renames or {}))
        removed = [
            old for old in source.metric_names if old not in rename_map and old not in new_names
        ]
        if removed and not confirm_remove:
            _refuse_losing_values(source, removed)

    source.name = clean_name
    source.description = clean_description
    source.kind = clean_kind
    if new_list is not None:
        if rename_map or removed:
            _rewrite_values(source, rename_map, removed)
            # Tariffs, meter swaps and register sizes follow their metric too.
            rename_metrics(source, rename_map, removed)
        source.metric_list = new_list
    db.session.commit()
    return source


def _check_renames(
    old_names: Sequence[str], new_names: Sequence[str], renames: Mapping[str, str]
) -> dict[str, str]:
    """Return {old name: new name} of the metrics renamed.

    Raises:
        ValidationFailed: key "metrics": a rename names a metric that is not there, two
            metrics are renamed to one, or to the name of a metric that stays.
    """
    messages: list[str] = []
    rename_map: dict[str, str] = {}
    for old, new in renames.items():
        if old not in old_names:
            messages.append(_("There is no metric “%(name)s” to rename.", name=old))
        elif new not in new_names:
            messages.append(
                _(
                    "“%(old)s” is renamed to “%(new)s”, which is not in the new metrics.",
                    old=old,
                    new=new,
                )
            )
        elif old != new:
            rename_map[old] = new
    targets = list(rename_map.values())
    if len(set(targets)) != len(targets):
        messages.append(_("Two metrics cannot be renamed to one."))
    for new in targets:
        if new in old_names and new not in rename_map:
            messages.append(_("“%(name)s” already exists; rename or remove it first.", name=new))
    if messages:
        raise ValidationFailed({"metrics": messages})
    return rename_map


def _refuse_losing_values(source: DataSource, removed: Sequence[str]) -> None:
    """Refuse to remove metrics that readings have values for, unless confirmed.

    Raises:
        ValidationFailed: keys "metrics" (how many readings have values) and "confirm_remove".
    """
    counts = {n: c for n, c in metric_value_counts(source, removed).items() if c}
    if not counts:
        return
    messages = [
        ngettext(
            "%(num)s reading has a value for “%(metric)s”.",
            "%(num)s readings have a value for “%(metric)s”.",
            count,
            metric=metric,
        )
        for metric, count in counts.items()
    ]
    messages.append(_("Removing the metric deletes those values. Confirm to remove it anyway."))
    raise ValidationFailed(
        {"metrics": messages, "confirm_remove": [_("Confirm the removal.")]},
        detail=_("Removing a metric would delete values of readings."),
    )


def _rewrite_values(source: DataSource, rename_map: dict[str, str], removed: list[str]) -> None:
    """Move renamed metrics' values to their new keys and drop removed ones, in every reading."""
    readings = db.session.scalars(
        select(Reading).where(Reading.data_source_id == source.id).execution_options(yield_per=500)
    )
    empty: list[Reading] = []
    for reading in readings:
        values = reading.values or {}
        if not (values.keys() & (set(rename_map) | set(removed))):
            continue
        rewritten = {
            rename_map.get(key, key): value for key, value in values.items() if key not in removed
        }
        # A new dict: in-place changes of a JSON column are not tracked.
        reading.values = rewritten
        if not rewritten:
            empty.append(reading)
    for reading in empty:
        db.session.delete(reading)


def delete_source(source: DataSource) -> int:
    """Delete source and its readings; commit and return how many readings went with it."""
    count = reading_count(source)
    # The database cascades readings (ON DELETE CASCADE); SQLite enforces it via the pragma.
    db.session.delete(source)
    db.session.commit()
    return count


def latest_readings(sources: Sequence[DataSource]) -> dict[int, Reading]:
    """Return the newest reading of each source, keyed by source id (sources without none)."""
    ids = [source.id for source in sources]
    if not ids:
        return {}
    ranked = (
        select(
            Reading.id,
            func.row_number()
            .over(
                partition_by=Reading.data_source_id,
                order_by=(Reading.timestamp.desc(), Reading.id.desc()),
            )
            .label("rank"),
        )
        .where(Reading.data_source_id.in_(ids))
        .subquery()
    )
    rows = db.session.scalars(
        select(Reading).join(ranked, ranked.c.id == Reading.id).where(ranked.c.rank == 1)
    )
    return {reading.data_source_id: reading for reading in rows}
