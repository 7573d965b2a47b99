"""Card -> host events through the driver: the model card and the simulated RTL card, fed the
same frames and configured through the same `Card` calls, report the same orders and rejects;
a full event queue is flagged, counted and halts trading."""

from __future__ import annotations

import datetime as dt

import pytest

from drivers.card import Card
from drivers.device import Device
from drivers.events import decode, encode
from drivers.model import ModelCard, ModelTransport
from hw.rtl.nic import EVENT_DEPTH, REGMAP
from sw.feed.generator import MarketConfig, PcapOptions, pcap_frames
from sw.feed.generator import MarketGenerator as Market
from sw.feed.net import UdpEndpoint
from sw.model.config import load_limits, load_strategy
from sw.model.ingress import directory

DST = UdpEndpoint()
DATE = dt.date(2026, 11, 20)
CHUNK = 16      # frames between two event pops
LIMITS = load_limits({"defaults": {"max_open_orders": 3, "rate_burst": 4,
                                   "max_orders_per_sec": 50}})


def session(messages: int = 900, seed: int = 4) -> tuple[list[bytes], dict[str, int]]:
    market = list(Market(MarketConfig(symbols=5, messages=messages, seed=seed)))
    frames = [frame for _, frame in pcap_frames(market, PcapOptions(dst=DST), seed)]
    return frames, directory([(0, f) for f in frames], DST).locates


def trade(device: Device, symbols: dict[str, int]) -> Card:
    card = Card(device, symbols)
    card.listen(DST, DATE)
    card.subscribe()
    card.load_limits(LIMITS)
    card.load_strategy(load_strategy({}))
    card.release()
    return card


def projection(events):
    """What both cards must agree on (the model card's clock is not the RTL's)."""
    return [(e.rejected, e.msg_type, e.symbol, e.slot, e.side, e.price, e.qty, e.clordid,
             e.orig_clordid, e.ioc, e.cause, e.reason, e.failed, e.msg_index, e.seq)
            for e in events]


def test_events_round_trip_through_the_packed_layout():
    frames, symbols = session(400)
    model = ModelCard()
    card = trade(Device(ModelTransport(model), REGMAP), symbols)
    for frame in frames:
        model.frame(frame)
    events = card.events(10_000)
    assert any(e.rejected for e in events) and any(not e.rejected for e in events)
    assert all(decode(encode(e)) == e for e in events)


@pytest.mark.xdist_group("simulated_card")
def test_the_simulated_card_reports_what_the_model_card_reports(tmp_path):
    from drivers.sim import SimServer, SimTransport

    frames, symbols = session()
    model = ModelCard()
    model_card = trade(Device(ModelTransport(model), REGMAP), symbols)
    expected = []
    for at in range(0, len(frames), CHUNK):       # the host pops as the card runs
        for frame in frames[at:at + CHUNK]:
            model.frame(frame)
        expected += model_card.events(10_000)
    assert len(expected) > 100 and model.lost == 0

    server = SimServer().start()
    try:
        transport = SimTransport.connect(server.address)
        card = trade(Device(transport, REGMAP), symbols)
        got = []
        for at in range(0, len(frames), CHUNK):
            transport.frames(frames[at:at + CHUNK])
            got += card.events(10_000)
        assert projection(got) == projection(expected)
        # Stamped by the card's own PTP clock: every order leaves after its packet came in.
        assert all(e.tick_to_trade_cycles > 0 for e in got if not e.rejected)
        assert card.device.read_many(["event_lost", "event_overflow", "event_count"]) == {
            "event_lost": 0, "event_overflow": 0, "event_count": 0}
        transport.close()
    finally:
        server.stop()


def flood(device: Device, symbols: dict[str, int]) -> Card:
    """A card whose every quote is too big: each book change brings a reject per side, a
    flood of events that nobody pops."""
    card = Card(device, symbols)
    card.listen(DST, DATE)
    card.subscribe()
    card.load_limits(load_limits({"defaults": {"max_order_qty": 1}}))
    card.load_strategy(load_strategy({}))
    card.release()
    return card


def check_overflowed(card: Card) -> None:
    """The queue is full, the loss flagged and counted, trading halted for it."""
    values = card.device.read_many(["event_count", "event_lost", "event_overflow"])
    assert values["event_count"] == EVENT_DEPTH
    assert values["event_lost"] > 0 and values["event_overflow"] == 1
    status = card.status()
    assert status.halted and "host events lost" in status.halt_reasons


FLOOD_CHUNK = 128    # frames between two looks at event_overflow
AFTER = 300          # frames sent while the flag is up, and again after the host clears it


def overflow_drill(card: Card, send, frames: list[bytes]) -> tuple[list, int, list]:
    """Flood `card` (nobody pops) until its queue overflows, drain it, send frames while the
    flag is still up, clear the flag and send more. Returns the events the queue kept, the
    events queued while the flag was up, and those queued after the clear."""
    at = 0
    while card.device.read("event_overflow") == 0:
        assert at < len(frames), "the feed never filled the queue"
        send(frames[at:at + FLOOD_CHUNK])
        at += FLOOD_CHUNK
    assert at + 2 * AFTER <= len(frames), "the feed is too short for the rest of the drill"
    check_overflowed(card)
    kept = card.events(10_000)
    assert card.device.read("event_count") == 0
    send(frames[at:at + AFTER])
    while_flagged = card.device.read("event_count")
    assert card.status().halted
    # Clearing the flag is not a release: the kill switch is the host's own decision.
    card.device.write("event_overflow", 1)
    assert not card.status().halted
    send(frames[at + AFTER:at + 2 * AFTER])
    return kept, while_flagged, card.events(10_000)


def model_overflow_drill(frames: list[bytes],
                         symbols: dict[str, int]) -> tuple[list, int, list]:
    """`overflow_drill` on a fresh model card, which takes its frames one at a time."""
    model = ModelCard()

    def send(chunk: list[bytes]) -> None:
        for frame in chunk:
            model.frame(frame)

    return overflow_drill(flood(Device(ModelTransport(model), REGMAP), symbols), send, frames)


def test_a_full_event_queue_is_flagged_counted_and_halts_trading():
    kept, while_flagged, after_clear = model_overflow_drill(*session(3000, seed=6))
    assert len(kept) == EVENT_DEPTH
    assert while_flagged == 0            # halted: the strategy stands down, nothing to report
    assert after_clear                   # cleared: the rejects flow again


@pytest.mark.xdist_group("simulated_card")
def test_the_simulated_card_overflows_its_event_queue_as_the_model_card_does():
    """The RTL queue, flooded: it keeps the first EVENT_DEPTH events, in order and equal to
    the model card's, loses the rest loudly, halts trading until the host clears the flag,
    and then reports what the model card reports. (How many are lost before the halt stops
    the strategy is timing: the model card takes a message at once, the RTL's pipeline holds
    a few requests in flight; both lose some and say so.)"""
    from drivers.sim import SimServer, SimTransport

    frames, symbols = session(3000, seed=6)
    expected = model_overflow_drill(frames, symbols)
    server = SimServer().start()
    try:
        transport = SimTransport.connect(server.address)
        got = overflow_drill(flood(Device(transport, REGMAP), symbols), transport.frames,
                             frames)
        transport.close()
    finally:
        server.stop()
    assert projection(got[0]) == projection(expected[0])
    assert got[1] == expected[1] == 0
    assert projection(got[2]) == projection(expected[2]) and got[2]


def test_the_model_card_follows_each_chain_and_forgets_it_when_it_ends():
    frames, symbols = session(900)
    model = ModelCard()
    card = trade(Device(ModelTransport(model), REGMAP), symbols)
    events = []
    for frame in frames:
        model.frame(frame)
        events += card.events(10_000)
    chain_handle = {}                 # latest ClOrdID of a chain -> the chain's entry
    replaced = 0
    for e in (e for e in events if not e.rejected):
        if e.msg_type == "D":
            assert e.handle not in chain_handle.values()      # a new chain, a free entry
        else:
            assert e.handle == chain_handle.pop(e.orig_clordid)   # the chain it continues
            replaced += 1
        chain_handle[e.clordid] = e.handle
    assert replaced > 10
    # White box: the card's bookkeeping holds one number per open chain, and none once the
    # host has ended them all (it must not grow with every order of the day).
    assert len(model._chain) == len(chain_handle)
    for handle in set(chain_handle.values()):
        card.order_ended(handle)
    assert model._chain == {} and model._latest == {} and model._handle_of == {}
    assert card.status().registers["trader_open_chains"] == 0
