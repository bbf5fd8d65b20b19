"""A returned journal batch is a question to the broker (rabbitmq/journal_check.py):
copying pauses only when the stream does not exist; a stream that is not up yet (a
restarted node) or no answer gets the batch again, nothing dropped."""

from __future__ import annotations

from types import SimpleNamespace

from rabbitmq.journal_check import MAX_RETRIES, JournalCheck


class Channel:
    """Answers a passive declaration as the broker would: ok, or closes with `close`."""

    def __init__(self, close: SimpleNamespace | None) -> None:
        self.close_reason = close
        self.is_open = True
        self.on_close = None

    def add_on_close_callback(self, fn) -> None:
        self.on_close = fn

    def queue_declare(self, queue, passive, callback) -> None:
        assert passive and queue == "mesobus.journal"
        if self.close_reason is None:
            callback(object())
        else:
            self.is_open = False
            self.on_close(self, self.close_reason)

    def close(self) -> None:
        self.is_open = False
        self.on_close(self, SimpleNamespace(reply_code=200, reply_text="Normal shutdown"))


class Connection:
    def __init__(self, close: SimpleNamespace | None) -> None:
        self.close = close
        self.is_open = True

    def channel(self, on_open_callback) -> None:
        on_open_callback(Channel(self.close))


def make(close: SimpleNamespace | None, connected: bool = True):
    sent, paused, later = [], [], []
    check = JournalCheck(sent.append, lambda: paused.append(True), lambda delay, fn: later.append(fn))
    check.connection = Connection(close) if connected else None
    return check, sent, paused, later


def run(later: list) -> None:
    for fn in later:
        fn()
    later.clear()


def test_no_such_stream_pauses_copying() -> None:
    absent = "NOT_FOUND - no queue 'mesobus.journal' in vhost '/'"
    check, sent, paused, later = make(SimpleNamespace(reply_code=404, reply_text=absent))
    check.returned(b"batch")
    assert paused == [True] and later == [] and sent == []


def test_a_stream_not_up_after_a_restart_gets_the_batch_again() -> None:
    down = "NOT_FOUND - home node 'n@h' of durable queue 'mesobus.journal' in vhost '/' is down or inaccessible"
    check, sent, paused, later = make(SimpleNamespace(reply_code=404, reply_text=down))
    check.returned(b"batch")
    run(later)
    assert sent == [b"batch"] and paused == []


def test_a_stream_that_is_there_or_no_connection_gets_the_batch_again() -> None:
    for check, sent, paused, later in (make(None), make(None, connected=False)):
        check.returned(b"a")
        check.returned(b"b")
        run(later)
        assert sent == [b"a", b"b"] and paused == []


def test_returns_without_end_pause_copying_in_the_end() -> None:
    check, sent, paused, later = make(None)
    for _ in range(MAX_RETRIES + 1):
        check.returned(b"batch")
    assert paused == [True] and len(later) == MAX_RETRIES
