"""Errors the API turns into Marathon's status codes."""

from __future__ import annotations

# 400: a request that is not a change Marathon would accept. One class for every API, so
# that the shared body reader's refusals (actors/http/body.py) are caught as this API's.
from actors.http.body import BadRequest

__all__ = ["BadRequest", "Conflict", "NotFound"]


class NotFound(LookupError):
    """404: `{"message": ...}`."""


class Conflict(RuntimeError):
    """409: the app is locked by deployments (`deployments` lists their ids)."""

    def __init__(self, message: str, deployments: list[str]) -> None:
        super().__init__(message)
        self.deployments = deployments
