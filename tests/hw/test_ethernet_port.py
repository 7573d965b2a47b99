"""EthernetPort (hw/rtl/ethernet_port.py) in the Amaranth simulator, with its three clocks at
the board's rates (GMII 125 MHz both ways, the fast path at 31.25 MHz) and at several phases
between them: a frame in on GMII comes out whole on `o_frame`, a FIX message on `i_message`
goes out on GMII as the model's datagram with its preamble and FCS, and the port's latency,
its clock crossings included, stays within the bounds its module states."""

import random

import pytest
from amaranth.sim import Simulator

from hw.rtl.crc32 import fcs
from hw.rtl.ethernet_port import (
    RX_FAST_CYCLES,
    RX_GMII_CYCLES,
    TX_FAST_CYCLES,
    TX_GMII_CYCLES,
    EthernetPort,
)
from hw.tb.frames import beats_of
from spec.ethernet import PREAMBLE, SFD
from sw.feed.net import udp_frame
from sw.model.egress import Endpoints, order_datagram

GMII_NS = 8
FAST_NS = 32
RX_LATENCY_NS = tuple(RX_GMII_CYCLES * GMII_NS + n * FAST_NS for n in RX_FAST_CYCLES)
TX_LATENCY_NS = tuple(TX_FAST_CYCLES * FAST_NS + n * GMII_NS for n in TX_GMII_CYCLES)
ENDPOINTS = Endpoints(src_mac=0x02004E525601, src_ip=0x0A0A0002, src_port=40000,
                      dst_mac=0x02004E525602, dst_ip=0x0A0A0009, dst_port=40001)


def fix_message(body_len: int, rng: random.Random) -> bytes:
    body = bytes(rng.randrange(0x21, 0x7F) for _ in range(body_len))
    return b"8=FIX.4.4\x019=%03d\x01" % body_len + body + b"10=000\x01"


def run_port(phase_ns: float, frame: bytes, message: bytes) -> dict:
    """`frame` in on GMII and `message` on `i_message`; what came out, and when (ns)."""
    dut = EthernetPort(fast_hz=1e9 / FAST_NS)
    sim = Simulator(dut)
    # A clock's edge k is at phase + k * period.
    phases = {"eth_rx": GMII_NS / 2, "eth_tx": GMII_NS / 2 + phase_ns,
              "sync": FAST_NS / 2 + 1.5 * phase_ns}
    periods = {"eth_rx": GMII_NS, "eth_tx": GMII_NS, "sync": FAST_NS}
    for domain, phase in phases.items():
        sim.add_clock(periods[domain] * 1e-9, phase=phase * 1e-9, domain=domain)

    def at(domain: str, edge: int) -> float:
        return phases[domain] + edge * periods[domain]

    seen = {"beats": [], "wire": bytearray()}

    async def receive(ctx):
        wire = PREAMBLE + bytes([SFD]) + frame + fcs(frame)
        for edge in range(len(wire) + 40):
            n = edge - 10
            ctx.set(dut.rx_dv, 0 <= n < len(wire))
            ctx.set(dut.rx_data, wire[n] if 0 <= n < len(wire) else 0)
            if n == len(wire) - 1:
                seen["rx_end"] = at("eth_rx", edge)     # the edge that takes the last byte
            await ctx.tick("eth_rx")

    async def fast_side(ctx):
        for name, value in vars(ENDPOINTS).items():
            ctx.set(getattr(dut.endpoints, name), value)
        beats, sent = beats_of(message), 0
        for edge in range(300):
            offer = edge >= 20 and sent < len(beats)
            ctx.set(dut.i_message.valid, offer)
            if offer:
                b = beats[sent]
                for field in ("data", "keep", "first", "last"):
                    ctx.set(getattr(dut.i_message.p, field), getattr(b, field))
            _, _, ready, valid, out = await ctx.tick("sync").sample(
                dut.i_message.ready, dut.o_frame.valid, dut.o_frame.p)
            if offer and ready:
                seen.setdefault("tx_start", at("sync", edge))
                sent += 1
            if valid:
                seen["beats"].append((at("sync", edge), out["data"], out["keep"],
                                      out["first"], out["last"]))

    async def transmit(ctx):
        edge = 0
        async for _, _, en, data in ctx.tick("eth_tx").sample(dut.tx_en, dut.tx_data):
            if en:
                seen.setdefault("tx_first", at("eth_tx", edge))
                seen["wire"].append(data)
            edge += 1

    sim.add_testbench(receive)
    sim.add_testbench(fast_side)
    sim.add_process(transmit)
    sim.run_until(12e-6)
    return seen


@pytest.mark.parametrize("phase_ns", [0.0, 1.7, 3.9, 6.1])
def test_frames_cross_both_ways_whole_within_the_stated_latency(phase_ns):
    rng = random.Random(int(phase_ns * 10))
    frame = udp_frame(bytes(rng.randrange(256) for _ in range(58)))     # 100 bytes
    message = fix_message(rng.randrange(150, 220), rng)
    seen = run_port(phase_ns, frame, message)

    beats = seen["beats"]
    got = b"".join((data & ((1 << 8 * bin(keep).count("1")) - 1)).to_bytes(8, "little")
                   [:bin(keep).count("1")] for _, data, keep, _, _ in beats)
    assert got == frame
    assert [(first, last) for *_, first, last in beats] == \
        [(i == 0, i == len(beats) - 1) for i in range(len(beats))]
    assert [t2 - t1 for (t1, *_), (t2, *_) in zip(beats, beats[1:], strict=False)] == \
        [FAST_NS] * (len(beats) - 1), "a frame leaves one beat per fast cycle"
    rx = beats[0][0] - seen["rx_end"]
    assert RX_LATENCY_NS[0] <= rx <= RX_LATENCY_NS[1], rx

    datagram = order_datagram(ENDPOINTS, message, 0)
    assert bytes(seen["wire"]) == PREAMBLE + bytes([SFD]) + datagram + fcs(datagram)
    tx = seen["tx_first"] - seen["tx_start"]
    assert TX_LATENCY_NS[0] <= tx <= TX_LATENCY_NS[1], tx

