"""The registry on a broker (the stream `mesobus.registry`, private vhost): read from an
offset, and a standby that followed it is elected reading only the tail."""

from __future__ import annotations

import time

import pytest

from actors.registry import Registry, RegistryFollower
from messages.registry import AgentAdmission, WeightsSet
from rabbitmq import AmqpTransport, parse_url
from rabbitmq.registry import StreamRegistryLog
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker


def test_a_standby_following_the_stream_is_elected_on_the_same_state_from_the_tail(broker_url):
    with private_vhost("mesobus-registry-stream") as url:
        transport = AmqpTransport(url)
        try:
            log = StreamRegistryLog(parse_url(url), transport)
            first = Registry.elect(log, "m1", "n1")
            for n in range(20):
                first.write(AgentAdmission(f"a{n}", f"h{n}"))
            assert [offset for offset, _ in log.read(start=18)] == [18, 19, 20]  # 0: m1's Elected
            follower = RegistryFollower(lambda: StreamRegistryLog(parse_url(url), None), interval=0.05).start()
            deadline = time.monotonic() + 30
            while (follower.folded() is None or follower.folded().next_offset < 21) and time.monotonic() < deadline:
                time.sleep(0.05)
            first.write(WeightsSet({"web": 2.0}))  # after the follower's look: read by the election
            known = follower.stop()
            assert known is not None and known.next_offset == 21
            second = Registry.elect(log, "m2", "n2", known)
            assert second.epoch == 23  # its Elected record is at offset 22
            assert second.state == Registry.recover(log).state
            assert second.state.weights == {"web": 2.0} and len(second.state.admitted) == 20
            with pytest.raises(Exception, match="reading only"):
                StreamRegistryLog(parse_url(url), None).append(WeightsSet({}))
        finally:
            transport.close()
