"""Who may do what on the control plane: roles, users and API tokens.

Where it sits: under the routes' dependencies (sw/control/deps.py) and the `nerve token`
command. A token is shown once, when it is made; the store keeps only its SHA-256, and a
presented token is matched by comparing hashes in constant time. Nothing here knows HTTP.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Roles in rising authority: each may do everything the ones before it may."""

    VIEWER = "viewer"   # reads status, limits, strategy, positions, audit, telemetry
    TRADER = "trader"   # + halts, disables a symbol, enters reduce-only, tunes the strategy
    RISK = "risk"       # + changes limits, enables a symbol, leaves reduce-only, releases

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def may(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class User:
    """The holder of a token, as the audit log names them."""

    name: str
    role: Role


#: Who the audit names for changes the appliance makes itself (start-up seeding, directory).
SYSTEM = User("system", Role.RISK)


def new_token() -> str:
    """A fresh bearer token (256 bits of randomness, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
