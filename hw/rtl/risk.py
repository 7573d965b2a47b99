"""Pre-trade risk gate: every order the card sends passes here, and nothing unsafe gets through.

Data flow: strategy (and the kill switch, and the host's order ends) -> RiskGate -> encoder.
The semantics are the golden model's (`sw/model/risk.py`, docs/golden-model.md "Risk gate"):
every check is evaluated in parallel on every D and G, the verdict names the first failing one
in `REASONS` order and `failed` carries them all. An F is never blocked and uses no rate token.

The gate counts the exposure of what it has sent itself: per slot, the open buy and sell
exposure and the live-order count rise when it accepts an order and fall only when the host
confirms an order ended (an `END` request naming the chain's exposure, from the order table),
so a slow host makes the gate more conservative, never less. The host confirms positions.

Limits: per slot, written by the host in two steps so that none is ever half-applied: it writes
the staged values (`limit_*` and `position` registers), then a `commit` command naming the slot
and what to apply. A commit whose values are out of the documented range (`LIMITS`), or whose
slot does not exist, is refused whole and raises the sticky `commit_error` (write 1 to clear).
A committed set (limits, position) takes effect for requests that enter the gate after the
commit's cycle. Reset state is fail closed: `halt` is 1 (from its register) and every slot is
disabled until the host commits its limits (a slot's limits and state live in LUT RAM, zero at
configuration; a reset clears the `configured` bits, which disable the slot, not the RAM).

The order rate is a schedule per slot, not a token count (`sw.model.risk.GateLimits`: GCRA):
an order conforms when its ingress cycle plus the slot's `rate_tolerance` reaches the slot's
`due` cycle, and an accepted one moves `due` to max(due, its cycle) + `order_interval`. That is
a token bucket of (tolerance / interval + 1) orders refilled at one per interval, checked with
adds and compares only: the bucket's refill (rate x elapsed time) used to be a 20 x 44-bit
multiply on S1's critical path, and the gate routed at 34.5 MHz.

Pipeline (2 cycles, one request per clock, no backpressure):
  S1  the slot's limits, confirmed position and live state (exposure, open orders, rate
      schedule), with the request in S2 forwarded when it is for the same slot; every product
      (notional, collar) and the request's reach (its cycle + the tolerance)
  S2  from S1's registers alone: the checks, the verdict and the state update, registered onto
      `o_verdict` (and forwarded to S1)
Latency: `LATENCY` cycles from `i_request` to `o_verdict`. Why S1 reads the state: S2 then has
no slot mux and no multiplier on its path (the gate placed at 22.6 MHz when S2 read 32:1 muxes
of registers). The schedule, the exposure and the open-order count are forwarded from S2's
verdict.
`halt` is read in S2: a halt blocks every order whose verdict comes in the next cycle.
"""

from dataclasses import dataclass

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.hdl import Assert, Cover
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.csr import COUNTER_BITS, Register, count_events
from hw.rtl.lutram import slot_table
from hw.rtl.records import GateVerdict, OrderKind, OrderRequest, Side
from sw.model.config import SymbolLimits
from sw.model.risk import NEVER, GateLimits, Reason

#: Cycles from a request on `i_request` to its verdict on `o_verdict`.
LATENCY = 2
REASONS = tuple(Reason)   # check n (1-based) is REASONS[n - 1]; bit n-1 of `failed`
TIME_BITS = 64              # cycles: an ingress stamp, a rate schedule's due cycle
EXPOSURE_BITS = 40          # a side's open exposure, shares (sum of accepted orders)


@dataclass(frozen=True)
class Limit:
    name: str
    bits: int
    low: int
    high: int
    doc: str


#: Per-slot limits: register `limit_<name>`, range checked on commit (sw/model/config.py bounds).
LIMITS = (
    Limit("max_order_qty", 32, 1, (1 << 32) - 1, "shares per order"),
    Limit("max_notional", 44, 1, 10**13,
          "qty x price per order, in shares x ITCH price units (dollars x 10,000)"),
    Limit("collar_bps", 14, 0, 10_000, "max |price - mid| / mid, basis points"),
    Limit("max_long", 32, 0, (1 << 31) - 1, "position + open buy exposure + order, shares"),
    Limit("max_short", 32, 0, (1 << 31) - 1, "open sell exposure - position + order, shares"),
    Limit("max_open_orders", 8, 0, 255, "live orders"),
    Limit("order_interval", 44, 1, NEVER,
          "cycles per order, sustained: ceil(156,250,000 / orders per second), 2**44-1 for 0"),
    Limit("rate_tolerance", 60, 0, (1 << 60) - 1,
          "cycles an order may come ahead of its schedule: (burst - 1) x order_interval"),
    Limit("enabled", 1, 0, 1, "0 rejects every order with SYMBOL_DISABLED"),
)
LimitsLayout = data.StructLayout({limit.name: limit.bits for limit in LIMITS})
CommitLayout = data.StructLayout({"slot": 8, "limits": 1, "position": 1})

COUNTERS = ("checked", "accepted", "cancels", "ends",
            *(f"reject_{reason.name.lower()}" for reason in REASONS))
RiskCounters = data.StructLayout({name: COUNTER_BITS for name in COUNTERS})


def registers() -> tuple[Register, ...]:
    """The gate's registers (served by hw.rtl.csr.CsrBank; addresses come from the map)."""
    return (
        Register("halt", 1, "rw", "kill switch: 1 rejects every D and G (KILL_SWITCH) from the "
                 "next cycle on; reset 1, the host releases it", reset=1),
        *(Register(f"limit_{limit.name}", limit.bits, "rw",
                   f"staged for commit: {limit.doc} ({limit.low}..{limit.high})")
          for limit in LIMITS),
        Register("position", 32, "rw", "staged for commit: host-confirmed position, shares, "
                 "two's complement (negative = short)"),
        Register("commit", 10, "cmd", "bits 0-7 slot, bit 8 apply the staged limits, bit 9 "
                 "apply the staged position; out of range -> refused whole, commit_error"),
        Register("commit_error", 1, "w1c", "a commit was refused (value out of range or no "
                 "such slot); nothing of it applied; write 1 to clear"),
        *(Register(name, COUNTER_BITS, "ro", _counter_doc(name)) for name in COUNTERS),
    )


def register_values(limits: SymbolLimits) -> dict[str, int]:
    """The staged `limit_*` register values of one symbol's limits (the host side of a commit:
    the gate's own units, `GateLimits`)."""
    return GateLimits.of(limits).registers()


def _counter_doc(name: str) -> str:
    if name.startswith("reject_"):
        return f"D/G rejected, first failing check {name[7:].upper()}"
    return {"checked": "D and G orders checked", "accepted": "D and G orders accepted",
            "cancels": "F orders passed (never blocked)",
            "ends": "order ends from the host (exposure released)"}[name]


class RiskGate(wiring.Component):
    """Every check in parallel, one verdict, one reason code (see the module doc).

    Rate: one request per clock, no backpressure (`i_request.ready` is 1). Latency: `LATENCY`.
    Outputs: a verdict for every D, G and F (an END changes state and is not passed on).
    Reset: halted (from the register), every slot disabled with zero limits and no exposure.
    """

    def __init__(self, *, slots: int = 32, properties: bool = False):
        if not 1 <= slots <= 256:
            raise TypeError(f"slots must be 1..256, not {slots!r}")
        self.slots = slots
        self.properties = properties   # add the safety assertions (hw/tb/formal.py proves them)
        super().__init__({
            "i_request": In(stream.Signature(OrderRequest)),
            "o_verdict": Out(stream.Signature(GateVerdict)),
            "halt": In(1, init=1),
            "staged": In(LimitsLayout),
            "staged_position": In(signed(32)),
            "commit": In(stream.Signature(CommitLayout)),
            "commit_error": Out(1),
            "clear_commit_error": In(1),
            "counters": Out(RiskCounters),
            # The strategy quotes around the same confirmed position the gate checks against.
            "position_slot": In(8),
            "confirmed_position": Out(signed(32)),
        })

    def elaborate(self, platform):
        m = Module()
        slots = self.slots

        # --- per-slot limits and state: LUT RAM, read asynchronously by S1 at the request's
        # slot, written once a cycle (limits and position by a commit, the live state by S2).
        # A reset does not clear them; it clears `configured`, and an unconfigured slot is
        # disabled, so the reset state is fail closed all the same.
        def slot_memory(name, shape, readers=1):
            return slot_table(m, name, shape, slots, readers)

        (limits_rd,), limits_wr = slot_memory("limits", LimitsLayout)
        (position_rd, quoted_position_rd), position_wr = slot_memory("position", signed(32), 2)
        (due_rd,), due_wr = slot_memory("due", TIME_BITS)
        (open_buy_rd,), open_buy_wr = slot_memory("open_buy", EXPOSURE_BITS)
        (open_sell_rd,), open_sell_wr = slot_memory("open_sell", EXPOSURE_BITS)
        (open_orders_rd,), open_orders_wr = slot_memory("open_orders", 9)
        configured = Signal(slots)   # limits committed at least once
        scheduled = Signal(slots)    # `due` written since reset (else due = 0: a full burst)

        # --- host commits: checked whole, applied whole -------------------------------------
        staged = self.staged
        out_of_range = Cat(*((getattr(staged, lim.name) < lim.low)
                             | (getattr(staged, lim.name) > lim.high) for lim in LIMITS)).any()
        commit = self.commit
        m.d.comb += [self.i_request.ready.eq(1), commit.ready.eq(1)]
        bad_commit = commit.valid & ((commit.p.slot >= slots)
                                     | (commit.p.limits & out_of_range))
        error = Signal()
        m.d.sync += error.eq((error & ~self.clear_commit_error) | bad_commit)
        m.d.comb += self.commit_error.eq(error)
        slot_bits = max(1, (slots - 1).bit_length())
        target = commit.p.slot[:slot_bits]
        applies = commit.valid & ~bad_commit
        # A commit leaves the rate schedule alone (as the model does): a new interval or
        # tolerance applies to the next check against the `due` cycle already set.
        m.d.comb += [
            limits_wr.addr.eq(target), limits_wr.data.eq(staged),
            limits_wr.en.eq(applies & commit.p.limits),
            position_wr.addr.eq(target), position_wr.data.eq(self.staged_position),
            position_wr.en.eq(applies & commit.p.position),
        ]
        with m.If(applies & commit.p.limits):
            m.d.sync += configured.bit_select(target, 1).eq(1)

        m.d.comb += [quoted_position_rd.addr.eq(self.position_slot[:slot_bits]),
                     self.confirmed_position.eq(Mux(self.position_slot < slots,
                                                    quoted_position_rd.data, 0))]

        # --- S1: the slot's limits and live state, and every product -----------------------
        # S1 reads the slot's live state (exposure, open orders, rate schedule) for S2, so that
        # S2 starts from registers instead of 32:1 muxes. The request in S2 writes its slot at
        # the end of this cycle: a request for the same slot right behind it takes S2's next
        # values instead of the registers (forwarding; the `*_next` signals below).
        req = self.i_request.p
        slot0 = req.slot[:slot_bits]
        buy0 = req.side == Side.BUY
        v1 = Signal()
        req1 = Signal(OrderRequest)
        lim1 = Signal(LimitsLayout)
        position1 = Signal(signed(32))
        notional1 = Signal(64)
        deviation1 = Signal(47)      # |price - mid| * 10,000
        collar1 = Signal(47)         # collar_bps * mid
        no_reference1 = Signal()
        added1 = Signal(33)          # exposure this order adds (a G: only its growth)
        reach1 = Signal(TIME_BITS + 1)      # the request's cycle + the slot's tolerance
        paced1 = Signal(TIME_BITS + 1)      # the request's cycle + the slot's interval
        due1 = Signal(TIME_BITS)            # the slot's schedule: the next order's due cycle
        side_open1 = Signal(EXPOSURE_BITS)
        open_orders1 = Signal(9)

        # S2's next values, for its write-back and for S1's forwarding (defined in S2 below).
        due_next = Signal(TIME_BITS)
        side_next = Signal(EXPOSURE_BITS)
        open_orders_next = Signal(9)
        schedule_moves = Signal()    # S2 writes the due cycle of `slot`
        side_moves = Signal()        # S2 writes its side's open exposure
        orders_move = Signal()       # S2 writes the open-order count
        slot = req1.slot[:slot_bits]
        # A slot number past `slots` (a build whose slot count is not a power of two) reads
        # whatever the RAM gives: its request is SYMBOL_DISABLED and writes nothing.
        for port in (limits_rd, position_rd, due_rd, open_buy_rd, open_sell_rd,
                     open_orders_rd):
            m.d.comb += port.addr.eq(slot0)
        behind = v1 & (slot == slot0)   # S2 holds a request for the same slot
        configured_now = configured.bit_select(slot0, 1)
        due_now = Mux(scheduled.bit_select(slot0, 1), due_rd.data, 0)

        mid = (req.bid_price + req.ask_price) >> 1
        # |price - mid| without forming the mid first: with s = bid + ask = 2*mid + (s & 1),
        # e = 2*price + (s & 1) - s = 2*(price - mid), and each of e and -e is one three-operand
        # sum (one carry-save layer and one carry chain) instead of an adder feeding a second
        # one. The parity of s is its operands' low bits, without a carry.
        twice_price = Cat(req.bid_price[0] ^ req.ask_price[0], req.price)
        above = Signal(signed(35))      # 2 * (price - mid)
        below = Signal(signed(35))      # 2 * (mid - price)
        m.d.comb += [above.eq(twice_price - req.bid_price - req.ask_price),
                     below.eq(req.bid_price + req.ask_price - twice_price)]
        distance = Mux(above[-1], below, above)[1:34]      # |price - mid|
        lim, pos = limits_rd.data, position_rd.data
        growth = req.qty - req.exposure
        added = Mux(req.kind == OrderKind.NEW, req.qty, Mux(req.qty > req.exposure, growth, 0))
        m.d.sync += [
            v1.eq(self.i_request.valid), req1.eq(req), lim1.eq(lim),
            # (overrides the field just copied) the RAM is not reset: unconfigured = disabled
            lim1.enabled.eq(lim.enabled & configured_now),
            position1.eq(pos),
            notional1.eq(req.qty * req.price),
            deviation1.eq(distance * 10_000),
            collar1.eq(lim.collar_bps * mid),
            no_reference1.eq((req.bid_price == 0) | (req.ask_price == 0)),
            added1.eq(added),
            reach1.eq(req.ingress_cycle + lim.rate_tolerance),
            paced1.eq(req.ingress_cycle + lim.order_interval),
            due1.eq(Mux(behind & schedule_moves, due_next, due_now)),
            side_open1.eq(Mux(behind & side_moves & (req1.side == req.side), side_next,
                              Mux(buy0, open_buy_rd.data, open_sell_rd.data))),
            open_orders1.eq(Mux(behind & orders_move, open_orders_next,
                                open_orders_rd.data)),
        ]

        # --- S2: the checks, from S1's registers --------------------------------------------
        known_slot = req1.slot < slots
        checked = v1 & ((req1.kind == OrderKind.NEW) | (req1.kind == OrderKind.REPLACE))
        buy = req1.side == Side.BUY
        exposure_now = Mux(buy, position1 + side_open1, side_open1 - position1)
        # The schedule after this order: from its due cycle, or from the request's own cycle
        # when the slot has been idle past it (the burst refilled). The sums are beside the
        # compare, not after it.
        rescheduled = Mux(due1 > req1.ingress_cycle, due1 + lim1.order_interval, paced1)
        checks = {
            Reason.KILL_SWITCH: self.halt,
            Reason.SYMBOL_DISABLED: ~lim1.enabled | ~known_slot,
            Reason.SYMBOL_HALTED: ~req1.trading,
            Reason.BOOK_STALE: req1.stale,
            Reason.QTY_EXCEEDS_MAX: req1.qty > lim1.max_order_qty,
            Reason.NOTIONAL_EXCEEDS_MAX: notional1 > lim1.max_notional,
            Reason.NO_REFERENCE_PRICE: no_reference1,
            Reason.PRICE_OUTSIDE_COLLAR: ~no_reference1 & (deviation1 > collar1),
            Reason.POSITION_LIMIT: exposure_now + added1 > Mux(buy, lim1.max_long,
                                                               lim1.max_short),
            Reason.OPEN_ORDERS_LIMIT: (req1.kind == OrderKind.NEW)
                                      & (open_orders1 >= lim1.max_open_orders),
            Reason.RATE_LIMITED: reach1 < due1,
        }
        failed = Signal(len(REASONS))
        m.d.comb += failed.eq(Mux(checked, Cat(*(checks[r] for r in REASONS)), 0))
        accepted = ~failed.any()
        reason = Signal(4)
        for code in reversed(range(1, len(REASONS) + 1)):   # the first failing check wins
            with m.If(failed[code - 1]):
                m.d.comb += reason.eq(code)

        # State: an accepted D/G moves its slot's schedule on and adds exposure; an F takes a
        # live order out of the count; an END releases the chain's exposure.
        adds = checked & accepted          # implies a known slot (else SYMBOL_DISABLED)
        is_cancel = v1 & (req1.kind == OrderKind.CANCEL)
        end = v1 & (req1.kind == OrderKind.END) & known_slot
        # A release never takes a side below zero (the order table ends a chain once).
        released = Mux(side_open1 > req1.exposure, side_open1 - req1.exposure, 0)
        opened = adds & (req1.kind == OrderKind.NEW)
        m.d.comb += [
            schedule_moves.eq(adds),
            # An interval of up to 2**44 from a cycle below 2**64: no wrap in the life of a card
            due_next.eq(rescheduled[:TIME_BITS]),
            side_moves.eq(adds | end),
            side_next.eq(Mux(end, released, side_open1 + added1)),
            orders_move.eq(opened | (((is_cancel & known_slot) | end) & req1.live
                                     & (open_orders1 != 0))),
            open_orders_next.eq(Mux(opened, open_orders1 + 1, open_orders1 - 1)),
        ]
        m.d.comb += [
            due_wr.addr.eq(slot), due_wr.en.eq(schedule_moves), due_wr.data.eq(due_next),
            open_buy_wr.addr.eq(slot), open_buy_wr.en.eq(side_moves & buy),
            open_buy_wr.data.eq(side_next),
            open_sell_wr.addr.eq(slot), open_sell_wr.en.eq(side_moves & ~buy),
            open_sell_wr.data.eq(side_next),
            open_orders_wr.addr.eq(slot), open_orders_wr.en.eq(orders_move),
            open_orders_wr.data.eq(open_orders_next),
        ]
        with m.If(schedule_moves):
            m.d.sync += scheduled.bit_select(slot, 1).eq(1)

        out = self.o_verdict
        m.d.sync += [out.valid.eq(v1 & (req1.kind != OrderKind.END)), out.p.request.eq(req1),
                     out.p.accepted.eq(accepted), out.p.reason.eq(reason),
                     out.p.failed.eq(failed)]

        if self.properties:
            self._assert_safety(m, req1, lim1, position1, added1, notional1, deviation1,
                                collar1, side_open1, open_orders1, reach1, due1, known_slot)


        count_events(m, self.counters, {
            "checked": checked, "accepted": adds, "cancels": is_cancel,
            "ends": end,
            **{f"reject_{r.name.lower()}": checked & (reason == r.code) for r in REASONS},
        })
        return m

    def _assert_safety(self, m, req1, lim1, position1, added1, notional1, deviation1, collar1,
                       side_open, open_orders, reach, due, known_slot):
        """The gate's safety properties, on what leaves it: an order the gate lets out (a D
        or G on `o_verdict` with `accepted`) was, against the limits and state it was checked
        with, within every limit. Stated on the output register, from copies of the inputs
        taken beside it (so they also cover the verdict's pipelining and priority logic).
        The products (notional, collar) are the S1 registers: their multipliers are checked
        bit for bit in simulation, not here."""
        checked_with = {"limits": lim1, "position": position1, "added": added1,
                        "notional": notional1, "deviation": deviation1, "collar": collar1,
                        "side_open": side_open, "open_orders": open_orders, "reach": reach,
                        "due": due,
                        "halt": self.halt, "known": known_slot}
        seen = {name: Signal.like(value, name=f"seen_{name}")
                for name, value in checked_with.items()}
        m.d.sync += [seen[name].eq(value) for name, value in checked_with.items()]
        seen_halt, seen_known = seen["halt"], seen["known"]
        out, lim = self.o_verdict, seen["limits"]
        r = out.p.request
        sent = out.valid & out.p.accepted & (
            (r.kind == OrderKind.NEW) | (r.kind == OrderKind.REPLACE))
        exposure = Mux(r.side == Side.BUY, seen["position"] + seen["side_open"],
                       seen["side_open"] - seen["position"]) + seen["added"]
        limit = Mux(r.side == Side.BUY, lim.max_long, lim.max_short)
        m.d.comb += [
            Assert(~sent | ~seen_halt, "an order left while the kill switch was on"),
            Assert(~sent | (lim.enabled & seen_known), "an order left for a disabled symbol"),
            Assert(~sent | r.trading, "an order left for a halted symbol"),
            Assert(~sent | ~r.stale, "an order left on a stale or unreliable book"),
            Assert(~sent | (r.qty <= lim.max_order_qty), "an order over the max quantity"),
            Assert(~sent | (seen["notional"] <= lim.max_notional),
                   "an order over the max notional"),
            Assert(~sent | ((r.bid_price != 0) & (r.ask_price != 0)
                            & (seen["deviation"] <= seen["collar"])),
                   "an order outside the price collar, or with no reference price"),
            Assert(~sent | (exposure <= limit), "an order over the position limit"),
            Assert(~sent | (r.kind != OrderKind.NEW)
                   | (seen["open_orders"] < lim.max_open_orders),
                   "an order over the open-orders limit"),
            Assert(~sent | (seen["reach"] >= seen["due"]), "an order ahead of its rate schedule"),
            Cover(sent & (r.kind == OrderKind.NEW)),
            Cover(sent & (r.kind == OrderKind.REPLACE) & (r.side == Side.SELL)),
        ]
