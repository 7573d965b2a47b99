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

The order rate is a schedule per slot, not a token count (`spec.bounds.gate_values`: GCRA):
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

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Cover
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.csr import COUNTER_BITS, Register, count_events
from hw.rtl.lutram import slot_table
from hw.rtl.records import GateVerdict, OrderKind, OrderRequest, Reason, Side
from spec.bounds import GATE_LIMITS, HostLimits, gate_values

#: Cycles from a request on `i_request` to its verdict on `o_verdict`.
LATENCY = 2
REASONS = tuple(Reason)   # check n (1-based) is REASONS[n - 1]; bit n-1 of `failed`
TIME_BITS = 64              # cycles: an ingress stamp, a rate schedule's due cycle
EXPOSURE_BITS = 40          # a side's open exposure, shares (sum of accepted orders)


#: Per-slot limits: register `limit_<name>`, range checked on commit (the table of bounds,
#: spec/bounds.py, whose host keys the limits file's bounds come from).
LIMITS = GATE_LIMITS
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


def register_values(limits: HostLimits) -> dict[str, int]:
    """The staged `limit_*` register values of one symbol's limits (the host side of a commit:
    the gate's own units, `spec.bounds.gate_values`)."""
    return gate_values(limits)


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
            "i_request": In(stream.Signature(OrderRequest, always_ready=True)),
            "o_verdict": Out(stream.Signature(GateVerdict, always_ready=True)),
            "halt": In(1, init=1),
            "staged": In(LimitsLayout),
            "staged_position": In(signed(32)),
            "commit": In(stream.Signature(CommitLayout, always_ready=True)),
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
        # With `properties`, each table has one more read port, which the proof points at the
        # slot it follows (`_assert_safety`): the gate's logic does not read it.
        at_chosen = {}

        def slot_memory(name, shape, readers=1):
            ports, write = slot_table(m, name, shape, slots, readers + self.properties)
            at_chosen[name] = ports[readers:]
            return ports[:readers], write

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
            self._assert_safety(m, {name: port for name, (port,) in at_chosen.items()}, {
                "configured": configured, "scheduled": scheduled, "valid": v1, "request": req1,
                "limits": lim1, "position": position1, "added": added1, "reach": reach1,
                "paced": paced1, "no_reference": no_reference1, "side_open": side_open1,
                "open_orders": open_orders1, "due": due1, "notional": notional1,
                "deviation": deviation1, "collar": collar1})

        count_events(m, self.counters, {
            "checked": checked, "accepted": adds, "cancels": is_cancel,
            "ends": end,
            **{f"reject_{r.name.lower()}": checked & (reason == r.code) for r in REASONS},
        })
        return m

    def _assert_safety(self, m, at_chosen, gate):
        """The gate's safety properties, stated at its ports (hw/tb/formal.py proves them by
        k-induction; docs/risk.md, "Proof").

        The solver picks one slot, `chosen` (any slot of the build). From port traffic alone,
        per the module doc, the proof keeps a shadow of that slot: its committed limits and
        confirmed position (from `staged` and `staged_position` when a commit to it is in
        range), whether its limits were committed since reset, its open buy and sell exposure
        and live-order count (raised by the D and G that leave accepted on `o_verdict`,
        lowered by the END and F requests on `i_request` once they are past S1) and its rate
        schedule's due cycle (GCRA, from the accepted D and G). Each request in flight carries
        the shadow's limits and position of the cycle it entered: a commit takes effect for the
        requests that enter after it.

        Properties. Every D, G and F has its verdict `LATENCY` cycles later, the request passed
        through, and no END has one; an F is never blocked. A D or G that leaves accepted: for
        an existing slot, not while `halt` was 1 in the cycle before, with the book trading,
        fresh, with both sides quoted and inside the collar. For the chosen slot, against the
        shadow: configured and enabled, qty <= max_order_qty, qty x price <= max_notional,
        position + open exposure + the order within max_long / max_short, a D under
        max_open_orders, ingress cycle + rate_tolerance >= the schedule's due cycle.
        The two products (qty x price, |price - mid| x 10,000 against collar_bps x mid) are the
        gate's own S1 registers: the multipliers are checked bit for bit in simulation.

        Invariants (asserted, so proven too; k-induction needs them): the chosen slot's RAM
        holds the shadow's limits and position, its `configured` bit is the shadow's, and its
        exposure, live orders and due cycle are at least the shadow's; S2's registers hold the
        request that entered, S1's sums of it and, for the chosen slot, its entry's limits and
        at least the shadow's state after the verdict ahead of it (the forwarding). At least,
        not equal: a reset while a D or G is in S2 loses its verdict after the gate counted it,
        so the gate stays the more conservative.

        Assumption (the environment's contract): ingress cycles are below 2**63 (the cycle
        counter counts from configuration: 1,870 years at 156.25 MHz), so no schedule sum wraps.
        """
        slots = self.slots
        req_in, commit, out = self.i_request, self.commit, self.o_verdict
        chosen = AnyConst(8)
        m.d.comb += [
            Assume(chosen < slots),      # the solver's choice of slot, not a contract
            Assume(~req_in.valid | ~req_in.p.ingress_cycle[-1]),
        ]

        def later(value, name, *, reset_less=True):
            late = Signal.like(value, name=name, reset_less=reset_less)
            m.d.sync += late.eq(value)
            return late

        # --- the chosen slot's committed limits and confirmed position: the commit port ------
        shadow_limits = Signal(LimitsLayout, reset_less=True)   # LUT RAM: a reset keeps them
        shadow_position = Signal(signed(32), reset_less=True)
        shadow_configured = Signal()                            # a reset clears it
        in_range = Cat(*((lim.low <= getattr(self.staged, lim.name))
                         & (getattr(self.staged, lim.name) <= lim.high)
                         for lim in LIMITS)).all()
        applied = commit.valid & (commit.p.slot == chosen) & (in_range | ~commit.p.limits)
        with m.If(applied & commit.p.limits):
            m.d.sync += [shadow_limits.eq(self.staged), shadow_configured.eq(1)]
        with m.If(applied & commit.p.position):
            m.d.sync += shadow_position.eq(self.staged_position)

        # --- requests in flight, with the shadow's limits of the cycle they entered ----------
        # A reset drops the requests in flight (their verdicts), as it does in the gate; an END
        # or F past S1 has changed the state all the same (`past_s1` is not reset).
        flight = [{"valid": req_in.valid, "request": req_in.p, "limits": shadow_limits,
                   "position": shadow_position, "configured": shadow_configured}]
        for stage in range(1, LATENCY + 1):
            flight.append({name: later(value, f"flight{stage}_{name}",
                                       reset_less=name != "valid")
                           for name, value in flight[-1].items()})
        past_s1 = later(flight[1]["valid"], "past_s1")     # S2 held it: aligned with `checked`
        checked = flight[LATENCY]
        halt_r = later(self.halt, "halt_r")      # S2 reads `halt`: the cycle before the verdict
        notional_r = later(gate["notional"], "notional_r")
        deviation_r = later(gate["deviation"], "deviation_r")
        collar_r = later(gate["collar"], "collar_r")

        # --- the chosen slot's live state: what left accepted, what the host ended ----------
        shadow_buy = Signal(EXPOSURE_BITS, reset_less=True)   # LUT RAM: a reset keeps them
        shadow_sell = Signal(EXPOSURE_BITS, reset_less=True)
        shadow_orders = Signal(9, reset_less=True)
        shadow_due = Signal(TIME_BITS)        # a reset restarts the schedule (`scheduled`)
        buy_next, sell_next = Signal.like(shadow_buy), Signal.like(shadow_sell)
        orders_next, due_next = Signal.like(shadow_orders), Signal.like(shadow_due)
        r = out.p.request
        lim = checked["limits"]
        sent = out.valid & out.p.accepted & ((r.kind == OrderKind.NEW)
                                             | (r.kind == OrderKind.REPLACE))
        mine = sent & (r.slot == chosen)
        r_buy = r.side == Side.BUY
        added = Mux(r.kind == OrderKind.NEW, r.qty,
                    Mux(r.qty > r.exposure, r.qty - r.exposure, 0))
        # The request that entered `LATENCY` cycles ago: the one `o_verdict` answers, or an END.
        entered = checked["request"]
        ends = past_s1 & (entered.slot == chosen) & (entered.kind == OrderKind.END)
        cancels = past_s1 & (entered.slot == chosen) & (entered.kind == OrderKind.CANCEL)
        entered_open = Mux(entered.side == Side.BUY, shadow_buy, shadow_sell)
        released = Mux(entered_open > entered.exposure, entered_open - entered.exposure, 0)
        m.d.comb += [buy_next.eq(shadow_buy), sell_next.eq(shadow_sell),
                     orders_next.eq(shadow_orders), due_next.eq(shadow_due)]
        with m.If(mine):
            m.d.comb += due_next.eq(Mux(shadow_due > r.ingress_cycle, shadow_due,
                                        r.ingress_cycle) + lim.order_interval)
            with m.If(r_buy):
                m.d.comb += buy_next.eq(shadow_buy + added)
            with m.Else():
                m.d.comb += sell_next.eq(shadow_sell + added)
            with m.If(r.kind == OrderKind.NEW):
                m.d.comb += orders_next.eq(shadow_orders + 1)
        with m.If(ends & (entered.side == Side.BUY)):
            m.d.comb += buy_next.eq(released)
        with m.If(ends & (entered.side == Side.SELL)):
            m.d.comb += sell_next.eq(released)
        with m.If((ends | cancels) & entered.live & (shadow_orders != 0)):
            m.d.comb += orders_next.eq(shadow_orders - 1)
        m.d.sync += [shadow_buy.eq(buy_next), shadow_sell.eq(sell_next),
                     shadow_orders.eq(orders_next), shadow_due.eq(due_next)]

        position = checked["position"]
        exposure = Mux(r_buy, position + shadow_buy, shadow_sell - position) + added
        m.d.comb += [
            # --- every slot: the verdict stream, and what the request alone decides --------
            Assert(out.valid == (checked["valid"] & (entered.kind != OrderKind.END)),
                   "a verdict without its request, or a D, G or F without its verdict"),
            Assert(~out.valid | (r.as_value() == entered.as_value()),
                   "a verdict carries another request than the one it answers"),
            Assert(~out.valid | (r.kind != OrderKind.CANCEL) | out.p.accepted,
                   "a cancel was blocked"),
            Assert(~sent | (r.slot < slots), "an order left for a slot that does not exist"),
            Assert(~sent | ~halt_r, "an order left while the kill switch was on"),
            Assert(~sent | r.trading, "an order left for a halted symbol"),
            Assert(~sent | ~r.stale, "an order left on a stale or unreliable book"),
            Assert(~sent | ((r.bid_price != 0) & (r.ask_price != 0)
                            & (deviation_r <= collar_r)),
                   "an order outside the price collar, or with no reference price"),
            # --- the chosen slot, against the shadow of its commits and its traffic --------
            Assert(~mine | (checked["configured"] & lim.enabled),
                   "an order left for a disabled or never committed symbol"),
            Assert(~mine | (r.qty <= lim.max_order_qty), "an order over the max quantity"),
            Assert(~mine | (notional_r <= lim.max_notional), "an order over the max notional"),
            Assert(~mine | (exposure <= Mux(r_buy, lim.max_long, lim.max_short)),
                   "an order over the position limit"),
            Assert(~mine | (r.kind != OrderKind.NEW) | (shadow_orders < lim.max_open_orders),
                   "an order over the open-orders limit"),
            Assert(~mine | (r.ingress_cycle + lim.rate_tolerance >= shadow_due),
                   "an order ahead of its rate schedule"),
            Cover(mine & (r.kind == OrderKind.NEW)),
            Cover(mine & (r.kind == OrderKind.NEW) & (shadow_buy != 0) & (shadow_orders != 0)),
            Cover(mine & (r.kind == OrderKind.REPLACE) & (r.side == Side.SELL)),
            Cover(ends & (buy_next < shadow_buy)),
        ]

        # --- invariants: the gate's state of the chosen slot against the shadow -------------
        for port in at_chosen.values():
            m.d.comb += port.addr.eq(chosen)
        due_at = Mux(gate["scheduled"].bit_select(chosen, 1), at_chosen["due"].data, 0)
        m.d.comb += [
            Assert(gate["configured"].bit_select(chosen, 1) == shadow_configured,
                   "the slot's configured bit is not its commits'"),
            Assert(at_chosen["limits"].data.as_value() == shadow_limits.as_value(),
                   "the slot's limits are not the committed ones"),
            Assert(at_chosen["position"].data == shadow_position,
                   "the slot's position is not the confirmed one"),
            Assert(at_chosen["open_buy"].data >= buy_next,
                   "the slot's open buy exposure is below what left and did not end"),
            Assert(at_chosen["open_sell"].data >= sell_next,
                   "the slot's open sell exposure is below what left and did not end"),
            Assert(at_chosen["open_orders"].data >= orders_next,
                   "the slot's live orders are fewer than left and did not end"),
            Assert(due_at >= due_next, "the slot's schedule is behind what left"),
        ]
        # ... and S2's registers against the request they hold: what S1 read and formed for
        # it, and, for the chosen slot, its entry's limits and the shadow's state after the
        # verdict ahead of it (the forwarding).
        s2, held, lim1 = flight[1], gate["request"], gate["limits"]
        mine1 = gate["valid"] & (held.slot == chosen)
        growth = Mux(held.qty > held.exposure, held.qty - held.exposure, 0)
        side_next = Mux(held.side == Side.BUY, buy_next, sell_next)
        m.d.comb += [
            *(Assert(~stage["valid"] | ~stage["request"].ingress_cycle[-1],
                     "a request in flight is stamped past the assumed cycles")
              for stage in flight[1:]),
            Assert(gate["valid"] == s2["valid"], "S2 holds a request that did not enter"),
            Assert(~gate["valid"] | (held.as_value() == s2["request"].as_value()),
                   "S2 holds another request than the one that entered"),
            Assert(~gate["valid"] | ((gate["added"] == Mux(held.kind == OrderKind.NEW,
                                                          held.qty, growth))
                                     & (gate["reach"] == held.ingress_cycle
                                        + lim1.rate_tolerance)
                                     & (gate["paced"] == held.ingress_cycle
                                        + lim1.order_interval)
                                     & (gate["no_reference"] == ((held.bid_price == 0)
                                                                 | (held.ask_price == 0)))),
                   "S1 formed something else than its request's sums"),
            Assert(~mine1 | (lim1.enabled == (s2["limits"].enabled & s2["configured"])),
                   "S1 read another enable than the committed one"),
            *(Assert(~mine1 | (getattr(lim1, limit.name) == getattr(s2["limits"], limit.name)),
                     f"S1 read another {limit.name} than the committed one")
              for limit in LIMITS if limit.name != "enabled"),
            Assert(~mine1 | (gate["position"] == s2["position"]),
                   "S1 read another position than the confirmed one"),
            Assert(~mine1 | (gate["side_open"] >= side_next),
                   "S1's open exposure is below what left and did not end"),
            Assert(~mine1 | (gate["open_orders"] >= orders_next),
                   "S1's live orders are fewer than left and did not end"),
            Assert(~mine1 | (gate["due"] >= due_next), "S1's schedule is behind what left"),
        ]
