"""cocotb tests of the book builder RTL (run by tests/hw/test_book.py under Verilator).

Events are driven straight into `i_event` (the ingress is tested on its own); every update on
`o_update` is checked bit for bit, in order, against hw/tb/book.BookReference (the golden model
within the documented capacity), and so is every counter and the unreliable flags. The build's
parameters come in NERVE_BOOK_PARAMS (JSON), so the reference knows the capacity it checks.

Traffic: a generated market (tens of symbols, thousands of live orders), a hazard campaign (a
few symbols and refs, so back-to-back events hit the same order and level: adds at, inside and
away from the best, crossing adds, executions and cancels that empty the best, replaces that
move it or reuse their ref, duplicate and unknown refs, zero shares, halts), and a capacity
campaign for the small build (symbols, orders and prices beyond capacity).
"""

import json
import os
import random
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from hw.rtl.book import LATENCY, BookBuilder, BookCounters
from hw.rtl.book_issue import QUEUE
from hw.rtl.hostbus import BANK_LATENCY
from hw.rtl.records import BookEvent, BookEventKind, BookUpdate, FeedEvent, Side, pack, unpack
from hw.tb.book import BookReference
from sw.feed import itch
from sw.feed.generator import MarketConfig, MarketGenerator
from sw.model import decoder

SEED = int(os.environ.get("NERVE_SEED", "1"))
SCALE = float(os.environ.get("NERVE_SCALE", "1"))
PARAMS = json.loads(os.environ.get("NERVE_BOOK_PARAMS", "{}"))
K = BookEventKind
STOCK = int.from_bytes(b"ZXTEST  ", "big")
SKIP = "skip"   # a message with no book event (P, unknown types): it still takes an index


def event(kind, locate=0, ref=0, new_ref=0, side=Side.BUY, shares=0, price=0, stock=0, code=0):
    return (kind, locate, ref, new_ref, side, shares, price, stock, code)


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.cycle = 0
        self.ref = BookReference(BookBuilder(**PARAMS))
        self.index = 0
        self.driven: dict[int, tuple] = {}    # message index -> (cycle driven, kind)
        self.updates: list[tuple[int, dict]] = []
        cocotb.start_soon(Clock(dut.clk, 6.4, unit="ns").start())
        cocotb.start_soon(self._count_edges())
        cocotb.start_soon(self._collect())

    async def _count_edges(self):
        while True:
            await RisingEdge(self.dut.clk)
            self.cycle += 1

    async def _collect(self):
        while True:
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            if self.dut.o_update__valid.value:
                fields = unpack(BookUpdate, self.dut.o_update__payload.value.to_unsigned())
                self.updates.append((self.cycle, fields))

    async def reset(self, *, during=()):
        """Reset, then the RAM sweep: `clearing` must read 1 for exactly `clear_cycles` cycles.
        Checking starts afresh (a new reference: the book must be empty). `during`: events
        driven while the sweep runs, and one host subscription, all of which the book must
        drop and count (`clearing_drop`, `subscribe_refused`)."""
        dut = self.dut
        dut.rst.value = 1
        dut.i_event__valid.value = 0
        dut.clear_unreliable.value = 0
        dut.learn.value = 1
        dut.subscribe__valid.value = 0
        for _ in range(2):
            await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.rst.value = 0
        self.ref = BookReference(self.ref.cap)
        self.updates.clear()
        pending = list(during)
        if pending:
            dut.subscribe__valid.value = 1
            dut.subscribe__payload.value = 1
            self.ref.out.counters["subscribe_refused"] += 1
        high = 0
        while dut.clearing.value:
            high += 1
            dut.i_event__valid.value = bool(pending)
            if pending:
                ev = pending.pop(0)
                dut.i_event__payload.value = pack(FeedEvent, (pack(BookEvent, ev), 0, 0))
                self.ref.out.counters["clearing_drop"] += 1
            await FallingEdge(dut.clk)
            dut.subscribe__valid.value = 0
        dut.i_event__valid.value = 0
        assert high == self.ref.cap.clear_cycles, f"clearing for {high} cycles"
        assert not pending, "the sweep ended before the events meant to arrive during it"

    async def send(self, items, *, spaced: bool = True):
        """Drive events (None = an idle cycle, SKIP = an index with no event), one per clock.
        `spaced`: an idle cycle after every U, as the wire guarantees (a U is 37 bytes).
        Otherwise U's go back to back with other events, and the issue queue holds their second
        halves: the testbench keeps its own count of the queue and idles only when it would
        overflow (the wire never gets there: hw/rtl/book.py)."""
        queued = 0
        for ev in items:
            if ev is SKIP:
                self.index += 1
                continue
            await FallingEdge(self.dut.clk)
            if ev is not None and ev[0] == K.REPLACE and queued >= QUEUE - 1:
                self.dut.i_event__valid.value = 0          # let the queue drain one
                queued -= 1
                await FallingEdge(self.dut.clk)
            if ev is None:
                self.dut.i_event__valid.value = 0
                queued = max(0, queued - 1)
                continue
            queued += ev[0] == K.REPLACE
            index, cycle = self.index, 1000 + self.cycle
            self.index += 1
            self.dut.i_event__valid.value = 1
            self.dut.i_event__payload.value = pack(FeedEvent, (pack(BookEvent, ev), index, cycle))
            self.driven[index] = (self.cycle, ev[0])
            self.ref.event(ev, index, cycle)
            if spaced and ev[0] == K.REPLACE:
                await FallingEdge(self.dut.clk)
                self.dut.i_event__valid.value = 0
                queued = max(0, queued - 1)
        await FallingEdge(self.dut.clk)
        self.dut.i_event__valid.value = 0
        for _ in range(LATENCY + 8):
            await RisingEdge(self.dut.clk)

    async def clear(self, mask: int):
        """The host clears unreliable flags, with the pipeline idle."""
        await FallingEdge(self.dut.clk)
        self.dut.clear_unreliable.value = mask
        await FallingEdge(self.dut.clk)
        self.dut.clear_unreliable.value = 0
        self.ref.clear(mask)

    async def subscribe(self, locates, *, learn: bool):
        """The host sets `learn` and writes `locates` to `subscribe`, with the pipeline idle,
        back to back at the CSR bus's fastest: one write per BANK_LATENCY + 1 cycles."""
        await FallingEdge(self.dut.clk)
        self.dut.learn.value = int(learn)
        self.ref.learning = learn
        for locate in locates:
            self.dut.subscribe__valid.value = 1
            self.dut.subscribe__payload.value = locate
            self.ref.subscribe(locate)
            await FallingEdge(self.dut.clk)
            self.dut.subscribe__valid.value = 0
            for _ in range(BANK_LATENCY):
                await FallingEdge(self.dut.clk)
        for _ in range(3):
            await RisingEdge(self.dut.clk)

    async def check_map(self):
        """The slot map the host reads (`map_slot` -> `map_locate`, `map_named`, `map_stock`)
        against the reference, slot by slot and one past the last (free: all zero)."""
        ref = self.ref
        for slot in range(min(len(ref.slot_locate) + 1, ref.cap.slots)):
            await FallingEdge(self.dut.clk)
            self.dut.map_slot.value = slot
            for _ in range(2):                  # registered: a cycle after the select
                await FallingEdge(self.dut.clk)
            taken = slot < len(ref.slot_locate)
            want = (ref.slot_locate[slot] if taken else 0, int(slot in ref.stock),
                    ref.stock.get(slot, 0))
            got = (self.dut.map_locate.value.to_unsigned(), int(self.dut.map_named.value),
                   self.dut.map_stock.value.to_unsigned())
            assert got == want, f"slot {slot}: map {got}, reference {want}"

    def check(self, *, spaced: bool = True) -> dict[str, int]:
        """Every update in order and in content, latencies, counters, unreliable flags."""
        want = self.ref.out
        unpredictable = want.unpredictable

        def predictable(u):
            return not (u["slot"] in unpredictable and u["index"] >= unpredictable[u["slot"]])

        got = [(c, u) for c, u in self.updates if predictable(u)]
        exp = [u for u in want.updates if predictable(u)]
        for _, u in self.updates:
            if not predictable(u):
                assert u["unreliable"], f"update of unreliable slot {u['slot']} not flagged: {u}"
        for n, ((cycle, g), e) in enumerate(zip(got, exp, strict=False)):  # lengths below
            if g != e:
                diff = {k: (g[k], e[k]) for k in g if g[k] != e[k]}
                raise AssertionError(f"update {n} (message {e['index']}): got != expected "
                                     f"in {diff}; expected {e}")
            if spaced:
                driven, kind = self.driven[g["index"]]
                # A U is two micro-ops: its update is evaluated after the second.
                want_latency = LATENCY + (kind == K.REPLACE)
                assert cycle - driven == want_latency, (
                    f"update {n} ({K(kind).name}): latency {cycle - driven} cycles")
        assert len(got) == len(exp), f"{len(got)} updates, expected {len(exp)}"
        counters = unpack(BookCounters, self.dut.counters.value.to_unsigned())
        for name, value in counters.items():
            if name == "bbo_updates" and unpredictable:
                continue
            assert value == want.counters.get(name, 0), (name, value, want.counters)
        assert self.dut.unreliable.value.to_unsigned() == self.ref.unreliable
        assert self.dut.slots_used.value.to_unsigned() == len(self.ref.slot_locate)
        return counters


def market_events(symbols: int, messages: int, seed: int):
    """A generated market's book events, with None where a message makes no event (P)."""
    config = MarketConfig(symbols=symbols, messages=messages, seed=seed,
                          max_orders_per_symbol=400)
    for msg in MarketGenerator(config):
        ev = decoder.decode(itch.encode(msg))
        yield SKIP if ev is None else tuple(ev)


async def send_market(tb: TB, events, *, idle: float = 0.0, spaced: bool = True):
    rng = random.Random(SEED)
    batch = []
    for ev in events:
        while rng.random() < idle:
            batch.append(None)
        batch.append(ev)
    await tb.send(batch, spaced=spaced)


@cocotb.test()
async def generated_market_back_to_back(dut):
    """Tens of symbols, thousands of live orders, one event per clock: every BBO exact, in
    LATENCY cycles."""
    tb = TB(dut)
    await tb.reset()
    started, wall = tb.cycle, time.perf_counter()
    await send_market(tb, market_events(24, int(12_000 * SCALE), SEED))
    cycles, seconds = tb.cycle - started, time.perf_counter() - wall
    counters = tb.check()
    live = len(tb.ref.model.orders)
    assert counters["bbo_updates"] > 1000 and live > 1000, (counters, live)
    assert not tb.ref.unreliable, "the default capacity holds this market"
    dut._log.info(f"{counters['events']} events, {counters['bbo_updates']} BBO updates, "
                  f"{live} live orders at the end")
    if os.environ.get("NERVE_BENCH_OUT"):          # bench/book.py reads the figures
        kinds = [kind for _, kind in tb.driven.values()]
        latency: dict[str, list[int]] = {}
        for cycle, u in tb.updates:
            driven, kind = tb.driven[u["index"]]
            latency.setdefault(K(kind).name, []).append(cycle - driven)
        Path(os.environ["NERVE_BENCH_OUT"]).write_text(json.dumps({
            "events": len(kinds), "replaces": kinds.count(K.REPLACE),
            "cycles": cycles - LATENCY - 8, "seconds": seconds,
            "bbo_updates": counters["bbo_updates"], "live_orders": live,
            "latency": {k: [min(v), max(v), len(v)] for k, v in latency.items()}}))


@cocotb.test()
async def generated_market_with_idle_gaps_and_bursts(dut):
    """The same kind of market with random idle cycles, and U's back to back (the queue)."""
    tb = TB(dut)
    await tb.reset()
    await send_market(tb, market_events(12, int(6_000 * SCALE), SEED + 1), idle=0.3,
                      spaced=False)
    tb.check(spaced=False)


def hazard_events(rng: random.Random, count: int, locates=(1, 2, 3), refs=40):
    """Back-to-back events on a few symbols and refs, at and around the best."""
    live: dict[int, int] = {}       # ref -> locate (as the generator believes; may be stale)
    events = [event(K.DIRECTORY, loc, stock=STOCK + loc) for loc in locates]
    events += [event(K.TRADING_STATE, loc, stock=STOCK + loc, code=ord("T")) for loc in locates]
    mid = {loc: 100_000 + 10_000 * loc for loc in locates}
    for _ in range(count):
        loc = rng.choice(locates)
        roll = rng.random()
        ref = rng.randrange(1, refs)
        price = mid[loc] + 100 * rng.randint(-4, 4)
        if roll < 0.35:
            side = rng.choice((Side.BUY, Side.SELL))
            shares = rng.choice((0, 1, 100, 200, 300, 5000)) if rng.random() < 0.9 else 0
            if rng.random() < 0.03:
                price = 0
            events.append(event(K.ADD, loc, ref, side=side, shares=shares, price=price,
                                stock=STOCK + loc))
            live[ref] = loc
        elif roll < 0.5:
            events.append(event(K.EXECUTE, loc, ref, shares=rng.choice((0, 1, 50, 100, 10**6))))
        elif roll < 0.6:
            events.append(event(K.CANCEL, loc, ref, shares=rng.choice((1, 100, 10**6))))
        elif roll < 0.72:
            events.append(event(K.DELETE, loc, ref))
        elif roll < 0.9:
            new_ref = ref if rng.random() < 0.1 else rng.randrange(1, refs)
            events.append(event(K.REPLACE, loc, ref, new_ref,
                                shares=rng.choice((0, 100, 700)), price=price))
        elif roll < 0.95:
            events.append(event(K.TRADING_STATE, loc, stock=STOCK + loc,
                                code=ord(rng.choice("HPQT"))))
        elif roll < 0.97:
            events.append(event(K.DIRECTORY, loc, stock=STOCK + rng.randrange(99)))
        elif roll < 0.98:
            events.append(event(K.SYSTEM, code=ord("Q")))
        else:
            mid[loc] += rng.choice((-300, 300))
    return events


@cocotb.test()
async def hazards_on_back_to_back_events(dut):
    """Same order, same level, same symbol on consecutive clocks: forwarded, never stalled."""
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(SEED + 2)
    for _ in range(int(6 * SCALE)):
        await tb.send(hazard_events(rng, 600))
        await tb.send(hazard_events(rng, 300, locates=(7,), refs=6))
    counters = tb.check()
    for name in ("duplicate_ref", "empty_add", "unknown_ref", "state_updates"):
        assert counters[name] > 0, f"the campaign never produced {name}"


@cocotb.test()
async def beyond_capacity_is_unreliable_never_wrong(dut):
    """More symbols, orders and price range than the build holds: the symbols affected are
    flagged and counted, the others stay exact; the host clears the flags."""
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(SEED + 3)
    locates = tuple(range(1, tb.ref.cap.slots + 4))
    events = hazard_events(rng, 0, locates=locates)
    for n in range(int(3000 * SCALE)):
        loc = rng.choice(locates)
        price = 100_000 + 100 * int(rng.gauss(0, tb.ref.cap.levels / 2))
        events.append(event(K.ADD, loc, 10_000 + n, side=rng.choice((Side.BUY, Side.SELL)),
                            shares=rng.randint(1, 900), price=price))
        if rng.random() < 0.4:
            events.append(event(K.DELETE, loc, 10_000 + rng.randrange(n + 1)))
        if rng.random() < 0.05:
            events.append(event(K.REPLACE, loc, 10_000 + rng.randrange(n + 1), 900_000 + n,
                                shares=100, price=price + 100 * rng.randint(-40, 40)))
    await tb.send(events[:len(events) // 2])
    assert tb.ref.unreliable, "the campaign should leave the capacity"
    await tb.clear(tb.ref.unreliable)
    await tb.send(events[len(events) // 2:])
    counters = tb.check()
    for name in ("unsubscribed", "order_overflow", "price_out_of_window"):
        assert counters[name] > 0, f"the campaign never produced {name}"


@cocotb.test()
async def host_subscription_list(dut):
    """The host subscribes a list with learning off: only those symbols are booked, in the
    host's slot order; refused subscriptions are counted; learning on again fills the rest."""
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(SEED + 4)
    cap = tb.ref.cap
    wanted = rng.sample(range(1, 13), min(cap.slots, 12) // 2)
    beyond = 1 << cap.locate_bits
    await tb.subscribe([*wanted, wanted[0], beyond], learn=False)
    events = list(market_events(12, int(3_000 * SCALE), SEED + 4))
    await tb.send(events[:len(events) // 2])
    assert tb.ref.slots == {loc: n for n, loc in enumerate(wanted)}
    await tb.check_map()
    await tb.subscribe(range(1, cap.slots + 2), learn=True)   # fills the slots, then refused
    await tb.send(events[len(events) // 2:])
    await tb.check_map()
    counters = tb.check()
    assert counters["subscribe_refused"] >= 2, counters
    assert counters["unsubscribed"] > 0, counters


@cocotb.test()
async def reset_mid_session_starts_from_an_empty_book(dut):
    """A reset while the book holds orders, levels and slots: the sweep leaves none of them, so
    a new session that reuses the refs and prices, and names the old locates in another order,
    is exact from an empty book; what arrives during the sweep is dropped and counted."""
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(SEED + 5)
    await tb.send(hazard_events(rng, 400, locates=(1, 2, 3), refs=20))
    before = tb.check()
    assert before["bbo_updates"] > 20 and tb.ref.model.orders, before
    await tb.reset(during=hazard_events(rng, 60, locates=(1, 2), refs=12))
    await tb.send(hazard_events(rng, 400, locates=(5, 1, 6, 2), refs=12))
    counters = tb.check()
    assert counters["clearing_drop"] > 0 and counters["subscribe_refused"] == 1, counters
    assert tb.ref.slot_locate[:2] == [5, 1], "the new session learned its own slot order"

