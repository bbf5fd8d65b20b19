"""The message journal: recording a run, reading it back, explaining and replaying it."""

from actors.journal.file import FileJournal, read_journal_file
from actors.journal.index import Incarnation, JournalIndex
from actors.journal.replay import Divergence, ReplayResult, replay

__all__ = [
    "Divergence",
    "FileJournal",
    "Incarnation",
    "JournalIndex",
    "ReplayResult",
    "read_journal_file",
    "replay",
]
