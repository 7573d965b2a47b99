"""GET /metrics: Prometheus text from the card's counters and order events."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from ..support import feed


def scrape(client) -> dict[str, object]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def sample(families, name: str, **labels) -> float:
    for family in families.values():
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise KeyError(name)


def test_metrics_parse_and_carry_the_card_s_counters(client, auth, card):
    client.post("/api/v1/release", headers=auth("risk"))
    feed(card)
    regs = card.device.read_many(["mold_messages", "risk_accepted", "risk_cancels",
                                  "risk_reject_rate_limited", "mold_gaps"])
    deadline = time.monotonic() + 5
    while True:                                   # until the poller has seen the traffic
        families = scrape(client)
        if sample(families, "nerve_messages_total") == regs["mold_messages"]:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert families["nerve_orders"].type == "counter"
    assert sample(families, "nerve_orders_total") == regs["risk_accepted"] + regs["risk_cancels"]
    assert sample(families, "nerve_rejects_total", reason="RATE_LIMITED") == \
        regs["risk_reject_rate_limited"]
    assert sample(families, "nerve_feed_gaps_total") == regs["mold_gaps"]
    assert sample(families, "nerve_halted") == 0
    assert families["nerve_tick_to_trade_seconds"].type == "histogram"
    assert sample(families, "nerve_tick_to_trade_seconds_count") > 0
    assert sample(families, "nerve_tick_to_trade_seconds_bucket", le="+Inf") == \
        sample(families, "nerve_tick_to_trade_seconds_count")


def test_no_metric_has_a_per_order_label(client):
    families = scrape(client)
    labels = {k for f in families.values() for s in f.samples for k in s.labels}
    assert labels <= {"reason", "le"}
