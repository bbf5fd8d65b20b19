"""The leader fence: a lock lost is an error, a lock given up on purpose (a master
stopped by Ctrl-C / SIGTERM) is not."""

from __future__ import annotations

import logging

from rabbitmq.leader import LeaderFence


def _held() -> LeaderFence:
    fence = LeaderFence("master on test")
    fence.held.set()
    return fence


def test_a_lost_lock_is_logged_as_an_error(caplog) -> None:
    fence = _held()
    with caplog.at_level(logging.INFO, logger="rabbitmq.leader"):
        fence.connection_lost("ConnectionResetError")
    assert fence.lost.is_set()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "mesobus: lost the leader lock (ConnectionResetError)")]


def test_a_lock_given_up_on_stop_is_no_error(caplog) -> None:
    fence = _held()
    fence.releasing = True
    with caplog.at_level(logging.INFO, logger="rabbitmq.leader"):
        fence.connection_lost("ConnectionClosedByClient: (200, 'mesobus transport closed')")
    assert fence.lost.is_set()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.INFO, "mesobus: gave up the leader lock")]
