"""Which column holds which metric (or the note): by hand, by its heading, or by position.

Columns chosen by hand are remembered per source and file layout (ImportLayout), and offered
again for the next file with the same headings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sqlalchemy import select

from homelog.extensions import db
from homelog.i18n import _
from homelog.importer.cells import looks_numeric
from homelog.importer.csvfile import Layout, Unreadable, header_key, read_layout
from homelog.importer.report import DATE_ORDERS, Column, ImportOptions, ImportReport
from homelog.models import DataSource, ImportLayout, utcnow

#: Column target of the reading's note.
NOTE = "__note__"
NOTE_HEADERS = ("note", "notes", "reading note", "comment")

_UNIT_SUFFIX = re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*$")


def match_column(header: str, metrics: Mapping[str, str]) -> str | None:
    """Return the metric (or NOTE) a column header names, or None."""
    key = header_key(header)
    if not key:
        return None
    bare = header_key(_UNIT_SUFFIX.sub("", header))
    for name, unit in metrics.items():
        folded = header_key(name)
        unit_key = header_key(unit)
        if key == folded or bare == folded:
            return name
        if unit_key and key in (f"{folded} {unit_key}", f"{folded} in {unit_key}"):
            return name
    if key in NOTE_HEADERS or bare in NOTE_HEADERS:
        return NOTE
    return None


def _column_target(
    index: int, title: str, layout: Layout, metrics: Mapping[str, str], options: ImportOptions
) -> str | None:
    """Return what column index holds: the user's mapping, else the header, else the order."""
    if index in options.mapping:
        chosen = options.mapping[index]
        return chosen if chosen in metrics or chosen == NOTE else None
    if layout.has_header:
        return match_column(title, metrics)
    names = list(metrics)
    return names[index - 1] if index - 1 < len(names) else None


def _only_number_column(layout: Layout, columns: list[Column]) -> Column | None:
    """Return the one unassigned column whose first cells are all numbers, if there is one."""
    numeric = []
    for column in columns:
        if column.target is not None:
            continue
        cells = [
            row[column.index].strip()
            for row in layout.sample
            if column.index < len(row) and row[column.index].strip()
        ]
        if cells and all(looks_numeric(cell) for cell in cells):
            numeric.append(column)
    return numeric[0] if len(numeric) == 1 else None


def assign_columns(
    layout: Layout, metrics: Mapping[str, str], options: ImportOptions, report: ImportReport
) -> None:
    """Decide what each column holds and say so (or what is wrong) in the report."""
    for index in range(1, layout.width):
        title = layout.header[index].strip() if index < len(layout.header) else ""
        target = _column_target(index, title, layout, metrics, options)
        report.columns.append(
            Column(index, title or _("column %(number)s", number=index + 1), target)
        )
    if len(metrics) == 1 and not options.mapping and not value_columns(report, metrics):
        _take_the_only_number_column(layout, metrics, report)
    _refuse_shared_targets(report)
    if not value_columns(report, metrics):
        report.errors.append(
            _(
                "No column matches a metric of this source (%(metrics)s). "
                "Choose which column holds which metric.",
                metrics=", ".join(_("“%(name)s”", name=name) for name in metrics),
            )
        )
    if not layout.has_header:
        report.notes.append(
            _(
                "The file has no header line: columns are taken in the order of the source's "
                "metrics."
            )
        )
    ignored = [c.header for c in report.columns if c.target is None]
    if ignored and value_columns(report, metrics):
        report.notes.append(
            _(
                "Ignored columns: %(columns)s.",
                columns=", ".join(_("“%(name)s”", name=h) for h in ignored),
            )
        )


def _take_the_only_number_column(
    layout: Layout, metrics: Mapping[str, str], report: ImportReport
) -> None:
    """One metric and one column of numbers: no need to ask which is which."""
    only = _only_number_column(layout, report.columns)
    if only is not None:
        only.target = next(iter(metrics))
        report.notes.append(
            _(
                "Column “%(column)s” is read as “%(metric)s”, "
                "the source's only metric (its one column of numbers).",
                column=only.header,
                metric=only.target,
            )
        )


def _refuse_shared_targets(report: ImportReport) -> None:
    """Report every two columns that hold the same metric (or the notes)."""
    taken: dict[str, Column] = {}
    for column in report.columns:
        if column.target is None:
            continue
        if column.target in taken:
            names = {"first": taken[column.target].header, "second": column.header}
            report.errors.append(
                _("Columns “%(first)s” and “%(second)s” both hold notes; choose one.", **names)
                if column.target == NOTE
                else _(
                    "Columns “%(first)s” and “%(second)s” both hold “%(metric)s”; choose one.",
                    metric=column.target,
                    **names,
                )
            )
        taken[column.target] = column


def value_columns(report: ImportReport, metrics: Mapping[str, str]) -> list[tuple[int, str]]:
    """Return (column index, metric) of the columns that hold a metric."""
    return [(c.index, c.target) for c in report.columns if c.target in metrics]


def parse_mapping(pairs: Mapping[str, str], metrics: Sequence[str]) -> dict[int, str]:
    """Return a column mapping from {"1": "import", "2": "note", "3": ""} form fields.

    Values that are neither a metric nor "note" mean "ignore the column".
    """
    mapping: dict[int, str] = {}
    for key, value in pairs.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            continue
        if not 0 < index < 1000:
            continue
        if value in metrics:
            mapping[index] = value
        elif value in ("note", NOTE):
            mapping[index] = NOTE
        else:
            mapping[index] = ""
    return mapping


def recalled(source: DataSource, text: str, options: ImportOptions) -> tuple[ImportOptions, bool]:
    """Return options with the columns chosen for the last file of text's layout, if any.

    Only when no column was mapped in options: a mapping sent with the request wins.
    """
    if options.mapping:
        return options, False
    try:
        key = read_layout(text).key
    except Unreadable:
        return options, False
    layout = db.session.scalar(
        select(ImportLayout).where(
            ImportLayout.data_source_id == source.id, ImportLayout.key == key
        )
    )
    if layout is None:
        return options, False
    mapping = parse_mapping(layout.mapping or {}, source.metric_names)
    order = options.date_order
    if order == "auto" and layout.date_order in DATE_ORDERS:
        order = layout.date_order
    return ImportOptions(mapping=mapping, date_order=order, accept_lower=options.accept_lower), True


def remember(source: DataSource, text: str, options: ImportOptions, report: ImportReport) -> None:
    """Keep the columns chosen by hand for this source and the file's layout (not committed).

    Columns the headings match by themselves need no memory: a kept choice is then dropped.
    """
    layout = read_layout(text)
    targets = [c.target for c in report.columns]
    found = ImportReport()
    assign_columns(layout, source.metrics, ImportOptions(), found)
    by_hand = targets != [c.target for c in found.columns] or options.date_order != "auto"
    kept = db.session.scalar(
        select(ImportLayout).where(
            ImportLayout.data_source_id == source.id, ImportLayout.key == layout.key
        )
    )
    if not by_hand:
        if kept is not None:
            db.session.delete(kept)
        return
    if kept is None:
        kept = ImportLayout(data_source_id=source.id, key=layout.key)
        db.session.add(kept)
    kept.mapping = {
        str(c.index): "note" if c.target == NOTE else (c.target or "") for c in report.columns
    }
    kept.date_order = options.date_order if options.date_order != "auto" else None
    kept.updated_at = utcnow()
