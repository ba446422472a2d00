"""The rows of a source's readings table, as HTML.

A source page shows 25 readings, and each "Load older readings" answers 25 more. Written by a
Jinja macro, they were the largest part of both: every cell went through Jinja's attribute
lookups, calls and undefined checks. Here a row is a few format strings (what that saved:
bench/README.md).

Every value that comes from the database or from a person (metric names and units, notes,
user names) is escaped with markupsafe's `escape`, as Jinja's autoescape would; everything
else is markup written here. `sources/_reading_rows.html` (a page of rows) and
`sources/_reading_row.html` (one row, after an edit) both call `reading_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from flask import url_for
from flask_login import current_user
from markupsafe import Markup, escape

from homelog import i18n, timeutil
from homelog.access import may
from homelog.i18n import _
from homelog.web import format_number, user_name, user_zone

_PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"

_TIME = (
    '<td data-label="{label}" class="time"><time datetime="{iso}" title="{ago}">{local}</time></td>'
)
_VALUE = '<td class="num" data-label="{label}"><span class="cell">{value}{unit}{lower}</span></td>'
_EMPTY = '<span class="muted">—</span>'
_UNIT = ' <span class="unit">{}</span>'
_LOWER = ' <span class="badge warn" title="{title}">{text}</span>'
_BY = ' <small class="by muted">{}</small>'
_ACTIONS = (
    '<a class="button small" href="{edit}" hx-get="{edit}"\n'
    '       hx-target="closest tr" hx-swap="outerHTML">{edit_text}</a>\n'
    '    <a class="button small subtle" href="{delete}" hx-post="{delete}"\n'
    '       hx-target="closest tr" hx-swap="outerHTML">{delete_text}</a>'
)
_ROW = (
    '<tr id="reading-{id}" class="reading-row{classes}">\n'
    "  {time}\n"
    "  {values}\n"
    '  <td data-label="{note_label}" class="note">{note}{by}</td>\n'
    '  <td class="row-actions">\n'
    "    {actions}\n"
    "  </td>\n"
    "</tr>\n"
)


def reading_rows(source, readings: Iterable, flags: Mapping, highlight=None) -> Markup:
    """Return the <tr> of each reading of source, in the order given, for the signed-in user.

    A reading needs id, timestamp (aware), values, note and created_by_id: an ORM Reading or
    a row of reading_pages.page_of_readings(plain=True). flags maps a reading's id to the metrics
    lower than the value before ({metric: value before}); highlight is the id of the reading
    just saved. Edit and delete links appear when the user may write readings; a reading
    someone else added says who. Times are shown in the user's timezone.
    """
    can_write, me = may(source, "write"), current_user.id
    zone = user_zone()
    now = datetime.now(UTC)
    metrics = [
        (name, escape(name), _UNIT.format(escape(unit)) if unit else "")
        for name, unit in source.metric_list
    ]
    if can_write:
        # Routed once, not twice a row: each reading's id goes in place of a placeholder.
        edit = escape(
            url_for("sources.edit_reading", source_id=source.id, reading_id=_PLACEHOLDER_ID)
        )
        delete = escape(
            url_for("sources.delete_reading", source_id=source.id, reading_id=_PLACEHOLDER_ID)
        )
    # The words of the rows, in the reader's language (looked up once, not once a row).
    time_label, note_label = escape(_("Time")), escape(_("Note"))
    lower_text = escape(_("↓ lower"))
    edit_text, delete_text = escape(_("Edit")), escape(_("Delete"))
    out = []
    for reading in readings:
        reading_id = str(reading.id)
        lower = flags.get(reading.id) or {}
        classes = (" flagged" if lower else "") + (" just-saved" if highlight == reading.id else "")
        timestamp = reading.timestamp
        time = _TIME.format(
            label=time_label,
            iso=timestamp.isoformat(),
            ago=escape(i18n.time_ago(timestamp, now)),
            local=escape(
                i18n.format_local_datetime(timeutil.to_local(timestamp, zone), "%Y-%m-%d %H:%M")
            ),
        )
        values = reading.values or {}
        cells = []
        for name, label, unit in metrics:
            value = values.get(name)
            cells.append(
                _VALUE.format(
                    label=label,
                    value=_EMPTY if value is None else escape(format_number(value)),
                    unit="" if value is None else unit,
                    lower=_LOWER.format(
                        title=escape(
                            _(
                                "Lower than the reading before (%(value)s)",
                                value=format_number(lower[name]),
                            )
                        ),
                        text=lower_text,
                    )
                    if name in lower
                    else "",
                )
            )
        author = reading.created_by_id
        by = (
            _BY.format(escape(_("by %(name)s", name=user_name(author))))
            if author and author != me
            else ""
        )
        actions = ""
        if can_write:
            actions = _ACTIONS.format(
                edit=edit.replace(_PLACEHOLDER_ID, reading_id),
                delete=delete.replace(_PLACEHOLDER_ID, reading_id),
                edit_text=edit_text,
                delete_text=delete_text,
            )
        out.append(
            _ROW.format(
                id=reading_id,
                classes=classes,
                time=time,
                values="\n  ".join(cells),
                note_label=note_label,
                note=escape(reading.note or ""),
                by=by,
                actions=actions,
            )
        )
    return Markup("".join(out))
