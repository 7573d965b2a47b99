# amaranth: UnusedElaboratable=no
# (the constructor tests build Strategy objects that refuse their arguments)

"""Strategy RTL (hw/rtl/strategy.py), unit tier: Amaranth simulator against the golden model.

Every Intents (both sides, bit for bit) is compared with what `sw.model.strategy.Strategy`
asks for under a random campaign: decisions back to back with idle gaps on a few slots, whose
parameters (every mode, ticks from 1 to 1,000,000, odd ticks, skews, shifts, spreads, requote
distances, take thresholds around the book) are recommitted while decisions flow (those that
enter while the commit is applied must see the old set). Books are empty on a side, crossed or
locked; positions long, short and extreme; live quotes on and off the grid, at and around the
requote distance. Directed tests pin the reset state, the latency, commit atomicity and refusal,
the reciprocal's exactness at the edges, and the one deviation (sell prices of 2**32 or more).
"""

import collections
import random

import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from hw.rtl.records import Intents, OrderKind, StrategyMode
from hw.rtl.strategy import (
    COMMIT_CYCLES,
    LATENCY,
    PARAMS,
    Strategy,
    StrategyParamsLayout,
    registers,
)
from sw.model.config import StrategyParams
from sw.model.orders import BUY, SELL, LiveOrder
from sw.model.strategy import Strategy as ModelStrategy
from sw.model.strategy import quote_prices

KIND = {"D": OrderKind.NEW, "G": OrderKind.REPLACE, "F": OrderKind.CANCEL}
MODE = {"off": StrategyMode.OFF, "quote": StrategyMode.QUOTE, "take": StrategyMode.TAKE}
TOP = (1 << 32) - 1      # the largest price the records carry
NO_INTENTS = Intents.const({}).as_bits()


def staged(params: StrategyParams) -> dict:
    """The `staged` port's value for a parameter set."""
    return {p.name: MODE[params.mode] if p.name == "mode" else getattr(params, p.name)
            for p in PARAMS}


def decision(slot, bbo, permitted, position, quotes) -> dict:
    """A Decision's value; `quotes` per side is None or (price, qty)."""
    bid, bid_shares, ask, ask_shares = bbo
    return {"slot": slot, "bid_price": bid, "bid_shares": bid_shares, "ask_price": ask,
            "ask_shares": ask_shares, "permitted": int(permitted), "position": position,
            "quotes": [{} if q is None else {"live": 1, "price": q[0], "qty": q[1]}
                       for q in quotes]}


def intents(requests, quotes, *, beyond_32_bits=False) -> int:
    """The Intents the block must send for the model's requests. A D or G at a sell price of
    2**32 or more is the documented deviation: the side is withdrawn (an F of a live quote);
    only directed tests allow it (`beyond_32_bits`), the campaign stays where prices fit."""
    sides = [{}, {}]
    for req in requests:
        if req.price > TOP:
            assert beyond_32_bits and req.side == SELL, f"price beyond 32 bits: {req}"
            quote = quotes[req.side]
            if quote is not None:
                sides[req.side] = {"valid": 1, "kind": OrderKind.CANCEL, "price": quote[0],
                                   "qty": quote[1]}
            continue
        assert not sides[req.side], f"two requests on one side: {requests}"
        sides[req.side] = {"valid": 1, "kind": KIND[req.msg_type], "price": req.price,
                           "qty": req.qty, "ioc": int(req.tif == "3")}
    return Intents.const({"sides": sides}).as_bits()


def evaluate(model: ModelStrategy, slot, bbo, permitted, position, quotes) -> list:
    """The model's requests for a symbol whose live quotes are `quotes`."""
    model.symbols[slot].quotes = [
        None if q is None else LiveOrder(0, 0, slot, side, q[0], q[1], q[1], "0")
        for side, q in enumerate(quotes)]
    return model.evaluate(slot, bbo, permitted, position)


class Harness:
    """Drives the block one decision (or idle) per clock; records every Intents with the cycle
    it appeared in, and the cycle every decision entered."""

    def __init__(self, dut: Strategy, ctx, rst):
        self.dut, self.ctx, self.rst = dut, ctx, rst
        self.cycle = 0
        self.sent: list[int] = []
        self.seen: list[tuple[int, int]] = []

    async def tick(self):
        await self.ctx.tick()
        self.cycle += 1
        if self.ctx.get(self.dut.o_intents.valid):
            self.seen.append((self.cycle, self.ctx.get(self.dut.o_intents.p.as_value())))

    def busy(self) -> bool:
        return bool(self.ctx.get(self.dut.commit_busy))

    async def step(self, value: dict | None = None, *, commit: tuple | None = None):
        """One cycle: a decision (or none) and, in the same cycle, a commit (or none)."""
        ctx, dut = self.ctx, self.dut
        ctx.set(dut.i_decision.valid, value is not None)
        if value is not None:
            ctx.set(dut.i_decision.p, value)
            self.sent.append(self.cycle)
        if commit is not None:
            slot, values = commit
            if isinstance(values, int):
                ctx.set(dut.staged.as_value(), values)
            else:
                ctx.set(dut.staged, values)
            ctx.set(dut.commit.p.slot, slot)
        ctx.set(dut.commit.valid, commit is not None)
        await self.tick()
        ctx.set(dut.i_decision.valid, 0)
        ctx.set(dut.commit.valid, 0)

    async def commit(self, slot: int, values):
        """Commit and wait until it applies (or at once, if refused)."""
        await self.step(commit=(slot, values))
        while self.busy():
            await self.tick()

    async def drain(self):
        for _ in range(LATENCY + 1):
            await self.tick()


def run(dut: Strategy, script) -> Harness:
    """Simulate `script(harness)`; returns the harness with everything it saw."""
    top = Module()
    top.domains.sync = sync = ClockDomain()    # explicit, so that a test can assert reset
    top.submodules.dut = dut
    sim = Simulator(top)
    sim.add_clock(6.4e-9)
    harness: list[Harness] = []

    async def bench(ctx):
        harness.append(Harness(dut, ctx, sync.rst))
        await script(harness[0])

    sim.add_testbench(bench)
    sim.run()
    return harness[0]


def check(h: Harness, expected: list[int]):
    """One Intents per decision, `LATENCY` cycles after it, each as expected."""
    assert len(h.seen) == len(expected) == len(h.sent)
    for n, ((cycle, got), sent, want) in enumerate(zip(h.seen, h.sent, expected, strict=True)):
        assert cycle - sent == LATENCY, f"decision {n}: intents {cycle - sent} cycles later"
        assert got == want, f"decision {n}: got {describe(got)}, expected {describe(want)}"


def describe(word: int) -> list[tuple]:
    """An Intents' sides as (kind, price, qty, ioc), None where not valid."""
    sides = Intents.as_shape().from_bits(word).sides
    return [(OrderKind(s.kind).name, s.price, s.qty, s.ioc) if s.valid else None
            for s in (sides[0], sides[1])]


# --- the random campaign -------------------------------------------------------------------

TICKS = (1, 1, 2, 3, 7, 100, 100, 250, 999_983, 1_000_000)
LEVELS = (500, 100_000, 5_000_000, 1 << 31, 4_200_000_000)


def random_params(rng: random.Random, level: int) -> StrategyParams:
    tick = rng.choice(TICKS) if rng.random() < 0.8 else rng.randint(1, 10**6)

    def threshold() -> int:
        if rng.random() < 0.3:
            return 0
        return max(0, min(TOP, level + rng.randint(-3, 3) * tick + rng.randint(-1, 1)))

    return StrategyParams(
        mode=rng.choices(("quote", "take", "off"), (5, 3, 2))[0],
        size=rng.choice((1, 100, 100, 500, 99_999_999)),
        tick=tick,
        half_spread_ticks=rng.choice((0, 1, 2, 5, rng.randint(0, 10_000))),
        skew_ticks=rng.choice((0, 1, 3, rng.randint(0, 10_000))),
        inventory_unit_shift=rng.choice((0, 3, 7, 20, 31, rng.randint(0, 31))),
        requote_ticks=rng.choice((1, 1, 2, 5, 10_000)),
        take_buy_at_or_below=threshold(),
        take_sell_at_or_above=threshold())


def random_bbo(rng: random.Random, level: int, tick: int) -> tuple[int, int, int, int]:
    if rng.random() < 0.1:
        level = rng.randint(1, TOP)
    mid = level + rng.randint(-30, 30) * tick + rng.choice((0, 0, rng.randrange(tick)))
    spread = rng.choice((-2, -1, 0, 0, 1, 1, 2, 3, 10)) * tick + rng.choice((0, 0, 1, -1))
    bid = max(1, min(TOP, mid - spread // 2))
    ask = max(1, min(TOP, bid + spread))
    bid_shares, ask_shares = rng.randint(1, 1000), rng.randint(1, 1000)
    if rng.random() < 0.07:
        bid, bid_shares = 0, 0
    if rng.random() < 0.07:
        ask, ask_shares = 0, 0
    return bid, bid_shares, ask, ask_shares


def random_position(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.3:
        return rng.randint(-1000, 1000)
    if roll < 0.8:
        return rng.randint(-(1 << rng.randint(10, 31)), 1 << rng.randint(10, 31))
    return rng.choice((-(1 << 31), (1 << 31) - 1, 0))


def random_quote(rng: random.Random, wanted: int, p: StrategyParams) -> tuple | None:
    if rng.random() < 0.4:
        return None
    step = p.requote_ticks * p.tick
    price = wanted + rng.choice((0, 0, step - 1, step, step + 1, 1 - step, -step, -step - 1,
                                 rng.randint(-3, 3) * p.tick, rng.randint(-10**6, 10**6)))
    qty = p.size if rng.random() < 0.8 else rng.choice((p.size + 1, max(1, p.size - 1), 1))
    return max(1, min(TOP, price)), qty


def fits(p: StrategyParams, bbo, position) -> bool:
    """Whether the model's sell quote (if any) fits 32 bits: the campaign stays there."""
    return (p.mode != "quote" or not bbo[0] or not bbo[2]
            or quote_prices(p, bbo, position)[1] <= TOP)


SLOTS = 4


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_campaign_matches_the_golden_model(seed):
    rng = random.Random(seed)
    dut = Strategy(slots=SLOTS)
    model = ModelStrategy()
    levels = [rng.choice(LEVELS) for _ in range(SLOTS)]
    expected: list[int] = []
    seen = collections.Counter()

    def one_decision(slot: int) -> dict:
        p = model.symbols[slot].params
        bbo = random_bbo(rng, levels[slot], p.tick)
        position = random_position(rng)
        permitted = rng.random() < 0.9
        while not fits(p, bbo, position):
            if position == 0:
                bbo = random_bbo(rng, 100_000, p.tick)
                if not fits(p, bbo, 0):
                    permitted = False   # half spread beyond 2**32: quotes pulled instead
                    break
            position = int(position / 4)
        wanted = quote_prices(p, bbo, position) if bbo[0] and bbo[2] else (bbo[0], bbo[2])
        quotes = [random_quote(rng, wanted[side], p) for side in (BUY, SELL)]
        requests = evaluate(model, slot, bbo, permitted, position, quotes)
        expected.append(intents(requests, quotes))
        seen.update((p.mode, r.msg_type, r.side, r.tif) for r in requests)
        if p.mode == "quote" and permitted and bbo[0] and bbo[2]:
            note_quote_cases(seen, p, bbo, position)
        return decision(slot, bbo, permitted, position, quotes)

    async def script(h: Harness):
        for slot in range(SLOTS):
            params = random_params(rng, levels[slot])
            await h.commit(slot, staged(params))
            model.bind(slot, params)
        pending = None          # a commit being applied: the model takes it once it is done
        for _ in range(4000):
            busy = h.busy()
            if pending is not None and not busy:
                model.bind(*pending)
                pending = None
            value = None if rng.random() < 0.1 else one_decision(rng.randrange(SLOTS))
            if pending is None and not busy and rng.random() < 0.02:
                slot = rng.randrange(SLOTS)
                pending = (slot, random_params(rng, levels[slot]))
                await h.step(value, commit=(slot, staged(pending[1])))   # value sees the old
                seen["commit"] += 1
            else:
                await h.step(value)
        await h.drain()
        assert not h.ctx.get(dut.commit_error)

    check(run(dut, script), expected)
    # The campaign reached every kind of answer on both sides, and the quoting corner cases.
    for mode, kinds in (("quote", "DGF"), ("take", "D"), ("off", "F")):
        for kind in kinds:
            for side in (BUY, SELL):
                tif = "3" if mode == "take" else "0"
                assert seen[mode, kind, side, tif], f"no {mode} {kind} on side {side}: {seen}"
    for case in ("bid clamped", "ask clamped", "bid withdrawn", "mid off grid", "commit"):
        assert seen[case] >= 5, f"only {seen[case]} of {case!r}: {seen}"


def note_quote_cases(seen: collections.Counter, p: StrategyParams, bbo, position):
    bid_q, ask_q = quote_prices(p, bbo, position)
    mid = (bbo[0] + bbo[2]) >> 1
    seen["bid clamped"] += bid_q == bbo[2] - p.tick and bbo[2] - p.tick != bid_q - bid_q % p.tick
    seen["ask clamped"] += ask_q == bbo[0] + p.tick and (bbo[0] + p.tick) % p.tick != 0
    seen["bid withdrawn"] += bid_q <= 0
    seen["mid off grid"] += mid % p.tick != 0


# --- directed tests ------------------------------------------------------------------------

QUOTE = StrategyParams(mode="quote", size=100, tick=100, half_spread_ticks=2, skew_ticks=1,
                       inventory_unit_shift=7, requote_ticks=1)
BBO = (99_900, 300, 100_100, 400)


@pytest.mark.parametrize("slots", [0, 257, "4", 2.0])
def test_constructor_refuses_bad_slot_counts(slots):
    with pytest.raises(TypeError, match=r"^slots must be an integer 1\.\.256, not "):
        Strategy(slots=slots)


def test_reset_every_slot_is_off_and_sends_nothing():
    """Never committed: no decision sends anything (one empty Intents each), whatever the book,
    permission or position; the same decision after a commit does send, and after a reset
    (which the parameter memory does not see) no longer does."""
    dut = Strategy(slots=2)
    quiet = [decision(slot, bbo, permitted, position, [None, None])
             for slot in (0, 1, 2, 255) for bbo in (BBO, (0, 0, 100_100, 5))
             for permitted in (0, 1) for position in (0, -300)]
    quoting = decision(0, BBO, 1, 0, [None, None])

    async def script(h: Harness):
        for value in quiet:
            await h.step(value)
        await h.commit(0, staged(QUOTE))
        await h.step(quoting)
        await h.drain()
        h.ctx.set(h.rst, 1)
        await h.tick()
        h.ctx.set(h.rst, 0)
        await h.step(quoting)
        await h.drain()

    h = run(dut, script)
    model = ModelStrategy()
    model.bind(0, QUOTE)
    sends = intents(evaluate(model, 0, BBO, True, 0, [None, None]), [None, None])
    assert sends != NO_INTENTS
    check(h, [NO_INTENTS] * len(quiet) + [sends, NO_INTENTS])


def test_intents_come_exactly_latency_cycles_after_their_decision():
    """With and without gaps, and a decision in the last cycle before a gap."""
    dut = Strategy(slots=1)
    model = ModelStrategy()
    model.bind(0, QUOTE)
    rng = random.Random(7)
    values, expected = [], []
    for n in range(20):
        position = 200 * n - 2000
        values.append(None if n % 4 == 3 else decision(0, BBO, 1, position, [None, None]))
        if values[-1] is not None:
            expected.append(intents(evaluate(model, 0, BBO, True, position, [None, None]),
                                    [None, None]))

    async def script(h: Harness):
        await h.commit(0, staged(QUOTE))
        for value in values:
            for _ in range(rng.choice((0, 0, 1, 5))):
                await h.step()
            await h.step(value)
        await h.drain()

    check(run(dut, script), expected)
    assert len(set(expected)) > 5


def test_commit_is_atomic_and_applies_when_commit_busy_falls():
    """Decisions on the slot every cycle around a commit that changes every value that matters:
    each sees the old set or the new one, whole: the old up to the last cycle of commit_busy,
    the new from the first cycle it is 0. commit_busy is high for COMMIT_CYCLES cycles."""
    old = QUOTE
    new = StrategyParams(mode="quote", size=37, tick=7, half_spread_ticks=5, skew_ticks=3,
                         inventory_unit_shift=2, requote_ticks=4)
    quotes = [(99_700, 100), (100_300, 100)]
    dut = Strategy(slots=3)
    busy = []

    async def script(h: Harness):
        await h.commit(1, staged(old))
        value = decision(1, BBO, 1, -50, quotes)
        await h.step(value, commit=(1, staged(new)))
        for _ in range(COMMIT_CYCLES + 3):
            busy.append(h.busy())
            await h.step(value)
        await h.drain()

    h = run(dut, script)
    answers = []
    for params in (old, new):
        model = ModelStrategy()
        model.bind(1, params)
        answers.append(intents(evaluate(model, 1, BBO, True, -50, quotes), quotes))
    assert answers[0] != answers[1]
    assert busy == [True] * COMMIT_CYCLES + [False] * 3
    check(h, [answers[0]] * (1 + COMMIT_CYCLES) + [answers[1]] * 3)


def out_of_range(param) -> int | None:
    bad = param.low - 1 if param.low > 0 else param.high + 1
    return bad if bad < 1 << param.bits else None   # None: every register value is valid


def staged_word(values: dict, name: str, bad: int) -> int:
    """The staged port's bits with one field set to a value its shape would refuse."""
    field = StrategyParamsLayout[name]
    word = StrategyParamsLayout.const(values).as_bits()
    return word & ~(((1 << field.width) - 1) << field.offset) | bad << field.offset


@pytest.mark.parametrize("param", [p for p in PARAMS if out_of_range(p) is not None],
                         ids=lambda p: p.name)
def test_out_of_range_commit_is_refused_whole(param):
    """One value out of range: nothing of the commit applies (not even the in-range values
    with it), the sticky error rises, stays, and clears when the host writes 1."""
    bad = out_of_range(param)
    other = StrategyParams(mode="take", size=5, tick=3, take_buy_at_or_below=200_000)
    dut = Strategy(slots=2)
    log = []

    async def script(h: Harness):
        await h.commit(0, staged(QUOTE))
        await h.commit(0, staged_word(staged(other), param.name, bad))
        log.append((h.busy(), h.ctx.get(dut.commit_error)))
        await h.step(decision(0, BBO, 1, 0, [None, None]))    # still QUOTE
        await h.drain()
        log.append(h.ctx.get(dut.commit_error))
        h.ctx.set(dut.clear_commit_error, 1)
        await h.tick()
        h.ctx.set(dut.clear_commit_error, 0)
        await h.tick()
        log.append(h.ctx.get(dut.commit_error))

    h = run(dut, script)
    model = ModelStrategy()
    model.bind(0, QUOTE)
    check(h, [intents(evaluate(model, 0, BBO, True, 0, [None, None]), [None, None])])
    assert log == [(False, 1), 1, 0]


def test_commits_to_a_missing_slot_or_while_busy_are_refused():
    other = StrategyParams(mode="take", size=5, tick=3, take_buy_at_or_below=200_000)
    dut = Strategy(slots=3)
    log = []

    async def script(h: Harness):
        await h.commit(3, staged(QUOTE))
        log.append(h.ctx.get(dut.commit_error))
        await h.step(decision(3, BBO, 1, 0, [None, None]))
        h.ctx.set(dut.clear_commit_error, 1)
        await h.step(commit=(0, staged(QUOTE)))
        h.ctx.set(dut.clear_commit_error, 0)
        log.append(h.ctx.get(dut.commit_error))
        await h.step(commit=(0, staged(other)))          # busy with the first: refused
        log.append(h.ctx.get(dut.commit_error))
        while h.busy():
            await h.tick()
        await h.step(decision(0, BBO, 1, 0, [None, None]))
        await h.drain()

    h = run(dut, script)
    model = ModelStrategy()
    model.bind(0, QUOTE)
    check(h, [NO_INTENTS, intents(evaluate(model, 0, BBO, True, 0, [None, None]), [None, None])])
    assert log == [1, 0, 1]


EDGE_TICKS = (1, 2, 3, 7, 999_983, 1_000_000)


def edge_mids(tick: int) -> list[int]:
    """Mids on, just off and between grid points, small and up to 2**32 - 1."""
    mids = {1, 2, tick - 1, tick, tick + 1, 2 * tick - 1, TOP, TOP - 1}
    for top in (TOP, TOP - 3 * 10**6):
        on_grid = top - top % tick
        mids |= {on_grid - 1, on_grid, on_grid + 1, on_grid - tick + 1}
    return sorted(mid for mid in mids if 1 <= mid <= TOP)


def edge_bbo(mid: int) -> tuple[int, int, int, int]:
    """A book around this mid, as wide as it fits (no clamp where the prices leave room)."""
    half_width = min(3 * 10**6, mid - 1, TOP - mid)
    return mid - half_width, 10, mid + half_width, 10


def test_floor_and_ceil_of_the_mid_are_exact_at_the_edges():
    """Half spread and skew 0: the quotes are the mid floored and ceiled to the grid, for ticks
    from 1 to 1,000,000 (odd and prime ones too) and mids at and around multiples of them up to
    2**32 - 1; where the ceiling leaves 32 bits, the deviation withdraws the ask."""
    dut = Strategy(slots=len(EDGE_TICKS))
    model = ModelStrategy()
    values, expected = [], []
    beyond = 0
    for slot, tick in enumerate(EDGE_TICKS):
        params = StrategyParams(mode="quote", size=1, tick=tick, half_spread_ticks=0,
                                skew_ticks=0, requote_ticks=1)
        model.bind(slot, params)
        for mid in edge_mids(tick):
            bbo = edge_bbo(mid)
            assert (bbo[0] + bbo[2]) >> 1 == mid
            requests = evaluate(model, slot, bbo, True, 0, [None, None])
            beyond += any(r.price > TOP for r in requests)
            values.append(decision(slot, bbo, 1, 0, [None, None]))
            expected.append(intents(requests, [None, None], beyond_32_bits=True))

    async def script(h: Harness):
        for slot, tick in enumerate(EDGE_TICKS):
            await h.commit(slot, staged(StrategyParams(
                mode="quote", size=1, tick=tick, half_spread_ticks=0, skew_ticks=0,
                requote_ticks=1)))
        for value in values:
            await h.step(value)
        await h.drain()

    check(run(dut, script), expected)
    assert beyond > 0


def test_a_sell_price_beyond_32_bits_withdraws_the_side():
    """The one deviation from the model: where it would quote a sell price of 2**32 or more
    (here a short position skews the reservation up), the block pulls the ask (an F of a live
    quote, nothing otherwise) and quotes the bid as the model does."""
    params = StrategyParams(mode="quote", size=100, tick=100, half_spread_ticks=2,
                            skew_ticks=10_000, inventory_unit_shift=0, requote_ticks=1)
    bbo = (4_000_000_000, 10, 4_000_000_200, 10)
    position = -1000
    model = ModelStrategy()
    model.bind(0, params)
    cases = [[None, None], [(3_999_000_000, 100), (4_100_000_000, 100)]]
    answers = []
    for quotes in cases:
        requests = evaluate(model, 0, bbo, True, position, quotes)
        assert [(r.msg_type, r.side) for r in requests if r.price > TOP] \
            == [("D" if quotes[SELL] is None else "G", SELL)]
        answers.append(intents(requests, quotes, beyond_32_bits=True))
    dut = Strategy(slots=1)

    async def script(h: Harness):
        await h.commit(0, staged(params))
        for quotes in cases:
            await h.step(decision(0, bbo, 1, position, quotes))
        await h.drain()

    h = run(dut, script)
    check(h, answers)
    no_quotes, with_quotes = (describe(word) for word in answers)
    assert no_quotes[SELL] is None
    assert with_quotes[SELL] == ("CANCEL", 4_100_000_000, 100, 0)
    assert no_quotes[BUY] == ("NEW", 4_000_000_100, 100, 0)      # clamped below the ask


def test_quotes_at_the_edges_of_the_price_range():
    """Tick 1, no clamp: an ask of exactly 2**32 - 1 is quoted and one of 2**32 withdrawn; a bid
    of exactly 1 is quoted and one of 0 withdrawn (as the model does)."""
    high, low = (TOP - 10, 1, TOP, 1), (1, 1, 21, 1)     # mids 2**32 - 6 and 11
    cases = [(5, high, ("NEW", TOP, 1, 0)), (6, high, None),
             (10, low, ("NEW", 1, 1, 0)), (11, low, None)]
    model = ModelStrategy()
    values, answers = [], []
    for slot, (half, bbo, _) in enumerate(cases):
        model.bind(slot, StrategyParams(mode="quote", size=1, tick=1, half_spread_ticks=half))
        values.append(decision(slot, bbo, 1, 0, [None, None]))
        answers.append(intents(evaluate(model, slot, bbo, True, 0, [None, None]), [None, None],
                               beyond_32_bits=True))
    dut = Strategy(slots=len(cases))

    async def script(h: Harness):
        for slot in range(len(cases)):
            await h.commit(slot, staged(model.symbols[slot].params))
        for value in values:
            await h.step(value)
        await h.drain()

    check(run(dut, script), answers)
    edge_sides = [describe(answers[0])[SELL], describe(answers[1])[SELL],
                  describe(answers[2])[BUY], describe(answers[3])[BUY]]
    assert edge_sides == [want for _, _, want in cases]


def test_registers_cover_every_staged_parameter():
    regs = {r.name: r for r in registers()}
    assert {f"param_{p.name}" for p in PARAMS} | {"commit", "commit_busy", "commit_error"} \
        == set(regs)
    for p in PARAMS:
        assert regs[f"param_{p.name}"].width == StrategyParamsLayout[p.name].width == p.bits
    assert (regs["commit"].access, regs["commit_error"].access) == ("cmd", "w1c")
