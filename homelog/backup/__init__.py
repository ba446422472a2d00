"""Whole-account backup as one JSON file, and its restore into an empty account.

The file holds the account's settings, homes (with their members), sources with their usage
settings, reading reminders, tariffs and meter swaps, and every reading. It is one JSON
document, written so that each reading sits on a line of its own after `"readings": [`:

    {"format": "homelog-backup", "version": 1, ..., "sources": [...],
    "readings": [
    {"id": "...", "source": 3, "timestamp": "...", "values": {...}, ...},
    ...
    ]}

so both ends stream: the backup is written from a server-side cursor in chunks, and the
restore parses the file incrementally (any JSON layout, as long as the readings come after
the homes and sources), inserting readings in batches. A restore holds a bounded amount of
memory whatever the file: limits on nesting depth, on the size of one value, on what comes
before the readings and on each reading (homelog.backup.reading). The restore is one
transaction: all or nothing. Ids are not kept for homes and sources (new rows get new ids);
readings keep theirs unless this server already has the id (a copy of the account), where
they get new ones. A restore trusts nothing in the file: everything restored belongs to the
restoring account (its readings and swaps are recorded by it, whoever recorded them before),
home members listed in the file are skipped and counted (the owner invites them again), and
every value is checked by the same rules as one typed in. Free of request objects and
database-agnostic: a backup from PostgreSQL restores on SQLite and back.

The package: writing (iter_backup, filename), reading (the file parsed in bounded chunks),
restoring (restore, is_empty).
"""

from homelog.backup.restoring import is_empty, restore
from homelog.backup.writing import FORMAT, VERSION, filename, iter_backup

__all__ = ["FORMAT", "VERSION", "filename", "is_empty", "iter_backup", "restore"]
