"""Transmit side of the card's Ethernet port: 64-bit beats cut into the MAC's bytes.

Data flow: Nic.o_egress -> UdpEgress -> async FIFO -> ByteUnpacker -> MAC tx.
The unpacker runs in the MAC's transmit clock and is cut-through: a frame starts as soon as
its first beat is in, so an order's datagram does not wait for its whole frame to cross the
clock domains.
"""

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.records import FrameBeat, MacByte

#: Cycles from a frame's first beat valid on `i_beat` (and taken) to its first byte valid.
LATENCY = 1


class ByteUnpacker(wiring.Component):
    """FrameBeat stream -> MacByte stream, one byte per cycle the MAC takes.

    Latency: `LATENCY` (1) cycle from a frame's first beat taken to its first byte valid on
    `o_byte`. The next beat is taken in the cycle the current beat's last byte is taken, so a
    frame's bytes, and back-to-back frames, follow without a gap.
    Backpressure: `o_byte` honours ready (the MAC holds it low for preamble and gap); `i_beat`
    is taken only when its bytes can follow the current ones.
    Underrun: once a frame has started the MAC must get a byte every cycle. If the beat after
    the current one is not on `i_beat` when the current beat's last byte is taken, that byte
    carries `error` (and `last`, so the byte stream stays framed): the MAC aborts the frame.
    The rest of that frame's beats are then discarded, through its `last` beat, and
    `underrun` pulses. Underrun cannot happen while the producer keeps up: it writes 8 bytes
    per cycle of the fast clock and the MAC takes one per 8 ns, so a fast clock above
    15.625 MHz outruns the MAC; the async FIFO's synchroniser latency (a few cycles) before the
    first beat is seen is absorbed by the 8 bytes of preamble and SFD the MAC sends before the
    frame's first byte, and the producer must deliver a frame's beats without long gaps
    (UdpEgress does, once the message is flowing).
    Bad input: beats before a `first` are dropped; a last beat with keep 0 (no byte to send)
    gives one byte with `last` and `error` (the bytes before it went out without `last`).
    Reset: idle.
    """

    i_beat: In(stream.Signature(FrameBeat))
    o_byte: Out(stream.Signature(MacByte))
    underrun: Out(1)

    def elaborate(self, platform):
        m = Module()

        i, o = self.i_beat, self.o_byte
        cur = Signal(FrameBeat)
        lane = Signal(3)
        last_lane = Signal(3)
        at_end = lane == last_lane
        empty_last = cur.last & (cur.keep == 0)
        starving = Signal()             # the current byte is the last before a missing beat
        taken = o.valid & o.ready
        for n in range(8):
            with m.If(cur.keep[n] | ~cur.last):
                m.d.comb += last_lane.eq(n)
        m.d.comb += [
            starving.eq(at_end & ~cur.last & ~i.valid),
            o.p.data.eq(cur.data.word_select(lane, 8)),
            o.p.first.eq(cur.first & (lane == 0)),
            o.p.last.eq((cur.last & at_end) | starving),
            o.p.error.eq(starving | empty_last),
        ]

        m.d.sync += self.underrun.eq(taken & starving)
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += i.ready.eq(1)
                with m.If(i.valid & i.p.first):
                    m.d.sync += [cur.eq(i.p), lane.eq(0)]
                    m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += [o.valid.eq(1), i.ready.eq(o.ready & at_end)]
                with m.If(taken & starving):
                    m.next = "DISCARD"
                with m.Elif(taken & at_end & cur.last):
                    # The next frame may start at once (the MAC spaces the frames).
                    with m.If(i.valid & i.p.first):
                        m.d.sync += [cur.eq(i.p), lane.eq(0)]
                    with m.Else():
                        m.next = "IDLE"
                with m.Elif(taken & at_end):
                    m.d.sync += [cur.eq(i.p), lane.eq(0)]
                with m.Elif(taken):
                    m.d.sync += lane.eq(lane + 1)
            with m.State("DISCARD"):
                m.d.comb += i.ready.eq(1)
                with m.If(i.valid & i.p.last):
                    m.next = "IDLE"
        return m
