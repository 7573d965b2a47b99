"""The order table: every order chain the card has opened and the host has not yet ended.

Data flow: a component of the Trader (hw/rtl/trader.py), which sequences it. A chain is one
order's life at the venue: its D, then any G and F that act on it, until the host confirms it
ended (a fill, a cancel, an expiry) and the Trader sends the gate its END. The table is a ring of
`orders` entries in chain order: a chain is allocated at the tail, so walking the ring from the
tail visits the chains oldest first, which is the order the golden model cancels them in.
"""

from amaranth import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.rtl.records import NUMBER_BITS

#: One order chain in the table (its `live` and `used` bits are registers beside it).
Entry = data.StructLayout({
    "chain": NUMBER_BITS,      # ClOrdID number of the chain's D (the host's name for it)
    "clordid": NUMBER_BITS,    # ClOrdID of its latest message: the next one's OrigClOrdID
    "slot": 8, "side": 1, "price": 32, "qty": 32,
    "exposure": 32,            # shares counted by the gate: the largest qty in flight
    "ioc": 1,
})


class ChainTable(wiring.Component):
    """A ring of `orders` chain entries in block RAM, with a used and a live bit per entry.

    Entries: `read[0]` and `read[1]` are block-RAM read ports (the entry at the address comes
    out 1 cycle later; not transparent: the Trader never reads an entry in the cycle it writes
    it); `write` writes one entry (when `valid`).
    Chains: `allocate` opens the chain at `tail` (used and live set, `tail` moves on); `cancel`
    marks a chain's F sent (live cleared); `end` frees its entry (used and live cleared). One
    command of each kind a cycle, no backpressure; the Trader never gives two kinds for one
    entry in a cycle. `full`: the entry at `tail` still holds a chain (a D cannot be tracked).
    Reset: no chains, `tail` 0. The entries' RAM is not reset: an entry is read only while used.
    """

    def __init__(self, orders: int):
        if orders < 2 or orders & (orders - 1):
            raise TypeError(f"orders must be a power of two >= 2, not {orders!r}")
        self.orders = orders
        handle = (orders - 1).bit_length()
        read = wiring.Signature({"addr": Out(handle), "data": In(Entry)})
        write = stream.Signature(data.StructLayout({"addr": handle, "entry": Entry}),
                                 always_ready=True)
        super().__init__({
            "read": In(read).array(2),
            "write": In(write),
            "allocate": In(1),
            "cancel": In(stream.Signature(handle, always_ready=True)),
            "end": In(stream.Signature(handle, always_ready=True)),
            "tail": Out(handle),
            "full": Out(1),
            "used": Out(orders),
            "live": Out(orders),
            "open_chains": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.entries = entries = Memory(shape=Entry, depth=self.orders, init=[])
        for port in self.read:
            # Not transparent: see the class doc (the Trader never reads what it writes).
            reader = entries.read_port(transparent_for=())
            m.d.comb += [reader.addr.eq(port.addr), port.data.eq(reader.data)]
        writer = entries.write_port()
        m.d.comb += [writer.addr.eq(self.write.p.addr), writer.data.eq(self.write.p.entry),
                     writer.en.eq(self.write.valid)]

        used, live = self.used, self.live
        tail = self.tail
        m.d.comb += self.full.eq(used.bit_select(tail, 1))
        with m.If(self.allocate):
            m.d.sync += [used.bit_select(tail, 1).eq(1), live.bit_select(tail, 1).eq(1),
                         tail.eq(tail + 1)]
        with m.If(self.cancel.valid):
            m.d.sync += live.bit_select(self.cancel.p, 1).eq(0)
        with m.If(self.end.valid):
            m.d.sync += [used.bit_select(self.end.p, 1).eq(0),
                         live.bit_select(self.end.p, 1).eq(0)]
        with m.If(self.allocate & ~self.end.valid):
            m.d.sync += self.open_chains.eq(self.open_chains + 1)
        with m.Elif(self.end.valid & ~self.allocate):
            m.d.sync += self.open_chains.eq(self.open_chains - 1)
        return m
