"""Network filter: Ethernet II / IPv4 / UDP frames in, the UDP payload of one destination out.

Data flow: MAC -> NetFilter -> MoldUDP64 stage. The semantics are the golden model's
(`sw/model/netfilter.py`, docs/golden-model.md): the same checks in the same order, the same
drop reason for every frame, the same payload bytes, truncated frames passed on truncated.
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.csr import Register
from hw.rtl.records import FrameBeat, PayloadBeat

COUNTER_BITS = 48  # 2.8e14 events: no wrap in a trading day at one per 6.4 ns cycle


class DropReason(enum.Enum, shape=4):
    """Why a frame was dropped; the order is the checks' priority (sw.model.netfilter)."""

    NONE = 0
    RUNT = 1
    NOT_IPV4 = 2
    BAD_IP_HEADER = 3
    BAD_IP_CHECKSUM = 4
    IP_FRAGMENT = 5
    NOT_UDP = 6
    WRONG_DST_IP = 7
    WRONG_DST_PORT = 8
    BAD_UDP_LENGTH = 9


DROP_REASONS = [r for r in DropReason if r is not DropReason.NONE]

NetFilterCounters = data.StructLayout(
    {"accepted": COUNTER_BITS, "truncated": COUNTER_BITS, "aborted": COUNTER_BITS,
     "stray_beats": COUNTER_BITS,
     **{f"drop_{r.name.lower()}": COUNTER_BITS for r in DROP_REASONS}})

#: The filter's registers (served by hw.rtl.csr.CsrBank; addresses come from the map).
#: The destination resets to 0.0.0.0:0, which no feed uses: nothing is accepted until the host
#: has configured it (fail closed).
REGISTERS = (
    Register("dst_ip", 32, "rw", "accepted IPv4 destination address"),
    Register("dst_port", 16, "rw", "accepted UDP destination port"),
    Register("accepted", COUNTER_BITS, "ro", "frames accepted (payload passed on)"),
    Register("truncated", COUNTER_BITS, "ro", "accepted frames shorter than their UDP length"),
    Register("aborted", COUNTER_BITS, "ro", "frames cut by the next frame's first beat"),
    Register("stray_beats", COUNTER_BITS, "ro", "beats outside any frame, ignored"),
    *(Register(f"drop_{r.name.lower()}", COUNTER_BITS, "ro", f"frames dropped: {r.name}")
      for r in DROP_REASONS),
)

# Header bytes the filter looks at, at fixed frame offsets (IPv4 options only move UDP).
_FIXED_BYTES = (12, 13, 14, 16, 17, 20, 21, 23, 30, 31, 32, 33)


class NetFilter(wiring.Component):
    """Accept IPv4/UDP frames to `dst_ip`:`dst_port`; pass their UDP payload, count the rest.

    Rate: one beat per clock, every clock; no backpressure: `i_frame.ready` is tied to 1 and
    `o_payload.ready` is ignored (the next stage takes a beat every clock).
    Latency: 1 cycle: a payload byte leaves the cycle after the beat that carried it in. The
    verdict is made on the beat holding the last UDP header byte, from header bytes captured on
    earlier beats and that beat's own; the payload then flows cut-through.
    Reset: no frame in progress, counters zero.
    Bad input: a dropped frame emits nothing and increments the counter of its first failing
    check. A frame shorter than its UDP length is passed truncated (`truncated` on its last beat).
    A `first` beat inside a frame aborts that frame: it ends where it was cut (counted in
    `aborted`; an accepted one gets an empty `last`+`truncated` beat, which fits in the cycle of
    the new frame's first beat since no first beat carries payload). Beats outside a frame are
    ignored and counted (`stray_beats`).
    """

    i_frame: In(stream.Signature(FrameBeat))
    o_payload: Out(stream.Signature(PayloadBeat))
    dst_ip: In(32)
    dst_port: In(16)
    counters: Out(NetFilterCounters)

    def elaborate(self, platform):
        m = Module()

        m.d.comb += self.i_frame.ready.eq(1)
        beat = self.i_frame.p
        valid = self.i_frame.valid
        lanes = [beat.data[8 * i:8 * i + 8] for i in range(8)]

        # --- frame position ---------------------------------------------------------------
        in_frame = Signal()
        next_index = Signal(16)       # index of the next beat of the frame in progress
        index = Signal(16)
        m.d.comb += index.eq(Mux(beat.first, 0, next_index))
        starts = valid & beat.first
        aborts = starts & in_frame    # a new frame cuts the one in progress
        stray = valid & ~beat.first & ~in_frame
        takes = valid & (beat.first | in_frame)
        ends = takes & beat.last
        n_keep = Signal(4)
        m.d.comb += n_keep.eq(sum(beat.keep[i] for i in range(8)))
        seen = Signal(20)             # frame bytes seen including this beat
        m.d.comb += seen.eq((index << 3) + Mux(beat.last, n_keep, 8))

        # --- header bytes: registered copies and "as of this beat" views -------------------
        fixed_r = {pos: Signal(8, name=f"byte{pos}_r") for pos in _FIXED_BYTES}
        fixed = {}
        for pos, reg in fixed_r.items():
            here = index == pos // 8
            fixed[pos] = Mux(here, lanes[pos % 8], reg)
            with m.If(takes & here):
                m.d.sync += reg.eq(lanes[pos % 8])

        def field(*positions, source):
            return Cat(*(source[p] for p in reversed(positions)))  # big endian

        ihl_r = fixed_r[14][0:4]
        udp_r = Signal(8)             # UDP header offset = 14 + 4 * IHL, from the registered IHL
        m.d.comb += udp_r.eq(14 + (ihl_r << 2))
        # UDP dst port (u+2, u+3) and length (u+4, u+5): their place depends on the IHL.
        udp_bytes_r = [Signal(8, name=f"udp{j + 2}_r") for j in range(4)]
        udp_bytes = []
        for j, reg in enumerate(udp_bytes_r):
            pos = Signal(8, name=f"udp{j + 2}_pos")
            m.d.comb += pos.eq(udp_r + 2 + j)
            here = (index == pos >> 3) & (index >= 2)
            value = lanes[0]
            for lane in range(1, 8):
                value = Mux(pos[0:3] == lane, lanes[lane], value)
            udp_bytes.append(Mux(here, value, reg))
            with m.If(takes & here):
                m.d.sync += reg.eq(value)

        # IPv4 header checksum: ones-complement sum of the 16-bit words at 14 .. u-1.
        csum_r = Signal(21)
        ihl_now = Mux(index == 1, lanes[6][0:4], ihl_r)
        udp_now = Signal(8)
        m.d.comb += udp_now.eq(14 + (ihl_now << 2))
        words = []
        for j in range(4):
            pos = (index << 3) + 2 * j
            word = Cat(lanes[2 * j + 1], lanes[2 * j])
            words.append(Mux((pos >= 14) & (pos < udp_now), word, 0))
        csum = Signal(21)
        m.d.comb += csum.eq(Mux(beat.first, 0, csum_r) + sum(words))
        with m.If(takes):
            m.d.sync += csum_r.eq(csum)

        def reason_of(size, source, udp_src, checksum, ihl):
            """The golden model's first failing check, as a priority chain (NONE: accept)."""
            ethertype = field(12, 13, source=source)
            version = source[14][4:8]
            total_length = field(16, 17, source=source)
            flags_frag = field(20, 21, source=source)
            dst_ip = field(30, 31, 32, 33, source=source)
            port = Cat(udp_src[1], udp_src[0])
            udp_length = Cat(udp_src[3], udp_src[2])
            header = ihl << 2
            folded = Signal(17)
            m.d.comb += folded.eq(checksum[0:16] + checksum[16:])
            checks = [
                (size < 14, DropReason.RUNT),
                (ethertype != 0x0800, DropReason.NOT_IPV4),
                (size < 34, DropReason.RUNT),
                ((version != 4) | (ihl < 5), DropReason.BAD_IP_HEADER),
                (size < 14 + header + 8, DropReason.RUNT),
                ((folded[0:16] + folded[16]) != 0xFFFF, DropReason.BAD_IP_CHECKSUM),
                (total_length < header + 8, DropReason.BAD_IP_HEADER),
                (flags_frag[13] | (flags_frag[0:13] != 0), DropReason.IP_FRAGMENT),
                (source[23] != 17, DropReason.NOT_UDP),
                (dst_ip != self.dst_ip, DropReason.WRONG_DST_IP),
                (port != self.dst_port, DropReason.WRONG_DST_PORT),
                ((udp_length < 8) | (udp_length > total_length - header),
                 DropReason.BAD_UDP_LENGTH),
            ]
            reason = Const(DropReason.NONE.value, 4)
            for failed, why in reversed(checks):
                reason = Mux(failed, why.value, reason)
            return reason, udp_length

        # Verdict as of this beat (for a frame that ends here or is being decided here) ...
        reason_now, udp_length_now = reason_of(seen, fixed, udp_bytes, csum, ihl_now)
        # ... and as of the last beat taken (for a frame cut short by a new `first`).
        reason_cut, _ = reason_of(next_index << 3, fixed_r, udp_bytes_r, csum_r, ihl_r)

        # --- accept and stream the payload ---------------------------------------------------
        accepted_r = Signal()         # this frame passed; payload streaming
        finished_r = Signal()         # its payload's last beat has left
        end_r = Signal(18)            # payload end offset (UDP offset + UDP length)
        start = Signal(8)
        m.d.comb += start.eq(udp_now + 8)
        decide = takes & ~accepted_r & (index == start >> 3) & (index >= 5)
        accept_now = decide & (reason_now == DropReason.NONE.value)
        end = Signal(18)
        m.d.comb += end.eq(Mux(accept_now, udp_now + udp_length_now, end_r))
        streaming = takes & (accept_now | (accepted_r & ~beat.first & ~finished_r))

        keep = Signal(8)
        for lane in range(8):
            pos = (index << 3) + lane
            m.d.comb += keep[lane].eq((pos >= start) & (pos < end)
                                      & (~beat.last | (lane < n_keep)))
        payload_last = ((index << 3) + 8 >= end) | beat.last
        truncated = beat.last & (seen < end)

        out = self.o_payload
        m.d.sync += out.valid.eq(0)
        with m.If(streaming):
            m.d.sync += [
                out.valid.eq(1),
                out.p.data.eq(beat.data),
                out.p.keep.eq(keep),
                out.p.first.eq(accept_now),
                out.p.last.eq(payload_last),
                out.p.truncated.eq(truncated),
            ]
        cut_open = aborts & accepted_r & ~finished_r
        with m.If(cut_open):  # the new frame's first beat never carries payload: slot is free
            m.d.sync += [out.valid.eq(1), out.p.keep.eq(0), out.p.first.eq(0),
                         out.p.last.eq(1), out.p.truncated.eq(1)]

        # --- frame state ------------------------------------------------------------------
        with m.If(takes):
            m.d.sync += [in_frame.eq(~beat.last), next_index.eq(index + (index != 0xFFFF))]
            with m.If(beat.first):
                m.d.sync += [accepted_r.eq(0), finished_r.eq(0)]
            with m.If(accept_now):
                m.d.sync += [accepted_r.eq(1), end_r.eq(end)]
            with m.If(streaming & payload_last):
                m.d.sync += finished_r.eq(1)

        # --- counters -------------------------------------------------------------------------
        c = self.counters
        was_accepted = accepted_r & ~beat.first  # this frame was accepted on an earlier beat
        count_end = ends & ~(accept_now | was_accepted)
        with m.If(stray):
            m.d.sync += c.stray_beats.eq(c.stray_beats + 1)
        with m.If(aborts):
            m.d.sync += c.aborted.eq(c.aborted + 1)
        # A frame is counted once: accepted (and maybe truncated) or dropped by reason.
        accepted_end = ends & (accept_now | was_accepted)
        accepted_cut = aborts & accepted_r
        with m.If(accepted_end | accepted_cut):
            m.d.sync += c.accepted.eq(c.accepted + 1)
        with m.If((accepted_end & truncated) | (accepted_cut & ((next_index << 3) < end_r))):
            m.d.sync += c.truncated.eq(c.truncated + 1)
        for r in DROP_REASONS:
            counter = getattr(c, f"drop_{r.name.lower()}")
            # Two frames can end in one cycle (a one-beat frame cutting the frame in progress)
            # with the same reason: add both.
            ended = count_end & (reason_now == r.value)
            cut = aborts & ~accepted_r & (reason_cut == r.value)
            with m.If(ended | cut):
                m.d.sync += counter.eq(counter + ended + cut)
        return m

