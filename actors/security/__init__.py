"""Who may say what: sender checks against the principal the broker verified
(docs/security.md)."""

from actors.security.senders import SenderChecks, own_principal

__all__ = ["SenderChecks", "own_principal"]
