"""MoldUDP64 stage: UDP payload in, sequenced ITCH messages out, realigned to their first byte.

Data flow: NetFilter -> MoldUDP64 -> ItchDecoder. The semantics are the golden model's
(`sw/model/sequencer.py`, docs/golden-model.md): the same session learning, gap, duplicate and
bad-length rules, the same counters, the same messages in the same order.

How messages are cut out of a 64-bit stream at any byte offset, at one beat per clock:
- The framer walks the payload a beat at a time, keeping the position of the current segment's
  last byte (the 20-byte header, then each message) relative to lane 0 of the next beat. When a
  segment ends in a beat, the 2-byte length prefix that follows is read from the lanes after it
  (or across the beat boundary), and the next message's end position is computed from it.
- Message bytes land in one 36-byte buffer, realigned on the way in: a byte rotator indexed by
  the message's start lane writes each beat's bytes at their message offsets. Every field a book
  event takes lies in bytes 0-2 (type, locate) and 11-35, and since a message with its prefix
  spans at least 13 bytes (the minimum length is the ITCH header, 11), at most one message ends
  per beat and a message's bytes 0-2 are always in the buffer before the beat that ends it.
  In the beat where message n ends, message n+1 can already start: its bytes 0-2 go in through a
  small second rotator (its bytes 3-7, tracking number and timestamp, are not kept), while
  message n's last bytes go in through the main rotator at offsets >= 3. When message n ends,
  its bytes 0-2 are copied aside, so the buffer holds all of message n for one more cycle.
- The header's checks are pipelined over the two cycles after its last byte (a message cannot
  end sooner): session compare and `expected - sequence` (65 bits), then the verdict (learn,
  wrong session, heartbeat, end of session, duplicate, gap, messages to skip). Whether a packet
  ended early (a bad length, a short payload) or carried trailing bytes is settled two cycles
  after its last beat, when the verdict is certainly known.

Rate: one beat per clock, every clock; `i_payload.ready` is tied to 1, `o_message.ready` is
ignored. Latency: a message leaves on `o_message` 1 cycle after the beat carrying its last byte.
Reset: no session learned, expected sequence 0, stale clear, counters zero.
Bad input: a packet shorter than the header, of another session, or wholly seen is dropped and
counted; a message shorter than 11 bytes or running past the payload ends its packet (counted,
stale raised) and the messages before it stand; bytes after `count` messages are counted once.
The framer never waits on anything but the next beat, so any byte sequence leaves it ready for
the next packet. Expects the NetFilter's framing: a first beat that carries no byte is also last.
"""

from amaranth import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.csr import COUNTER_BITS, Register, count_events
from hw.rtl.records import (
    ITCH_BODY_BYTES,
    ITCH_BODY_START,
    ITCH_HEADER_BYTES,
    ItchMessage,
    PayloadBeat,
    big_endian,
)

HEADER_BYTES = 20     # session (10), sequence (8), count (2)
HEARTBEAT = 0
END_OF_SESSION = 0xFFFF
BUFFER_BYTES = ITCH_BODY_START + ITCH_BODY_BYTES   # 36: message bytes kept (0-35)
_BEATS = (BUFFER_BYTES + 7 + 7) // 8               # beats a kept byte can be in (start lane 7)

COUNTERS = ("truncated_header", "wrong_session", "heartbeats", "end_of_session", "gaps",
            "missing_messages", "duplicate_packets", "duplicate_messages", "bad_message_length",
            "trailing_bytes", "messages")
MoldCounters = data.StructLayout({name: COUNTER_BITS for name in COUNTERS})
MoldStatus = data.StructLayout({"session": 80, "session_valid": 1, "expected": 64, "ended": 1})

_COUNTER_DOCS = {
    "truncated_header": "packets shorter than the 20-byte MoldUDP64 header",
    "wrong_session": "packets of another session, dropped",
    "heartbeats": "heartbeat packets (count 0)",
    "end_of_session": "end-of-session packets (count 0xFFFF)",
    "gaps": "sequence gaps (each raises stale)",
    "missing_messages": "messages skipped over by gaps (modulo 2**48: one corrupt sequence "
                        "number can jump it by more)",
    "duplicate_packets": "packets wholly seen before, dropped",
    "duplicate_messages": "already-seen messages skipped in overlapping packets",
    "bad_message_length": "packets ended early by a message length < 11 or past the payload",
    "trailing_bytes": "packets with bytes after their `count` messages",
    "messages": "messages delivered to the decoder (the next message's index)",
}

#: The stage's registers (served by hw.rtl.csr.CsrBank; addresses come from the map).
REGISTERS = (
    Register("stale", 1, "w1c", "sticky: sequence gap, bad length or malformed message since the "
             "host last cleared it (blocks trading); write 1 to clear"),
    Register("session", 80, "ro", "session learned from the first packet (ASCII, first "
             "character most significant)"),
    Register("session_valid", 1, "ro", "a session has been learned"),
    Register("expected", 64, "ro", "next expected sequence number"),
    Register("ended", 1, "ro", "an end-of-session packet has been seen"),
    *(Register(name, COUNTER_BITS, "ro", doc) for name, doc in _COUNTER_DOCS.items()),
)


class Phase(enum.Enum, shape=3):
    IDLE = 0        # between packets
    HEADER = 1      # inside the 20-byte header
    PREFIX = 2      # the next length prefix starts at lane 0 of this beat
    PREFIX_LO = 3   # the prefix's high byte was the last lane; its low byte is lane 0 next
    MESSAGE = 4     # inside a message
    DONE = 5        # a bad length ended the packet's framing; wait for its last beat


def _lowest_set(value):
    """Index of the lowest set bit of an 8-bit value (0 if none), as a shallow binary tree."""
    low4 = value[0:4] == 0
    half = Mux(low4, value[4:8], value[0:4])
    low2 = half[0:2] == 0
    pair = Mux(low2, half[2:4], half[0:2])
    return Cat(pair[0] == 0, low2, low4)


class MoldUDP64(wiring.Component):
    """Sequence MoldUDP64 packets and deliver their ITCH messages realigned (see module doc).

    `ingress_cycle` is the ingress cycle of the frame whose payload beat is presented now; each
    message carries its packet's. `malformed` (from the decoder) and the stage's own gap and
    bad-length findings raise the sticky `stale`; `clear_stale` (host) clears it, a raise in
    the same cycle wins. Stale is ordered with the messages: it rises after every message
    delivered before its cause and before any delivered after it. `stale_index` and
    `stale_cycle` say where it last rose: the index of the first message delivered after the
    cause (the golden model's msg_index at that moment) and the ingress cycle of the packet that
    caused it; `next_index` is the index the next delivered message will carry.
    """

    i_payload: In(stream.Signature(PayloadBeat, always_ready=True))
    o_message: Out(stream.Signature(ItchMessage, always_ready=True))
    ingress_cycle: In(64)
    malformed: In(1)
    clear_stale: In(1)
    stale: Out(1)
    stale_index: Out(48)
    stale_cycle: Out(64)
    next_index: Out(48)
    status: Out(MoldStatus)
    counters: Out(MoldCounters)

    def elaborate(self, platform):
        m = Module()
        beat = self.i_payload.p
        valid = self.i_payload.valid
        lanes = [beat.data[8 * i:8 * i + 8] for i in range(8)]

        # Which lanes hold bytes: keep is contiguous, every beat but the last runs to lane 7,
        # and the framer only asks about lanes at or after the packet's first byte, so a lane
        # holds a byte if the beat is not the last or its keep bit is set.
        first_lane = _lowest_set(beat.keep)

        def present(lane):
            return ~beat.last | beat.keep.bit_select(lane, 1)

        # === framer: where the segments and length prefixes fall in this beat =================
        phase = Signal(Phase)
        rel = Signal(16)              # segment's last byte, from lane 0 (PREFIX: 7)
        shift = Signal(3)             # lane of the segment's byte 0
        seg_beat = Signal(_BEATS)     # one-hot: which beat of the segment this is
        in_header = Signal()
        hi_r = Signal(8)              # a prefix's high byte, from the previous beat
        length_r = Signal(16)         # the current message's length
        n_done = Signal(16)           # messages of this packet completed
        header_seen = Signal()        # this packet's header is complete
        tail_r = Signal()             # bytes have come after the last completed segment

        e_phase = Signal(Phase)
        e_shift = Signal(3)
        e_beat = Signal(_BEATS)
        e_header = Signal()
        with m.If(beat.first):        # a packet's first beat: its header starts here
            m.d.comb += [e_phase.eq(Phase.HEADER), e_shift.eq(first_lane), e_beat.eq(1),
                         e_header.eq(1)]
        with m.Else():
            m.d.comb += [e_phase.eq(phase), e_shift.eq(shift), e_beat.eq(seg_beat),
                         e_header.eq(in_header)]

        # Framing decisions come from registered state alone: a packet's first beat can neither
        # end a segment nor hold a prefix (the header is 20 bytes). Whether the bytes are
        # present matters only for completing a segment; a prefix read on a packet's last beat
        # is never used (the packet ends), so the prefix path ignores `keep` (timing).
        later = valid & ~beat.first
        in_segment = (e_phase == Phase.HEADER) | (e_phase == Phase.MESSAGE)
        live = (phase == Phase.HEADER) | (phase == Phase.MESSAGE)
        end_lane = rel[0:3]
        at_end = live & (rel[3:] == 0)        # the segment's last byte is due in this beat
        ends = later & at_end & present(end_lane)
        header_ends = ends & in_header
        message_ends = ends & ~in_header

        # The next length prefix: just after a segment that ends here, at lane end_lane + 1, or
        # at lane 0 in PREFIX, which keeps end_lane = 7 (the previous beat's last lane) so that
        # one rotation of the lanes by end_lane serves both, with no adder before the muxes.
        lane_at = Cat(*lanes[1:], lanes[0]).word_select(end_lane, 8)         # end_lane + 1
        lane_after = Cat(*lanes[2:], *lanes[:2]).word_select(end_lane, 8)   # end_lane + 2
        length = Signal(16)
        start = Signal(4)             # lane of the new message's byte 0 (8: next beat)
        starts = Signal()             # a whole prefix is in this beat
        with m.If(phase == Phase.PREFIX_LO):
            m.d.comb += [length.eq(Cat(lanes[0], hi_r)), start.eq(1), starts.eq(later)]
        with m.Elif(phase == Phase.PREFIX):
            m.d.comb += [length.eq(Cat(lane_after, lane_at)), start.eq(2), starts.eq(later)]
        with m.Else():
            m.d.comb += [length.eq(Cat(lane_after, lane_at)), start.eq(end_lane + 3),
                         starts.eq(later & at_end & (end_lane <= 5))]
        length_ok = length >= ITCH_HEADER_BYTES
        # Byte 0 is in this beat. (Not gated by length_ok, which is late: a bad length ends the
        # packet's framing, so nothing ever reads what its head bytes wrote.)
        starts_here = starts & (start != 8)
        # start - 9: from the new message's first byte to its last is length - 1, and rel
        # counts from the next beat's lane 0. A table of constants, not an adder in series
        # with the length adder (that pair was the critical path).
        to_end = Signal(signed(5))
        after_segment = Array(Const(lane + 3 - 9, signed(5)) for lane in range(8))
        m.d.comb += to_end.eq(Mux(phase == Phase.PREFIX_LO, 1 - 9,
                                  Mux(phase == Phase.PREFIX, 2 - 9, after_segment[end_lane])))

        # Bytes after lane `end_lane`: keep bits above it (a beat that is not last is full).
        after_end = ~beat.last | ((beat.keep & ~((2 << end_lane) - 1)[0:8]) != 0)
        tail = Mux(ends, after_end & (end_lane != 7),
                   Mux(beat.first, 0, tail_r) | (beat.keep != 0))

        with m.If(valid):
            # Advance the current segment (overridden below where a new one starts).
            m.d.sync += [phase.eq(e_phase), shift.eq(e_shift), seg_beat.eq(e_beat << 1),
                         in_header.eq(e_header)]
            with m.If(beat.first):        # (two small adders in parallel, not in series)
                m.d.sync += rel.eq(first_lane + HEADER_BYTES - 1 - 8)
            with m.Else():
                m.d.sync += rel.eq(rel - 8)
            with m.If(later & at_end):
                with m.If(end_lane == 7):
                    m.d.sync += [phase.eq(Phase.PREFIX), rel.eq(7)]
                with m.Elif(end_lane == 6):
                    m.d.sync += [phase.eq(Phase.PREFIX_LO), hi_r.eq(lanes[7])]
            with m.If(starts):
                # Only the phase waits for the length check (late): after a bad length the
                # framing is DONE and nothing reads the rest.
                m.d.sync += [phase.eq(Mux(length_ok, Phase.MESSAGE, Phase.DONE)),
                             rel.eq(length + to_end), shift.eq(start[0:3]), length_r.eq(length),
                             in_header.eq(0), seg_beat.eq(Mux(start == 8, 0b01, 0b10))]
            with m.If(header_ends):
                m.d.sync += header_seen.eq(1)
            with m.If(beat.first):
                m.d.sync += [n_done.eq(0), header_seen.eq(0)]
            with m.If(message_ends):
                m.d.sync += n_done.eq(n_done + 1)
            with m.If(beat.last):
                m.d.sync += phase.eq(Phase.IDLE)
            m.d.sync += tail_r.eq(tail)

        # === the message buffer, written through the rotators ==================================
        # (Data registers here carry no reset: only control state does, to keep the reset net
        # small.)
        buffer = [Signal(8, name=f"buf{b}", reset_less=True) for b in range(BUFFER_BYTES)]
        rotated = [Cat(*lanes).word_select((e_shift + i)[0:3], 8) for i in range(8)]
        for b in range(BUFFER_BYTES):
            q, r = divmod(b, 8)
            wraps = e_shift >= 8 - r          # byte b falls in the segment's beat q + 1
            in_this_beat = Mux(wraps, e_beat[q + 1], e_beat[q])
            # A message's first beat may be shared with the end of the one before: only its
            # bytes 0-2 are written then, by the head rotator below.
            not_first_beat = e_header | wraps if q == 0 else 1
            with m.If(valid & in_segment & in_this_beat & not_first_beat):
                m.d.sync += buffer[b].eq(rotated[r])
        head_shift = Mux(starts_here, start[0:3], e_shift)
        head_starts = starts_here | (valid & (e_phase == Phase.MESSAGE) & e_beat[0])
        for b in range(3):
            with m.If(head_starts & (head_shift + b < 8)):
                m.d.sync += buffer[b].eq(Cat(*lanes).word_select((head_shift + b)[0:3], 8))

        # The cycle after a segment ends, it is read from: its bytes 0-2 from a copy made as
        # it ended (the next message may already be writing them), the rest from the buffer.
        head_r = [Signal(8, name=f"head{b}_r", reset_less=True) for b in range(3)]
        header_done_r = Signal()
        message_done_r = Signal()
        done_length_r = Signal(16)
        done_index_r = Signal(16)     # the message's position in its packet
        m.d.sync += [header_done_r.eq(header_ends), message_done_r.eq(message_ends)]
        with m.If(ends):
            m.d.sync += [h.eq(buffer[b]) for b, h in enumerate(head_r)]
            m.d.sync += [done_length_r.eq(length_r), done_index_r.eq(n_done)]
        segment = [*head_r, *buffer[3:]]

        # === header verdict: two cycles after its last byte ====================================
        learned = Signal()
        session = Signal(80)
        expected = Signal(64)
        ended = Signal()
        stale = Signal()
        h_valid = Signal()
        h_first = Signal()
        h_session = Signal(80, reset_less=True)
        h_same = Signal()
        h_seq = Signal(64, reset_less=True)
        h_count = Signal(16, reset_less=True)
        h_diff = Signal(65, reset_less=True)   # expected - sequence; bit 64: the packet is ahead
        h_skip = Signal(16, reset_less=True)   # leading messages already seen (0xFFFF: all)
        wire_session = big_endian(segment[0:10])
        wire_seq = big_endian(segment[10:18])
        diff = Signal(65)
        m.d.comb += diff.eq(Cat(expected, Const(0, 1)) - wire_seq)
        m.d.sync += h_valid.eq(header_done_r)
        with m.If(header_done_r):
            m.d.sync += [h_first.eq(~learned), h_session.eq(wire_session),
                         h_same.eq(wire_session == session), h_seq.eq(wire_seq),
                         h_count.eq(big_endian(segment[18:20])), h_diff.eq(diff),
                         h_skip.eq(Mux(~learned | diff[64], 0,
                                       Mux(diff[16:64] != 0, 0xFFFF, diff[0:16])))]
        same_session = h_first | h_same
        heartbeat = h_count == HEARTBEAT
        end_of_session = h_count == END_OF_SESSION
        carries_data = ~heartbeat & ~end_of_session
        ahead = h_diff[64]
        gap = same_session & ~h_first & ahead
        # A packet wholly seen skips all its messages; that is the delivery rule below too, so
        # `duplicate` only counts (it stays off the delivery path, for timing).
        duplicate = same_session & ~h_first & carries_data & ~ahead & (h_skip >= h_count)
        deliver_ok = same_session & carries_data
        ok_r, dup_r, skip_r, count_r = Signal(), Signal(), Signal(16), Signal(16)
        with m.If(h_valid):
            m.d.sync += [ok_r.eq(deliver_ok), dup_r.eq(duplicate), skip_r.eq(h_skip),
                         count_r.eq(h_count)]
        # This packet's verdict: being decided this cycle, or decided before.
        cur_ok = Mux(h_valid, deliver_ok, ok_r)
        cur_dup = Mux(h_valid, duplicate, dup_r)
        cur_skip = Mux(h_valid, h_skip, skip_r)
        cur_count = Mux(h_valid, h_count, count_r)

        # === delivery ==========================================================================
        in_count = done_index_r < cur_count
        fresh = done_index_r >= cur_skip
        deliver = message_done_r & cur_ok & in_count & fresh
        index = Signal(48)
        cycle_r = Signal(64, reset_less=True)
        with m.If(valid & beat.first):
            m.d.sync += cycle_r.eq(self.ingress_cycle)
        out = self.o_message
        m.d.comb += [
            out.valid.eq(deliver),
            out.p.type.eq(segment[0]),
            out.p.locate.eq(big_endian(segment[1:3])),
            out.p.body.eq(Cat(*segment[ITCH_BODY_START:BUFFER_BYTES])),
            out.p.length.eq(done_length_r),
            out.p.index.eq(index),
            out.p.ingress_cycle.eq(cycle_r),
        ]
        delivered_r = Signal()
        m.d.sync += delivered_r.eq(deliver)
        with m.If(deliver):
            m.d.sync += index.eq(index + 1)
        with m.If(delivered_r):       # a cycle late: expected is next read by a later header
            m.d.sync += expected.eq(expected + 1)
        with m.If(h_valid):           # never in the same cycle as a delivery's increment
            with m.If(h_first):
                m.d.sync += [learned.eq(1), session.eq(h_session), expected.eq(h_seq)]
            with m.If(gap):
                m.d.sync += expected.eq(h_seq)
            with m.If(same_session & end_of_session):
                m.d.sync += ended.eq(1)

        # === end of packet: settled two cycles after its last beat =============================
        # Stage 1 records the packet's last beat as it was (messages done before it, and whether
        # one ended in it); stage 2 adds the two, off the beat's own logic (timing).
        end1 = Signal(1 + 1 + 16 + 1 + 1)
        end2 = Signal(1 + 1 + 16 + 1)
        m.d.sync += end1.eq(Mux(valid & beat.last,
                                Cat(1, (header_seen & ~beat.first) | header_ends,
                                    Mux(beat.first, 0, n_done), message_ends, tail), 0))
        m.d.sync += end2.eq(Cat(end1[0:2], (end1[2:18] + end1[18])[0:16], end1[19]))
        e2_valid, e2_header, e2_done, e2_tail = end2[0], end2[1], end2[2:18], end2[18]
        settled = e2_valid & e2_header & cur_ok & ~cur_dup
        bad_length = settled & (e2_done < cur_count)
        trailing = settled & ~bad_length & ((e2_done > cur_count) | e2_tail)

        # === stale, counters, status ===========================================================
        raise_stale = (h_valid & gap) | bad_length | self.malformed
        m.d.sync += stale.eq((stale & ~self.clear_stale) | raise_stale)
        # Where stale rose, for the order table's cancel-all: `index` is still the number of
        # messages delivered before the cause (a malformed message's own increment is done).
        with m.If(raise_stale & (~stale | self.clear_stale)):
            m.d.sync += [self.stale_index.eq(index), self.stale_cycle.eq(cycle_r)]
        missing = Signal(COUNTER_BITS)
        m.d.comb += missing.eq(Mux(h_valid & gap, -h_diff, 0))
        count_events(m, self.counters, {
            "truncated_header": e2_valid & ~e2_header,
            "wrong_session": h_valid & ~same_session,
            "heartbeats": h_valid & same_session & heartbeat,
            "end_of_session": h_valid & same_session & end_of_session,
            "gaps": h_valid & gap,
            "missing_messages": missing,
            "duplicate_packets": h_valid & duplicate,
            "duplicate_messages": message_done_r & cur_ok & ~cur_dup & in_count & ~fresh,
            "bad_message_length": bad_length,
            "trailing_bytes": trailing,
            "messages": deliver,
        })
        m.d.comb += [self.stale.eq(stale), self.next_index.eq(index),
                     self.status.session.eq(session),
                     self.status.session_valid.eq(learned), self.status.expected.eq(expected),
                     self.status.ended.eq(ended)]
        return m
