"""What goes wrong when reading a journal: one error type per source, each message one
line that names the source and the problem (the CLI prints it and exits 1).

>>> str(JournalFileError("journal file j.msgpack is empty: it holds no records"))
'journal file j.msgpack is empty: it holds no records'
>>> issubclass(JournalStreamError, JournalError) and issubclass(JournalError, ValueError)
True
"""


class JournalError(ValueError):
    """A journal that cannot be read: names where it was read from and what is wrong."""


class JournalFileError(JournalError):
    """A file that is missing, empty, not a journal, or damaged (with the byte offset)."""


class JournalStreamError(JournalError):
    """The broker's stream cannot be read: the broker is unreachable, refused the login,
    has no journal stream, or went away while it was read."""
