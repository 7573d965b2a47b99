"""Roles and tokens."""

from __future__ import annotations

import hashlib

from sw.control.auth import Role, new_token, token_hash


def test_roles_rise_viewer_trader_risk():
    assert Role.RISK.may(Role.TRADER) and Role.RISK.may(Role.VIEWER)
    assert Role.TRADER.may(Role.VIEWER) and not Role.TRADER.may(Role.RISK)
    assert not Role.VIEWER.may(Role.TRADER)
    assert all(role.may(role) for role in Role)


def test_tokens_are_fresh_and_hashed_with_sha256():
    a, b = new_token(), new_token()
    assert a != b and len(a) == 43                 # 32 random bytes, URL-safe base64
    assert token_hash(a) == hashlib.sha256(a.encode()).hexdigest()
