"""Ethernet CRC-32 (hw/rtl/crc32.py): the XOR network against zlib and a bit-serial model, in
the Amaranth simulator; the residue a receiver checks; the Python reference `fcs`."""

import random
import zlib

import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from hw.rtl.crc32 import INIT, POLY, crc32_byte, crc32_step, fcs
from spec.ethernet import CRC_RESIDUE


def serial(crc: int, byte: int) -> int:
    """The textbook definition: one bit at a time, least significant first."""
    for bit in range(8):
        feedback = (crc ^ byte >> bit) & 1
        crc = crc >> 1 ^ (POLY if feedback else 0)
    return crc


def run_hw(pairs: list[tuple[int, int]]) -> list[int]:
    """crc32_byte evaluated by the simulator for each (register, byte)."""
    m = Module()
    crc, byte, out = Signal(32), Signal(8), Signal(32)
    m.d.comb += out.eq(crc32_byte(crc, byte))
    got = []

    async def bench(ctx):
        for c, b in pairs:
            ctx.set(crc, c)
            ctx.set(byte, b)
            got.append(ctx.get(out))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return got


def test_the_xor_network_is_the_serial_crc_for_random_registers_and_bytes():
    rng = random.Random(1)
    pairs = [(rng.getrandbits(32), rng.getrandbits(8)) for _ in range(2_000)]
    pairs += [(0, b) for b in range(256)] + [(1 << n, 0) for n in range(32)]
    assert run_hw(pairs) == [serial(c, b) for c, b in pairs]


def test_a_frame_through_the_register_gives_zlibs_crc_and_then_the_residue():
    rng = random.Random(2)
    frame = bytes(rng.getrandbits(8) for _ in range(100))
    crc = INIT
    for b in frame:
        (crc,) = run_hw([(crc, b)])
    assert crc ^ 0xFFFFFFFF == zlib.crc32(frame)
    for b in fcs(frame):
        crc = crc32_step(crc, b)
    assert crc == CRC_RESIDUE
    bad = bytearray(frame)
    bad[7] ^= 0x10
    crc = INIT
    for b in bytes(bad) + fcs(frame):
        crc = crc32_step(crc, b)
    assert crc != CRC_RESIDUE


def test_fcs_is_little_endian_zlib_crc():
    # 802.3's check value: CRC-32 of b"123456789" is 0xCBF43926.
    assert fcs(b"123456789") == bytes([0x26, 0x39, 0xF4, 0xCB])
    assert len(fcs(b"")) == 4


def test_widths_are_checked():
    with pytest.raises(TypeError, match="32-bit register and a byte, not widths 16 and 8"):
        crc32_byte(Signal(16), Signal(8))
