"""The host's card operations (drivers/card.py) on the model card: symbols bound by name through
the card's slot map, whatever order the feed names them in; a wrong map halts the card and
says which slot; strategy commits read back before they commit."""

from __future__ import annotations

import datetime as dt

import pytest

from drivers.card import Card, CardError, SymbolMapError
from drivers.device import Device
from drivers.model import ModelCard, ModelTransport
from hw.rtl.nic import REGMAP
from hw.rtl.records import BookEventKind
from spec.itch import stock_field
from sw.feed.generator import MarketConfig, MarketGenerator, PcapOptions, pcap_frames, ticker
from sw.feed.net import UdpEndpoint
from sw.model import decoder
from sw.model.clock import CLOCK_HZ
from sw.model.config import load_limits, load_strategy
from sw.model.fastpath import FastPath, RejectRow
from sw.model.netfilter import NetFilter
from sw.model.sequencer import Sequencer

DST = UdpEndpoint()
DATE = dt.date(2026, 11, 20)
SYMBOLS = 8
LOCATES = {ticker(i): i + 1 for i in range(SYMBOLS)}     # the generator's locates
#: A late symbol disabled, a late one with a position, an on-time one capped.
LIMITS = load_limits({"defaults": {"max_open_orders": 4, "rate_burst": 4,
                                   "max_orders_per_sec": 100},
                      "symbols": {ticker(1): {"enabled": False},
                                  ticker(5): {"max_order_qty": 60}},
                      "positions": {ticker(2): 300}})
STRATEGY = load_strategy({"defaults": {"mode": "quote", "size": 100, "half_spread_ticks": 1}})
CHUNK = 16          # frames between two event pops


def directory_frame(frames: list[bytes], symbol: str) -> int:
    """The index of the frame holding `symbol`'s R."""
    net, sequencer = NetFilter(DST), Sequencer()
    for n, frame in enumerate(frames):
        for msg in sequencer.packet(net.filter(frame) or b""):
            row = decoder.as_row(decoder.decode(msg))
            if row[0] == BookEventKind.DIRECTORY and row[7] == stock_field(symbol):
                return n
    raise LookupError(symbol)


def feed(kind: str) -> list[bytes]:
    """A pcap's frames: `start` a normal session; `late` a mid-session join (the first four
    symbols named by adds before their R and H, the last one never named); `lost` that, with
    the packet holding the late symbols' R messages lost in a sequence gap; `join` adds before
    any R at all (every symbol late but the last, never named)."""
    late, unnamed = {"start": (0, 0), "join": (SYMBOLS - 1, 1)}.get(kind, (4, 1))
    config = MarketConfig(symbols=SYMBOLS, messages=3000, seed=3, late_symbols=late,
                          unnamed_symbols=unnamed)
    frames = [f for _, f in pcap_frames(list(MarketGenerator(config)), PcapOptions(dst=DST), 3)]
    if kind == "lost":
        del frames[directory_frame(frames, ticker(3))]
    return frames


def decisions_by_name(frames: list[bytes]) -> list[tuple]:
    """The golden model's orders and rejects: it binds each symbol by its R, by name. The
    host clears a stale feed as soon as it sees the gap."""
    fast = FastPath(LIMITS, STRATEGY, dst=DST, trade_date=DATE)
    for frame in frames:
        gaps = fast.sequencer.counts["gaps"]
        fast.frame(frame, 0)
        if fast.sequencer.counts["gaps"] != gaps:
            fast.clear_stale()
    return [(isinstance(d, RejectRow), d.msg_type, d.symbol, d.side, d.price, d.qty)
            for d in fast.out.decisions]


def trade(frames: list[bytes], order: list[str]) -> tuple[Card, list]:
    """A host trading on the model card: symbols subscribed in `order`, limits and strategy
    by the card's map; after a feed gap the map is checked again before the stale feed is
    cleared; every event popped."""
    model = ModelCard(DST)
    card = Card(Device(ModelTransport(model), REGMAP), {s: LOCATES[s] for s in order})
    card.listen(DST, DATE)
    card.subscribe()
    card.load_limits(LIMITS)
    card.load_strategy(STRATEGY)
    card.release()
    events, gaps = [], 0
    for at in range(0, len(frames), CHUNK):
        for frame in frames[at:at + CHUNK]:
            model.frame(frame)
            if card.device.read("mold_gaps") != gaps:
                gaps = card.device.read("mold_gaps")
                card.sync()
                card.clear_stale()
        events += card.events(10_000)
    return card, events


@pytest.mark.parametrize("kind", ["start", "late", "lost", "join"])
def test_limits_apply_to_the_symbol_they_name(kind):
    frames = feed(kind)
    # Subscribed by name, backwards: an order unlike the feed's (R or first add).
    order = sorted(LOCATES, reverse=True)
    card, events = trade(frames, order)
    assert card.slots == {symbol: order.index(symbol) for symbol in LOCATES}
    got = [(e.rejected, e.msg_type, e.symbol, e.side, e.price, e.qty) for e in events]
    assert got == decisions_by_name(frames)
    assert all(e.slot == card.slot_of(e.symbol) for e in events)
    traded = {e.symbol for e in events if not e.rejected}
    assert traded and not {ticker(1), ticker(5)} & traded
    assert {e.reason for e in events if e.symbol == ticker(1)} <= {"SYMBOL_DISABLED"}
    assert {e.reason for e in events if e.symbol == ticker(5)} == {"QTY_EXCEEDS_MAX"}
    if kind != "lost":
        assert {ticker(0), ticker(2)} <= traded
    if kind != "start":     # never named: subscribed by its configured locate, never traded
        assert ticker(SYMBOLS - 1) not in {e.symbol for e in events}
    if kind == "lost":      # their R lost: bound by locate, never named, never traded
        assert not {ticker(i) for i in range(4)} & {e.symbol for e in events}
        assert card.device.read("mold_gaps") == 1


def test_a_symbol_named_under_another_locate_halts_the_card_and_names_the_slot():
    frames = feed("start")
    model = ModelCard(DST)
    # The configuration swapped two locates: the feed's R will name them the other way.
    wrong = LOCATES | {ticker(0): LOCATES[ticker(1)], ticker(1): LOCATES[ticker(0)]}
    card = Card(Device(ModelTransport(model), REGMAP), wrong)
    card.subscribe()
    card.load_limits(LIMITS)
    card.release()                  # nothing named yet: the map agrees so far
    for frame in frames[:40]:
        model.frame(frame)
    with pytest.raises(SymbolMapError) as caught:
        card.sync()
    # Subscribed in the configuration's order: AAPL's (wrong) locate 2 took slot 0.
    assert f"slot 0: expected {ticker(0)} (locate 2), found {ticker(1)}" in str(caught.value)
    assert card.status().halted and card.bound == {} and card.slot_of(ticker(2)) is None
    with pytest.raises(SymbolMapError):
        card.release()
    assert card.device.read("risk_halt") == 1


def test_a_slot_the_host_did_not_subscribe_halts_the_card():
    model = ModelCard(DST)
    card = Card(Device(ModelTransport(model), REGMAP), {ticker(0): 1})
    card.subscribe()
    card.device.write("book_learn", 1)      # someone turned learning back on
    for frame in feed("start")[:40]:
        model.frame(frame)
    with pytest.raises(SymbolMapError, match=r"slot 1 holds locate 2 \(MSFT\), which the host "
                                             r"did not subscribe"):
        card.release()
    assert card.status().halted


def test_nothing_is_written_to_a_slot_the_map_does_not_show():
    model = ModelCard(DST)
    card = Card(Device(ModelTransport(model), REGMAP), {"AAPL": None, "NVDA": 3})
    card.subscribe()
    card.load_limits(load_limits({}))
    assert card.slots == {"NVDA": 0} and card.slot_of("AAPL") is None
    assert model.slot_limits[0].enabled and not model.slot_limits[1].enabled
    card.learned("AAPL", 1)                 # e.g. from the feed's R, later
    assert card.subscribe() == ["AAPL"] and card.slots == {"NVDA": 0, "AAPL": 1}
    assert model.slot_limits[1].enabled


def test_after_a_book_reset_the_card_halts_and_subscribing_binds_afresh():
    transport = ModelTransport(ModelCard(DST))
    card = Card(Device(transport, REGMAP), {"NVDA": 3, "AAPL": 1})
    card.subscribe()
    card.load_limits(load_limits({}))
    card.release()
    transport.card = fresh = ModelCard(DST)         # the card was reset: no slots, no limits
    fresh.values["risk_halt"] = 0
    fresh.write_word(REGMAP["book_subscribe"].address, 1)   # someone else subscribed AAPL
    with pytest.raises(SymbolMapError, match="no slot holds NVDA"):
        card.sync()
    assert fresh.values["risk_halt"] == 1
    assert card.subscribe() == ["AAPL", "NVDA"]
    assert card.slots == {"AAPL": 0, "NVDA": 1}     # where the card's map now has them
    assert fresh.slot_limits[0].enabled and fresh.slot_limits[1].enabled
    assert fresh.values["risk_halt"] == 1           # releasing is the host's decision


def test_the_directory_is_checked():
    device = Device(ModelTransport(), REGMAP)
    with pytest.raises(CardError, match="both have stock locate 3"):
        Card(device, {"AAPL": 3, "MSFT": 3})
    with pytest.raises(CardError, match="1..65535"):
        Card(device, {"AAPL": 0})
    with pytest.raises(CardError, match="not in the symbol directory"):
        Card(device, {"AAPL": 1}).learned("MSFT", 2)


class CorruptingTransport(ModelTransport):
    """Flips a bit of every write to one register's word (a bad bus or bridge)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.address = REGMAP[name].address

    def write_word(self, address: int, value: int) -> None:
        super().write_word(address, value ^ 1 if address == self.address else value)


def test_strategy_parameters_are_read_back_before_they_are_committed():
    transport = CorruptingTransport("strategy_param_size")
    card = Card(Device(transport, REGMAP), {"AAPL": 1})
    card.subscribe()
    with pytest.raises(CardError, match="strategy_param_size reads back 101, wrote 100"):
        card.commit_params(0, STRATEGY.for_symbol("AAPL"))
    assert transport.card.slot_params[0].mode == "off"      # nothing was committed


@pytest.fixture(scope="module")
def rtl_card():
    """The simulated RTL card (hw/rtl/nic.py under Verilator) behind the sim transport."""
    from drivers.sim import SimServer

    server = SimServer().start()
    yield server
    server.stop()


@pytest.mark.xdist_group("simulated_card")
def test_on_the_rtl_card_the_map_binds_by_name_and_a_wrong_one_halts_it(rtl_card):
    from drivers.sim import SimTransport

    transport = SimTransport.connect(rtl_card.address)
    try:
        # Mid-session: the late symbols are first named by adds; subscribed by name, backwards.
        order = sorted(LOCATES, reverse=True)
        wrong = {s: LOCATES[s] for s in order} | {ticker(0): 2, ticker(1): 1}
        card = Card(Device(transport, REGMAP), wrong)
        card.listen(DST, DATE)
        card.subscribe()
        card.load_limits(LIMITS)
        assert card.slots == {s: n for n, s in enumerate(order)}
        card.release()                      # nothing named yet: the map agrees so far
        frames = feed("late")
        transport.frames(frames[:60])       # the on-time symbols' R messages
        assert card.sync() == [] and card.device.read("risk_halt") == 0
        transport.frames(frames[60:700])    # the late ones: AAPL's R names locate 1
        with pytest.raises(SymbolMapError) as caught:
            card.sync()
        slot = order.index(ticker(1))       # the slot holding locate 1, subscribed as MSFT's
        assert f"slot {slot}: expected {ticker(1)} (locate 1), found {ticker(0)}" \
            in str(caught.value)
        assert card.status().halted and card.device.read("risk_halt") == 1
        with pytest.raises(SymbolMapError):
            card.release()
    finally:
        transport.close()


def test_host_orders_go_by_the_symbols_slot_through_the_gate():
    """Card.submit_order: by the map's slot, through the gate: an order within the limits is
    sent (cause "host"), one over them comes back as the gate's reject; bad terms or a symbol
    the map does not show are refused before any register is written."""
    order = sorted(LOCATES, reverse=True)
    card, events = trade(feed("start"), order)
    symbol = ticker(0)
    last = [e for e in events if e.symbol == symbol and not e.rejected][-1]
    card.device.transport.card.advance(CLOCK_HZ)      # a second on: the rate allows it
    card.submit_order(symbol, "S", last.price, 10)
    card.submit_order(ticker(5), "S", last.price, 61)          # over its max_order_qty 60
    sent, refused = card.events(10)
    assert (sent.rejected, sent.cause, sent.msg_type, sent.symbol, sent.side, sent.qty,
            sent.ioc, sent.slot) == (False, "host", "D", symbol, "S", 10, True,
                                     card.slot_of(symbol))
    assert (refused.rejected, refused.cause, refused.reason, refused.symbol) == (
        True, "host", "QTY_EXCEEDS_MAX", ticker(5))
    assert card.device.read("trader_host_orders") == 2
    writes = card.device.read("csr_bad_writes")
    with pytest.raises(SymbolMapError, match="ZZZZ has no confirmed slot"):
        card.submit_order("ZZZZ", "B", 100, 1)
    with pytest.raises(ValueError, match="side must be 'B' or 'S'"):
        card.submit_order(symbol, "X", 100, 1)
    with pytest.raises(ValueError, match="positive 32-bit price and qty"):
        card.submit_order(symbol, "B", 100, 0)
    assert card.events(10) == [] and card.device.read("csr_bad_writes") == writes
