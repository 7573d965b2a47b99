"""Network filter: Ethernet II / IPv4 / UDP frames in, the UDP payload of one destination out.

Data flow: MAC -> NetFilter -> MoldUDP64 stage. The semantics are the golden model's
(`sw/model/netfilter.py`, docs/golden-model.md): the same checks in the same order, the same
drop reason for every frame, the same payload bytes, truncated frames passed on truncated.
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.csr import COUNTER_BITS, Register, count_events
from hw.rtl.records import FrameBeat, PayloadBeat, big_endian


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

# Header bytes still needed after their beat: the IHL (byte 14) and the total length (16, 17).
# Every other header byte is turned into a check flag on its own beat.
_FIXED_BYTES = (14, 16, 17)


def _table(values):
    """A constant lookup table indexed by IHL (0..15), as a 16-entry Array of constants."""
    from amaranth import Array

    return Array(Const(v, 16) for v in values)


class NetFilter(wiring.Component):
    """Accept IPv4/UDP frames to `dst_ip`:`dst_port`; pass their UDP payload, count the rest.

    Rate: one beat per clock, every clock; no backpressure: `i_frame.ready` is tied to 1 and
    `o_payload.ready` is ignored (the next stage takes a beat every clock).
    Latency: 2 cycles from a payload byte in to the same byte out. Stage 1 places each beat in
    its frame (a one-hot beat position, no arithmetic on offsets) and turns header bytes into
    registered pass/fail flags as soon as they arrive; stage 2 decides from those flags alone
    (every header byte precedes the payload) and streams the payload cut-through; counters are
    updated a stage later. Timing is set by this split: see bitstreams/fmax.py.
    Reset: no frame in progress, counters zero.
    Bad input: a dropped frame emits nothing and increments the counter of its first failing
    check. A frame shorter than its UDP length is passed truncated (`truncated` on its last beat).
    A `first` beat inside a frame aborts that frame: it ends where it was cut (counted in
    `aborted`; an accepted one gets an empty `last`+`truncated` beat, which fits in the slot of
    the new frame's first beat since no first beat carries payload). Beats outside a frame are
    ignored and counted (`stray_beats`).
    """

    i_frame: In(stream.Signature(FrameBeat, always_ready=True))
    o_payload: Out(stream.Signature(PayloadBeat, always_ready=True))
    dst_ip: In(32)
    dst_port: In(16)
    counters: Out(NetFilterCounters)

    def elaborate(self, platform):
        m = Module()
        beat = self.i_frame.p
        valid = self.i_frame.valid
        lanes = [beat.data[8 * i:8 * i + 8] for i in range(8)]

        # === stage 1: where is this beat, and what do its header bytes say ==================
        in_frame = Signal()
        starts = valid & beat.first
        cuts = starts & in_frame      # a new frame cuts the one in progress
        stray = valid & ~beat.first & ~in_frame
        takes = valid & (beat.first | in_frame)
        with m.If(takes):
            m.d.sync += in_frame.eq(~beat.last)

        # One-hot beat position within the header (beats 0..11 hold the longest header).
        at_r = Signal(12)
        at = Signal(12)
        m.d.comb += at.eq(Mux(beat.first, 1, at_r))
        with m.If(takes):
            m.d.sync += at_r.eq(at << 1)
        n_bytes = Signal(4)           # bytes in this beat
        m.d.comb += n_bytes.eq(Mux(beat.last, sum(beat.keep[i] for i in range(8)), 8))

        def byte(pos):
            return lanes[pos % 8]

        # Header bytes at fixed offsets, captured on their beat.
        fixed_r = {pos: Signal(8, name=f"byte{pos}_r", reset_less=True) for pos in _FIXED_BYTES}
        for pos, reg in fixed_r.items():
            with m.If(takes & at[pos // 8]):
                m.d.sync += reg.eq(byte(pos))

        # IHL-derived placement, registered on beat 1 (IHL is byte 14, lane 6).
        ihl_in = lanes[6][0:4]
        ihl_r = fixed_r[14][0:4]
        udp_at_r = Signal(12)         # beat holding UDP bytes u+2..u+5 (u = 14 + 4*IHL)
        hdr_last_r = Signal(12)       # beat holding the last IPv4 header byte u-1
        hdr_mid_r = Signal(12)        # beats 2 .. last-1: every word is header
        start_at_r = Signal(12)       # beat holding the first payload byte s = u+8
        odd_r = Signal()              # IHL odd: u = 2 (mod 8), else u = 6 (mod 8)
        ihls = range(16)
        udp_beat = [2 + (i >> 1) for i in ihls]
        last_beat = [(13 + 4 * i) >> 3 for i in ihls]
        start_beat = [(22 + 4 * i) >> 3 for i in ihls]
        # Beats 0 and 1 are never looked up in the header tables: beat 1 reads them before its
        # own IHL lands in them, so they may still hold the previous frame's.
        last_table = _table([(1 << b) & ~0b11 for b in last_beat])
        mid_table = _table([((1 << b) - 1) & ~0b11 for b in last_beat])
        with m.If(takes & at[1]):
            m.d.sync += [
                udp_at_r.eq(_table([1 << b for b in udp_beat])[ihl_in]),
                hdr_last_r.eq(last_table[ihl_in]),
                hdr_mid_r.eq(mid_table[ihl_in]),
                start_at_r.eq(_table([1 << b for b in start_beat])[ihl_in]),
                odd_r.eq(ihl_in[0]),
            ]
        start_lane = Mux(odd_r, 2, 6)

        # Checks, each registered as soon as its bytes are here; cleared by a frame's first beat.
        flags = {name: Signal(name=f"{name}_r") for name in (
            "reached14", "eth_ok", "reached34", "vihl_ok", "reached_s", "total_ok", "frag_ok",
            "proto_ok", "dstip_hi_ok", "dstip_ok", "port_ok", "len_ok")}
        with m.If(starts):
            m.d.sync += [f.eq(0) for f in flags.values()]
        ip_payload_r = Signal(16)     # total length - 4*IHL, from beat 3 on
        payload_length_r = Signal(16)  # UDP length - 8: the payload bytes the header promises
        with m.If(takes):
            with m.If(at[1]):
                m.d.sync += [
                    flags["reached14"].eq(n_bytes >= 6),
                    flags["eth_ok"].eq(Cat(byte(13), byte(12)) == 0x0800),
                    flags["vihl_ok"].eq((lanes[6][4:8] == 4) & (ihl_in >= 5)),
                ]
            with m.If(at[2]):
                total = Cat(byte(17), byte(16))
                flags_frag = Cat(byte(21), byte(20))
                m.d.sync += [
                    flags["total_ok"].eq(total >= (ihl_r << 2) + 8),
                    flags["frag_ok"].eq(~flags_frag[13] & (flags_frag[0:13] == 0)),
                    flags["proto_ok"].eq(byte(23) == 17),
                ]
            with m.If(at[3]):
                m.d.sync += [
                    ip_payload_r.eq(big_endian(fixed_r[p] for p in (16, 17)) - (ihl_r << 2)),
                    flags["dstip_hi_ok"].eq(Cat(byte(31), byte(30)) == self.dst_ip[16:32]),
                ]
            with m.If(at[4]):
                m.d.sync += [
                    flags["reached34"].eq(n_bytes >= 2),
                    flags["dstip_ok"].eq(flags["dstip_hi_ok"]
                                         & (Cat(byte(33), byte(32)) == self.dst_ip[0:16])),
                ]
            with m.If((at & udp_at_r).any()):
                port = Mux(odd_r, Cat(lanes[5], lanes[4]), Cat(lanes[1], lanes[0]))
                length = Mux(odd_r, Cat(lanes[7], lanes[6]), Cat(lanes[3], lanes[2]))
                m.d.sync += [
                    flags["port_ok"].eq(port == self.dst_port),
                    flags["len_ok"].eq((length >= 8) & (length <= ip_payload_r)),
                    payload_length_r.eq(length - 8),
                ]
            with m.If((at & start_at_r).any()):
                m.d.sync += flags["reached_s"].eq(n_bytes >= start_lane)

        # IPv4 header checksum: unfolded sum of the header's 16-bit words (at most 30 of them).
        csum_r = Signal(21)
        words = [Cat(lanes[2 * j + 1], lanes[2 * j]) for j in range(4)]
        # Whether the next beat is a middle or the last header beat, worked out a beat ahead so
        # that the adders below start from a register (this was the critical path).
        next_mid_r, next_last_r = Signal(), Signal()
        with m.If(takes):
            m.d.sync += [
                next_mid_r.eq(((at << 1) & Mux(at[1], mid_table[ihl_in], hdr_mid_r)).any()),
                next_last_r.eq(((at << 1) & Mux(at[1], last_table[ihl_in], hdr_last_r)).any()),
            ]
        mid = next_mid_r & ~beat.first
        last = next_last_r & ~beat.first
        include = [
            mid | last,                               # word 0 (bytes 8k, 8k+1)
            mid | (last & ~odd_r),                    # word 1
            mid | (last & ~odd_r),                    # word 2
            at[1] | mid,                              # word 3 (byte 14 on beat 1)
        ]
        masked = [Mux(inc, w, 0) for inc, w in zip(include, words, strict=True)]
        # Two-step accumulation: the beat's pair sums are registered, then added to the total a
        # cycle later (a single-cycle four-word add into the total was the critical path).
        pairs_r = [Signal(17, name="pair01_r"), Signal(17, name="pair23_r")]
        pairs_valid_r, pairs_first_r = Signal(), Signal()
        m.d.sync += [pairs_r[0].eq(masked[0] + masked[1]), pairs_r[1].eq(masked[2] + masked[3]),
                     pairs_valid_r.eq(takes), pairs_first_r.eq(beat.first)]
        with m.If(pairs_valid_r):
            m.d.sync += csum_r.eq(Mux(pairs_first_r, 0, csum_r) + pairs_r[0] + pairs_r[1])
        # The header is good when its ones-complement sum folds to 0xFFFF. For the plain sum
        # T = H * 2**16 + L (H < 32) that is L == 0xFFFF - H: two compares, no adder. Stage 2
        # reads it straight from csum_r, which holds every header word by the time the first
        # payload byte reaches stage 2 (the header ends more than a beat before the payload).
        csum_ok = Signal()
        m.d.comb += csum_ok.eq((csum_r[5:16] == 0x7FF) & (csum_r[0:5] == ~csum_r[16:21]))

        # === stage 2: verdict from registered flags, payload out ===========================
        s2 = Signal(FrameBeat, name="s2_beat", reset_less=True)   # data: no reset needed
        s2_valid = Signal()
        s2_n_bytes = Signal(4)
        s2_start = Signal()           # this beat holds the first payload byte
        s2_cut = Signal()             # this (first) beat cut a frame in progress
        s2_cut_flags = Signal(len(flags))
        flag_vector = Cat(*flags.values())
        m.d.sync += [s2_valid.eq(takes), s2.eq(beat), s2_n_bytes.eq(n_bytes),
                     s2_start.eq((at & start_at_r).any()), s2_cut.eq(cuts),
                     s2_cut_flags.eq(flag_vector)]   # the cut frame's flags, before the reset

        def reason_from(vector, checksum_ok):
            f = dict(zip(flags, [vector[i] for i in range(len(flags))], strict=True))
            checks = [
                (~f["reached14"], DropReason.RUNT),
                (~f["eth_ok"], DropReason.NOT_IPV4),
                (~f["reached34"], DropReason.RUNT),
                (~f["vihl_ok"], DropReason.BAD_IP_HEADER),
                (~f["reached_s"], DropReason.RUNT),
                (~checksum_ok, DropReason.BAD_IP_CHECKSUM),
                (~f["total_ok"], DropReason.BAD_IP_HEADER),
                (~f["frag_ok"], DropReason.IP_FRAGMENT),
                (~f["proto_ok"], DropReason.NOT_UDP),
                (~f["dstip_ok"], DropReason.WRONG_DST_IP),
                (~f["port_ok"], DropReason.WRONG_DST_PORT),
                (~f["len_ok"], DropReason.BAD_UDP_LENGTH),
            ]
            reason = Const(DropReason.NONE.value, 4)
            for failed, why in reversed(checks):
                reason = Mux(failed, why.value, reason)
            return reason

        # The flag registers were updated at the edge that moved this beat into stage 2, so
        # they hold the frame's checks through this beat; a new frame's reset lands a cycle
        # later. A cut frame's flags were copied into s2_cut_flags before that reset.
        reason_live = reason_from(flag_vector, csum_ok)
        reason_cut = reason_from(s2_cut_flags, csum_ok)

        accepted_r = Signal()
        finished_r = Signal()
        remaining_r = Signal(16)      # payload bytes the UDP header still promises
        # The verdict is a flat AND of the checks (the priority order only matters for which
        # counter a drop goes to), and it gates only `valid` and `first`: the byte lanes below
        # depend on the beat's position alone.
        all_ok = csum_ok & Cat(*(f for name, f in flags.items()
                                 if name != "dstip_hi_ok")).all()
        deciding = s2_start & ~accepted_r
        accept = s2_valid & deciding & all_ok
        streaming = s2_valid & (accept | (accepted_r & ~s2.first & ~finished_r))
        offset = Mux(deciding, start_lane, 0)
        remaining = Mux(deciding, payload_length_r, remaining_r)
        keep = Signal(8)
        for lane in range(8):
            within = (remaining >= 8) | (lane < offset + remaining[0:4])
            m.d.comb += keep[lane].eq((lane >= offset) & within
                                      & (~s2.last | (lane < s2_n_bytes)))
        ends_here = (remaining[4:] == 0) & (offset + remaining[0:4] <= 8)
        payload_last = ends_here | s2.last
        truncated = s2.last & ~((remaining[4:] == 0) & (offset + remaining[0:4] <= s2_n_bytes))

        out = self.o_payload
        m.d.sync += out.valid.eq(0)
        with m.If(streaming):
            m.d.sync += [out.valid.eq(1), out.p.data.eq(s2.data), out.p.keep.eq(keep),
                         out.p.first.eq(accept), out.p.last.eq(payload_last),
                         out.p.truncated.eq(truncated)]
        cut_open = s2_valid & s2_cut & accepted_r & ~finished_r
        with m.If(cut_open):
            m.d.sync += [out.valid.eq(1), out.p.keep.eq(0), out.p.first.eq(0),
                         out.p.last.eq(1), out.p.truncated.eq(1)]
        with m.If(s2_valid):
            with m.If(s2.first):
                m.d.sync += [accepted_r.eq(0), finished_r.eq(0)]
            with m.If(accept):
                m.d.sync += accepted_r.eq(1)
            with m.If(streaming):
                m.d.sync += remaining_r.eq(remaining - (8 - offset))
                with m.If(payload_last):
                    m.d.sync += finished_r.eq(1)

        # === stage 3: counters ================================================================
        was_accepted = accepted_r & ~s2.first
        frame_end = s2_valid & s2.last
        dropped_end = frame_end & ~(accept | was_accepted)
        dropped_cut = s2_valid & s2_cut & ~accepted_r
        count_events(m, self.counters, {
            "accepted": (frame_end & (accept | was_accepted)) + (s2_valid & s2_cut & accepted_r),
            "truncated": ((frame_end & streaming & truncated)
                          + (s2_valid & s2_cut & accepted_r & ~finished_r)),
            "aborted": cuts,
            "stray_beats": stray,
            **{f"drop_{r.name.lower()}": (dropped_end & (reason_live == r.value))
               + (dropped_cut & (reason_cut == r.value)) for r in DROP_REASONS},
        })
        return m
