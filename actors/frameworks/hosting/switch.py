"""An ASGI app whose target can be swapped while it serves: a standby's answers first,
the leader's API once this process leads.

>>> s = SwitchApp(None)
>>> s.app is None
True
"""

from __future__ import annotations

from typing import Any


class SwitchApp:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
