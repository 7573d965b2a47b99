"""The assembled golden model: message attribution, kill switch, stale feed, rejected replaces."""

from sw.feed import itch, mold
from sw.feed.net import UdpEndpoint, udp_frame
from sw.model.clock import CLOCK_HZ
from sw.model.config import SymbolLimitsUpdate, load_limits, load_strategy
from sw.model.fastpath import FastPath
from sw.model.risk import Reason

SESSION = b"TESTSESS01"


def directory(locate, stock):
    return itch.StockDirectory(locate, 0, 0, stock, "Q", "N", 100, "N", "C", "Z", "P", "N", "N",
                               "1", "N", 0, "N")


def trading(locate, stock, state="T"):
    return itch.StockTradingAction(locate, 0, 0, stock, state, " ", "")


def add(ref, side, price, shares=100, locate=1, stock="AAPL"):
    return itch.AddOrder(locate, 0, 0, ref, side, shares, stock, price)


def opening(locate=1, stock="AAPL"):
    """Name the symbol, open it, and give it a two-sided book 10000 x 10400."""
    return [directory(locate, stock), trading(locate, stock),
            add(1, "B", 1_000_000), add(2, "S", 1_000_400)]


def fast(limits=None, strategy=None):
    return FastPath(load_limits(limits or {}), load_strategy(strategy or {}))


def feed(fp, messages, cycle=0, step=CLOCK_HZ):
    """Each message its own ingress unit, one second apart (rate limits never bind)."""
    for m in messages:
        fp.message(itch.encode(m), cycle)
        cycle += step
    return cycle


def test_orders_are_attributed_to_the_message_that_caused_them():
    fp = fast()
    feed(fp, opening())
    # msg 2 (bid) gives a one-sided book: no quote; msg 3 (ask) completes it: two D
    assert [(o.msg_index, o.msg_type, o.side, o.price) for o in fp.out.orders] == [
        (3, "D", "B", 1_000_000), (3, "D", "S", 1_000_400)]
    assert [r.msg_index for r in fp.out.bbo] == [2, 3]
    assert fp.out.bbo[-1][3:] == (1_000_000, 100, 1_000_400, 100)
    assert len(fp.out.fix) == 2 and fp.out.orders[0].seq == 1 and fp.out.orders[1].seq == 2


def test_symbol_without_directory_is_never_traded():
    fp = fast()
    feed(fp, [trading(1, "AAPL"), add(1, "B", 1_000_000), add(2, "S", 1_000_400)])
    assert len(fp.out.bbo) == 2 and fp.out.bbo[0].symbol == ""
    assert fp.out.orders == []


def test_symbol_is_not_traded_before_its_first_trading_state():
    fp = fast()
    feed(fp, [directory(1, "AAPL"), add(1, "B", 1_000_000), add(2, "S", 1_000_400)])
    assert fp.out.orders == []
    feed(fp, [trading(1, "AAPL")])
    assert [o.msg_type for o in fp.out.orders] == ["D", "D"]


def test_halt_by_itch_pulls_quotes_and_resumes_on_trading():
    fp = fast()
    cycle = feed(fp, opening())
    cycle = feed(fp, [trading(1, "AAPL", "H")], cycle)
    assert [(o.msg_type, o.orig_clordid) for o in fp.out.orders[2:]] == [
        ("F", "NRV00000001"), ("F", "NRV00000002")]
    feed(fp, [add(3, "B", 1_000_100), trading(1, "AAPL", "T")], cycle)
    assert [o.msg_type for o in fp.out.orders[4:]] == ["D", "D"]
    assert fp.out.orders[4].msg_index == 6  # the H 'T', not the add during the halt


def test_kill_switch_cancels_everything_and_blocks_until_released():
    fp = fast()
    cycle = feed(fp, opening() + [directory(2, "MSFT"), trading(2, "MSFT"),
                                  add(3, "B", 2_000_000, locate=2, stock="MSFT"),
                                  add(4, "S", 2_000_400, locate=2, stock="MSFT")])
    assert len(fp.out.orders) == 4
    fp.halt()
    cancels = fp.out.orders[4:]
    assert [(o.msg_type, o.orig_clordid, o.cause) for o in cancels] == [
        ("F", f"NRV0000000{n}", "kill_switch") for n in (1, 2, 3, 4)]
    assert {o.msg_index for o in cancels} == {fp.msg_index}
    cycle = feed(fp, [add(5, "B", 1_000_100)], cycle)         # BBO changes: nothing sent
    assert len(fp.out.orders) == 8 and fp.out.rejects == []
    fp.release()
    feed(fp, [add(6, "B", 1_000_200)], cycle)
    assert [o.msg_type for o in fp.out.orders[8:]] == ["D", "D"]


def test_gate_rejects_kill_switch_independently_of_the_strategy():
    """Even if the strategy did ask, the gate names KILL_SWITCH (defence in depth)."""
    fp = fast({"halted": True})
    feed(fp, opening())
    from sw.model.orders import BUY, OrderRequest
    verdict = fp.gate.check(OrderRequest("D", 1, BUY, 1_000_000, 100), fp.now,
                            fp.book.bbo(1), True, False)
    assert verdict.reason is Reason.KILL_SWITCH
    assert fp.out.orders == []


def _frame(sequence, messages):
    return udp_frame(mold.encode(SESSION, sequence, [itch.encode(m) for m in messages]),
                     UdpEndpoint())


def test_sequence_gap_cancels_live_orders_and_blocks_until_cleared():
    fp = fast()
    fp.frame(_frame(1, opening()), 0)
    assert len(fp.out.orders) == 2
    fp.frame(_frame(10, [add(7, "B", 1_000_100)]), CLOCK_HZ)      # 5..9 missing
    assert [(o.msg_type, o.cause, o.msg_index) for o in fp.out.orders[2:]] == [
        ("F", "feed_stale", 4), ("F", "feed_stale", 4)]
    assert fp.sequencer.counts["gaps"] == 1 and fp.sequencer.counts["missing_messages"] == 5
    fp.frame(_frame(11, [add(8, "B", 1_000_200)]), 2 * CLOCK_HZ)
    assert len(fp.out.orders) == 4 and fp.out.rejects == []
    fp.clear_stale()
    fp.frame(_frame(12, [add(9, "B", 1_000_300)]), 3 * CLOCK_HZ)
    assert [o.msg_type for o in fp.out.orders[4:]] == ["D", "D"]


def test_malformed_message_makes_the_feed_stale():
    fp = fast()
    feed(fp, opening())
    fp.message(itch.encode(add(9, "B", 1_000_100))[:-1], CLOCK_HZ * 10)  # A one byte short
    assert fp.malformed == 1 and fp.sequencer.stale
    assert [o.cause for o in fp.out.orders[2:]] == ["feed_stale", "feed_stale"]
    assert fp.msg_index == 5  # it still counts as a message


def test_rejected_replace_pulls_the_old_quote():
    # a bucket of 2 tokens that never refills: the two D use them, the G finds it empty
    fp = fast({"defaults": {"max_orders_per_sec": 0, "rate_burst": 2}})
    cycle = feed(fp, opening())
    feed(fp, [add(3, "B", 1_000_200)], cycle)  # mid moves one tick: both quotes want a G
    rejected = [(r.msg_type, r.side, r.reason) for r in fp.out.rejects]
    assert rejected == [("G", "B", "RATE_LIMITED"), ("G", "S", "RATE_LIMITED")]
    pulls = [(o.msg_type, o.orig_clordid, o.cause) for o in fp.out.orders[2:]]
    assert pulls == [("F", "NRV00000001", "rejected_replace"),
                     ("F", "NRV00000002", "rejected_replace")]


def test_rate_limit_follows_the_ingress_clock():
    """Burst 2 at 10 orders/s: one token comes back exactly CLOCK_HZ/10 cycles after use."""
    fp = fast({"defaults": {"max_orders_per_sec": 10, "rate_burst": 2}})
    feed(fp, opening(), step=1)             # messages at cycles 0..3, the two D at cycle 3
    spent, period = 3, CLOCK_HZ // 10
    fp.message(itch.encode(add(3, "B", 1_000_200)), spent + period - 1)
    # one cycle short of a token: both replaces refused, both quotes pulled
    assert [(r.msg_type, r.reason) for r in fp.out.rejects] == [("G", "RATE_LIMITED")] * 2
    assert [(o.msg_type, o.cause) for o in fp.out.orders[2:]] == [("F", "rejected_replace")] * 2
    fp.message(itch.encode(add(4, "B", 1_000_300)), spent + period)
    # exactly one token: the bid goes, the ask is refused
    assert [(o.msg_type, o.side) for o in fp.out.orders[4:]] == [("D", "B")]
    assert [(r.msg_type, r.side, r.reason) for r in fp.out.rejects[2:]] == [
        ("D", "S", "RATE_LIMITED")]


def test_set_limits_applies_to_bound_symbols_at_once():
    fp = fast()
    feed(fp, opening())
    fp.set_limits("AAPL", SymbolLimitsUpdate(max_order_qty=50))
    assert fp.gate.symbols[1].limits.max_order_qty == 50
    fp.set_limits(None, SymbolLimitsUpdate(collar_bps=7))
    assert fp.gate.symbols[1].limits.collar_bps == 7
    assert fp.gate.symbols[1].limits.max_order_qty == 50  # the override survives


def test_order_ended_releases_exposure():
    fp = fast({"defaults": {"max_long": 100}})
    cycle = feed(fp, opening())
    assert fp.gate.symbols[1].open_buy == 100
    fp.halt()
    fp.release()
    cycle = feed(fp, [add(3, "B", 1_000_100)], cycle)
    # the cancelled bid still counts: a new bid would make 200 > 100
    assert [r.reason for r in fp.out.rejects if r.side == "B"] == ["POSITION_LIMIT"]
    fp.order_ended(1)
    feed(fp, [add(4, "B", 1_000_200)], cycle)
    assert fp.out.orders[-1].msg_type in ("D", "G") and fp.gate.symbols[1].open_buy == 100


def test_clock_never_runs_backwards():
    fp = fast()
    fp.message(itch.encode(directory(1, "AAPL")), 1_000)
    fp.message(itch.encode(trading(1, "AAPL")), 10)
    assert fp.now == 1_000


def test_symbol_that_fix_cannot_carry_is_never_traded():
    for bad in ("A\x01PL", "A PL", "", "AAP\x7f"):
        fp = fast()
        feed(fp, [directory(1, bad), trading(1, bad)] + opening()[2:])
        assert fp.out.orders == [] and fp.untradable_symbols == 1, repr(bad)


# --- the host order port ------------------------------------------------------------------------

def test_host_order_passes_the_gate_and_encoder_like_any_other():
    fp = fast(strategy={"defaults": {"mode": "off"}})
    feed(fp, opening())
    assert fp.host_order(1, 1, 1_000_000, 200)      # a sell IOC at the bid
    (order,) = fp.out.orders
    assert (order.msg_type, order.side, order.price, order.qty, order.tif, order.cause) == (
        "D", "S", 1_000_000, 200, "3", "host")
    # Attributed to the next message, at the time of the last packet, as the kill switch is.
    assert order.msg_index == fp.msg_index and order.ingress_cycle == fp.now
    assert b"\x0135=D\x01" in fp.out.fix[0] and b"\x0159=3\x01" in fp.out.fix[0]
    assert fp.gate.symbols[1].open_sell == 200      # its exposure counts like any order's


def test_host_order_over_a_limit_is_rejected_by_the_gate():
    fp = fast({"defaults": {"max_order_qty": 500}}, {"defaults": {"mode": "off"}})
    feed(fp, opening())
    assert fp.host_order(1, 0, 1_000_400, 501)
    assert fp.out.orders == [] and fp.out.fix == []
    (reject,) = fp.out.rejects
    assert (reject.reason, reject.cause, reject.qty) == ("QTY_EXCEEDS_MAX", "host", 501)
    # Outside the collar, and while the kill switch is on: refused as well.
    fp.host_order(1, 0, 2_000_000, 100)
    fp.halt()
    fp.host_order(1, 0, 1_000_400, 100)
    assert [r.reason for r in fp.out.rejects[1:]] == ["PRICE_OUTSIDE_COLLAR", "KILL_SWITCH"]


def test_host_order_waits_for_a_book_the_card_has_decided_on():
    fp = fast()
    feed(fp, [directory(1, "AAPL")])                # named, no update decided yet
    assert not fp.host_order(1, 0, 1_000_000, 100)
    assert not fp.host_order(7, 0, 1_000_000, 100)  # no such locate
    assert fp.host_orders_refused == 2 and fp.out.decisions == []


def test_host_day_order_is_not_the_strategys_quote_and_the_kill_switch_cancels_it():
    fp = fast()
    cycle = feed(fp, opening())
    quotes = len(fp.out.orders)
    fp.host_order(1, 0, 999_900, 100, tif="0")
    host_id = fp.out.orders[-1].clordid
    feed(fp, [add(3, "B", 1_000_100)], cycle)       # the strategy re-quotes its own bid only
    assert all(o.orig_clordid != host_id for o in fp.out.orders[quotes + 1:])
    fp.halt()
    cancels = [o for o in fp.out.orders if o.orig_clordid == host_id]
    assert [(o.msg_type, o.cause) for o in cancels] == [("F", "kill_switch")]
