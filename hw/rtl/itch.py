"""ITCH 5.0 decoder: realigned ITCH messages in, normalised book events out.

Data flow: MoldUDP64 -> ItchDecoder -> book builder. The mapping is the golden model's
(`sw/model/decoder.py`, docs/golden-model.md): A/F -> ADD, E/C -> EXECUTE, X -> CANCEL,
D -> DELETE, U -> REPLACE, H -> TRADING_STATE, R -> DIRECTORY, S -> SYSTEM; P and types not
modelled give no event. Fields a kind does not use are zero, so events match the model's bit
for bit (`hw.rtl.records.pack`).
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.csr import COUNTER_BITS, Register, count_events
from hw.rtl.records import (
    ITCH_BODY_START,
    BookEventKind,
    FeedEvent,
    ItchMessage,
    Side,
    big_endian,
)

#: Length of each modelled type (ITCH 5.0 specification); any other length is malformed.
LENGTHS = {"S": 12, "R": 39, "H": 25, "A": 36, "F": 40, "E": 31, "C": 36, "X": 23, "D": 19,
           "U": 35, "P": 44}
KINDS = {"A": BookEventKind.ADD, "F": BookEventKind.ADD, "E": BookEventKind.EXECUTE,
         "C": BookEventKind.EXECUTE, "X": BookEventKind.CANCEL, "D": BookEventKind.DELETE,
         "U": BookEventKind.REPLACE, "H": BookEventKind.TRADING_STATE,
         "R": BookEventKind.DIRECTORY, "S": BookEventKind.SYSTEM}

ItchCounters = data.StructLayout({"events": COUNTER_BITS, "malformed": COUNTER_BITS})

REGISTERS = (
    Register("events", COUNTER_BITS, "ro", "book events decoded"),
    Register("malformed", COUNTER_BITS, "ro", "messages of a modelled type with the wrong length "
             "or an add with a side other than B/S (each raises stale)"),
)


class ItchDecoder(wiring.Component):
    """Decode one ITCH message per clock into a `FeedEvent`.

    Rate: one message per clock (the MoldUDP64 stage delivers at most one per beat); no
    backpressure (`i_message.ready` tied to 1, `o_event.ready` ignored).
    Latency: 1 cycle, message in to event out. Reset: counters zero.
    Bad input: a modelled type with the wrong length, or an add whose side byte is not B or S,
    gives no event, pulses `malformed` (the MoldUDP64 stage raises stale on it) and is counted.
    """

    i_message: In(stream.Signature(ItchMessage, always_ready=True))
    o_event: Out(stream.Signature(FeedEvent, always_ready=True))
    malformed: Out(1)
    counters: Out(ItchCounters)

    def elaborate(self, platform):
        m = Module()
        msg = self.i_message.p
        valid = self.i_message.valid

        def byte(offset):
            lo = 8 * (offset - ITCH_BODY_START)
            return msg.body[lo:lo + 8]

        def field(offset, size):
            return big_endian(byte(offset + i) for i in range(size))

        is_type = {t: msg.type == ord(t) for t in LENGTHS}
        length_ok = Cat(*(is_type[t] & (msg.length == n) for t, n in LENGTHS.items())).any()
        modelled = Cat(*is_type.values()).any()
        adds = is_type["A"] | is_type["F"]
        side_byte = byte(19)
        side_ok = (side_byte == ord("B")) | (side_byte == ord("S"))
        malformed = valid & modelled & (~length_ok | (adds & ~side_ok))
        kind = Signal(4)
        for t, k in KINDS.items():
            with m.If(is_type[t]):
                m.d.comb += kind.eq(k.value)
        reduces = is_type["E"] | is_type["C"] | is_type["X"]
        names_stock = is_type["H"] | is_type["R"]
        has_ref = adds | reduces | is_type["D"] | is_type["U"]

        out = Signal(FeedEvent, reset_less=True)   # data: no reset (only `valid` has one)
        m.d.comb += self.o_event.p.eq(out)
        ev = out.event
        m.d.sync += [
            self.o_event.valid.eq(valid & (kind != 0) & ~malformed),
            self.malformed.eq(malformed),
            ev.kind.eq(kind),
            ev.locate.eq(msg.locate),
            ev.ref.eq(Mux(has_ref, field(11, 8), 0)),
            ev.new_ref.eq(Mux(is_type["U"], field(19, 8), 0)),
            ev.side.eq(Mux(adds & (side_byte == ord("S")), Side.SELL, Side.BUY)),
            ev.shares.eq(Mux(adds, field(20, 4),
                         Mux(reduces, field(19, 4), Mux(is_type["U"], field(27, 4), 0)))),
            ev.price.eq(Mux(adds, field(32, 4), Mux(is_type["U"], field(31, 4), 0))),
            ev.stock.eq(Mux(adds, field(24, 8), Mux(names_stock, field(11, 8), 0))),
            ev.code.eq(Mux(is_type["H"], byte(19), Mux(is_type["S"], byte(11), 0))),
            out.index.eq(msg.index),
            out.ingress_cycle.eq(msg.ingress_cycle),
        ]
        count_events(m, self.counters, {"events": valid & (kind != 0) & ~malformed,
                                         "malformed": malformed})
        return m
