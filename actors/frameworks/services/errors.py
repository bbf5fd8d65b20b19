"""Errors the API turns into Marathon's status codes."""

from __future__ import annotations


class NotFound(LookupError):
    """404: `{"message": ...}`."""


class Conflict(RuntimeError):
    """409: the app is locked by deployments (`deployments` lists their ids)."""

    def __init__(self, message: str, deployments: list[str]) -> None:
        super().__init__(message)
        self.deployments = deployments


class BadRequest(ValueError):
    """400: a request that is not a change Marathon would accept."""
