"""Every message type survives encode -> decode exactly."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messages import CATALOGUE, decode, encode

from .strategies import envelopes, register

register()


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_message_type_round_trips_exactly(name: str) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data) -> None:
        envelope = data.draw(envelopes(CATALOGUE[name]))
        assert decode(encode(envelope)) == envelope

    check()
