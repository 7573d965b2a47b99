"""Ethernet CRC-32 (IEEE 802.3 FCS), one byte per clock: the MAC's frame check.

Data flow: `MacRx` runs every byte after the SFD (the FCS included) through `crc32_byte` and
compares the register with `spec.ethernet.CRC_RESIDUE`; `MacTx` runs every byte it sends (pad
included) through it and sends the complemented register, least significant byte first.

The polynomial is the reflected form 0xEDB88320, the register starts at 0xFFFFFFFF and bits
enter least significant first, as on the wire. `crc32_byte` is the register's next value as a
plain XOR network (each output bit the parity of a fixed set of register and data bits), worked
out here in Python by running the bit-serial definition over symbols: no tables, no loops in
the hardware. `fcs` is the software reference the tests compare against (zlib's CRC-32).
"""

import zlib
from functools import cache

from amaranth import Cat, Const, Value

#: The reflected generator polynomial of 802.3's CRC-32.
POLY = 0xEDB88320
#: The register's value at the start of a frame.
INIT = 0xFFFFFFFF


@cache
def _taps() -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """For each next-register bit: the register bits and data bits whose parity it is.

    A bit's set of symbols is a GF(2) sum, so XOR of sets (symmetric difference) is the sum
    of two bits; eight rounds of the serial definition give the byte-wide map.
    """
    state = [frozenset({("c", i)}) for i in range(32)]
    for j in range(8):
        feedback = state[0] ^ {("d", j)}
        state = [*state[1:], frozenset()]
        state = [bit ^ feedback if POLY >> i & 1 else bit for i, bit in enumerate(state)]
    return tuple(
        (tuple(sorted(i for kind, i in bit if kind == "c")),
         tuple(sorted(i for kind, i in bit if kind == "d")))
        for bit in state)


def crc32_byte(crc: Value, byte: Value) -> Value:
    """The CRC register after `byte` (8 bits, bit 0 first on the wire) entered `crc` (32)."""
    crc, byte = Value.cast(crc), Value.cast(byte)
    if len(crc) != 32 or len(byte) != 8:
        raise TypeError(f"crc32_byte takes a 32-bit register and a byte, not widths "
                        f"{len(crc)} and {len(byte)}")
    bits = []
    for crc_taps, data_taps in _taps():
        terms = [crc[i] for i in crc_taps] + [byte[i] for i in data_taps]
        bits.append(Cat(*terms).xor() if terms else Const(0, 1))
    return Cat(*bits)


def crc32_step(crc: int, byte: int) -> int:
    """`crc32_byte` on integers, by the same taps (for tests of the XOR network itself)."""
    out = 0
    for n, (crc_taps, data_taps) in enumerate(_taps()):
        parity = sum(crc >> i & 1 for i in crc_taps) + sum(byte >> i & 1 for i in data_taps)
        out |= (parity & 1) << n
    return out


def fcs(frame: bytes) -> bytes:
    """The 4 FCS bytes of `frame` (destination MAC to the end of the payload), in wire order."""
    return zlib.crc32(frame).to_bytes(4, "little")
