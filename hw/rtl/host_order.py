"""The host order port's waiting order, and the book each slot had when the Trader last decided
on it, which is what a host order is checked against.

Data flow: host registers (`trader_order_*`) -> HostOrderPort -> Trader -> risk gate, as a
component of the Trader (hw/rtl/trader.py). Orders the host makes (a position cut, a hedge)
enter the card here and pass the same gate and encoder as the strategy's.
"""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.lutram import slot_table
from hw.rtl.records import HostOrder

#: A slot's book as the Trader decided on it: what a host order of that slot is checked against.
DecidedBook = data.StructLayout({"slot": 8, "bid_price": 32, "ask_price": 32, "trading": 1,
                                 "named": 1})
#: The waiting order's book, for its request to the gate (`unreliable` is the book's flag now).
HostBook = data.StructLayout({"bid_price": 32, "ask_price": 32, "trading": 1, "unreliable": 1})


class HostOrderPort(wiring.Component):
    """One host order at a time, and each slot's book as last decided.

    `submit` takes an order when none waits (`ready`); one submitted while another waits is
    refused: `lost` pulses (the Trader counts it). The waiting order is `order` while `pending`;
    `take` (the Trader sends it to the gate, or refuses it) clears it. `known`: the order's slot
    exists and an R had named it when the Trader last decided on it, so it has a book and a
    name to send with; `book` is that book (BBO prices, trading state) and the slot's live
    `unreliable` flag.
    `decided`: the Trader records the book of every update it decides (LUT RAM for the prices,
    flip-flops for the flags; a write is seen by a read in the next cycle).
    Reset: nothing waits; no slot known (so a slot not decided on since refuses host orders).
    """

    def __init__(self, *, slots: int):
        if not 1 <= slots <= 256:
            raise TypeError(f"slots must be 1..256, not {slots!r}")
        self.slots = slots
        super().__init__({
            "submit": In(stream.Signature(HostOrder)),
            "lost": Out(1),
            "pending": Out(1),
            "order": Out(HostOrder),
            "take": In(1),
            "known": Out(1),
            "book": Out(HostBook),
            "unreliable": In(slots),
            "decided": In(stream.Signature(DecidedBook, always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        slots = self.slots
        slot_bits = max(1, (slots - 1).bit_length())
        prices = data.StructLayout({"bid_price": 32, "ask_price": 32})
        (prices_at_order,), prices_decided = slot_table(m, "decided_book", prices, slots)
        trading = Signal(slots)
        named = Signal(slots)

        pending, order = self.pending, self.order
        m.d.comb += [self.submit.ready.eq(~pending),
                     self.lost.eq(self.submit.valid & pending)]
        with m.If(self.take):
            m.d.sync += pending.eq(0)
        with m.If(self.submit.valid & ~pending):
            m.d.sync += [pending.eq(1), order.eq(self.submit.p)]

        decided = self.decided.p
        at = decided.slot[:slot_bits]
        m.d.comb += [prices_decided.addr.eq(at),
                     prices_decided.data.bid_price.eq(decided.bid_price),
                     prices_decided.data.ask_price.eq(decided.ask_price),
                     prices_decided.en.eq(self.decided.valid)]
        with m.If(self.decided.valid):
            m.d.sync += [trading.bit_select(at, 1).eq(decided.trading),
                         named.bit_select(at, 1).eq(decided.named)]

        slot = order.slot[:slot_bits]
        m.d.comb += [
            prices_at_order.addr.eq(slot),
            self.known.eq((order.slot < slots) & named.bit_select(slot, 1)),
            self.book.bid_price.eq(prices_at_order.data.bid_price),
            self.book.ask_price.eq(prices_at_order.data.ask_price),
            self.book.trading.eq(trading.bit_select(slot, 1)),
            self.book.unreliable.eq(self.unreliable.bit_select(slot, 1)),
        ]
        return m
