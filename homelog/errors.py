"""Errors raised by domain functions; each face (pages, API, CLI) turns them into its answer."""

from __future__ import annotations

from homelog.i18n import _


class DomainError(Exception):
    """Base of the errors a domain function raises on purpose; messages are fit for users."""


class ValidationFailed(DomainError):
    """Input broke a rule. `errors` maps a field name to its messages.

    Messages may be lazy texts (homelog.i18n._l), shown in the reader's language; the JSON
    API writes them as plain strings (homelog.web.json_error), in English.
    """

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None):
        detail = _("Some values are invalid.") if detail is None else detail
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class Conflict(DomainError):
    """The request clashes with what is stored (e.g. the same id with other content)."""

    def __init__(self, detail: str, current=None):
        super().__init__(detail)
        self.detail = detail
        self.current = current
