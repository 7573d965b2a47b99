"""Per-symbol strategy: quote around the mid or take when the price is right, one decision a clock.

Data flow: book builder -> order table (adds the slot's live quotes and the confirmed position)
-> Strategy -> order table -> risk gate. The semantics are the golden model's
(`sw/model/strategy.py`, `Strategy.evaluate`): for each `Decision` the block answers with one
`Intents`, a D, G or F (or nothing) per side, equal side by side to the requests the model makes
for a symbol whose live quotes are the decision's `quotes`.

Parameters: per slot, written by the host in two steps so that none is ever half-applied: it
writes the staged values (`param_*` registers), then a `commit` command naming the slot. A
commit with a value out of the table of bounds (`PARAMS`), for a slot that does not exist, or
while an earlier commit is still being applied, is refused whole and raises the sticky
`commit_error` (write 1 to clear). An accepted commit precomputes the slot's constants (the
tick's reciprocal by a bit-serial divider, the grid distances) over `COMMIT_CYCLES` cycles, with
`commit_busy` high, then writes them all in one cycle: a decision that enters in a cycle where
`commit_busy` is 0 sees every accepted commit whole, one that enters earlier sees none of the
commit in flight. Reset: every slot OFF (never committed), so nothing is sent for it.

Arithmetic. With `off` = units * skew_ticks * tick and `half` = half_spread_ticks * tick, both
on the grid, the model's floor/ceil of the reservation price +- half are
    bid_raw = floor_tick(mid) - off - half        ask_raw = ceil_tick(mid) - off + half
so only floor(mid / tick) and whether tick divides mid are needed. Both come from one product
with the commit's reciprocal `m = ceil(2**52 / tick)`: mid * m = q * 2**52 + e with
e = r * 2**52 / tick + mid * (m * tick - 2**52) / tick, where q, r = divmod(mid, tick). As
tick <= 2**20 and mid < 2**32, 2**52 / tick >= 2**32 > mid, so e < 2**52 (the top bits are q,
exactly) and e < 2**32 exactly when r == 0 (bits 32..51 of the product say "mid off the grid").
The clamps, the withdrawal of a non-positive bid and the requote distance are all comparisons
of floor_tick(mid) (or ceil) with thresholds that do not depend on it, formed a stage earlier.

The one deviation from the model: prices are 32 bits. Where the model would quote a sell price
of 2**32 or more (absurd parameters or positions), the block withdraws that side as the model
does a non-positive bid (an F of a live quote, else nothing).

Pipeline (4 cycles, one decision per clock, no backpressure):
  S1  the slot's parameters (read asynchronously); mid, inventory units, the thresholds'
      position-independent parts `k`, the take tests
  S2  the two products alone: mid * reciprocal (floor(mid / tick), off grid?) and
      units * skew * tick (`off`)
  S3  floor and ceil of the mid back on the grid (q * tick), beside the thresholds `off + k`
  S4  the grid prices compared with the thresholds: clamps, withdrawals, requotes; the
      intents, registered onto `o_intents`
No wide product feeds an add or a compare in its own stage (S3's ceiling adds the off-grid bit
before its product). Latency: `LATENCY` cycles from `i_decision` to `o_intents`. Timing
(bitstreams/fmax.py flow, LFE5UM5G-85F, seed 1, both measured the same day): 85.1 MHz routed
(47 ns through the block), limited by S2's mid * reciprocal and the OR of its fraction bits;
the 3-stage version, whose S3 ran q * tick into the 68-bit compares and the intent muxes,
routed at 47.8 MHz (62.8 ns). Each yosys-mapped multiplier with its adder tree takes about
10 ns on the ECP5, so 156.25 MHz would need every product itself split over two stages.
"""

from amaranth import Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.rtl.csr import Register
from hw.rtl.records import Decision, Intents, OrderKind, StrategyMode
from spec.bounds import STRATEGY, STRATEGY_PARAMS, HostStrategy

#: Cycles from a decision on `i_decision` to its intents on `o_intents`.
LATENCY = 4
#: floor(mid / tick) == (mid * ceil(2**RECIPROCAL_SHIFT / tick)) >> RECIPROCAL_SHIFT for every
#: mid < 2**32 and tick <= 2**20 (see the module doc).
RECIPROCAL_SHIFT = 52
#: Cycles `commit_busy` is high after an accepted commit: one per quotient bit, one to write.
COMMIT_CYCLES = RECIPROCAL_SHIFT + 2


#: Per-slot parameters: register `param_<name>`, range checked on commit (the table of bounds,
#: spec/bounds.py: the strategy file's bounds are the same).
PARAMS = STRATEGY_PARAMS
StrategyParamsLayout = data.StructLayout(
    {p.name: StrategyMode if p.name == "mode" else p.bits for p in PARAMS})

CommitLayout = data.StructLayout({"slot": 8})

#: The thresholds S4 compares the mid's grid price with, each `off + k` (see `elaborate`).
THRESHOLDS = ("bid_base", "ask_base", "bid_clamp", "bid_up", "bid_down", "ask_clamp",
              "ask_over", "ask_up", "ask_down")

DISTANCE_BITS = 34      # skew, half spread or requote ticks x tick: at most 10**10 < 2**34
#: What a slot holds: the parameters a decision reads, with the commit's precomputed constants.
SlotParams = data.StructLayout({
    "mode": StrategyMode,
    **{name: STRATEGY[name].bits for name in ("size", "tick", "inventory_unit_shift",
                                              "take_buy_at_or_below", "take_sell_at_or_above")},
    "reciprocal": RECIPROCAL_SHIFT + 1,   # ceil(2**52 / tick): 2**52 for tick 1
    "skew_step": DISTANCE_BITS,           # skew_ticks * tick: price offset per inventory unit
    "half_spread": DISTANCE_BITS,         # half_spread_ticks * tick
    "requote_distance": DISTANCE_BITS,    # requote_ticks * tick
})


#: What each stage hands on unchanged to S4, one registered copy per stage (`carried1..3`).
Carried = data.StructLayout({
    "valid": 1, "decision": Decision, "params": SlotParams,
    "quoting": 1,                # quote mode, permitted, both sides of the book present
    "taking": 1,                 # take mode
    "take_buy": 1, "take_sell": 1, "take_buy_qty": 32, "take_sell_qty": 32,
    # Formed in S2 (0 in S1's copy): a clamped quote moved by the requote distance.
    "bid_clamped_moved": 1, "ask_clamped_moved": 1,
})


def registers() -> tuple[Register, ...]:
    """The strategy's registers (served by hw.rtl.csr.CsrBank; addresses come from the map)."""
    return (
        *(Register(f"param_{p.name}", p.bits, "rw",
                   f"staged for commit: {p.doc} ({p.low}..{p.high})") for p in PARAMS),
        Register("commit", 8, "cmd", "bits 0-7 slot: apply every staged parameter to it; out of "
                 "range, no such slot or commit_busy -> refused whole, commit_error"),
        Register("commit_busy", 1, "ro", f"an accepted commit is being applied ({COMMIT_CYCLES} "
                 "cycles); decisions see it once this reads 0"),
        Register("commit_error", 1, "w1c", "a commit was refused (value out of range, no such "
                 "slot, or commit_busy); nothing of it applied; write 1 to clear"),
    )


def register_values(params: HostStrategy) -> dict[str, int]:
    """The staged `param_*` register values of one symbol's parameters (a commit's host side)."""
    values = {p.name: int(getattr(params, p.name)) for p in PARAMS if p.name != "mode"}
    return {"mode": StrategyMode[params.mode.upper()].value} | values


class Strategy(wiring.Component):
    """Quote or take per slot, exactly as the golden model (see the module doc).

    Rate: one decision per clock, no backpressure (`i_decision.ready` is 1); exactly one
    `Intents` per decision (both sides' `valid` 0 when there is nothing to send), `LATENCY`
    cycles later. Reset: every slot OFF until the host commits its parameters. A decision for a
    slot never committed, or outside `slots`, is treated as OFF: it cancels live quotes, which
    such a slot cannot have.
    """

    def __init__(self, *, slots: int = 32):
        if not isinstance(slots, int) or not 1 <= slots <= 256:
            raise TypeError(f"slots must be an integer 1..256, not {slots!r}")
        self.slots = slots
        super().__init__({
            "i_decision": In(stream.Signature(Decision, always_ready=True)),
            "o_intents": Out(stream.Signature(Intents, always_ready=True)),
            "staged": In(StrategyParamsLayout),
            "commit": In(stream.Signature(CommitLayout, always_ready=True)),
            "commit_busy": Out(1),
            "commit_error": Out(1),
            "clear_commit_error": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        slots = self.slots
        slot_bits = max(1, (slots - 1).bit_length())

        # The slots' parameters. The read port is asynchronous (distributed RAM): S1 needs the
        # slot's parameters in the cycle its decision arrives. A write lands at the end of its
        # cycle, so a decision in that cycle still reads the old set, whole.
        m.submodules.params = params = Memory(shape=SlotParams, depth=slots, init=[])
        params_rd = params.read_port(domain="comb")
        params_wr = params.write_port()
        committed = Signal(slots)   # memory has no reset: a slot is OFF until committed

        self._commits(m, params_wr, committed, slot_bits)

        # --- S1: the slot's parameters; everything that does not need the quotient ----------
        d = self.i_decision.p
        p = params_rd.data
        m.d.comb += params_rd.addr.eq(d.slot[:slot_bits])
        known = (d.slot < slots) & committed.bit_select(d.slot[:slot_bits], 1)
        mode = Mux(known, p.mode, StrategyMode.OFF)
        bid, ask = d.bid_price, d.ask_price
        buy_quote, sell_quote = d.quotes[0], d.quotes[1]
        magnitude = Mux(d.position < 0, -d.position, d.position)[:32]   # 2**31 fits unsigned
        units_magnitude = magnitude >> p.inventory_unit_shift

        c1 = Signal(Carried, name="carried1")
        p1 = c1.params
        mid1 = Signal(32)
        # Inventory units as sign and magnitude: the sign is applied in S3's adds (a subtract
        # instead of an add), so S1 has no negation after the shift.
        units_short1 = Signal()      # the position is short: the units count against it
        units1 = Signal(32)          # |position| >> inventory_unit_shift
        # Every threshold S4 compares the mid's grid price with is `off + k`, k formed here
        # (F = floor_tick(mid) for the bid, ceil_tick(mid) for the ask):
        #   bid_base   bid_raw = F - (off + half)
        #   ask_base   ask_raw = F - (off - half)
        #   bid_clamp  bid_raw > ask - tick           <=>  F > off + k
        #   bid_up     bid_raw - quote >= requote     <=>  F >= off + k
        #   bid_down   bid_raw - quote <= -requote    <=>  F <= off + k
        #   ask_clamp  ask_raw < bid + tick           <=>  F < off + k
        #   ask_over   ask_raw >= 2**32               <=>  F >= off + k
        #   ask_up, ask_down: the sell quote's requote distance, likewise
        k = {name: Signal(signed(37), name=f"k_{name}1") for name in THRESHOLDS}
        bid_clamped_gap1 = Signal(signed(35))   # (ask - tick) - buy quote price
        ask_clamped_gap1 = Signal(signed(35))   # (bid + tick) - sell quote price
        half, step = p.half_spread, p.requote_distance
        m.d.sync += [
            c1.valid.eq(self.i_decision.valid), c1.decision.eq(d), c1.params.eq(p),
            c1.quoting.eq(d.permitted & (bid != 0) & (ask != 0) & (mode == StrategyMode.QUOTE)),
            c1.taking.eq(mode == StrategyMode.TAKE),
            mid1.eq((bid + ask) >> 1),
            units_short1.eq(d.position < 0),
            units1.eq(units_magnitude),
            k["bid_base"].eq(half),
            k["ask_base"].eq(-half),
            k["bid_clamp"].eq(ask - p.tick + half),
            k["bid_up"].eq(half + buy_quote.price + step),
            k["bid_down"].eq(half + buy_quote.price - step),
            k["ask_clamp"].eq(bid + p.tick - half),
            k["ask_over"].eq((1 << 32) - half),
            k["ask_up"].eq(sell_quote.price + step - half),
            k["ask_down"].eq(sell_quote.price - step - half),
            bid_clamped_gap1.eq(ask - p.tick - buy_quote.price),
            ask_clamped_gap1.eq(bid + p.tick - sell_quote.price),
            c1.take_buy.eq(d.permitted & (p.take_buy_at_or_below != 0) & (ask != 0)
                           & (ask <= p.take_buy_at_or_below)),
            c1.take_sell.eq(d.permitted & (p.take_sell_at_or_above != 0) & (bid != 0)
                            & (bid >= p.take_sell_at_or_above)),
            c1.take_buy_qty.eq(Mux(p.size < d.ask_shares, p.size, d.ask_shares)),
            c1.take_sell_qty.eq(Mux(p.size < d.bid_shares, p.size, d.bid_shares)),
        ]

        # --- S2: the two products: the quotient (and whether the mid is off the grid), the
        # inventory offset. Nothing is added to them here: each product's adder tree is the
        # stage's whole depth.
        product = mid1 * p1.reciprocal
        step1 = p1.requote_distance
        c2 = Signal(Carried, name="carried2")
        floor2 = Signal(32)          # floor(mid / tick)
        off_grid2 = Signal()         # tick does not divide mid
        off2 = Signal(66)            # |units| * skew_ticks * tick (S3 applies the sign)
        short2 = Signal()
        k2 = {name: Signal(signed(37), name=f"k_{name}2") for name in THRESHOLDS}
        m.d.sync += [
            c2.eq(c1),
            floor2.eq(product[RECIPROCAL_SHIFT:RECIPROCAL_SHIFT + 32]),
            off_grid2.eq(product[32:RECIPROCAL_SHIFT].any()),
            off2.eq(units1 * p1.skew_step), short2.eq(units_short1),
            *(k2[name].eq(k[name]) for name in THRESHOLDS),
            # (override the fields just copied)
            c2.bid_clamped_moved.eq((bid_clamped_gap1 >= step1) | (bid_clamped_gap1 <= -step1)),
            c2.ask_clamped_moved.eq((ask_clamped_gap1 >= step1) | (ask_clamped_gap1 <= -step1)),
        ]

        # --- S3: the mid back on the grid (q * tick), beside the thresholds' adds -----------
        c3 = Signal(Carried, name="carried3")
        bid_grid3 = Signal(32)       # floor_tick(mid) < 2**32
        ask_grid3 = Signal(33)       # ceil_tick(mid) < 2**32 + 2**20
        threshold3 = {name: Signal(signed(68), name=f"{name}3") for name in THRESHOLDS}
        m.d.sync += [
            c3.eq(c2),
            bid_grid3.eq(floor2 * c2.params.tick),
            # ceil_tick(mid) = floor_tick(mid) + tick off the grid: the increment goes before
            # this smaller product rather than after S2's larger one.
            ask_grid3.eq((floor2 + off_grid2) * c2.params.tick),
            # off + k, with off = -|off| for a short position: one add or subtract each.
            *(threshold3[name].eq(Mux(short2, k2[name] - off2, k2[name] + off2))
              for name in THRESHOLDS),
        ]

        # --- S4: the grid prices compared with the thresholds; the intents -----------------
        t = threshold3
        d3, p3 = c3.decision, c3.params
        bid_grid, ask_grid = bid_grid3, ask_grid3
        bid_clamped = bid_grid > t["bid_clamp"]
        ask_clamped = ask_grid < t["ask_clamp"]
        buy = {
            "price": Mux(bid_clamped, d3.ask_price - p3.tick, bid_grid - t["bid_base"]),
            # bid_q <= 0: clamped, ask - tick <= 0; else F - off - half <= 0
            "gone": Mux(bid_clamped, d3.ask_price <= p3.tick, bid_grid <= t["bid_base"]),
            "moved": Mux(bid_clamped, c3.bid_clamped_moved,
                         (bid_grid >= t["bid_up"]) | (bid_grid <= t["bid_down"])),
            "take": c3.take_buy, "take_price": d3.ask_price, "take_qty": c3.take_buy_qty,
        }
        sell = {
            "price": Mux(ask_clamped, d3.bid_price + p3.tick, ask_grid - t["ask_base"]),
            # the deviation: a sell price >= 2**32 withdraws the side
            "gone": Mux(ask_clamped, d3.bid_price + p3.tick >= 1 << 32,
                        ask_grid >= t["ask_over"]),
            "moved": Mux(ask_clamped, c3.ask_clamped_moved,
                         (ask_grid >= t["ask_up"]) | (ask_grid <= t["ask_down"])),
            "take": c3.take_sell, "take_price": d3.bid_price, "take_qty": c3.take_sell_qty,
        }
        intents = Signal(Intents)
        for index, side in enumerate((buy, sell)):
            self._side(m, intents.sides[index], side, d3.quotes[index], p3.size, c3.quoting,
                       c3.taking)

        out = self.o_intents
        m.d.sync += [out.valid.eq(c3.valid), out.p.eq(intents)]
        return m

    @staticmethod
    def _side(m, intent, side, quote, size, quoting, taking):
        """One side's intent (all zero when there is none), as `Strategy.evaluate` decides."""
        def send(kind, price, qty, ioc=0):
            m.d.comb += [intent.valid.eq(1), intent.kind.eq(kind), intent.price.eq(price),
                         intent.qty.eq(qty), intent.ioc.eq(ioc)]

        def pull():
            with m.If(quote.live):
                send(OrderKind.CANCEL, quote.price, quote.qty)

        with m.If(quoting):
            with m.If(side["gone"]):
                pull()
            with m.Elif(~quote.live):
                send(OrderKind.NEW, side["price"], size)
            with m.Elif(side["moved"] | (quote.qty != size)):
                send(OrderKind.REPLACE, side["price"], size)
        with m.Elif(~taking):                # off, not permitted, or a side of the book empty
            pull()
        with m.Elif(side["take"]):           # take mode leaves quotes alone
            send(OrderKind.NEW, side["take_price"], side["take_qty"], ioc=1)

    def _commits(self, m, params_wr, committed, slot_bits):
        """Host commits: checked whole, the reciprocal divided out bit by bit, written whole."""
        staged, commit = self.staged, self.commit
        out_of_range = Cat(*((Value.cast(getattr(staged, p.name)) < p.low)
                             | (Value.cast(getattr(staged, p.name)) > p.high)
                             for p in PARAMS)).any()
        busy = Signal()
        bad_commit = commit.valid & (busy | (commit.p.slot >= self.slots) | out_of_range)
        error = Signal()
        m.d.sync += error.eq((error & ~self.clear_commit_error) | bad_commit)
        m.d.comb += [self.commit_error.eq(error), self.commit_busy.eq(busy)]

        pending = Signal(StrategyParamsLayout)
        target = Signal(slot_bits)
        # Restoring division of 2**52 by tick, one quotient bit per cycle, most significant
        # first: the dividend's only set bit enters at the first step.
        step = Signal(range(RECIPROCAL_SHIFT + 1))
        remainder = Signal(20)               # < tick <= 10**6 < 2**20
        quotient = Signal(RECIPROCAL_SHIFT + 1)
        shifted = Cat(step == RECIPROCAL_SHIFT, remainder)
        fits = shifted >= pending.tick

        with m.FSM():
            with m.State("IDLE"):
                # Loaded every idle cycle: the accepted commit's cycle loads the values used.
                m.d.sync += [pending.eq(staged), target.eq(commit.p.slot[:slot_bits]),
                             step.eq(RECIPROCAL_SHIFT), remainder.eq(0), quotient.eq(0)]
                with m.If(commit.valid & ~bad_commit):
                    m.next = "DIVIDE"
            with m.State("DIVIDE"):
                m.d.comb += busy.eq(1)
                m.d.sync += [remainder.eq(Mux(fits, shifted - pending.tick, shifted)),
                             quotient.eq(Cat(fits, quotient[:-1])), step.eq(step - 1)]
                with m.If(step == 0):
                    m.next = "WRITE"
            with m.State("WRITE"):
                written = {
                    **{name: getattr(pending, name) for name in (
                        "mode", "size", "tick", "inventory_unit_shift", "take_buy_at_or_below",
                        "take_sell_at_or_above")},
                    "reciprocal": quotient + (remainder != 0),   # ceil(2**52 / tick)
                    "skew_step": pending.skew_ticks * pending.tick,
                    "half_spread": pending.half_spread_ticks * pending.tick,
                    "requote_distance": pending.requote_ticks * pending.tick,
                }
                m.d.comb += [busy.eq(1), params_wr.en.eq(1), params_wr.addr.eq(target),
                             *(getattr(params_wr.data, name).eq(value)
                               for name, value in written.items())]
                m.d.sync += committed.bit_select(target, 1).eq(1)
                m.next = "IDLE"

