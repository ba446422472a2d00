"""CSV import of readings: parse, preview every problem line, then store all valid rows at once.

Free of request objects: the source page, the JSON API and the CLI call the same functions.

The layout a file may have:
- the first column is the date and time; every further column one metric (matched to the
  source's metric names case-insensitively, units in headers like "import (kWh)" tolerated)
  or the reading's note (a column headed "note"); columns can be mapped by hand instead;
- separator `,` `;` or tab (sniffed), decimal point or comma (decided for the whole file);
- dates as ISO 8601 (an offset is honoured), `DD.MM.YYYY HH:MM`, or `MM/DD/YYYY HH:MM`
  (`DD/MM/YYYY` when the file shows that order; the whole file decides, and the report says
  which order was taken); two-digit years too. A time without offset is in the source's
  timezone.

The text is never split into a list of lines: it is read line by line, once to count the
lines (stopping at MAX_ROWS) and decide the decimal mark and date order, once to parse them.

`preview` reports what would be imported and each problem line with its number and reason;
`import_csv` does the same and stores every valid row in one transaction (all or nothing),
with one bulk INSERT and its change-feed entries. Duplicates of stored readings (same source,
time and values) are recognised, so importing a file twice adds nothing the second time.

The package, in the order a file goes through it: csvfile (text, lines, layout), cells (one
date or number), columns (which column holds what, remembered per layout), parsing (survey
and lines, no database), checking (against stored readings; preview), storing (import_csv),
uploads (files waiting for confirmation), report (what a preview and an import say).
"""

from homelog.importer.checking import preview
from homelog.importer.columns import NOTE, NOTE_HEADERS, match_column, parse_mapping
from homelog.importer.csvfile import MAX_IMPORT_BYTES, Layout, check_text, decode, read_layout
from homelog.importer.parsing import MAX_ROWS, Parsed, parse
from homelog.importer.report import (
    DATE_ORDERS,
    MAX_LISTED_PROBLEMS,
    Column,
    ImportOptions,
    ImportReport,
    Problem,
    Row,
)
from homelog.importer.storing import import_csv
from homelog.importer.uploads import (
    UPLOAD_MAX_AGE,
    UPLOAD_QUOTA,
    discard_upload,
    get_upload,
    save_upload,
    uploads_size,
)

__all__ = [
    "DATE_ORDERS",
    "MAX_IMPORT_BYTES",
    "MAX_LISTED_PROBLEMS",
    "MAX_ROWS",
    "NOTE",
    "NOTE_HEADERS",
    "UPLOAD_MAX_AGE",
    "UPLOAD_QUOTA",
    "Column",
    "ImportOptions",
    "ImportReport",
    "Layout",
    "Parsed",
    "Problem",
    "Row",
    "check_text",
    "decode",
    "discard_upload",
    "get_upload",
    "import_csv",
    "match_column",
    "parse",
    "parse_mapping",
    "preview",
    "read_layout",
    "save_upload",
    "uploads_size",
]
