"""The error types of the catalogue: one for wire data, one for resource text, and those of
reading its records back from a journal (a file, or the broker's stream).

The first two quote hostile input; `shown` keeps any quote short (and never recurses
deeply), so an error message stays one readable line whatever the input was."""

from __future__ import annotations

import reprlib

MAX_SHOWN = 120  # characters of a quoted value in an error message

_repr = reprlib.Repr()
_repr.maxstring = MAX_SHOWN
_repr.maxother = MAX_SHOWN
_repr.maxlevel = 2


def shown(value: object) -> str:
    """A short repr of a value from outside, for an error message.

    >>> shown("x" * 500)[:10], len(shown("x" * 500)) <= MAX_SHOWN + 2
    ("'xxxxxxxxx", True)
    >>> deep = []
    >>> for _ in range(5000): deep = [deep]
    >>> shown(deep)
    '[[[...]]]'
    """
    return _repr.repr(value)


def _cut(text: str, limit: int = 2 * MAX_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 20] + f"…({len(text)} chars)"


class MessageError(ValueError):
    """A message that cannot be decoded or fails validation.

    >>> str(MessageError("bad type", message="Decline", field="offer_ids"))
    'Decline.offer_ids: bad type'
    """

    def __init__(self, reason: str, *, message: str = "", field: str = "") -> None:
        self.reason = reason = _cut(reason)
        self.message = message = _cut(message)
        self.field = field = _cut(field)
        where = ".".join(part for part in (message, field) if part)
        super().__init__(f"{where}: {reason}" if where else reason)


class ResourceError(ValueError):
    """A resource text or value that does not make sense, naming the bad part."""


class JournalError(ValueError):
    """A journal that cannot be read: names where it was read from and what is wrong (one
    line; the CLI prints it and exits 1).

    >>> str(JournalFileError("journal file j.msgpack is empty: it holds no records"))
    'journal file j.msgpack is empty: it holds no records'
    """


class JournalFileError(JournalError):
    """A file that is missing, empty, not a journal, or damaged (with the byte offset)."""


class JournalStreamError(JournalError):
    """The broker's stream cannot be read: the broker is unreachable, refused the login,
    has no journal stream, or went away while it was read."""
