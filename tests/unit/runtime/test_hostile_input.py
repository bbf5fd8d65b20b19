"""No input can kill an actor: whatever a message holds, or whatever a handler throws,
the message is dead-lettered with a short reason and the actor goes on; sizes are
refused before work; log lines stay bounded; a handler whose output cannot be sent has
its input dead-lettered; an actor that dies anyway is reported to the process."""

from __future__ import annotations

import logging

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.runtime import Actor, MemoryTransport, actor_deaths, on
from actors.runtime.bounded import MAX_REASON
from messages import Envelope, MessageError, PingAgent, PongAgent, ShutdownAgent, decode, encode
from messages.limits import MAX_MESSAGE_BYTES


class Target(Actor):
    """Records pongs; answers pings to their sender; on ShutdownAgent sends to `message`."""

    def __init__(self, address, transport, **kw):
        super().__init__(address, transport, **kw)
        self.pongs: list[str] = []

    @on(PongAgent)
    def pong(self, msg: PongAgent) -> None:
        self.pongs.append(msg.agent_id)

    @on(PingAgent)
    def ping(self, msg: PingAgent) -> None:
        self.reply(PongAgent(agent_id="pong"))

    @on(ShutdownAgent)
    def send_to(self, msg: ShutdownAgent) -> None:
        self.send(msg.message, PongAgent(agent_id="out"))


@pytest.fixture
def target(transport):
    ref = Target.start("target", transport)
    yield ref.proxy()
    ref.stop()


def raw_envelope(**overrides) -> bytes:
    plain = {"v": 1, "y": "PongAgent", "i": "m1", "s": "test", "t": "target", "c": "", "k": "", "e": 0, "a": 0.0,
             "b": {"agent_id": "x"}}
    plain.update(overrides)
    return msgpack.packb(plain, use_bin_type=True)


def still_alive(transport, target) -> None:
    transport.publish(Envelope(id="after", sender="test", target="target", body=PongAgent("after")))
    transport.settle()
    assert target.pongs.get()[-1:] == ["after"]


def nested(depth: int):
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = {
    "a 5,000-digit number in a resource text": raw_envelope(
        y="RegisterAgent", b={"info": {"hostname": "h", "resources": "cpus:" + "9" * 5000}}),
    "a type nested 1,000 deep": raw_envelope(y=nested(1000)),
    "a body field nested 1,000 deep": raw_envelope(b={"agent_id": nested(1000)}),
    "a sender over 255 bytes (200 non-ASCII chars)": raw_envelope(s="é" * 200),
    "an id of 10 MB": raw_envelope(i="x" * 10_000_000),
    "an agent id over 120 bytes": raw_envelope(b={"agent_id": "é" * 61}),
    "a message over the size bound": b"\x00" * (MAX_MESSAGE_BYTES + 1),
    "not msgpack": b"\xc1\xc1\xc1",
    "msgpack, not a map": msgpack.packb([1, 2, 3]),
}


@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_a_hostile_message_is_dead_lettered_with_a_short_reason_and_the_actor_goes_on(
        what, transport, target, caplog) -> None:
    caplog.set_level(logging.INFO)
    transport.publish_raw("target", HOSTILE[what])
    transport.settle()
    (dead,) = transport.dead_letters
    assert dead.reason.startswith("undecodable: ") and len(dead.reason) <= MAX_REASON
    assert all(len(r.getMessage()) < 5_000 for r in caplog.records), "an unbounded log line"
    still_alive(transport, target)


def test_any_exception_out_of_decoding_is_caught(transport, target, monkeypatch) -> None:
    import actors.runtime.actor as runtime

    for error in (ValueError("x" * 10**6), RecursionError("deep"), KeyError("k"), ZeroDivisionError()):
        def failing(data, error=error):
            raise error

        monkeypatch.setattr(runtime, "decode", failing)
        transport.publish_raw("target", raw_envelope())
        transport.settle()
        monkeypatch.undo()
    reasons = [d.reason for d in transport.dead_letters]
    assert [r.split(":")[1].strip() for r in reasons] == ["ValueError", "RecursionError", "KeyError", "ZeroDivisionError"]
    assert all(len(r) <= MAX_REASON for r in reasons)
    still_alive(transport, target)


def test_a_handler_whose_output_cannot_be_sent_has_its_input_dead_lettered(transport, target) -> None:
    too_long = "framework." + "é" * 200  # 410 bytes: no AMQP routing key can carry it
    transport.publish(Envelope(id="m1", sender="test", target="target", body=ShutdownAgent(too_long)))
    transport.settle()
    (dead,) = transport.dead_letters
    assert "handler send_to failed on ShutdownAgent: MessageError" in dead.reason and "255 bytes" in dead.reason
    still_alive(transport, target)


def test_a_handlers_failure_is_logged_with_the_message_id_and_bounded(transport, caplog) -> None:
    class Fails(Actor):
        @on(PongAgent)
        def fail(self, msg):
            raise ValueError(msg.agent_id * 1000)

    ref = Fails.start("fails", transport)
    try:
        caplog.set_level(logging.INFO)
        transport.publish(Envelope(id="the-id", sender="s", target="fails", body=PongAgent("z" * 100)))
        transport.settle()
    finally:
        ref.stop()
    (line,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    text = line.getMessage()
    assert "the-id" in text and "in fail" in text and "ValueError: zzz" in text  # id, where, what
    assert len(text) < 5_000
    (dead,) = transport.dead_letters
    assert dead.reason.startswith("handler fail failed on PongAgent: ValueError: zzz") and len(dead.reason) <= MAX_REASON


def test_encode_refuses_what_no_reader_would_take() -> None:
    with pytest.raises(MessageError, match="target: the address is over 255 bytes"):
        encode(Envelope(id="1", sender="s", target="framework." + "é" * 200, body=PongAgent("a")))
    with pytest.raises(MessageError, match="bytes, more than"):
        encode(Envelope(id="1", sender="s", target="t", body=ShutdownAgent("x" * MAX_MESSAGE_BYTES)))


def test_an_actor_that_dies_anyway_is_reported_to_the_process(transport) -> None:
    class Buggy(Actor):
        def on_receive(self, message):
            if message == "bug":
                raise RuntimeError("a bug in the runtime")
            return super().on_receive(message)

    actor_deaths.reset()
    seen = []
    actor_deaths.subscribe(lambda address, error: seen.append((address, error)))
    ref = Buggy.start("buggy", transport)
    ref.tell("bug")
    assert actor_deaths.wait(5) == ("buggy", "RuntimeError: a bug in the runtime")
    assert seen == [("buggy", "RuntimeError: a bug in the runtime")]
    actor_deaths.reset()


def test_an_actor_that_cannot_start_is_reported_with_why(transport) -> None:
    """The death names the cause (a CLI tells a broker's refusal from a bug by it)."""

    class Refused(Actor):
        def on_start(self) -> None:
            super().on_start()
            raise RuntimeError("refused user 'x'")

    actor_deaths.reset()
    ref = Refused.start("refused", transport)
    assert not ref.is_alive()
    assert actor_deaths.wait(5) == ("a Refused", "it failed to start: RuntimeError: refused user 'x'")
    actor_deaths.reset()


plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)
keys = st.sampled_from(["v", "y", "i", "s", "t", "c", "k", "e", "a", "b"])
names = st.sampled_from(["PongAgent", "RegisterAgent", "Accept", "RunTask", "StatusUpdate", "InputsHandled"])
envelope_like = st.fixed_dictionaries(
    {"v": st.just(1), "y": names, "i": st.text(max_size=5), "s": st.text(max_size=5), "t": st.text(max_size=5),
     "c": st.just(""), "k": st.just(""), "e": st.just(0), "a": st.just(0.0), "b": plain},
) | st.dictionaries(keys, plain)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=200) | envelope_like.map(lambda d: msgpack.packb(d, use_bin_type=True)))
def test_decode_raises_nothing_but_message_error_whatever_it_is_given(data: bytes) -> None:
    try:
        decode(data)
    except MessageError as err:
        assert len(str(err)) < 1000


def test_arbitrary_input_never_stops_an_actor() -> None:
    transport = MemoryTransport()
    ref = Target.start("target", transport)
    try:
        examples = []

        @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.binary(max_size=100) | envelope_like.map(lambda d: msgpack.packb(d, use_bin_type=True)))
        def feed(data: bytes) -> None:
            examples.append(data)
            transport.publish_raw("target", data)

        feed()
        transport.settle()
        assert ref.is_alive() and len(transport.dead_letters) <= len(examples)
        still_alive(transport, ref.proxy())
    finally:
        ref.stop()
