"""Network filter RTL, quick tier: Amaranth's simulator on hand-made cases, against the model."""

import pytest
from amaranth.sim import Simulator

from hw.rtl.netfilter import NetFilter, NetFilterCounters
from hw.tb.frames import beats_of, expected
from hw.tb.netfilter import DST, PacketCollector, good, with_ip_header, with_options


def simulate(beats, dst=DST):
    dut = NetFilter()
    collector = PacketCollector()
    counters = {}

    async def bench(ctx):
        ctx.set(dut.dst_ip, dst.ip_int)
        ctx.set(dut.dst_port, dst.port)
        for b in [*beats, None, None]:
            if b is None:
                ctx.set(dut.i_frame.valid, 0)
            else:
                ctx.set(dut.i_frame.valid, 1)
                ctx.set(dut.i_frame.p.data, b.data)
                ctx.set(dut.i_frame.p.keep, b.keep)
                ctx.set(dut.i_frame.p.first, b.first)
                ctx.set(dut.i_frame.p.last, b.last)
            await ctx.tick()
            if ctx.get(dut.o_payload.valid):
                p = dut.o_payload.p
                collector.beat(ctx.get(p.data), ctx.get(p.keep), ctx.get(p.first),
                               ctx.get(p.last), ctx.get(p.truncated))
        for name, _ in NetFilterCounters:
            counters[name] = ctx.get(getattr(dut.counters, name))

    sim = Simulator(dut)
    sim.add_clock(6.4e-9)
    sim.add_testbench(bench)
    sim.run()
    return collector, counters


def check(frames_or_beats):
    beats = [b for f in frames_or_beats for b in (beats_of(f) if isinstance(f, bytes) else [f])]
    collector, counters = simulate(beats)
    want = expected(beats, DST)
    assert collector.errors == []
    assert collector.packets == want.packets
    nonzero = {k: v for k, v in counters.items() if v}
    assert nonzero == {k: v for k, v in want.counters.items() if v}
    return want


def test_good_frame_passes_its_payload():
    want = check([good(b"hello, ITCH")])
    assert want.packets == [(b"hello, ITCH", False)]


def test_back_to_back_frames_and_empty_payload():
    check([good(b"a" * n) for n in (0, 1, 5, 6, 7, 8, 13, 14, 30, 200)])


@pytest.mark.parametrize("words", [1, 2, 3, 10])
def test_ip_options_are_tolerated(words):
    check([with_options(good(b"payload with options" * 3), words), good(b"after")])


@pytest.mark.parametrize("mutate", [
    lambda f: f[:10],                                             # runt
    lambda f: f[:12] + b"\x86\xdd" + f[14:],                      # not IPv4
    lambda f: f[:30],                                             # runt after ethertype
    lambda f: with_ip_header(f, lambda h: h.__setitem__(0, 0x65)),  # version 6
    lambda f: with_ip_header(f, lambda h: h.__setitem__(0, 0x44)),  # IHL 4
    lambda f: f[:40],                                             # runt inside UDP header
    lambda f: with_ip_header(f, lambda h: None, fix_checksum=False)[:24] + b"\xff\xff"
    + f[26:],                                                     # bad checksum
    lambda f: with_ip_header(f, lambda h: h.__setitem__(slice(2, 4), b"\x00\x10")),  # total
    lambda f: with_ip_header(f, lambda h: h.__setitem__(6, 0x20)),  # MF
    lambda f: with_ip_header(f, lambda h: h.__setitem__(7, 0x01)),  # offset
    lambda f: with_ip_header(f, lambda h: h.__setitem__(9, 6)),   # TCP
    lambda f: with_ip_header(f, lambda h: h.__setitem__(19, 0x70)),  # other dst ip
    lambda f: f[:36] + b"\x00\x01" + f[38:],                      # other port
    lambda f: f[:38] + b"\x00\x07" + f[40:],                      # UDP length < 8
    lambda f: f[:38] + b"\x04\x00" + f[40:],                      # UDP length > IP payload
    lambda f: f[:38] + (len(f) - 34 + 1).to_bytes(2, "big") + f[40:],  # ... by exactly one
    lambda f: with_ip_header(f, lambda h: h.__setitem__(slice(2, 4), (27).to_bytes(2, "big"))),
])
def test_each_drop_reason_then_recovery(mutate):
    want = check([mutate(good(b"x" * 40)), good(b"next one")])
    assert want.packets[-1] == (b"next one", False)
    assert sum(v for k, v in want.counters.items() if k.startswith("drop_")) == 1


def test_truncated_frame_is_passed_truncated():
    want = check([good(b"y" * 50)[:60], good(b"z")])
    assert want.packets[0][1] is True and want.counters["truncated"] == 1


def test_padding_after_the_payload_is_not_passed():
    want = check([good(b"pad") + b"\x00" * 17])
    assert want.packets == [(b"pad", False)]


def test_abort_and_stray_beats():
    frame = good(b"q" * 60)
    beats = beats_of(frame)
    cut = beats[:7]                       # accepted, then cut by the next frame's first beat
    stray = beats[2:4]                    # beats outside any frame
    want = check([*cut, *beats_of(good(b"r")), *stray, *beats_of(frame)])
    assert want.counters["aborted"] == 1 and want.counters["stray_beats"] == 2
    assert want.packets[0][1] is True


def test_one_beat_frame_cutting_a_frame_counts_both_drops():
    """Two frames end in the same cycle with the same reason: both are counted."""
    from hw.tb.frames import Beat

    want = check([Beat(0x1234, 0xFF, True, False), Beat(0x5678, 0x0F, True, True)])
    assert want.counters["drop_runt"] == 2 and want.counters["aborted"] == 1
