"""Transmit side of the card's Ethernet port: each FIX message wrapped in a UDP datagram.

Data flow: Nic.o_egress -> UdpEgress -> async FIFO -> ByteUnpacker -> MAC tx.
The golden model is `sw.model.egress.order_datagram`. The block is cut-through: the frame's
header goes out while the message is still arriving. The only header fields that depend on
the message are its lengths (and the IPv4 checksum over them), and the encoder puts the
message's length in its own first 16 bytes (BodyLength, always 3 digits), so it is known from
the message's second beat on, before the header beats that carry it.

Frame layout (no FCS; the MAC pads and appends it), in 64-bit beats:

    beat 0   dst_mac[0..5] src_mac[0..1]
    beat 1   src_mac[2..5] 08 00 | 45 00
    beat 2   total_length id | 40 00 | 40 11          (DF, TTL 64, protocol UDP)
    beat 3   checksum src_ip dst_ip[0..1]
    beat 4   dst_ip[2..3] | src_port dst_port udp_length
    beat 5   00 00 | message bytes 0..5                (UDP checksum 0: "none", legal in IPv4)
    beat k   message bytes 8(k-5)-2 .. 8(k-5)+5        (the previous beat's top 2 bytes, the
                                                        current beat's low 6)
"""

from amaranth import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.records import FrameBeat, UdpEndpoints
from spec.ethernet import ETHERTYPE_IPV4, IP_PROTO_UDP, IPV4_HEADER, UDP_HEADER

#: Cycles from the message's first beat accepted on `i_msg` to the frame's first beat valid.
FIRST_LATENCY = 1
#: Cycles from the message's last beat accepted to the frame's last beat valid, when `o_frame`
#: is ready: 1 if the last beat holds at most 6 bytes, 2 if 7 or 8 (one more beat for the tail).
LAST_LATENCY = (1, 2)
#: Bytes of a FIX message around its BodyLength: "8=FIX.4.4|9=LLL|" before, "10=KKK|" after.
FIX_FRAMING = 16 + 7
IP_TTL = 64
IP_FLAGS_DF = 0x4000


def wire_bytes(value, n: int) -> list:
    """A value's n bytes in network order (most significant first)."""
    return [value[8 * (n - 1 - i):8 * (n - i)] for i in range(n)]


def consts(*values: int) -> list:
    return [Const(v, 8) for v in values]


class UdpEgress(wiring.Component):
    """FIX messages (one per first..last run of `i_msg`) -> Ethernet II / IPv4 / UDP frames.

    Latency: `FIRST_LATENCY` (1) cycle from the message's first beat accepted to the frame's
    first beat valid on `o_frame`; `LAST_LATENCY` (1, or 2 when the message's last beat holds
    7 or 8 bytes) from its last beat accepted to the frame's last beat valid.
    Rate: the frame is 5 or 6 beats longer than the message. The first two message beats are
    taken at once (the second gives the lengths); then `i_msg` is held (ready 0) for the 5
    cycles the header needs and the rest streams at one beat per cycle. With `o_frame` always
    ready and the message arriving without gaps, the frame goes out without a gap.
    Backpressure: `o_frame` is an output register loaded when it is empty or taken; when it
    is stalled, `i_msg` is stalled too (nothing is dropped).
    Header: `endpoints` is read while the header goes out (registers, quasi-static).
    Identification counts datagrams from 0 after reset (wrapping at 16 bits); the IPv4 header
    checksum is computed here; the UDP checksum is 0 (no checksum, legal over IPv4).
    `sent` pulses once per frame, in the cycle its last beat is first valid; `length_error`
    pulses with it if the message was not 16 + BodyLength + 7 bytes long or its BodyLength was
    not 3 digits: the frame still ends at the message's last byte, so its IP and UDP lengths
    (from BodyLength) are wrong.
    Bad input: beats before a message's `first` are dropped; a `first` inside a message is
    not looked for (the encoder's stream is well framed).
    Reset: idle, identification 0.
    """

    i_msg: In(stream.Signature(FrameBeat))
    endpoints: In(UdpEndpoints)
    o_frame: Out(stream.Signature(FrameBeat))
    sent: Out(1)
    length_error: Out(1)

    def elaborate(self, platform):
        m = Module()

        i, o, ep = self.i_msg, self.o_frame, self.endpoints
        load = ~o.valid | o.ready       # the output register takes a beat this cycle
        prev_r = Signal(64)             # the message beat before the current one
        m0_last = Signal()              # the message is one beat long (malformed)
        m0_keep = Signal(8)
        m1_r = Signal(64)
        m1_last = Signal()
        m1_keep = Signal(8)
        got_m1 = Signal()
        msg_len_r = Signal(16)          # the message length its BodyLength claims
        total_len_r = Signal(16)
        udp_len_r = Signal(16)
        digits_ok_r = Signal()
        ident = Signal(16)
        base_r = Signal(20)             # ones'-complement sum of the header but total length
        csum_r = Signal(16)
        beat_n = Signal(16)             # index of the next message beat taken in STREAM
        tail_keep = Signal(2)
        err_r = Signal()

        # BodyLength: message bytes 12..14, lanes 4..6 of its beat 1.
        digits = [i.p.data.word_select(lane, 8) for lane in (4, 5, 6)]
        body_len = Signal(16)
        fold1 = Signal(17)
        fold2 = Signal(16)
        m.d.comb += [
            body_len.eq((digits[0] - ord("0")) * 100 + (digits[1] - ord("0")) * 10
                        + digits[2] - ord("0")),
            fold1.eq((base_r + total_len_r)[:16] + (base_r + total_len_r)[16:]),
            fold2.eq(fold1[:16] + fold1[16]),
        ]

        proto_word = (IP_TTL << 8) | IP_PROTO_UDP
        m.d.sync += [
            base_r.eq(0x4500 + IP_FLAGS_DF + proto_word + ep.src_ip[16:] + ep.src_ip[:16]
                      + ep.dst_ip[16:] + ep.dst_ip[:16] + ident),
            csum_r.eq(~fold2),
            self.sent.eq(0),
            self.length_error.eq(0),
        ]

        def put(lanes, *, first=0, keep=0xFF, last=0):
            m.d.sync += [o.valid.eq(1), o.p.data.eq(Cat(*lanes)), o.p.first.eq(first),
                         o.p.keep.eq(keep), o.p.last.eq(last)]

        def finish(error):
            m.d.sync += [self.sent.eq(1), self.length_error.eq(error), ident.eq(ident + 1)]

        def payload(low, cur, cur_last, cur_keep, index, next_state):
            """Load the beat of `low` (2 bytes) and `cur`'s lanes 0..5; `cur` is message beat
            `index`, its last if `cur_last`."""
            actual = index * 8 + sum(cur_keep[n] for n in range(8))
            error = m0_last | ~digits_ok_r | (actual != msg_len_r)
            lanes = [low, cur[:48]]
            with m.If(cur_last & cur_keep[6]):
                # 7 or 8 bytes: lanes 6 and 7 spill into a beat of their own.
                put(lanes)
                m.d.sync += [tail_keep.eq(cur_keep[6:8]), err_r.eq(error)]
                m.next = "TAIL"
            with m.Elif(cur_last):
                put(lanes, keep=Cat(Const(0b11, 2), cur_keep[:6]), last=1)
                finish(error)
                m.next = "IDLE"
            with m.Else():
                put(lanes)
                m.next = next_state

        def capture_m1():
            # The message's beat 1 is taken as soon as it comes, output stalled or not.
            m.d.comb += i.ready.eq(~got_m1 & ~m0_last)
            with m.If(i.valid & ~got_m1 & ~m0_last):
                m.d.sync += [
                    m1_r.eq(i.p.data), m1_last.eq(i.p.last), m1_keep.eq(i.p.keep),
                    got_m1.eq(1),
                    msg_len_r.eq(body_len + FIX_FRAMING),
                    udp_len_r.eq(body_len + FIX_FRAMING + UDP_HEADER),
                    total_len_r.eq(body_len + FIX_FRAMING + UDP_HEADER + IPV4_HEADER),
                    digits_ok_r.eq(sum((d >= ord("0")) & (d <= ord("9")) for d in digits) == 3),
                ]

        with m.If(load):
            m.d.sync += o.valid.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += i.ready.eq(load)
                with m.If(i.valid & load & i.p.first):
                    m.d.sync += [prev_r.eq(i.p.data), m0_last.eq(i.p.last),
                                 m0_keep.eq(i.p.keep), got_m1.eq(0)]
                    put(wire_bytes(ep.dst_mac, 6) + wire_bytes(ep.src_mac, 6)[:2], first=1)
                    m.next = "H1"
            with m.State("H1"):
                capture_m1()
                with m.If(load):
                    put(wire_bytes(ep.src_mac, 6)[2:] + wire_bytes(Const(ETHERTYPE_IPV4, 16), 2)
                        + consts(0x45, 0x00))
                    m.next = "H2"
            with m.State("H2"):
                capture_m1()
                with m.If(load & (got_m1 | m0_last)):
                    put(wire_bytes(total_len_r, 2) + wire_bytes(ident, 2)
                        + consts(IP_FLAGS_DF >> 8, 0x00, IP_TTL, IP_PROTO_UDP))
                    m.next = "H3"
            # csum_r has had a cycle since total_len_r was set (H2 waited for it).
            with m.State("H3"), m.If(load):
                put(wire_bytes(csum_r, 2) + wire_bytes(ep.src_ip, 4)
                    + wire_bytes(ep.dst_ip, 4)[:2])
                m.next = "H4"
            with m.State("H4"), m.If(load):
                put(wire_bytes(ep.dst_ip, 4)[2:] + wire_bytes(ep.src_port, 2)
                    + wire_bytes(ep.dst_port, 2) + wire_bytes(udp_len_r, 2))
                m.next = "P5"
            with m.State("P5"), m.If(load):
                payload(Const(0, 16), prev_r, m0_last, m0_keep, 0, "P6")
            with m.State("P6"), m.If(load):
                payload(prev_r[48:], m1_r, m1_last, m1_keep, 1, "STREAM")
                m.d.sync += [prev_r.eq(m1_r), beat_n.eq(2)]
            with m.State("STREAM"):
                m.d.comb += i.ready.eq(load)
                with m.If(i.valid & load):
                    payload(prev_r[48:], i.p.data, i.p.last, i.p.keep, beat_n, "STREAM")
                    m.d.sync += [prev_r.eq(i.p.data), beat_n.eq(beat_n + 1)]
            with m.State("TAIL"), m.If(load):
                put([prev_r[48:], Const(0, 48)], keep=tail_keep, last=1)
                finish(err_r)
                m.next = "IDLE"
        return m
