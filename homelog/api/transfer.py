"""API routes: import a source's readings from CSV (with a per-line report) and export them."""

from __future__ import annotations

from flask import Response, request, stream_with_context

from homelog import export, importer
from homelog.api.core import AUTH_ERRORS, api_user, aware, dump, error_responses, operation
from homelog.api.schemas import Query, Timestamp
from homelog.api.sources import source_or_404
from homelog.api.transfer_schemas import CSV_BODY, ImportQuery, ImportReportOut
from homelog.web import json_error

TAGS = ("readings",)
CSV_TYPES = {"text/csv", "text/plain", "application/csv", "text/tab-separated-values"}


class ExportQuery(Query):
    """The range to export: `start` inclusive, `end` exclusive; both optional."""

    start: Timestamp | None = None
    end: Timestamp | None = None


def _report(report: importer.ImportReport) -> dict:
    return {
        "dry_run": report.dry_run,
        "created": report.created,
        "to_import": report.to_import,
        "lines": report.lines,
        "skipped": report.skipped,
        "already_stored": report.already_stored,
        "problems_left_out": report.problems_left_out,
        "separator": report.separator,
        "decimal": report.decimal,
        "date_format": report.date_format,
        "date_order": report.date_order,
        "has_header": report.has_header,
        "columns": [
            {
                "index": c.index,
                "header": c.header,
                "target": "note" if c.target == importer.NOTE else c.target,
            }
            for c in report.columns
        ],
        "notes": report.notes,
        "problems": [
            {"line": p.line, "code": p.code, "reason": p.reason, "skipped": p.skipped}
            for p in report.problems
        ],
    }


@operation(
    "/sources/<int:source_id>/import",
    ["POST"],
    tags=TAGS,
    query=ImportQuery,
    raw_body=CSV_BODY,
    responses={
        200: (
            ImportReportOut,
            "Imported (or, with `dry_run`, previewed): the report "
            "names the lines left out and why (the first 1,000; the rest are counted). "
            "Importing the same file again adds nothing (its lines are reported as "
            "duplicates and counted in `already_stored`).",
        ),
        **error_responses(*AUTH_ERRORS, 403, 404, 413, 415, 422),
    },
)
def import_readings(source_id: int, query: ImportQuery):
    """Import readings from a CSV body: all valid lines in one transaction.

    First column the date/time (ISO 8601, `DD.MM.YYYY HH:MM` or `MM/DD/YYYY HH:MM`; without an
    offset in the source's timezone), then one column per metric, matched by header name
    (units like `import (kWh)` tolerated) or given in `columns`. Separator `,` `;` or tab;
    decimal point or comma. A file that cannot be read at all (over 500,000 lines, NUL
    characters, a field over 131,072 characters, no column for any metric) answers 422.
    """
    source = source_or_404(source_id)
    if request.mimetype not in CSV_TYPES:
        return json_error(415, "Send the file as text/csv.")
    request.max_content_length = importer.MAX_IMPORT_BYTES
    text = importer.decode(request.get_data(cache=False))
    mapping = {}
    if query.columns is not None:
        mapping = importer.parse_mapping(
            {
                str(index): name.strip()
                for index, name in enumerate(query.columns.split(","), start=1)
            },
            source.metric_names,
        )
    options = importer.ImportOptions(
        mapping=mapping, date_order=query.date_order, accept_lower=query.accept_lower
    )
    if query.dry_run:
        report = importer.preview(source, text, options)
    else:
        report = importer.import_csv(source, api_user(), text, options)
    if not report.ok:
        return json_error(422, "The file cannot be imported.", {"file": report.errors})
    return dump(ImportReportOut, _report(report))


@operation(
    "/sources/<int:source_id>/export.csv",
    tags=TAGS,
    query=ExportQuery,
    responses={
        200: (None, "text/csv in the layout the import reads, oldest first, streamed."),
        **error_responses(*AUTH_ERRORS, 404, 422),
    },
)
def export_readings(source_id: int, query: ExportQuery):
    """Export a source's readings as CSV (all, or `start` to `end`)."""
    source = source_or_404(source_id)
    user = api_user()
    start, end = aware(query.start, user, "start"), aware(query.end, user, "end")
    response = Response(
        stream_with_context(export.iter_csv(source, start, end)), mimetype="text/csv"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename(source)}"'
    return response
