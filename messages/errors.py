"""The two error types of the catalogue: one for wire data, one for resource text."""

from __future__ import annotations


class MessageError(ValueError):
    """A message that cannot be decoded or fails validation.

    >>> str(MessageError("bad type", message="Decline", field="offer_ids"))
    'Decline.offer_ids: bad type'
    """

    def __init__(self, reason: str, *, message: str = "", field: str = "") -> None:
        self.reason = reason
        self.message = message
        self.field = field
        where = ".".join(part for part in (message, field) if part)
        super().__init__(f"{where}: {reason}" if where else reason)


class ResourceError(ValueError):
    """A resource text or value that does not make sense, naming the bad part."""
