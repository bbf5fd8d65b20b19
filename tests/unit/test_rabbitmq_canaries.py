"""Canaries: one test per private attribute or method of pika and pykka that mesobus
uses (rabbitmq/ioloop.py, inbound.py, publisher.py; actors/runtime/actor.py). A pika or
pykka upgrade that moves one fails here, naming it, before anything subtler breaks.
The pins in pyproject.toml (pika>=1.4.4,<1.5; pykka>=4.5,<5) are the versions these
pass on; `?fast=0` runs the transport on pika's public API only."""

from __future__ import annotations

import inspect
import queue
import re
import subprocess
import sys
import threading

import pykka
import pytest
from pika import connection as pika_connection
from pika import frame as pika_frame
from pika.adapters import base_connection, select_connection
from pika.adapters.utils import io_services_utils


def present(owner: object, name: str, what: str) -> None:
    assert hasattr(owner, name), f"pika/pykka internal gone: {what} (used by mesobus; see this test's module)"


# --- rabbitmq/ioloop.py ------------------------------------------------------------------


def test_epoll_poller_creates_its_poller_in_create_poller() -> None:
    present(select_connection, "EPollPoller", "pika.adapters.select_connection.EPollPoller")
    present(select_connection.EPollPoller, "_create_poller", "EPollPoller._create_poller")
    assert "epoll" in inspect.getsource(select_connection.EPollPoller._create_poller), (
        "EPollPoller._create_poller no longer makes the epoll object"
    )


def test_ioloop_builds_its_poller_in_get_poller_with_process_timeouts() -> None:
    present(select_connection.IOLoop, "_get_poller", "IOLoop._get_poller")
    params = list(inspect.signature(select_connection.IOLoop._get_poller).parameters)
    assert params == ["get_wait_seconds", "process_timeouts"], f"IOLoop._get_poller's parameters changed: {params}"
    present(select_connection.IOLoop, "process_timeouts", "IOLoop.process_timeouts")


def test_base_connection_keeps_its_transport_in_underscore_transport() -> None:
    source = inspect.getsource(base_connection.BaseConnection)
    assert "self._transport = " in source, "BaseConnection._transport is gone"


@pytest.mark.parametrize(
    "name", ["_tx_buffers", "_buffer_tx_data", "_on_socket_writable", "_nbio", "_sock", "_state", "_STATE_ACTIVE"],
)
def test_async_plaintext_transport_internals(name: str) -> None:
    present(io_services_utils, "_AsyncPlaintextTransport", "io_services_utils._AsyncPlaintextTransport")
    cls = io_services_utils._AsyncPlaintextTransport
    source = inspect.getsource(io_services_utils._AsyncTransportBase)
    assigned = re.search(rf"self\.{name}\b[^=\n]*=", source)
    assert hasattr(cls, name) or assigned, f"_AsyncPlaintextTransport.{name} is gone"


def test_the_transports_write_is_an_attribute_lookup_so_an_instance_can_replace_it() -> None:
    source = inspect.getsource(base_connection.BaseConnection)
    assert "self._transport.write(" in source, "BaseConnection no longer writes through _transport.write()"


# --- rabbitmq/inbound.py -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["_on_data_available", "_process_frame"])
def test_connection_input_methods(name: str) -> None:
    present(pika_connection.Connection, name, f"pika.connection.Connection.{name}")


@pytest.mark.parametrize("name", ["_frame_buffer", "_channels", "bytes_received", "frames_received"])
def test_connection_input_attributes(name: str) -> None:
    source = inspect.getsource(pika_connection.Connection)
    assert re.search(rf"self\.{name}\b[^=\n]*=", source), f"pika.connection.Connection.{name} is gone"


def test_the_transport_calls_on_data_available_through_the_connection() -> None:
    source = inspect.getsource(base_connection.BaseConnection)
    assert "self._on_data_available" in source, "BaseConnection no longer hands input to _on_data_available"


def test_decode_frame_returns_consumed_bytes_and_the_frame() -> None:
    data = pika_frame.Heartbeat().marshal()
    consumed, value = pika_frame.decode_frame(data)
    assert consumed == len(data) and isinstance(value, pika_frame.Heartbeat), "pika.frame.decode_frame changed"


# --- rabbitmq/publisher.py ---------------------------------------------------------------


def test_connection_output_marshaled_frames() -> None:
    present(pika_connection.Connection, "_output_marshaled_frames", "Connection._output_marshaled_frames")
    params = list(inspect.signature(pika_connection.Connection._output_marshaled_frames).parameters)
    assert params == ["self", "marshaled_frames"], f"Connection._output_marshaled_frames' parameters: {params}"


# --- actors/runtime/actor.py (pykka) -----------------------------------------------------


def test_pykka_builds_the_inbox_with_create_actor_inbox() -> None:
    present(pykka.ThreadingActor, "_create_actor_inbox", "pykka.ThreadingActor._create_actor_inbox")
    from actors.runtime.actor import Actor

    class Probe(Actor):
        pass

    ref = pykka.ThreadingActor.start.__func__(Probe, "probe", _memory())  # pykka's start, not ours
    try:
        assert isinstance(ref.actor_inbox, queue.SimpleQueue), "pykka no longer uses _create_actor_inbox's queue"
    finally:
        ref.stop()


def test_pykka_reads_envelopes_as_message_and_reply_to() -> None:
    from pykka._envelope import Envelope  # the shape actors.runtime.actor._Wake copies

    envelope = Envelope("m", reply_to=None)
    assert (envelope.message, envelope.reply_to) == ("m", None), "pykka's inbox envelope changed shape"
    source = inspect.getsource(pykka.Actor._actor_loop_running)
    assert "envelope.message" in source and "envelope.reply_to" in source, "pykka's loop reads envelopes otherwise"


def test_a_wake_item_put_straight_into_the_inbox_drains_deliveries() -> None:
    from actors.runtime import Actor, Delivery, on
    from messages import Envelope, PongAgent, encode

    got = threading.Event()
    actors: list = []

    class Probe(Actor):
        def on_start(self) -> None:
            actors.append(self)  # no subscription: deliveries are handed over below

        @on(PongAgent)
        def pong(self, _message: PongAgent) -> None:
            got.set()

    transport = _memory()
    ref = Probe.start("probe", transport)
    try:
        body = encode(Envelope(id="m1", sender="t", target="probe", body=PongAgent(agent_id="a")))
        actors[0]._on_delivery(Delivery("probe", body, "tag"))  # appends, puts one _WAKE
        assert got.wait(5), "pykka did not handle actors.runtime.actor._Wake as an envelope"
    finally:
        ref.stop()


def _memory():
    from actors.runtime import MemoryTransport

    return MemoryTransport()


# --- logging -----------------------------------------------------------------------------


def test_importing_the_transport_sets_no_log_level() -> None:
    code = (
        "import logging, rabbitmq, rabbitmq.journal, actors.connect;"
        "names = [n for n in logging.root.manager.loggerDict if n.startswith('pika')];"
        "print([n for n in names if logging.getLogger(n).level])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"importing set pika log levels: {out}"
