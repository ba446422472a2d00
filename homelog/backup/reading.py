"""Reading a backup file: JSON parsed in small chunks, within limits whatever its layout.

The restore (homelog.backup) reads the head of the file (format, account, homes, sources) as
values and the readings one at a time, so a restore holds a bounded amount of memory: limits
on nesting depth, on the size of one value, on what comes before the readings and on each
reading (MAX_* below, README.md "Backup and restore").
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import IO, Any

import ijson

from homelog.errors import ValidationFailed
from homelog.i18n import _, format_decimal

#: Limits of a restore file, whatever its layout (README.md, "Backup and restore").
MAX_DEPTH = 8  # objects and lists inside each other; a backup needs 5
MAX_TOKEN_BYTES = 1024 * 1024  # the longest single value (text or number) or run of spaces
MAX_HEAD_VALUES = 100_000  # values in everything but the readings
MAX_HEAD_CHARACTERS = 4 * 1024 * 1024  # text in everything but the readings
MAX_READING_VALUES = 200  # values in one reading
MAX_READING_CHARACTERS = 16 * 1024  # text in one reading
MAX_READINGS = 10_000_000
READ_SIZE = 64 * 1024
HEAD_KEYS = ("format", "version", "account", "locations", "sources")


class Unrestorable(Exception):
    """A value of the backup is wrong: the restore stops with this message."""


def refused(what: str | ReadingLabel, error: ValidationFailed) -> Unrestorable:
    """Return the message of a value refused by the validation of typed-in values."""
    messages = [m for ms in error.errors.values() for m in ms] or [error.detail]
    return Unrestorable(f"{what}: {' '.join(str(m) for m in messages)}")


class ReadingLabel:
    """“Reading 12” of the file, worded in the reader's language only when a message needs it.

    A restore reads millions of readings and words almost none of these labels.
    """

    __slots__ = ("number",)

    def __init__(self, number: int):
        self.number = number

    def __str__(self) -> str:
        return _("Reading %(number)s", number=self.number)


class _Budget:
    """How many values and characters a part of the file may still hold."""

    def __init__(self, values: int, characters: int, what: str | ReadingLabel):
        self.values, self.characters, self.what = values, characters, what

    def spend(self, value: Any) -> None:
        self.values -= 1
        if isinstance(value, str):
            self.characters -= len(value)
        if self.values < 0 or self.characters < 0:
            raise Unrestorable(_("%(what)s holds more than this server restores.", what=self.what))


def _events(stream: IO) -> Iterator[tuple[str, Any]]:
    """Yield the JSON parse events of stream (bytes or text), read in small chunks.

    Memory stays bounded whatever the layout: no value may take more than MAX_TOKEN_BYTES
    and nothing may nest deeper than MAX_DEPTH. NUL characters are refused, as in requests.
    """
    found = ijson.sendable_list()
    parser = ijson.basic_parse_coro(found, use_float=True)
    depth, quiet, first = 0, 0, True
    while True:
        chunk = stream.read(READ_SIZE)
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8", "surrogatepass")
        if first:
            chunk, first = chunk.removeprefix(codecs.BOM_UTF8), False
        try:
            if chunk:
                parser.send(chunk)
            else:
                parser.close()
        except (ijson.JSONError, ValueError, UnicodeError):
            raise Unrestorable(_("This is not a homelog backup (JSON expected).")) from None
        quiet = 0 if found else quiet + len(chunk)
        if quiet > MAX_TOKEN_BYTES:
            raise Unrestorable(
                _(
                    "A value in the file is longer than %(limit)s bytes.",
                    limit=format_decimal(MAX_TOKEN_BYTES),
                )
            )
        for event, value in found:
            if event == "start_map" or event == "start_array":
                depth += 1
                if depth > MAX_DEPTH:
                    raise Unrestorable(
                        _("The file nests values more than %(depth)s deep.", depth=MAX_DEPTH)
                    )
            elif event == "end_map" or event == "end_array":
                depth -= 1
            elif (event == "string" or event == "map_key") and "\x00" in value:
                raise Unrestorable(_("Text must not contain NUL characters."))
            yield event, value
        del found[:]
        if not chunk:
            return


def _build(events: Iterator[tuple[str, Any]], event: str, value: Any, budget: _Budget) -> Any:
    """Return the value that starts with (event, value), read from events within budget."""
    if event != "start_map" and event != "start_array":
        budget.spend(value)
        return value
    root: Any = {} if event == "start_map" else []
    # Counted here and charged to the budget at the end: this loop runs for every value.
    values, characters = 1, 0
    most_values, most_characters = budget.values, budget.characters
    stack, keys, container, key = [root], [], root, None
    for event, value in events:
        if event == "map_key":
            key = value
            characters += len(value)
            continue
        if event == "end_map" or event == "end_array":
            stack.pop()
            if not stack:
                budget.values -= values - 1
                budget.spend(root)
                budget.characters -= characters
                return root
            container, key = stack[-1], keys.pop()
            continue
        values += 1
        if event == "start_map" or event == "start_array":
            item: Any = {} if event == "start_map" else []
        else:
            item = value
            if event == "string":
                characters += len(value)
        if values > most_values or characters > most_characters:
            raise Unrestorable(
                _("%(what)s holds more than this server restores.", what=budget.what)
            )
        if type(container) is list:
            container.append(item)
        else:
            container[key] = item
        if event == "start_map" or event == "start_array":
            stack.append(item)
            keys.append(key)
            container, key = item, None
    raise Unrestorable(_("This is not a homelog backup (JSON expected)."))


def read_backup(stream: IO) -> tuple[dict, Iterator[tuple[int, Any]]]:
    """Return the backup's head (everything but the readings) and an iterator of readings.

    The readings are read as the iterator is consumed; everything the restore needs before
    them (format, account, homes, sources) must come first, as a backup writes it.
    """
    events = _events(stream)
    event, _value = next(events, ("", None))
    if event != "start_map":
        raise Unrestorable(_("This is not a homelog backup (JSON expected)."))
    head: dict = {}
    budget = _Budget(MAX_HEAD_VALUES, MAX_HEAD_CHARACTERS, _("Everything but the readings"))
    for event, key in events:
        if event == "end_map":
            for _event in events:
                pass  # trailing text is a parse error, raised here
            return head, iter(())
        budget.spend(key)
        event, value = next(events, ("", None))
        if key != "readings":
            head[key] = _build(events, event, value, budget)
            continue
        if event != "start_array":
            raise Unrestorable(_("“readings” must be a list."))
        if any(needed not in head for needed in HEAD_KEYS):
            raise Unrestorable(_("The account, homes and sources must come before the readings."))
        return head, _readings(events, budget)
    raise Unrestorable(_("This is not a homelog backup (JSON expected)."))


def _readings(events: Iterator[tuple[str, Any]], rest: _Budget) -> Iterator[tuple[int, Any]]:
    for number, (event, value) in enumerate(events, start=1):
        if event == "end_array":
            break
        if number > MAX_READINGS:
            raise Unrestorable(
                _(
                    "A backup restores at most %(limit)s readings.",
                    limit=format_decimal(MAX_READINGS),
                )
            )
        budget = _Budget(MAX_READING_VALUES, MAX_READING_CHARACTERS, ReadingLabel(number))
        yield number, _build(events, event, value, budget)
    # What follows the readings is read (within limits) but must not be needed before them.
    for event, key in events:
        if event == "end_map":
            break
        if key in HEAD_KEYS:
            raise Unrestorable(_("The account, homes and sources must come before the readings."))
        rest.spend(key)
        event, value = next(events, ("", None))
        _build(events, event, value, rest)
    for _event in events:
        pass  # trailing text is a parse error, raised here
