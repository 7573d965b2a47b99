"""The market-data half of the fast path: MAC frames in, per-symbol BBO and state updates out.

    frames -> Ingress (NetFilter, MoldUDP64, ItchDecoder) -> BookBuilder -> updates

One CSR bank serves the ingress's registers and the book's (`REGMAP`, exported by
`nerve regmap`). This is the design `nerve replay --backend rtl` simulates.
"""

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl import book, ingress
from hw.rtl.csr import CsrBank, CsrBus, RegisterMap
from hw.rtl.records import BookUpdate, FrameBeat

BOOK = {"slots": book.DEFAULT_SLOTS}   # the book's build parameters (docs/book.md)
REGMAP = RegisterMap([*ingress.BLOCKS, ("book", book.registers(BOOK["slots"]))])
ADDR_WIDTH = ingress.ADDR_WIDTH
#: Cycles from the beat carrying an ITCH message's last byte into `i_frame` to its update on
#: `o_update` (a U: one more).
LATENCY = ingress.LATENCY + book.LATENCY


class MarketData(wiring.Component):
    """Ingress and book builder behind one CSR bank.

    Rate: one beat per clock, no backpressure. Latency: `LATENCY` cycles from an ITCH message's
    last byte to its update (`ingress.LATENCY` + `book.LATENCY`). `stale` is the feed's sticky
    stale flag; the book's `book_unreliable` flags are in the registers. Reset: as the ingress
    (nothing passes until the destination is written) and the book (no symbols, no orders).
    """

    i_frame: In(stream.Signature(FrameBeat))
    o_update: Out(stream.Signature(BookUpdate))
    stale: Out(1)
    csr: In(CsrBus(ADDR_WIDTH))

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = bank = CsrBank(REGMAP, ADDR_WIDTH)
        m.submodules.ingress = feed = ingress.Ingress(bank=bank)
        m.submodules.book = books = book.BookBuilder(**BOOK)
        wiring.connect(m, csr=wiring.flipped(self.csr), bank=bank.bus)
        wiring.connect(m, mac=wiring.flipped(self.i_frame), ingress=feed.i_frame)
        wiring.connect(m, ingress=feed.o_event, book=books.i_event)
        wiring.connect(m, book=books.o_update, out=wiring.flipped(self.o_update))
        m.d.comb += [
            self.stale.eq(feed.stale),
            books.clear_unreliable.eq(bank.clear["book_unreliable"]),
            books.learn.eq(bank.rw["book_learn"]),
            books.subscribe.valid.eq(bank.command["book_subscribe"].stb),
            books.subscribe.p.eq(bank.command["book_subscribe"].value),
            bank.ro["book_unreliable"].eq(books.unreliable),
            bank.ro["book_slots_used"].eq(books.slots_used),
        ]
        for name, _ in books.counters.shape():
            m.d.comb += bank.ro[f"book_{name}"].eq(getattr(books.counters, name))
        return m
