"""The strategy's live quotes: per symbol slot and side, which order chain is the quote and at
what price and size.

Data flow: a component of the Trader (hw/rtl/trader.py). The Trader reads a slot's quotes in the
cycle it decides an update (they go to the strategy with the decision, and the chains' handles
address the order table), places a quote when the gate passes the strategy's D or G, and
forgets it when its chain is cancelled or ends. A host order is never a quote.
"""

from amaranth import Array, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.lutram import slot_table

#: Terms of a quote: copies of its chain's entry (hw/rtl/chains.py), so that a decision reads
#: them without an order-table read.
Terms = data.StructLayout({"price": 32, "qty": 32})


def quote_layout(handle_bits: int) -> data.StructLayout:
    """One side's quote: whether it is live, its chain's table entry, its terms."""
    return data.StructLayout({"live": 1, "handle": handle_bits, "terms": Terms})


class QuoteBook(wiring.Component):
    """Each slot's bid and ask quote (see the module doc).

    Read: `quotes[side]` is the quote of slot `slot` on that side, in the same cycle (LUT RAM and
    flip-flops, read asynchronously).
    Write, one of each a cycle, no backpressure: `place` records a passed D or G of a slot's
    side: its terms always, and for a D (`new_chain`) the chain as the side's live quote.
    `forget` makes a slot's side not live if its quote is chain `handle` (an F or END of a chain
    that is not the quote changes nothing). The Trader never gives both for one side in a cycle.
    Reset: no quote live. The terms' RAM is not reset; it is read only while its quote is live.
    """

    def __init__(self, *, slots: int, orders: int):
        if not 1 <= slots <= 256:
            raise TypeError(f"slots must be 1..256, not {slots!r}")
        if orders < 2 or orders & (orders - 1):
            raise TypeError(f"orders must be a power of two >= 2, not {orders!r}")
        self.slots, self.orders = slots, orders
        handle = (orders - 1).bit_length()
        place = data.StructLayout({"slot": 8, "side": 1, "handle": handle, "terms": Terms,
                                   "new_chain": 1})
        forget = data.StructLayout({"slot": 8, "side": 1, "handle": handle})
        super().__init__({
            "slot": In(8),
            "quotes": Out(quote_layout(handle)).array(2),
            "place": In(stream.Signature(place, always_ready=True)),
            "forget": In(stream.Signature(forget, always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        slots = self.slots
        slot_bits = max(1, (slots - 1).bit_length())
        handle_bits = (self.orders - 1).bit_length()
        live = Array(Array(Signal(name=f"quote{s}_{side}_live") for side in range(2))
                     for s in range(slots))
        handle = Array(Array(Signal(handle_bits, name=f"quote{s}_{side}") for side in range(2))
                       for s in range(slots))
        terms = [slot_table(m, f"terms_{name}", Terms, slots) for name in ("bid", "ask")]

        at = self.slot[:slot_bits]
        place, forget = self.place.p, self.forget.p
        for side, ((reader,), writer) in enumerate(terms):
            m.d.comb += [
                reader.addr.eq(at),
                self.quotes[side].live.eq(live[at][side]),
                self.quotes[side].handle.eq(handle[at][side]),
                self.quotes[side].terms.eq(reader.data),
                writer.addr.eq(place.slot[:slot_bits]),
                writer.data.eq(place.terms),
                writer.en.eq(self.place.valid & (place.side == side)),
            ]
        with m.If(self.place.valid & place.new_chain):
            m.d.sync += [live[place.slot[:slot_bits]][place.side].eq(1),
                         handle[place.slot[:slot_bits]][place.side].eq(place.handle)]
        gone = forget.slot[:slot_bits]
        with m.If(self.forget.valid & (handle[gone][forget.side] == forget.handle)):
            m.d.sync += live[gone][forget.side].eq(0)
        return m
