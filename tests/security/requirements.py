"""What the security tests that run whole clusters need of the runtime and the transport,
so that a tree without them says why (xfail) instead of failing obscurely."""

from __future__ import annotations

import importlib.util
import inspect


def transport_stamps_users() -> bool:
    """Every AMQP publish carries the connection's user (`user_id`) and deliveries hand it on."""
    from rabbitmq.frames import PublishFrames

    return "user_id" in inspect.signature(PublishFrames.__init__).parameters


def runtime_bounds_input() -> bool:
    """Sizes bounded before work and any decoding exception caught (messages/limits.py)."""
    return importlib.util.find_spec("messages.limits") is not None


NEEDS_USERS = "needs the transport's user_id on every publish and delivery (branch `transport`, not merged here)"
NEEDS_BOUNDS = "needs the runtime's hardening against hostile input (branch `runtime`, not merged here)"
