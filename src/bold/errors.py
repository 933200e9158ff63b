"""One base error for everything BOLD refuses or cannot do, with the few kinds a face needs to know.

A stage raises its own subclass (``IngestError``, ``ProjectError``...) so the message says where it came
from; the ``kind`` says what it means, and each face maps kinds once: the command line to exit codes,
the web application to HTTP statuses. Anything that is not a ``BoldError`` is a bug, shown as one line
with the hint to report it, never as a traceback.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    INVALID = "invalid"
    NOT_FOUND = "not found"
    REFUSED = "refused"
    CONFLICT = "conflict"


KIND_MEANING = {
    Kind.INVALID: "the input is wrong: a bad file, value or option",
    Kind.NOT_FOUND: "no such workspace, project, output, person, study or file",
    Kind.REFUSED: "not signed in, or the person may not do this",
    Kind.CONFLICT: "not possible in the current state: already exists, not approved, closed, busy",
}
EXIT_CODES = {Kind.INVALID: 2, Kind.NOT_FOUND: 3, Kind.REFUSED: 4, Kind.CONFLICT: 5}
HTTP_STATUSES = {Kind.INVALID: 422, Kind.NOT_FOUND: 404, Kind.REFUSED: 403, Kind.CONFLICT: 409}


class BoldError(Exception):
    """Something BOLD will not or cannot do; the message is for the person, one line."""

    kind: Kind = Kind.INVALID

    def __init__(self, message: str, *, kind: Kind | None = None):
        super().__init__(message)
        if kind is not None:
            self.kind = kind


class Invalid(BoldError):
    kind = Kind.INVALID


class NotFound(BoldError):
    kind = Kind.NOT_FOUND


class Refused(BoldError):
    kind = Kind.REFUSED


class Conflict(BoldError):
    kind = Kind.CONFLICT
