"""The Prometheus collector: what is unknown is absent, never zero."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from drivers.device import DriverError
from sw.control.desk import Desk
from sw.control.metrics import exposition, registry_for
from sw.control.telemetry import Telemetry


def samples(telemetry) -> dict[tuple, float]:
    text = exposition(registry_for(telemetry)).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_before_the_first_poll_only_up_is_reported(card, store):
    assert samples(Telemetry(Desk(card, store))) == {("nerve_up", ()): 0}


def test_a_polled_card_reports_counters_gauges_and_the_histogram(card, store):
    desk = Desk(card, store)
    desk.start()
    telemetry = Telemetry(desk)
    telemetry.snapshot = telemetry.poll()
    got = samples(telemetry)
    assert got[("nerve_up", ())] == 1 and got[("nerve_halted", ())] == 1
    assert got[("nerve_limits_loaded", ())] == 1
    assert got[("nerve_orders_total", ())] == 0
    assert got[("nerve_rejects_total", (("reason", "KILL_SWITCH"),))] == 0
    assert got[("nerve_tick_to_trade_seconds_count", ())] == 0
    assert ("nerve_tick_to_trade_seconds_bucket", (("le", "+Inf"),)) in got


def test_an_unreachable_card_reports_down_and_no_card_values(card, store, monkeypatch):
    desk = Desk(card, store)
    telemetry = Telemetry(desk)

    def unreachable():
        raise DriverError("uart: timeout")

    monkeypatch.setattr(card, "status", unreachable)
    telemetry.snapshot = telemetry.poll()
    got = samples(telemetry)
    assert got == {("nerve_up", ()): 0, ("nerve_limits_loaded", ()): 0}
