"""The telemetry poller's snapshot: counters, rates, tick-to-trade, exposure, unknowns."""

from __future__ import annotations

import random
import time
import tracemalloc

import pytest

from drivers.device import DriverError
from drivers.events import CardEvent
from sw.control.telemetry import Exposure, LatencyHistogram, Telemetry
from sw.model.clock import CLOCK_HZ

from .support import RISK, SYMBOLS, feed, model_of


@pytest.fixture
def telemetry(desk):
    return Telemetry(desk)


def test_snapshot_of_a_trading_card(desk, card, telemetry):
    telemetry.poll()
    desk.release(RISK)
    feed(card)
    regs = card.device.read_many(["mold_messages", "risk_accepted", "risk_cancels",
                                  "risk_reject_rate_limited", "trader_open_chains"])
    time.sleep(0.01)
    snap = telemetry.poll()
    assert snap["halted"] is False and snap["card"]["reachable"]
    assert snap["counters"]["messages"] == regs["mold_messages"]
    assert snap["counters"]["orders"] == regs["risk_accepted"] + regs["risk_cancels"]
    assert snap["counters"]["open_chains"] == regs["trader_open_chains"]
    assert snap["rejects_by_reason"]["RATE_LIMITED"] == regs["risk_reject_rate_limited"]
    assert snap["rates"]["messages_per_s"] > 0 and snap["rates"]["orders_per_s"] > 0
    strategy_orders = [e for e in model_of(card).fast.out.orders if e.cause == "strategy"]
    assert snap["tick_to_trade"]["count"] == len(strategy_orders)
    assert snap["tick_to_trade"]["p50_cycles"] is not None


def test_exposure_from_events_matches_the_gate(desk, card, telemetry):
    """The per-symbol live orders and exposure rebuilt from events equal the gate's own."""
    telemetry.poll()
    desk.release(RISK)
    feed(card)
    snap = telemetry.poll()
    gate = model_of(card).fast.gate
    locates = {name: loc for loc, name in model_of(card).fast.book.symbols.items()}
    for row in snap["symbols"]:
        risk = gate.symbols[locates[row["symbol"]]]
        assert row["open_orders"]["used"] == risk.open_orders
        assert row["long"]["used"] == risk.position + risk.open_buy
        assert row["short"]["used"] == risk.open_sell - risk.position
        assert row["long"]["limit"] == 2_000
    assert any(row["open_orders"]["used"] for row in snap["symbols"])


def test_lost_events_make_exposure_unknown(desk, card, telemetry):
    telemetry.poll()
    desk.release(RISK)
    feed(card, messages=3000)                # more events than the card queues: some lost
    snap = telemetry.poll()
    assert snap["counters"]["events_lost"] > 0
    assert snap["halted"] and "host events lost" in snap["halt_reasons"]
    assert all(row["long"]["used"] is None and row["open_orders"]["used"] is None
               for row in snap["symbols"])


def test_unmodelled_registers_are_unknown_not_healthy(telemetry):
    snap = telemetry.poll()
    assert snap["feed"]["unreliable_books"] is None           # the model has no book flags
    assert all(row["unreliable"] is None for row in snap["symbols"])
    assert snap["feed"]["stale"] is False                     # modelled: known
    assert snap["rates"] == {"messages_per_s": None, "orders_per_s": None,
                             "rejects_per_s": None}           # one poll: no rate yet


def test_an_unreachable_card_is_all_unknown(telemetry, card, monkeypatch):
    assert telemetry.poll()["symbols"][0]["open_orders"]["used"] == 0     # known, then lost

    def unreachable():
        raise DriverError("pcie: BAR read returned all ones")

    monkeypatch.setattr(card, "status", unreachable)
    snap = telemetry.poll()
    assert snap["card"] == {"backend": "model", "reachable": False,
                            "error": "pcie: BAR read returned all ones"}
    assert snap["halted"] is None
    assert set(snap["counters"].values()) == {None}
    assert snap["feed"]["gaps"] is None and snap["feed"]["stale"] is None
    assert all(row["open_orders"]["used"] is None for row in snap["symbols"])


def test_feed_gaps_show_in_feed_health(desk, card, telemetry):
    feed(card, gaps=1)
    snap = telemetry.poll()
    assert snap["feed"]["gaps"] == 1 and snap["feed"]["missing_messages"] > 0
    assert snap["feed"]["stale"] is True


def test_latency_histogram_buckets_and_percentiles():
    histogram = LatencyHistogram(bounds=(8, 16))
    for cycles in (1, 8, 9, 100):
        histogram.add(cycles)
    assert histogram.counts == [2, 1, 1]
    view = histogram.view()
    assert view["p50_cycles"] == 9 and view["max_cycles"] == 100 and view["max_ns"] == 640
    buckets, count, seconds = histogram.cumulative()
    assert buckets == [(8 / CLOCK_HZ, 2), (16 / CLOCK_HZ, 3), (float("inf"), 4)]
    assert (count, seconds) == (4, 118 / CLOCK_HZ)


def event(msg_type: str, clordid: int, orig: int, qty: int, side: str = "B",
          rejected=False, symbol: str = "AAPL") -> CardEvent:
    return CardEvent(rejected, msg_type, symbol, 0, side, 1_000_000, qty, clordid, orig, False,
                     "strategy", "", (), 0, 0, 0, 0, 0)


def test_exposure_follows_the_gate_s_rules():
    exposure = Exposure()
    for e in (event("D", 1, 0, 100), event("G", 2, 1, 50), event("G", 3, 2, 300),
              event("D", 4, 0, 40, side="S"), event("F", 5, 4, 40, side="S"),
              event("D", 0, 0, 999, rejected=True), event("F", 9, 7, 10)):
        exposure.apply(e)
    # replace keeps the larger exposure; a cancel ends liveness, not exposure; rejects and
    # chains opened before we listened change nothing
    assert exposure.of("AAPL") == {"open_orders": 1, "open_buy": 300, "open_sell": 40}
    assert SYMBOLS[0] == "AAPL"


def unbounded_exposure(events) -> dict[str, dict[str, int]]:
    """The exposure as the telemetry once kept it: every chain ever seen, summed at each read
    (the reference the bounded totals must equal)."""
    chains, latest = {}, {}
    for e in events:
        if e.rejected:
            continue
        if e.msg_type == "D":
            chains[e.clordid] = [e.symbol, e.side, e.qty, True]
            latest[e.clordid] = e.clordid
            continue
        first = latest.pop(e.orig_clordid, None)
        if first is None:
            continue
        if e.msg_type == "G":
            chains[first][2] = max(chains[first][2], e.qty)
            latest[e.clordid] = first
        else:
            chains[first][3] = False
    return {s: {"open_orders": sum(c[3] for c in chains.values() if c[0] == s),
                "open_buy": sum(c[2] for c in chains.values() if c[0] == s and c[1] == "B"),
                "open_sell": sum(c[2] for c in chains.values() if c[0] == s and c[1] == "S")}
            for s in SYMBOLS}


def random_events(count: int, seed: int) -> list[CardEvent]:
    """D, G and F over a few symbols as the card sends them (each G or F names its chain's
    latest ClOrdID), with rejects and orders of chains opened before anyone listened."""
    rng = random.Random(seed)
    live: list[tuple[int, str, str]] = []          # latest ClOrdID, symbol, side
    events, clordid = [], 1
    for _ in range(count):
        clordid += 1
        roll = rng.random()
        if roll < 0.35 or not live:
            symbol, side = rng.choice(SYMBOLS), rng.choice("BS")
            events.append(event("D", clordid, 0, rng.randint(1, 500), side, symbol=symbol))
            live.append((clordid, symbol, side))
        elif roll < 0.65:
            i = rng.randrange(len(live))
            orig, symbol, side = live[i]
            events.append(event("G", clordid, orig, rng.randint(1, 500), side, symbol=symbol))
            live[i] = (clordid, symbol, side)
        elif roll < 0.9:
            orig, symbol, side = live.pop(rng.randrange(len(live)))
            events.append(event("F", clordid, orig, 0, side, symbol=symbol))
        elif roll < 0.95:
            events.append(event("D", 0, 0, 999, rejected=True))
        else:
            events.append(event(rng.choice("GF"), clordid, 10**9 + clordid, 7))
    return events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bounded_exposure_gives_the_figures_every_chain_gave(seed):
    events = random_events(3000, seed)
    exposure = Exposure()
    for n, e in enumerate(events, 1):
        exposure.apply(e)
        if n % 250 == 0:
            expected = unbounded_exposure(events[:n])
            assert {s: exposure.of(s) for s in SYMBOLS} == expected, n


def test_ended_chains_leave_no_state_behind():
    """100,000 chains opened, replaced and cancelled: nothing of them is kept but the totals
    of their symbols, and memory does not grow with them."""
    exposure = Exposure()

    def chains(first: int, count: int):
        for n in range(first, first + count):
            symbol, side = SYMBOLS[n % len(SYMBOLS)], "BS"[n % 2]
            exposure.apply(event("D", 3 * n, 0, 100, side, symbol=symbol))
            exposure.apply(event("G", 3 * n + 1, 3 * n, 150, side, symbol=symbol))
            exposure.apply(event("F", 3 * n + 2, 3 * n + 1, 150, side, symbol=symbol))

    chains(1, 1_000)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    chains(1_001, 99_000)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert exposure.live == {} and set(exposure.symbols) == set(SYMBOLS)
    assert grown < 64 * 1024, grown
    # a cancel ends liveness, not exposure: every chain's largest quantity stays counted
    assert exposure.of("AAPL") == {"open_orders": 0, "open_buy": 25_000 * 150, "open_sell": 0}
    assert exposure.of("MSFT") == {"open_orders": 0, "open_buy": 0, "open_sell": 25_000 * 150}


def test_more_live_chains_than_the_card_holds_make_exposure_unknown():
    exposure = Exposure(capacity=4)
    for n in range(1, 5):
        exposure.apply(event("D", n, 0, 10))
    assert not exposure.overflowed and len(exposure.live) == 4
    exposure.apply(event("D", 5, 0, 10))        # a fifth: the card cannot hold it
    assert exposure.overflowed and exposure.live == {}


def test_unknown_exposure_keeps_no_chains(desk, card, telemetry):
    telemetry.poll()
    desk.release(RISK)
    feed(card, messages=3000)                # events lost: the exposure is unknown for good
    telemetry.poll()
    assert telemetry.exposure_known is False
    assert telemetry.exposure.live == {} and telemetry.exposure.symbols == {}
