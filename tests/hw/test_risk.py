"""Risk gate RTL (hw/rtl/risk.py), unit tier: Amaranth simulator against the golden model.

Every verdict (accepted, reason code, the full set of failing checks, the request passed
through) is compared with `sw.model.risk.RiskGate` under a random campaign: D/G/F and host order
ends back to back on a few slots (so consecutive requests hit the same slot's exposure, open
orders and rate schedule), limits and positions committed between bursts, halts, empty and stale
books, prices in and out of the collar, time jumps that restart rate schedules. Directed tests
pin the reset state (fail closed), refused commits, and the halt taking effect on the next
cycle.
"""

import collections
import random

import pytest
from amaranth.sim import Simulator

from hw.rtl.records import GateVerdict, OrderKind, OrderRequest, pack, unpack
from hw.rtl.risk import LATENCY, LIMITS, RiskCounters, RiskGate, register_values
from sw.model.clock import CLOCK_HZ
from sw.model.config import SymbolLimits
from sw.model.orders import BUY, SELL, OrderState
from sw.model.orders import OrderRequest as ModelRequest
from sw.model.risk import GateLimits, Reason
from sw.model.risk import RiskGate as ModelGate

KIND = {"D": OrderKind.NEW, "G": OrderKind.REPLACE, "F": OrderKind.CANCEL}


def request(kind, slot, side=BUY, price=0, qty=0, *, exposure=0, live=0, bbo=(0, 0),
            trading=1, stale=0, chain=0, index=0, cycle=0) -> int:
    return pack(OrderRequest, (kind, slot, side, price, qty, exposure, live, 0, bbo[0], bbo[1],
                               trading, stale, chain, index, cycle))




class Harness:
    """Drives the gate one request (or idle) per clock and records every verdict."""

    def __init__(self, dut: RiskGate, ctx):
        self.dut, self.ctx = dut, ctx
        self.verdicts: list[dict] = []

    async def tick(self):
        await self.ctx.tick()
        if self.ctx.get(self.dut.o_verdict.valid):
            word = self.ctx.get(self.dut.o_verdict.p.as_value())
            self.verdicts.append(unpack(GateVerdict, word))

    async def send(self, word: int | None):
        self.ctx.set(self.dut.i_request.valid, word is not None)
        if word is not None:
            self.ctx.set(self.dut.i_request.p.as_value(), word)
        await self.tick()
        self.ctx.set(self.dut.i_request.valid, 0)

    async def drain(self):
        for _ in range(LATENCY + 1):
            await self.tick()

    async def commit(self, slot: int, *, limits: dict | None = None,
                     position: int | None = None):
        for name, value in (limits or {}).items():
            self.ctx.set(getattr(self.dut.staged, name), value)
        if position is not None:
            self.ctx.set(self.dut.staged_position, position)
        self.ctx.set(self.dut.commit.valid, 1)
        self.ctx.set(self.dut.commit.p.slot, slot)
        self.ctx.set(self.dut.commit.p.limits, limits is not None)
        self.ctx.set(self.dut.commit.p.position, position is not None)
        await self.tick()
        self.ctx.set(self.dut.commit.valid, 0)


def run(dut: RiskGate, script) -> Harness:
    """Simulate `script(harness)`; returns the harness with every verdict it saw."""
    sim = Simulator(dut)
    sim.add_clock(6.4e-9)
    harness: list[Harness] = []

    async def bench(ctx):
        harness.append(Harness(dut, ctx))
        await script(harness[0])

    sim.add_testbench(bench)
    sim.run()
    return harness[0]


def mask(reasons) -> int:
    return sum(1 << (r.code - 1) for r in reasons)


def random_limits(rng: random.Random, pacing: bool = False) -> SymbolLimits:
    if pacing:      # every other limit roomy: most orders reach the rate check and pass it
        return SymbolLimits(
            max_order_qty=2000, max_order_notional=1e9, collar_bps=10_000, max_long=10**6,
            max_short=10**6, max_open_orders=255,
            max_orders_per_sec=rng.choice((3, 1000, 100_000, 1_000_000)),
            rate_burst=rng.choice((1, 2, 5)))
    return SymbolLimits(
        max_order_qty=rng.choice((50, 300, 1000, 1000)),
        max_order_notional=rng.choice((2_000.0, 20_000.0, 50_000.25, 1e6)),
        collar_bps=rng.choice((0, 10, 50, 100, 500)),
        max_long=rng.choice((0, 200, 500, 2000)),
        max_short=rng.choice((0, 200, 500, 2000)),
        max_open_orders=rng.choice((0, 1, 2, 4, 8)),
        max_orders_per_sec=rng.choice((0, 1, 1000, 100_000)),
        rate_burst=rng.choice((1, 2, 5)),
        enabled=rng.random() < 0.9)


@pytest.mark.parametrize("seed, pacing", [(1, False), (2, False), (3, False), (4, True)],
                         ids=["mixed-1", "mixed-2", "mixed-3", "pacing"])
def test_random_campaign_matches_the_golden_model(seed, pacing):
    rng = random.Random(seed)
    dut = RiskGate(slots=4)
    model = ModelGate(halted=True)
    expected: list[dict] = []
    chains: dict[int, object] = {}
    clordid = [0]
    now = [0]

    async def script(h: Harness):
        h.ctx.set(dut.halt, 1)
        for slot in range(4):
            limits = random_limits(rng, pacing)
            model.bind(slot, limits)
            await h.commit(slot, limits=register_values(limits), position=0)
        for _burst in range(100):
            # --- host actions, between bursts (the model's "between packets") ----------------
            await h.drain()
            for _ in range(rng.randrange(3)):
                slot = rng.randrange(4)
                if rng.random() < 0.5:
                    limits = random_limits(rng, pacing)
                    model.symbols[slot].set_limits(limits)
                    await h.commit(slot, limits=register_values(limits))
                else:
                    position = rng.randint(-600, 600)
                    model.symbols[slot].position = position
                    await h.commit(slot, position=position & 0xFFFF_FFFF)
            model.halted = rng.random() < 0.08
            h.ctx.set(dut.halt, model.halted)
            # --- a burst of requests, one per clock ------------------------------------------
            for _ in range(rng.randrange(10, 40)):
                # Steps around the intervals in use (157, 1,563 and 156,250 cycles), and past
                now[0] += rng.choice((0, 0, 1, 7, 100, 157, 781, 1562, 1563, 1000, 156_249,
                                      200_000, 10 * CLOCK_HZ))
                await one_request(h, rng.randrange(4))
        await h.drain()

    async def one_request(h: Harness, slot: int):
        mid = 100_000 + 100 * rng.randrange(-5, 5)
        bid, ask = mid - 100 * rng.randrange(1, 3), mid + 100 * rng.randrange(1, 3)
        if rng.random() < 0.05:
            bid = 0
        if rng.random() < 0.05:
            ask = 0
        trading, stale = rng.random() < 0.93, rng.random() < 0.05
        side = rng.choice((BUY, SELL))
        price = mid + 10 * rng.randrange(-80, 80)
        qty = rng.choice((1, 50, 100, 100, 200, 400)) if rng.random() < 0.95 else 1500
        mine = [c for c, o in chains.items() if o.locate == slot]
        roll = rng.random()
        if roll < 0.5 or not mine:
            req = ModelRequest("D", slot, side, price, qty)
        else:
            order = chains[rng.choice(mine)]
            if roll < 0.7 and order.state is OrderState.LIVE:
                req = ModelRequest("G", slot, order.side, price, qty, order=order)
            elif roll < 0.85:
                req = ModelRequest("F", slot, order.side, order.price, order.qty, order=order)
            else:                                   # the host: the order ended at the venue
                await h.send(request(OrderKind.END, slot, order.side, exposure=order.exposure,
                                     live=int(order.state is OrderState.LIVE),
                                     chain=order.chain))
                model.order_ended(order.chain)
                del chains[order.chain]
                return
        order = req.order
        word = request(KIND[req.msg_type], slot, req.side, req.price, req.qty,
                       exposure=order.exposure if order else 0,
                       live=int(order is not None and order.state is OrderState.LIVE),
                       bbo=(bid, ask), trading=int(trading), stale=int(stale),
                       chain=order.chain if order else clordid[0] + 1,
                       index=len(expected), cycle=now[0])
        verdict = model.check(req, now[0], (bid, 1, ask, 1), trading, stale)
        if verdict.accepted:
            clordid[0] += 1
            sent = model.sent(req, clordid[0])
            if req.msg_type == "D":
                chains[sent.chain] = sent
        expected.append({"request": word, "accepted": int(verdict.accepted),
                         "reason": verdict.reason.code if verdict.reason else 0,
                         "failed": mask(verdict.failed)})
        await h.send(word)

    got = run(dut, script).verdicts
    assert len(got) == len(expected)
    for n, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, f"verdict {n}: got {g}, expected {e}"
    reasons = collections.Counter(e["reason"] for e in expected)
    if pacing:      # the rate decides: both ways, often
        assert min(reasons[0], reasons[Reason.RATE_LIMITED.code]) > 100, reasons
    else:
        assert set(reasons) == {0, *(r.code for r in Reason)}, f"not every verdict: {reasons}"


DEFAULTS = register_values(SymbolLimits())
BBO = (99_900, 100_100)


def order(slot=0, qty=100, price=100_000, cycle=0, **kwargs) -> int:
    return request(OrderKind.NEW, slot, BUY, price, qty, bbo=BBO, cycle=cycle, **kwargs)


def test_reset_is_fail_closed_until_the_host_commits_and_releases():
    dut = RiskGate(slots=2)
    log = []

    async def script(h: Harness):
        await h.send(order())                    # reset: halted, nothing committed
        await h.drain()
        h.ctx.set(dut.halt, 0)
        await h.send(order())                    # released, but no limits yet
        await h.commit(0, limits=DEFAULTS)
        await h.send(order())
        await h.drain()
        log.extend((v["accepted"], v["reason"]) for v in h.verdicts)

    run(dut, script)
    assert log == [(0, Reason.KILL_SWITCH.code), (0, Reason.SYMBOL_DISABLED.code), (1, 0)]


def out_of_range(limit) -> int | None:
    bad = limit.low - 1 if limit.low > 0 else limit.high + 1
    return bad if bad < 1 << limit.bits else None   # None: every register value is valid


@pytest.mark.parametrize("limit", [lim for lim in LIMITS if out_of_range(lim) is not None],
                         ids=lambda lim: lim.name)
def test_out_of_range_commit_is_refused_whole(limit):
    """A commit with one value out of range applies nothing (not even the position with it)
    and raises the sticky error; the host clears it."""
    bad = out_of_range(limit)
    dut = RiskGate(slots=2)
    log = []

    async def script(h: Harness):
        h.ctx.set(dut.halt, 0)
        await h.commit(0, limits=DEFAULTS | {"max_order_qty": 100})
        await h.commit(0, limits=DEFAULTS | {limit.name: bad}, position=-5_000)
        log.append(h.ctx.get(dut.commit_error))
        await h.send(order(qty=150))             # still the first commit's 100-share limit
        await h.send(order(qty=100))             # and position 0: a 100-share buy fits
        await h.drain()
        h.ctx.set(dut.clear_commit_error, 1)
        await h.tick()
        h.ctx.set(dut.clear_commit_error, 0)
        await h.tick()
        log.append(h.ctx.get(dut.commit_error))
        log.extend(v["reason"] for v in h.verdicts)

    run(dut, script)
    assert log == [1, 0, Reason.QTY_EXCEEDS_MAX.code, 0]


def test_commit_to_a_missing_slot_is_refused_and_orders_for_it_are_disabled():
    dut = RiskGate(slots=3)
    log = []

    async def script(h: Harness):
        h.ctx.set(dut.halt, 0)
        await h.commit(3, limits=DEFAULTS)
        log.append(h.ctx.get(dut.commit_error))
        await h.send(order(slot=3))
        await h.drain()
        log.extend((v["accepted"], v["reason"]) for v in h.verdicts)

    run(dut, script)
    assert log == [1, (0, Reason.SYMBOL_DISABLED.code)]


def test_halt_blocks_every_order_decided_from_the_next_cycle():
    """Orders back to back; the halt rises in the middle: a verdict made in the cycle after it
    rose is a KILL_SWITCH reject, F still pass, and only an explicit release lifts it."""
    dut = RiskGate(slots=1)
    log = []

    async def script(h: Harness):
        h.ctx.set(dut.halt, 0)
        await h.commit(0, limits=DEFAULTS | {"max_open_orders": 255, "max_long": 10**6,
                                             "rate_tolerance": 999 * DEFAULTS["order_interval"]})
        for n in range(12):
            if n == 5:
                h.ctx.set(dut.halt, 1)
            if n == 9:
                h.ctx.set(dut.halt, 0)
            kind = OrderKind.CANCEL if n == 7 else OrderKind.NEW
            await h.send(request(kind, 0, BUY, 100_000, 10, bbo=BBO, index=n, live=1))
        await h.drain()
        log.extend((unpack(OrderRequest, v["request"])["index"], v["reason"])
                   for v in h.verdicts)

    run(dut, script)
    # The halt is set before request 5 enters: requests 4 (in S2 then) decided without it.
    kill = Reason.KILL_SWITCH.code
    assert log == [(0, 0), (1, 0), (2, 0), (3, 0), (4, kill), (5, kill), (6, kill), (7, 0),
                   (8, 0), (9, 0), (10, 0), (11, 0)]


def test_back_to_back_requests_on_one_slot_see_each_other():
    """S1 reads a slot's state while the request ahead of it in S2 is still writing it: each
    limit that counts what the gate accepted (open orders, position, rate) must see the order
    accepted one cycle before, and an END right after an order must release it."""
    dut = RiskGate(slots=2)
    log = []

    async def script(h: Harness):
        h.ctx.set(dut.halt, 0)
        roomy = DEFAULTS | {"max_open_orders": 255, "max_long": 10**6,
                            "rate_tolerance": 999 * DEFAULTS["order_interval"]}
        await h.commit(0, limits=roomy | {"max_open_orders": 2})
        await h.commit(1, limits=roomy | {"max_long": 250})
        await h.drain()
        for _ in range(3):                       # open orders: the third is one too many
            await h.send(order(slot=0, qty=10))
        await h.send(order(slot=1, qty=200))     # position: 200 of 250, then 200 more
        await h.send(order(slot=1, qty=200))
        await h.send(request(OrderKind.END, 1, BUY, exposure=200, live=1))
        await h.send(order(slot=1, qty=200))     # the END released the first 200
        await h.drain()
        await h.commit(0, limits=roomy | {"rate_tolerance": 0, "order_interval": CLOCK_HZ})
        await h.drain()
        await h.send(order(slot=0, qty=10, cycle=10**9))       # the schedule allows one
        await h.send(order(slot=0, qty=10, cycle=10**9 + 1))   # the next is a second away
        await h.drain()
        log.extend(v["reason"] for v in h.verdicts)

    run(dut, script)
    assert log == [0, 0, Reason.OPEN_ORDERS_LIMIT.code, 0, Reason.POSITION_LIMIT.code, 0, 0,
                   Reason.RATE_LIMITED.code]


@pytest.mark.parametrize("bbo", [(99_900, 100_100), (99_901, 100_100)], ids=["even", "odd"])
def test_collar_edges_on_both_sides_of_a_mid_that_rounds_down(bbo):
    """Collar 100 bps of mid 100,000 (bid + ask odd: the mid is rounded down, and the gate
    works from 2 * price - bid - ask): exactly 1,000 units away is inside, one more is out."""
    dut = RiskGate(slots=1)
    prices = [101_000, 101_001, 99_000, 98_999, 100_000]
    reasons = []

    async def script(h: Harness):
        h.ctx.set(dut.halt, 0)
        await h.commit(0, limits=DEFAULTS | {"collar_bps": 100, "max_order_qty": 10**6,
                                             "max_notional": 10**13})
        await h.drain()
        for price in prices:
            await h.send(request(OrderKind.NEW, 0, BUY, price, 1, bbo=bbo))
        await h.drain()
        reasons.extend(v["reason"] for v in h.verdicts)

    run(dut, script)
    outside = Reason.PRICE_OUTSIDE_COLLAR.code
    assert reasons == [0, outside, 0, outside, 0]


@pytest.mark.parametrize("gap", [0, 4], ids=["back_to_back", "spaced"])
def test_rate_schedule_moves_on_from_the_due_cycle(gap):
    """Interval 1,000 cycles, tolerance 1,000 (a burst of 2): an order taken ahead of its due
    cycle moves the schedule on from that cycle, not from its own; one idle past it restarts
    the schedule from its own. Back to back (S2 forwards the schedule to S1) and spaced (S1
    reads it back): the same verdicts, and the golden model's."""
    dut = RiskGate(slots=1)
    limits = GateLimits(**(DEFAULTS | {"max_open_orders": 255, "max_long": 10**6,
                                       "order_interval": 1000, "rate_tolerance": 1000,
                                       "enabled": True}))
    cycles = (10_000, 10_950, 10_960, 11_000, 11_999, 12_000, 20_000, 20_001, 20_999, 21_000)
    model = ModelGate()
    model.bind(0, limits)
    expected = []
    for cycle in cycles:
        req = ModelRequest("D", 0, BUY, 100_000, 10)
        verdict = model.check(req, cycle, (BBO[0], 1, BBO[1], 1), True, False)
        if verdict.accepted:
            model.sent(req, len(expected) + 1)
        expected.append(verdict.reason.code if verdict.reason else 0)
    limited = Reason.RATE_LIMITED.code
    assert expected == [0, 0, limited, 0, limited, 0, 0, 0, limited, 0]
    log = []

    async def script(h: Harness):
        h.ctx.set(dut.halt, 0)
        await h.commit(0, limits=limits.registers())
        await h.drain()
        for cycle in cycles:
            await h.send(order(qty=10, cycle=cycle))
            for _ in range(gap):
                await h.send(None)
        await h.drain()
        log.extend(v["reason"] for v in h.verdicts)

    run(dut, script)
    assert log == expected


def test_counters_count_checks_accepts_and_first_reasons():
    dut = RiskGate(slots=1)
    counters = {}

    async def script(h: Harness):
        h.ctx.set(dut.halt, 0)
        await h.commit(0, limits=DEFAULTS | {"max_order_qty": 100})
        for qty in (100, 101, 100, 5000):
            await h.send(order(qty=qty))
        await h.send(request(OrderKind.CANCEL, 0, BUY, 100_000, 100, live=1))
        await h.send(request(OrderKind.END, 0, BUY, exposure=100, live=0))
        await h.drain()
        await h.tick()
        counters.update(unpack(RiskCounters, h.ctx.get(dut.counters.as_value())))

    run(dut, script)
    assert {k: v for k, v in counters.items() if v} == {
        "checked": 4, "accepted": 2, "cancels": 1, "ends": 1, "reject_qty_exceeds_max": 2}


def test_safety_properties_are_proven_by_k_induction_and_reachable():
    """SymbiYosys proves the gate's assertions at its ports (hw/rtl/risk.py `_assert_safety`)
    on the default 32-slot build by k-induction, for any inputs on every cycle: each verdict
    answers its request; nothing leaves while halted, for a halted or stale symbol or outside
    the collar; and for a slot the solver picks, nothing leaves against a shadow kept from the
    port traffic (its committed limits and position, the exposure and live orders of what left
    and was not ended, its rate schedule): disabled, over the quantity, notional, position or
    open-order limits, or ahead of its schedule. The cover task reaches each cover, among them
    an accepted order for that slot after a commit (the assertions are not vacuous)."""
    from hw.tb.formal import prove

    results = prove(RiskGate(properties=True), "risk_gate")
    for proof in results:
        assert proof.passed, f"{proof.task} failed:\n{proof.log[-3000:]}"
