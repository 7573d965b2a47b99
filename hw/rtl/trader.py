"""The card's own orders: book updates in, risk-checked orders out to the FIX encoder.

    BookBuilder -> Trader -> Strategy -> Trader -> RiskGate -> Trader -> (FIFO) -> OrderEncoder

The Trader decides nothing (the strategy does) and checks nothing (the risk gate does): it owns
the order table, the record of every order chain the card has opened and the host has not yet
ended, and it sequences each decision exactly as the golden model does (sw/model/fastpath.py):

- per book update (a BBO change or an H): the slot's live quotes are read from the order table,
  the strategy answers with at most one intent per side, and the intents go through the gate
  buy side first, each seeing the gate state the previous one left. An accepted order takes the
  next ClOrdID number and goes to the encoder; a refused one goes to the host as a reject, and a
  refused G pulls its quote with an F (cause REJECTED_REPLACE).
- kill switch (`halt` rising, from the host register or a fault) and feed stale (the MoldUDP64
  stage's flag rising): an F for every live order, in chain order (KILL_SWITCH / FEED_STALE).
  The stale cancel-all is ordered with the updates by message index: updates of messages before
  the cause are decided first, later ones after it (and see the feed stale).
- host order ends (`order_end`, naming the chain's table entry): an END through the gate, which
  releases the chain's exposure; the entry is freed.
- host orders (`host_order`, the host order port: a slot, side, price, qty and IOC flag): a D
  through the gate like any other, checked against the slot's book as the Trader last decided
  on it (its BBO and trading state, kept per slot) and the book's live `unreliable` flag, with
  the message index and time of the moment it is taken (cause HOST). Accepted, it opens a chain
  in the order table, which the kill switch cancels like any other, but never becomes the
  strategy's quote. A slot the Trader has not yet decided on since an R named it has no book
  or name to send with: the order is refused (`host_orders_refused`), nothing is reported.

Components (each with its own unit tests): the order table, a ring of `orders` chains in chain
order (hw/rtl/chains.py: a chain is allocated at the tail when its D is sent and freed by its
END, so the cancel-all walks the whole ring from the tail, oldest chain first, as the model
walks its chains: 2 cycles per entry, 4 more per cancel); the strategy's live quotes per slot
and side (hw/rtl/quotes.py); when a cancel-all is due (hw/rtl/cancel_all.py); the host order
port's waiting order and each slot's book as last decided (hw/rtl/host_order.py). The Trader
itself is the sequencer between them, the strategy and the gate. A D that finds the entry at
the tail still in use is not sent: `fault` rises, halting trading.

Latency: the Trader adds none (`LATENCY`) to the strategy's and the gate's own on an update's
first order. An update that finds it idle is decided in the cycle it arrives: its decision
goes to the strategy at once, with the live quotes' prices from copies kept beside the order
table in LUT RAM (the quotes' table entries are read meanwhile, which needs the strategy to
take at least 2 cycles); the first intent goes to the gate in the cycle the strategy answers;
the verdict is an encoder command in the cycle it arrives. So the first order's command leaves
`strategy.LATENCY + risk.LATENCY` cycles after its update; the sell side's request follows
the buy side's verdict by 2 cycles.
Rate: sequential, one thing at a time. Updates that arrive while it is busy wait in a
fall-through FIFO of `queue` entries; if it overflows, `fault` rises (sticky, write 1 to clear)
and trading halts, because the lost updates could leave quotes on a book the card no longer
knows.
Reset: empty table, no quotes, ClOrdID numbers from 1, no fault.
"""

from amaranth import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.cancel_all import CancelAllRequests
from hw.rtl.chains import ChainTable, Entry
from hw.rtl.csr import COUNTER_BITS, Register, count_events
from hw.rtl.fallthrough import FallThroughFIFO
from hw.rtl.host_order import HostOrderPort
from hw.rtl.quotes import QuoteBook
from hw.rtl.records import (
    NUMBER_BITS,
    BookUpdate,
    Decision,
    EncodeCommand,
    GateVerdict,
    HostOrder,
    Intents,
    OrderCause,
    OrderKind,
    OrderRequest,
)

#: A book update as the Trader queues it.
Queued = data.StructLayout({
    "slot": 8, "bid_price": 32, "bid_shares": 32, "ask_price": 32, "ask_shares": 32,
    "stock": 64, "trading": 1, "named": 1, "unreliable": 1, "index": 48, "ingress_cycle": 64,
})
TRADING = ord("T")
#: Cycles the Trader adds to the strategy's and the gate's latencies, update to command.
LATENCY = 0

COUNTERS = ("updates", "orders", "rejects", "cancel_alls", "ends", "ends_refused",
            "queue_overflows", "table_full", "host_orders", "host_orders_refused")
TraderCounters = data.StructLayout({name: COUNTER_BITS for name in COUNTERS})


def registers(orders: int) -> tuple[Register, ...]:
    handle_doc = f"order-table entry 0..{orders - 1}"
    return (
        Register("order_end", 16, "cmd", f"the host confirms an order chain ended at the venue "
                 f"({handle_doc}, from its order event): its exposure is released"),
        Register("order_price", 32, "rw", "staged for order_submit: the host order's limit "
                 "price, ITCH units"),
        Register("order_qty", 32, "rw", "staged for order_submit: the host order's shares"),
        Register("order_submit", 10, "cmd", "the host order port: submit a D for slot (bits "
                 "7:0), side (bit 8: 1 sell), IOC (bit 9) at the staged price and qty; it passes "
                 "the risk gate like any other order (one at a time: a submit while one is "
                 "waiting is refused)"),
        Register("fault", 1, "w1c", "sticky: an update was lost (queue full) or a D found the "
                 "order table full; trading is halted and every live order cancelled until the "
                 "host clears it (write 1)"),
        Register("open_chains", 16, "ro", "order chains in the table (sent, not yet ended)"),
        *(Register(name, COUNTER_BITS, "ro", doc) for name, doc in (
            ("updates", "book updates decided on"),
            ("orders", "orders handed to the encoder"),
            ("rejects", "orders the risk gate refused"),
            ("cancel_alls", "cancel-all walks (kill switch or feed stale)"),
            ("ends", "order ends applied"),
            ("ends_refused", "order ends naming no open chain"),
            ("queue_overflows", "book updates lost to a full queue"),
            ("table_full", "D orders not sent: order table full"),
            ("host_orders", "host orders taken to the gate"),
            ("host_orders_refused", "host orders refused: a slot with no book or name yet, "
             "or one submitted while another waited"),
        )),
    )


class Trader(wiring.Component):
    """Sequences strategy, gate and order table per update (see the module doc).

    `halted` = `halt` (the kill-switch register) or `fault`: the risk gate's halt input.
    `position_slot` asks the gate for a slot's confirmed position (`confirmed_position`).
    `busy`: something is queued or being decided (the replay waits for it to fall before a
    host action, which the golden model applies between packets).
    `unreliable`: the book's per-slot flag, for a host order (an update carries its own).
    """

    def __init__(self, *, slots: int = 32, orders: int = 512, queue: int = 64):
        for name, value in (("orders", orders), ("queue", queue)):
            if value < 2 or value & (value - 1):
                raise TypeError(f"{name} must be a power of two >= 2, not {value!r}")
        if not 1 <= slots <= 256:
            raise TypeError(f"slots must be 1..256, not {slots!r}")
        self.slots, self.orders, self.queue = slots, orders, queue
        super().__init__({
            "i_update": In(stream.Signature(BookUpdate, always_ready=True)),
            "o_decision": Out(stream.Signature(Decision, always_ready=True)),
            "i_intents": In(stream.Signature(Intents, always_ready=True)),
            "o_request": Out(stream.Signature(OrderRequest, always_ready=True)),
            "i_verdict": In(stream.Signature(GateVerdict, always_ready=True)),
            "o_command": Out(stream.Signature(EncodeCommand)),
            "position_slot": Out(8),
            "confirmed_position": In(signed(32)),
            "halt": In(1),
            "halted": Out(1),
            "stale": In(1),
            "stale_index": In(48),
            "stale_cycle": In(64),
            "next_index": In(48),
            "now": In(64),
            "order_end": In(stream.Signature(16)),
            "host_order": In(stream.Signature(HostOrder)),
            "unreliable": In(slots),
            "fault": Out(1),
            "clear_fault": In(1),
            "open_chains": Out(16),
            "busy": Out(1),
            "counters": Out(TraderCounters),
        })

    def elaborate(self, platform):
        m = Module()
        slots, depth = self.slots, self.orders
        hbits = (depth - 1).bit_length()

        m.submodules.queue = queue = FallThroughFIFO(shape=Queued, depth=self.queue)
        m.submodules.chains = table = ChainTable(depth)
        m.submodules.quotes = quotes = QuoteBook(slots=slots, orders=depth)
        m.submodules.cancel_all = cancel_all = CancelAllRequests()
        m.submodules.host_port = host_port = HostOrderPort(slots=slots)
        read_a = table.read[0]              # the buy quote's entry, or the walked / ended one
        read_b = table.read[1]              # the sell quote's entry

        # --- book updates through the queue (straight through it when it is empty) ----------
        up = self.i_update.p
        # A slot no R has named has no symbol to put in an order: it never trades (as in the
        # golden model, where a locate trades from its R on), whatever limits it holds.
        m.d.comb += [
            queue.w.p.eq(Cat(up.slot, up.bid_price, up.bid_shares, up.ask_price, up.ask_shares,
                             up.stock, (up.state == TRADING) & up.named, up.named,
                             up.unreliable,
                             up.index, up.ingress_cycle)),
            queue.w.valid.eq(self.i_update.valid),
        ]
        lost = self.i_update.valid & ~queue.w.ready
        head = queue.r.p                      # the next update, if `queue.r.valid`

        # --- state ---------------------------------------------------------------------------
        used, live, tail = table.used, table.live, table.tail
        next_clordid = Signal(NUMBER_BITS, init=1)
        symbol = Array(Signal(64, name=f"symbol{s}") for s in range(slots))
        slot_bits = max(1, (slots - 1).bit_length())

        fault = Signal()
        table_full = Signal()
        m.d.sync += fault.eq((fault & ~self.clear_fault) | lost | table_full)
        halted = Signal()
        m.d.comb += [halted.eq(self.halt | fault), self.halted.eq(halted),
                     self.fault.eq(fault), self.open_chains.eq(table.open_chains)]

        # Cancel-all requests: the kill switch at once, a stale rise once it has settled.
        m.d.comb += [
            cancel_all.halted.eq(halted), cancel_all.stale.eq(self.stale),
            cancel_all.stale_index.eq(self.stale_index),
            cancel_all.stale_cycle.eq(self.stale_cycle),
            cancel_all.next_index.eq(self.next_index), cancel_all.now.eq(self.now),
            cancel_all.head_valid.eq(queue.r.valid), cancel_all.head_index.eq(head.index),
        ]
        feed_stale = cancel_all.feed_stale    # the feed as the updates being decided see it

        end_pending = Signal()
        end_handle = Signal(16)
        m.d.comb += self.order_end.ready.eq(~end_pending)
        with m.If(self.order_end.valid & ~end_pending):
            m.d.sync += [end_pending.eq(1), end_handle.eq(self.order_end.p)]

        wiring.connect(m, host=wiring.flipped(self.host_order), port=host_port.submit)
        m.d.comb += host_port.unreliable.eq(self.unreliable)
        host = host_port.order

        # --- the decision in hand ------------------------------------------------------------
        ev = Signal(Queued)                   # the update (or, in a walk, the cancel's context)
        quote_entry = Array(Signal(Entry, name=f"quote_entry{side}") for side in range(2))
        quote_at = Array(Signal(hbits, name=f"quote_at{side}") for side in range(2))
        intents = Signal(Intents)
        side = Signal()
        # The request being made.
        kind = Signal(OrderKind)
        price, qty, ioc = Signal(32), Signal(32), Signal()
        cause = Signal(OrderCause)
        target = Signal(hbits)                # the chain a G/F/END acts on
        entry = Signal(Entry)                 # its table entry, as read
        walking = Signal()
        walk_at = Signal(hbits)
        walk_left = Signal(range(depth + 1))
        verdict = Signal(GateVerdict)         # the gate's answer, held while the FIFO is full
        verdict_now = Signal(GateVerdict)     # ... or as it arrives (state VERDICT)
        m.d.comb += verdict_now.eq(verdict)

        ev_slot = ev.slot[:slot_bits]
        head_slot = head.slot[:slot_bits]
        sym_now = Signal(64)
        m.d.comb += [sym_now.eq(symbol[ev_slot]), self.position_slot.eq(head.slot)]

        req = self.o_request.p

        def order_fields(kind, side, price, qty, ioc, entry, target):
            """The request's order and the chain it acts on (none for a NEW): from the
            request registers by default, from the strategy's answer in `request` below."""
            new = kind == OrderKind.NEW
            return [req.kind.eq(kind), req.side.eq(side), req.price.eq(price),
                    req.qty.eq(qty), req.ioc.eq(ioc),
                    req.exposure.eq(Mux(new, 0, entry.exposure)),
                    req.live.eq(Mux(new, 0, live.bit_select(target, 1))),
                    req.chain.eq(Mux(new, 0, entry.chain))]

        m.d.comb += [
            *order_fields(kind, side, price, qty, ioc, entry, target),
            req.slot.eq(ev.slot), req.bid_price.eq(ev.bid_price),
            req.ask_price.eq(ev.ask_price), req.trading.eq(ev.trading),
            req.stale.eq(feed_stale | ev.unreliable), req.index.eq(ev.index),
            req.ingress_cycle.eq(ev.ingress_cycle),
        ]
        # The decision on the next update, made in the cycle the FSM takes it.
        dec = self.o_decision.p
        m.d.comb += [
            dec.slot.eq(head.slot), dec.bid_price.eq(head.bid_price),
            dec.bid_shares.eq(head.bid_shares), dec.ask_price.eq(head.ask_price),
            dec.ask_shares.eq(head.ask_shares),
            dec.permitted.eq(head.trading & ~feed_stale & ~head.unreliable & ~halted),
            dec.position.eq(self.confirmed_position),
        ]
        # The head update's quotes: the decision needs no order-table read.
        m.d.comb += quotes.slot.eq(head.slot)
        for s in range(2):
            m.d.comb += [dec.quotes[s].live.eq(quotes.quotes[s].live),
                         dec.quotes[s].price.eq(quotes.quotes[s].terms.price),
                         dec.quotes[s].qty.eq(quotes.quotes[s].terms.qty)]

        # What goes to the encoder once the gate has answered.
        accepted = verdict_now.accepted
        record = self.o_command.p.order
        m.d.comb += [
            record.rejected.eq(~accepted), record.kind.eq(kind),
            record.clordid.eq(Mux(accepted, next_clordid, 0)),
            record.orig_clordid.eq(Mux(accepted & (kind != OrderKind.NEW), entry.clordid, 0)),
            record.slot.eq(ev.slot), record.side.eq(side), record.price.eq(price),
            record.qty.eq(qty), record.ioc.eq(ioc), record.cause.eq(cause),
            record.reason.eq(verdict_now.reason), record.failed.eq(verdict_now.failed),
            record.handle.eq(Mux(kind == OrderKind.NEW, tail, target)),
            record.index.eq(ev.index), record.ingress_cycle.eq(ev.ingress_cycle),
            self.o_command.p.symbol.eq(sym_now),
        ]
        full = table.full
        updated = Signal(Entry)               # the table entry after an accepted order
        m.d.comb += updated.eq(entry)
        with m.Switch(kind):
            with m.Case(OrderKind.NEW):
                m.d.comb += [updated.chain.eq(next_clordid), updated.slot.eq(ev.slot),
                             updated.side.eq(side), updated.price.eq(price),
                             updated.qty.eq(qty), updated.exposure.eq(qty),
                             updated.ioc.eq(ioc)]
            with m.Case(OrderKind.REPLACE):
                m.d.comb += [updated.price.eq(price), updated.qty.eq(qty),
                             updated.exposure.eq(Mux(qty > entry.exposure, qty, entry.exposure))]
        m.d.comb += [updated.clordid.eq(next_clordid),
                     table.write.p.addr.eq(Mux(kind == OrderKind.NEW, tail, target)),
                     table.write.p.entry.eq(updated)]

        # A D (day order) or G the gate passed is the side's quote at its new terms.
        place = quotes.place.p
        m.d.comb += [place.slot.eq(ev.slot), place.side.eq(side), place.handle.eq(tail),
                     place.terms.price.eq(price), place.terms.qty.eq(qty)]

        def forget_quote(slot, quote_side, handle):
            """The slot's quote on that side is no longer live if it was this chain."""
            m.d.comb += [quotes.forget.valid.eq(1), quotes.forget.p.slot.eq(slot),
                         quotes.forget.p.side.eq(quote_side), quotes.forget.p.handle.eq(handle)]

        def request(intent, s):
            """Send the strategy's intent for side `s` to the gate, from this cycle's values
            (the request registers are loaded for what follows the verdict)."""
            m.d.comb += [self.o_request.valid.eq(1),
                         *order_fields(intent.kind, s, intent.price, intent.qty, intent.ioc,
                                       quote_entry[s], quote_at[s])]
            m.d.sync += [side.eq(s), kind.eq(intent.kind), price.eq(intent.price),
                         qty.eq(intent.qty), ioc.eq(intent.ioc), target.eq(quote_at[s]),
                         entry.eq(quote_entry[s]), cause.eq(OrderCause.STRATEGY)]

        def apply():
            """The verdict in `verdict_now`: send the command, update the table and quotes."""
            blocked = accepted & (kind == OrderKind.NEW) & full
            with m.If(blocked):
                # No room to track the chain: not sent (the gate's count of it only makes it
                # more conservative); the fault halts trading and cancels the rest.
                m.d.comb += table_full.eq(1)
                m.next = "NEXT"
            with m.Else():
                m.d.comb += self.o_command.valid.eq(1)
            with m.If(~blocked & self.o_command.ready):
                with m.If(accepted):
                    m.d.comb += [order_sent.eq(1), table.write.valid.eq(1)]
                    m.d.sync += next_clordid.eq(next_clordid + 1)
                    with m.Switch(kind):
                        with m.Case(OrderKind.NEW):
                            m.d.comb += table.allocate.eq(1)
                            # The strategy's day order is the side's live quote (a host
                            # order never is: the strategy does not manage it).
                            with m.If(~ioc & (cause == OrderCause.STRATEGY)):
                                m.d.comb += [quotes.place.valid.eq(1),
                                             place.new_chain.eq(1)]
                        with m.Case(OrderKind.REPLACE):   # only ever of the side's quote
                            m.d.comb += quotes.place.valid.eq(1)
                        with m.Case(OrderKind.CANCEL):
                            m.d.comb += [table.cancel.valid.eq(1), table.cancel.p.eq(target)]
                            forget_quote(ev.slot, side, target)
                    m.next = "NEXT"
                with m.Else():
                    m.d.comb += rejected.eq(1)
                    with m.If(kind == OrderKind.REPLACE):
                        # A refused replace leaves a quote at a price the strategy no longer
                        # wants: pull it (the F carries the quote as it stands).
                        m.d.sync += [kind.eq(OrderKind.CANCEL), price.eq(entry.price),
                                     qty.eq(entry.qty), cause.eq(OrderCause.REJECTED_REPLACE)]
                        m.next = "ISSUE"
                    with m.Else():
                        m.next = "NEXT"
            with m.Elif(~blocked):
                m.next = "APPLY"     # the command FIFO is full: hold the verdict

        update_taken = Signal()
        order_sent = Signal()
        rejected = Signal()
        walk_started = Signal()
        end_done = Signal()
        end_refused = Signal()

        host_taken = Signal()
        host_refused = Signal()
        # Each decided update's book, for the host orders of its slot.
        m.d.comb += [host_port.decided.valid.eq(update_taken),
                     host_port.decided.p.slot.eq(head.slot),
                     host_port.decided.p.bid_price.eq(head.bid_price),
                     host_port.decided.p.ask_price.eq(head.ask_price),
                     host_port.decided.p.trading.eq(head.trading),
                     host_port.decided.p.named.eq(head.named)]

        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.sync += walking.eq(0)
                m.d.comb += [read_a.addr.eq(Mux(end_pending, end_handle,
                                                quotes.quotes[0].handle)),
                             read_b.addr.eq(quotes.quotes[1].handle)]
                with m.If(cancel_all.due):
                    # Cancel every live order, oldest chain first.
                    m.d.comb += cancel_all.take.eq(1)
                    m.d.sync += [cause.eq(cancel_all.cause), ev.index.eq(cancel_all.index),
                                 ev.ingress_cycle.eq(cancel_all.cycle)]
                    # From the tail round the ring is allocation order: chain order.
                    m.d.sync += [walking.eq(1), walk_at.eq(tail), walk_left.eq(depth)]
                    m.d.comb += walk_started.eq(1)
                    m.next = "WALK_READ"
                with m.Elif(end_pending):
                    m.next = "END_LOOK"
                with m.Elif(host_port.pending):
                    m.d.comb += host_port.take.eq(1)
                    with m.If(host_port.known):
                        # A D from the registers; no strategy intents follow it (SIDE).
                        m.d.sync += [
                            kind.eq(OrderKind.NEW), side.eq(host.side), price.eq(host.price),
                            qty.eq(host.qty), ioc.eq(host.ioc), cause.eq(OrderCause.HOST),
                            intents.eq(0), ev.slot.eq(host.slot),
                            ev.bid_price.eq(host_port.book.bid_price),
                            ev.ask_price.eq(host_port.book.ask_price),
                            ev.trading.eq(host_port.book.trading),
                            ev.unreliable.eq(host_port.book.unreliable),
                            ev.index.eq(self.next_index), ev.ingress_cycle.eq(self.now)]
                        m.d.comb += host_taken.eq(1)
                        m.next = "ISSUE"
                    with m.Else():
                        m.d.comb += host_refused.eq(1)
                with m.Elif(queue.r.valid & ~cancel_all.hold):
                    # Decided now: the decision goes to the strategy in this cycle.
                    m.d.comb += [queue.r.ready.eq(1), self.o_decision.valid.eq(1),
                                 update_taken.eq(1)]
                    m.d.sync += [ev.eq(head), symbol[head_slot].eq(head.stock),
                                 cause.eq(OrderCause.STRATEGY)]
                    for s in range(2):
                        m.d.sync += quote_at[s].eq(quotes.quotes[s].handle)
                    m.next = "QUOTES"

            with m.State("QUOTES"):
                # The quotes' entries, for a G's or F's exposure and ClOrdIDs; the strategy
                # answers no sooner than the next cycle.
                m.d.sync += [quote_entry[0].eq(read_a.data), quote_entry[1].eq(read_b.data)]
                m.next = "INTENTS"

            with m.State("INTENTS"), m.If(self.i_intents.valid):
                answer = self.i_intents.p
                m.d.sync += intents.eq(answer)
                with m.If(answer.sides[0].valid):
                    request(answer.sides[0], 0)
                    m.next = "VERDICT"
                with m.Elif(answer.sides[1].valid):
                    request(answer.sides[1], 1)
                    m.next = "VERDICT"
                with m.Else():
                    m.next = "IDLE"

            with m.State("SIDE"):                 # the sell side, after the buy side's order
                with m.If(intents.sides[1].valid):
                    request(intents.sides[1], 1)
                    m.next = "VERDICT"
                with m.Else():
                    m.next = "IDLE"

            with m.State("ISSUE"):                # a request from the registers
                m.d.comb += self.o_request.valid.eq(1)
                m.next = "VERDICT"

            with m.State("VERDICT"), m.If(self.i_verdict.valid):
                m.d.sync += verdict.eq(self.i_verdict.p)
                m.d.comb += verdict_now.eq(self.i_verdict.p)
                apply()

            with m.State("APPLY"):
                apply()

            with m.State("NEXT"):
                with m.If(walking):
                    m.d.sync += [walk_at.eq(walk_at + 1), walk_left.eq(walk_left - 1)]
                    m.next = "WALK_READ"
                with m.Elif(side == 0):
                    m.next = "SIDE"
                with m.Else():
                    m.next = "IDLE"

            # --- cancel-all: one chain at a time, oldest first ---------------------------
            with m.State("WALK_READ"):
                m.d.comb += read_a.addr.eq(walk_at)
                with m.If(walk_left == 0):
                    m.next = "IDLE"
                with m.Else():
                    m.next = "WALK_LOOK"

            with m.State("WALK_LOOK"):
                found = read_a.data
                m.d.sync += [entry.eq(found), target.eq(walk_at), kind.eq(OrderKind.CANCEL),
                             side.eq(found.side), price.eq(found.price), qty.eq(found.qty),
                             ioc.eq(0), ev.slot.eq(found.slot)]   # an F has no TIF
                with m.If(live.bit_select(walk_at, 1)):
                    m.next = "ISSUE"
                with m.Else():
                    m.d.sync += [walk_at.eq(walk_at + 1), walk_left.eq(walk_left - 1)]
                    m.next = "WALK_READ"

            # --- the host ends a chain -------------------------------------------------------
            with m.State("END_LOOK"):
                m.d.sync += end_pending.eq(0)
                found = read_a.data
                handle = end_handle[:hbits]
                with m.If((end_handle < depth) & used.bit_select(handle, 1)):
                    m.d.sync += [entry.eq(found), target.eq(handle), kind.eq(OrderKind.END),
                                 side.eq(found.side), ev.slot.eq(found.slot)]
                    m.d.comb += end_done.eq(1)
                    m.next = "END_ISSUE"
                with m.Else():
                    m.d.comb += end_refused.eq(1)
                    m.next = "IDLE"

            with m.State("END_ISSUE"):
                # The END carries the chain's exposure and whether it was still live (the
                # request's `live`, read before this cycle's clear); the gate answers nothing.
                m.d.comb += self.o_request.valid.eq(1)
                m.d.comb += [table.end.valid.eq(1), table.end.p.eq(target)]
                forget_quote(ev.slot, side, target)
                m.next = "IDLE"

        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE") | queue.r.valid | cancel_all.pending
                                 | end_pending | host_port.pending)

        count_events(m, self.counters, {
            "updates": update_taken, "orders": order_sent, "rejects": rejected,
            "cancel_alls": walk_started, "ends": end_done, "ends_refused": end_refused,
            "queue_overflows": lost, "table_full": table_full,
            "host_orders": host_taken, "host_orders_refused": host_refused | host_port.lost,
        })
        return m
