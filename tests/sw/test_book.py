"""Book builder (sw.model.book) against hand-computed books and an independent simple book.

Two paths from the same wire bytes: decoder.decode + BookBuilder.apply (the golden model) and
itch.decode + SimpleBook.apply (tests/sw/simple_book.py, written separately from the contract).
Random campaigns compare the BBO of every symbol after every message and the list of change
reports; hand-written cases check each rule of the contract against values worked out by hand.
"""

from __future__ import annotations

import random

import pytest

from sw.feed import itch
from sw.feed.generator import MarketConfig, MarketGenerator
from sw.model import decoder
from sw.model.book import BookBuilder

try:
    from simple_book import SimpleBook
except ImportError:  # tests/sw imported as a package
    from tests.sw.simple_book import SimpleBook

LOC = 7
SYM = "AAPL"
EMPTY = (0, 0, 0, 0)
IGNORED_COUNTS = ("duplicate_ref", "empty_add", "unknown_ref")


# --- message builders (locate, tracking, timestamp first, as in the codec) -----------------------

def add(ref, side, shares, price, locate=LOC, stock=SYM):
    return itch.AddOrder(locate, 0, 1, ref, side, shares, stock, price)


def add_f(ref, side, shares, price, locate=LOC, stock=SYM):
    return itch.AddOrderMPID(locate, 0, 1, ref, side, shares, stock, price, "MPID")


def execute(ref, shares, locate=LOC):
    return itch.OrderExecuted(locate, 0, 1, ref, shares, 99)


def execute_c(ref, shares, locate=LOC):
    return itch.OrderExecutedWithPrice(locate, 0, 1, ref, shares, 99, "Y", 12345)


def cancel(ref, shares, locate=LOC):
    return itch.OrderCancel(locate, 0, 1, ref, shares)


def delete(ref, locate=LOC):
    return itch.OrderDelete(locate, 0, 1, ref)


def replace(ref, new_ref, shares, price, locate=LOC):
    return itch.OrderReplace(locate, 0, 1, ref, new_ref, shares, price)


def trade(ref, side, shares, price, locate=LOC, stock=SYM):
    return itch.Trade(locate, 0, 1, ref, side, shares, stock, price, 77)


def action(state, locate=LOC, stock=SYM):
    return itch.StockTradingAction(locate, 0, 1, stock, state, " ", "")


def directory(stock, locate=LOC):
    return itch.StockDirectory(locate, 0, 1, stock, "Q", "N", 100, "N", "C", "Z", "P", "N", "N",
                               "1", "N", 0, "N")


def system(code):
    return itch.SystemEvent(0, 0, 1, code)


# --- the two books side by side ------------------------------------------------------------------

class Pair:
    """Feeds the same bytes to the golden model and the simple book; asserts they agree."""

    def __init__(self) -> None:
        self.model = BookBuilder()
        self.simple = SimpleBook()
        self.index = 0
        self.malformed = 0
        self.model_reports: list[tuple[int, int, tuple]] = []
        self.simple_reports: list[tuple[int, int, tuple]] = []

    def send_raw(self, raw: bytes) -> int | None:
        index = self.index
        self.index += 1
        ev = decoder.decode(raw)
        if ev is decoder.MALFORMED:
            self.malformed += 1
            got = None
        else:
            got = None if ev is None else self.model.apply(ev)
        want = self.simple.apply(itch.decode(raw))
        assert self.malformed == self.simple.counts["malformed"], f"message {index}"
        assert want == ([] if got is None else [got]), f"message {index}: {itch.decode(raw)}"
        if got is not None:
            self.model_reports.append((index, got, self.model.bbo(got)))
        for locate in want:
            self.simple_reports.append((index, locate, self.simple.bbo(locate)))
        return got

    def send(self, msg) -> int | None:
        return self.send_raw(itch.encode(msg))

    def bbo(self, locate: int = LOC) -> tuple[int, int, int, int]:
        got = self.model.bbo(locate)
        assert got == self.simple.bbo(locate)
        return got

    def counts(self) -> dict[str, int]:
        model = {k: self.model.counts[k] for k in IGNORED_COUNTS}
        assert model == {k: self.simple.counts[k] for k in IGNORED_COUNTS}
        return model


def model_levels(model: BookBuilder, locate: int) -> tuple[dict[int, int], dict[int, int]]:
    """The golden model's price levels of one symbol (bids, asks): price -> aggregate shares."""
    book = model.books.get(locate)
    if book is None:
        return {}, {}
    return dict(book.levels[0]), dict(book.levels[1])


def simple_levels(simple: SimpleBook, locate: int) -> tuple[dict[int, int], dict[int, int]]:
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for ref in simple.refs_of.get(locate, ()):
        o = simple.orders[ref]
        levels = bids if o.side == "B" else asks
        levels[o.price] = levels.get(o.price, 0) + o.shares
    return bids, asks


def assert_same_depth(pair: Pair, locates) -> None:
    """Every price level and every live order agree, not only the BBO."""
    for locate in locates:
        assert model_levels(pair.model, locate) == simple_levels(pair.simple, locate), locate
    model_orders = {ref: (o[0], "BS"[o[1]], o[2], o[3]) for ref, o in pair.model.orders.items()}
    simple_orders = {ref: (o.locate, o.side, o.price, o.shares)
                     for ref, o in pair.simple.orders.items()}
    assert model_orders == simple_orders


# --- random campaigns ----------------------------------------------------------------------------

def run_campaign(pair: Pair, raws, locates: list[int], depth_every: int = 2_000) -> int:
    """Feed every message; compare every symbol's BBO after each. Returns the peak live orders."""
    model, simple = pair.model, pair.simple
    peak = 0
    for raw in raws:
        pair.send_raw(raw)
        got = [model.bbo(loc) for loc in locates]
        want = [simple.bbo(loc) for loc in locates]
        if got != want:
            bad = [(loc, g, w) for loc, g, w in zip(locates, got, want, strict=True) if g != w]
            pytest.fail(f"BBO differs after message {pair.index - 1}: {bad[:3]}")
        if pair.index % depth_every == 0:
            peak = max(peak, len(model.orders))
            assert_same_depth(pair, locates)
        peak = max(peak, len(simple.orders)) if pair.index % 64 == 0 else peak
    assert_same_depth(pair, locates)
    assert pair.model_reports == pair.simple_reports
    pair.counts()
    for loc in locates:
        assert pair.model.symbols.get(loc) == pair.simple.symbols.get(loc)
        assert pair.model.trading(loc) == pair.simple.trading(loc)
        assert pair.model.states.get(loc, 0) == ord(pair.simple.states.get(loc, "\0"))
    return max(peak, len(simple.orders))


CAMPAIGNS = [  # seed, symbols, messages, max live orders per symbol
    (11, 20, 20_000, 400),
    (22, 30, 25_000, 600),
    (33, 45, 25_000, 1_500),
]


@pytest.mark.parametrize(("seed", "symbols", "messages", "per_symbol"), CAMPAIGNS)
def test_random_campaign_matches_simple_book(seed, symbols, messages, per_symbol):
    config = MarketConfig(symbols=symbols, messages=messages, seed=seed,
                          max_orders_per_symbol=per_symbol, halt_rate=1e-3, halt_messages=200)
    raws = [itch.encode(m) for m in MarketGenerator(config)]
    pair = Pair()
    locates = list(range(1, symbols + 1))
    peak = run_campaign(pair, raws, locates)
    # The campaign must be worth something: a deep book, many reports, nothing ignored.
    assert peak >= 2_000
    assert len(pair.model_reports) > messages // 4
    assert pair.malformed == 0
    assert pair.counts() == dict.fromkeys(IGNORED_COUNTS, 0)
    assert all(pair.model.symbols[loc] for loc in locates)
    assert sum(1 for _, _, (b, _, a, _) in pair.model_reports if b and a) > messages // 8


def faulty_feed(seed: int, symbols: int, messages: int, fault_rate: float) -> list[bytes]:
    """A generator session with faults injected between its messages (all still decodable)."""
    rng = random.Random(seed * 7919)
    gen = MarketGenerator(MarketConfig(symbols=symbols, messages=messages, seed=seed,
                                       max_orders_per_symbol=300))
    out: list[bytes] = []
    injected: list[int] = []   # refs of orders the injector itself added
    unknown = 10**15
    fresh = 2 * 10**15
    for msg in gen:
        out.append(itch.encode(msg))
        if rng.random() >= fault_rate or not gen.orders:
            continue
        live_ref = rng.choice(tuple(gen.orders))
        order = gen.orders[live_ref]
        loc = order.symbol.locate
        other = rng.randrange(1, symbols + 1)
        px = order.price
        kind = rng.randrange(20)
        unknown += 1
        fresh += 1
        if kind == 0:      # unknown ref, each reducing type
            fault = rng.choice((execute(unknown, 100, loc), execute_c(unknown, 100, loc),
                                cancel(unknown, 100, loc), delete(unknown, loc),
                                replace(unknown, fresh, 100, px, loc)))
        elif kind == 1:    # duplicate add of a live ref, anywhere
            fault = add(live_ref, rng.choice("BS"), rng.randrange(1, 1000),
                        rng.randrange(1, 10**6), other)
        elif kind == 2:    # oversize execution / cancel: clamped, the order goes
            extra = rng.choice((rng.randrange(1, 5_000), (1 << 16) - order.shares + 1,
                                (1 << 32) - 1 - order.shares))
            fault = rng.choice((execute, execute_c, cancel))(live_ref, order.shares + extra, loc)
        elif kind == 3:    # zero shares or zero price
            fault = rng.choice((add(fresh, "B", 0, px, loc), add_f(fresh, "S", 100, 0, loc)))
        elif kind == 4:    # crossed add, kept for later faults to touch
            side = rng.choice("BS")
            cross = px + (50_000 if side == "B" else -50_000)
            fault = add(fresh, side, rng.randrange(1, 900), max(cross, 100), loc)
            injected.append(fresh)
        elif kind == 5 and injected:   # remove or reduce one of our own orders
            ref = rng.choice(injected)
            fault = rng.choice((delete(ref, loc), execute(ref, rng.randrange(0, 500), loc),
                                cancel(ref, rng.randrange(1, 1 << 32), loc)))
        elif kind == 16:   # full-width shares and prices (no 16-bit or signed shortcuts)
            fault = add(fresh, rng.choice("BS"), rng.randrange(1 << 16, 1 << 32),
                        rng.randrange(1 << 31, 1 << 32), loc)
            injected.append(fresh)
        elif kind == 6:    # replace onto a live ref (the new ref is live)
            other_ref = rng.choice(tuple(gen.orders))
            fault = replace(live_ref, other_ref, 100, px, loc)
        elif kind == 7:    # replace with zero shares or zero price
            fault = replace(live_ref, fresh, rng.choice((0, 100)), 0 if rng.random() < .5 else px,
                            loc)
        elif kind == 8:    # E/C/X/D naming a live ref under another locate
            fault = rng.choice((execute(live_ref, 1, other), cancel(live_ref, 1, other),
                                delete(live_ref, other)))
        elif kind == 9:    # a side byte that is neither B nor S: malformed
            fault = add(fresh, rng.choice("bsX\0 "), 100, px, loc)
        elif kind == 10:   # an add that takes a ref the generator will use later
            fault = add(gen.next_ref + rng.randrange(0, 3), rng.choice("BS"), 100, px, loc)
        elif kind == 11:   # executions of zero shares change nothing
            fault = execute(live_ref, 0, loc)
        elif kind == 12:   # trading state and trade reports
            fault = rng.choice((action(rng.choice("HPQT"), loc, "ANY"),
                                trade(live_ref, "B", 100, px, loc)))
        elif kind == 13:   # replace to the same ref
            fault = replace(live_ref, live_ref, rng.randrange(1, 500), px + 100, loc)
        elif kind == 14:   # a replace that crosses the book (keeps its side)
            fault = replace(live_ref, fresh, 100, px + rng.choice((-1, 1)) * 30_000, loc)
        elif kind == 15:   # an F with ref 0 and a huge price
            fault = add_f(0, "S", 1, 0xFFFFFFFF, loc)
        else:              # an unknown message type: passed over
            fault = itch.Unknown(rng.choice("LIYQNKJ"), bytes(rng.randrange(8, 40)))
        out.append(itch.encode(fault))
    return out


@pytest.mark.parametrize("seed", [5, 6])
def test_fault_campaign_matches_simple_book(seed):
    symbols = 25
    raws = faulty_feed(seed, symbols, 15_000, fault_rate=0.08)
    pair = Pair()
    run_campaign(pair, raws, list(range(1, symbols + 1)))
    counts = pair.counts()
    assert all(counts[k] > 20 for k in IGNORED_COUNTS), counts
    assert pair.malformed > 5


# --- hand-written cases --------------------------------------------------------------------------

def test_no_book_is_empty():
    pair = Pair()
    assert pair.bbo(LOC) == EMPTY
    assert pair.send(system("O")) is None
    assert pair.bbo(LOC) == EMPTY


def test_adds_at_and_away_from_the_best():
    p = Pair()
    assert p.send(add(1, "B", 100, 10_000)) == LOC
    assert p.bbo() == (10_000, 100, 0, 0)
    assert p.send(add(2, "B", 50, 9_900)) is None           # below the best bid
    assert p.send(add_f(3, "B", 30, 10_000)) == LOC         # joins the best: aggregate grows
    assert p.bbo() == (10_000, 130, 0, 0)
    assert p.send(add(4, "B", 10, 10_100)) == LOC           # improves
    assert p.bbo() == (10_100, 10, 0, 0)
    assert p.send(add(5, "S", 200, 10_300)) == LOC
    assert p.bbo() == (10_100, 10, 10_300, 200)
    assert p.send(add_f(6, "S", 5, 10_400)) is None         # above the best ask
    assert p.send(add(7, "S", 7, 10_200)) == LOC
    assert p.bbo() == (10_100, 10, 10_200, 7)
    assert p.send(add(8, "S", 3, 10_200)) == LOC
    assert p.bbo() == (10_100, 10, 10_200, 10)
    assert p.model_reports == p.simple_reports == [
        (0, LOC, (10_000, 100, 0, 0)), (2, LOC, (10_000, 130, 0, 0)),
        (3, LOC, (10_100, 10, 0, 0)), (4, LOC, (10_100, 10, 10_300, 200)),
        (6, LOC, (10_100, 10, 10_200, 7)), (7, LOC, (10_100, 10, 10_200, 10))]


def ladder() -> Pair:
    """Bids 10000 (100 + 40), 9900 (50); asks 10100 (70), 10200 (25 + 15)."""
    p = Pair()
    for msg in (add(1, "B", 100, 10_000), add(2, "B", 40, 10_000), add(3, "B", 50, 9_900),
                add(4, "S", 70, 10_100), add(5, "S", 25, 10_200), add(6, "S", 15, 10_200)):
        p.send(msg)
    assert p.bbo() == (10_000, 140, 10_100, 70)
    return p


def test_executions_at_and_away_from_the_best():
    p = ladder()
    assert p.send(execute(1, 30)) == LOC
    assert p.bbo() == (10_000, 110, 10_100, 70)
    assert p.send(execute_c(4, 20)) == LOC
    assert p.bbo() == (10_000, 110, 10_100, 50)
    assert p.send(execute(3, 20)) is None                  # second level: no BBO change
    assert p.send(execute_c(5, 5)) is None
    # Emptying the touch shows the reduced second levels.
    assert p.send(execute(1, 70)) == LOC
    assert p.send(execute(2, 40)) == LOC
    assert p.bbo() == (9_900, 30, 10_100, 50)
    assert p.send(execute(4, 50)) == LOC
    assert p.bbo() == (9_900, 30, 10_200, 35)
    assert p.counts() == dict.fromkeys(IGNORED_COUNTS, 0)


def test_cancels_at_and_away_from_the_best():
    p = ladder()
    assert p.send(cancel(2, 15)) == LOC
    assert p.bbo() == (10_000, 125, 10_100, 70)
    assert p.send(cancel(6, 10)) is None
    assert p.send(cancel(4, 70)) == LOC                     # whole order: level gone
    assert p.bbo() == (10_000, 125, 10_200, 30)
    assert p.send(cancel(5, 25)) == LOC
    assert p.bbo() == (10_000, 125, 10_200, 5)
    assert p.send(execute(5, 1)) is None                    # order 5 is gone: unknown
    assert p.counts()["unknown_ref"] == 1


def test_deletes_at_and_away_from_the_best():
    p = ladder()
    assert p.send(delete(3)) is None
    assert p.send(delete(1)) == LOC
    assert p.bbo() == (10_000, 40, 10_100, 70)
    assert p.send(delete(2)) == LOC                         # 9900 was deleted too: side empty
    assert p.bbo() == (0, 0, 10_100, 70)
    assert p.send(delete(4)) == LOC
    assert p.bbo() == (0, 0, 10_200, 40)
    assert p.send(delete(1)) is None                        # twice: unknown the second time
    assert p.counts()["unknown_ref"] == 1


def test_book_empties_and_refills():
    p = ladder()
    for ref in (1, 2, 3, 4, 5, 6):
        p.send(delete(ref))
    assert p.bbo() == EMPTY
    assert p.model_reports[-1] == (p.index - 1, LOC, EMPTY)
    assert p.send(add(10, "S", 9, 5_000)) == LOC
    assert p.bbo() == (0, 0, 5_000, 9)
    assert p.send(add(11, "B", 8, 4_900)) == LOC
    assert p.bbo() == (4_900, 8, 5_000, 9)
    assert p.send(execute(10, 9)) == LOC
    assert p.send(execute(11, 8)) == LOC
    assert p.bbo() == EMPTY
    assert p.send(add(12, "B", 1, 100)) == LOC
    assert p.bbo() == (100, 1, 0, 0)


def test_crossed_adds_rest_without_matching():
    p = ladder()
    assert p.send(add(20, "B", 5, 10_500)) == LOC           # above the best ask
    assert p.bbo() == (10_500, 5, 10_100, 70)
    assert p.send(add(21, "S", 6, 9_000)) == LOC            # below every bid
    assert p.bbo() == (10_500, 5, 9_000, 6)
    assert p.send(add(22, "S", 4, 9_000)) == LOC
    assert p.bbo() == (10_500, 5, 9_000, 10)
    assert p.send(delete(20)) == LOC
    assert p.bbo() == (10_000, 140, 9_000, 10)


def test_replace_moves_the_best():
    p = ladder()
    assert p.send(replace(1, 101, 100, 9_800)) == LOC       # best bid order moves down
    assert p.bbo() == (10_000, 40, 10_100, 70)
    assert p.send(replace(3, 103, 60, 10_050)) == LOC       # a deep bid becomes the best
    assert p.bbo() == (10_050, 60, 10_100, 70)
    assert p.send(replace(4, 104, 70, 10_200)) == LOC       # the best ask joins 10200
    assert p.bbo() == (10_050, 60, 10_200, 110)
    assert p.send(replace(101, 201, 5, 9_800)) is None      # away from the best
    assert p.send(replace(103, 203, 60, 10_050)) is None    # same price and size: same BBO
    assert p.send(replace(203, 303, 61, 10_050)) == LOC     # same price, new size
    assert p.bbo() == (10_050, 61, 10_200, 110)
    # The new order keeps its side: a bid replaced above every ask is a (crossed) bid.
    assert p.send(replace(2, 102, 9, 20_000)) == LOC
    assert p.bbo() == (20_000, 9, 10_200, 110)
    # The old ref is gone, the new one lives.
    assert p.send(delete(1)) is None
    assert p.counts()["unknown_ref"] == 1
    assert p.send(delete(102)) == LOC
    assert p.bbo() == (10_050, 61, 10_200, 110)
    assert p.send(execute(104, 70)) == LOC
    assert p.bbo() == (10_050, 61, 10_200, 40)


def test_replace_keeps_the_symbol_of_the_old_order():
    p = Pair()
    p.send(add(1, "S", 10, 5_000, locate=3, stock="MSFT"))
    p.send(add(2, "S", 20, 6_000, locate=4, stock="NVDA"))
    assert p.send(replace(1, 11, 12, 4_000, locate=4)) == 3  # message says 4; the order is 3
    assert p.bbo(3) == (0, 0, 4_000, 12)
    assert p.bbo(4) == (0, 0, 6_000, 20)


@pytest.mark.parametrize("reduce", [execute, execute_c, cancel])
def test_oversize_reduction_is_clamped(reduce):
    p = Pair()
    p.send(add(1, "B", 300, 10_000))
    p.send(add(2, "B", 200, 10_000))
    p.send(add(3, "B", 50, 9_000))
    assert p.send(reduce(1, 500)) == LOC                    # 300 taken, not 500
    assert p.bbo() == (10_000, 200, 0, 0)
    assert p.send(reduce(1, 1)) is None                     # order 1 is gone
    assert p.counts() == {"duplicate_ref": 0, "empty_add": 0, "unknown_ref": 1}
    assert p.send(reduce(2, 0xFFFFFFFF)) == LOC
    assert p.bbo() == (9_000, 50, 0, 0)
    assert p.send(reduce(3, 50)) == LOC                     # exactly what remains
    assert p.bbo() == EMPTY
    assert not p.model.orders


def test_unknown_refs_are_ignored_and_counted():
    p = ladder()
    before = p.index
    for msg in (execute(999, 10), execute_c(999, 10), cancel(999, 10), delete(999),
                replace(999, 1000, 10, 10_050)):
        assert p.send(msg) is None
    assert p.bbo() == (10_000, 140, 10_100, 70)
    assert p.counts() == {"duplicate_ref": 0, "empty_add": 0, "unknown_ref": 5}
    assert p.model_reports[-1][0] < before
    # The unknown replace added nothing under its new ref.
    assert p.send(delete(1000)) is None
    assert p.counts()["unknown_ref"] == 6
    assert 1000 not in p.model.orders


def test_duplicate_refs_are_ignored_and_counted():
    p = ladder()
    assert p.send(add(1, "S", 999, 9_000)) is None          # ref 1 is a live bid
    assert p.send(add_f(4, "B", 5, 10_050, locate=9)) is None
    assert p.bbo() == (10_000, 140, 10_100, 70)
    assert p.bbo(9) == EMPTY
    assert p.counts() == {"duplicate_ref": 2, "empty_add": 0, "unknown_ref": 0}
    # The originals are intact: order 1 still has its 100 shares at 10000.
    assert p.send(execute(2, 40)) == LOC
    assert p.send(execute(1, 99)) == LOC
    assert p.bbo() == (10_000, 1, 10_100, 70)
    # A ref that is no longer live may be added again.
    assert p.send(delete(1)) == LOC
    assert p.send(add(1, "S", 3, 10_100)) == LOC
    assert p.bbo() == (9_900, 50, 10_100, 73)
    assert p.counts()["duplicate_ref"] == 2


def test_replace_onto_a_live_ref():
    # Read as: U removes the old order, then adds the new ref under the add rules, so a live
    # new ref is a duplicate add (ignored and counted) and the old order is gone either way.
    p = ladder()
    assert p.send(replace(1, 3, 500, 10_000)) == LOC
    assert p.bbo() == (10_000, 40, 10_100, 70)
    assert p.counts() == {"duplicate_ref": 1, "empty_add": 0, "unknown_ref": 0}
    assert p.send(delete(3)) is None                         # order 3 kept 50 @ 9900
    assert p.send(delete(2)) == LOC
    assert p.bbo() == (0, 0, 10_100, 70)


def test_replace_with_zero_shares_or_price_removes_without_adding():
    p = ladder()
    assert p.send(replace(4, 40, 0, 10_100)) == LOC
    assert p.bbo() == (10_000, 140, 10_200, 40)
    assert p.send(replace(1, 41, 10, 0)) == LOC
    assert p.bbo() == (10_000, 40, 10_200, 40)
    assert p.counts() == {"duplicate_ref": 0, "empty_add": 2, "unknown_ref": 0}
    assert 40 not in p.model.orders and 41 not in p.model.orders


def test_zero_shares_or_price_adds_are_ignored_and_counted():
    p = ladder()
    assert p.send(add(30, "B", 0, 10_050)) is None
    assert p.send(add_f(31, "S", 10, 0)) is None
    assert p.send(add(32, "B", 0, 0)) is None
    assert p.bbo() == (10_000, 140, 10_100, 70)
    assert p.counts() == {"duplicate_ref": 0, "empty_add": 3, "unknown_ref": 0}
    assert p.send(delete(30)) is None
    assert p.counts()["unknown_ref"] == 1


def test_trade_report_does_not_change_the_book():
    p = ladder()
    before = dict(p.model.counts)
    assert p.send(trade(1, "B", 100, 10_000)) is None
    assert p.send(trade(4, "S", 70, 10_100)) is None
    assert p.send(trade(0, "B", 1, 1)) is None
    assert p.bbo() == (10_000, 140, 10_100, 70)
    assert dict(p.model.counts) == before
    assert p.send(execute(1, 100)) == LOC                    # still 100 left on order 1
    assert p.bbo() == (10_000, 40, 10_100, 70)


def test_other_types_do_not_change_the_book():
    p = ladder()
    for msg in (system("Q"), itch.Unknown("L", bytes(25)), itch.Unknown("Y", b"\x00" * 19),
                directory("AAPL"), action("H")):
        assert p.send(msg) is None
    assert p.bbo() == (10_000, 140, 10_100, 70)


def test_trading_state_from_h():
    p = Pair()
    assert not p.model.trading(LOC)                         # unknown before the first H
    assert p.model.states.get(LOC, 0) == 0
    for state, trading in (("T", True), ("H", False), ("P", False), ("Q", False),
                           ("T", True)):
        assert p.send(action(state)) is None
        assert p.model.states[LOC] == ord(state)
        assert p.model.trading(LOC) is trading
        assert p.simple.trading(LOC) is trading
    # Per locate: another symbol is untouched; the stock field does not pick the symbol.
    assert not p.model.trading(8)
    p.send(action("H", locate=8, stock="AAPL"))
    assert p.model.trading(LOC) and not p.model.trading(8)
    assert p.model.states[8] == ord("H")


def test_directory_names_the_symbol():
    p = Pair()
    for locate, name in ((1, "AAPL"), (2, "ABCDEFGH"), (3, "ZX00001"), (4, "A")):
        assert p.send(directory(name, locate)) is None
        assert p.model.symbols[locate] == name
        assert p.simple.symbols[locate] == name
    p.send(directory("BRK A", 1))                           # renamed; inner space kept
    assert p.model.symbols[1] == "BRK A"
    assert p.model.symbols[2] == "ABCDEFGH"


def test_reductions_act_on_the_orders_own_symbol():
    p = Pair()
    p.send(add(1, "B", 100, 10_000, locate=1, stock="AAA"))
    p.send(add(2, "B", 100, 10_000, locate=2, stock="BBB"))
    assert p.send(execute(1, 10, locate=2)) == 1
    assert p.send(cancel(1, 10, locate=99)) == 1
    assert p.bbo(1) == (10_000, 80, 0, 0)
    assert p.bbo(2) == (10_000, 100, 0, 0)
    assert p.send(delete(2, locate=1)) == 2
    assert p.bbo(2) == EMPTY
    assert p.bbo(1) == (10_000, 80, 0, 0)
    assert p.bbo(99) == EMPTY


def test_symbols_are_independent():
    p = Pair()
    for i, loc in enumerate((1, 2, 3)):
        p.send(add(10 + i, "B", 10 * (i + 1), 5_000, locate=loc))
        p.send(add(20 + i, "S", 10 * (i + 1), 5_100, locate=loc))
    assert [p.bbo(loc) for loc in (1, 2, 3)] == [
        (5_000, 10, 5_100, 10), (5_000, 20, 5_100, 20), (5_000, 30, 5_100, 30)]
    assert p.send(delete(11)) == 2
    assert [p.bbo(loc) for loc in (1, 2, 3)] == [
        (5_000, 10, 5_100, 10), (0, 0, 5_100, 20), (5_000, 30, 5_100, 30)]


def test_malformed_side_changes_nothing():
    p = ladder()
    raw = bytearray(itch.encode(add(50, "B", 10, 10_050)))
    raw[19] = ord("b")                                       # the side byte
    assert decoder.decode(bytes(raw)) is decoder.MALFORMED
    assert p.send_raw(bytes(raw)) is None
    assert p.bbo() == (10_000, 140, 10_100, 70)
    assert 50 not in p.model.orders
