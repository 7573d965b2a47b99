"""GET /api/v1/audit: newest first, `limit` entries."""

from __future__ import annotations


def test_audit_is_newest_first_and_limited(client, auth):
    for qty in (11, 12, 13):
        client.put("/api/v1/limits/defaults", headers=auth("risk"), json={"max_order_qty": qty})
    rows = client.get("/api/v1/audit?limit=2", headers=auth("viewer")).json()
    assert len(rows) == 2
    assert [r["new"]["max_order_qty"] for r in rows] == [13, 12]
    assert rows[0]["id"] > rows[1]["id"]
    assert rows[1]["old"]["max_order_qty"] == 11
    assert rows[0]["at"].endswith("+00:00")                   # UTC
    assert (rows[0]["who"], rows[0]["role"], rows[0]["target"]) == (
        "risk-user", "risk", "limits.defaults")


def test_audit_records_the_start_up(client, auth):
    rows = client.get("/api/v1/audit", headers=auth("viewer")).json()
    actions = [r["action"] for r in reversed(rows)
               if r["who"] == "system" and not r["action"].startswith("token.")]
    assert actions == ["limits.seed", "strategy.seed", "directory.set", "card.load"]
    assert rows[0]["new"] == {"limits_loaded": True, "strategy_loaded": True, "error": None}
