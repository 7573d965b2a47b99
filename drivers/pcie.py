"""The `pcie` transport: the card's registers through a memory-mapped PCI BAR.

On a smart NIC the PCIe shell (XDMA, QDMA, OpenNIC) forwards BAR accesses to the card's AXI4-Lite
slave (hw/rtl/axil.py), which serves the CSR bus: register word n is at byte offset 4n of the
BAR. Linux exposes the BAR as `/sys/bus/pci/devices/<bdf>/resource<N>`; this transport maps that
file and makes aligned 32-bit accesses only (one load or store each, which the PCIe core turns
into one AXI transaction; a wider or narrower access would be split or refused by the slave).

Tests map an ordinary file of the BAR's size instead: the accesses are the same; only the
register behaviour behind them (a file is plain memory) differs.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

from drivers.device import DriverError, Transport

_WORD = struct.Struct("<I")      # PCIe is little endian: byte 0 of a word is bits 0-7


class PcieTransport(Transport):
    kind = "pcie"

    def __init__(self, path: str | Path, *, words: int, offset: int = 0) -> None:
        """Map `words` 32-bit registers of the BAR file at `path`, starting at byte `offset`
        (a multiple of the page size, for a shell that puts the card's window inside a
        larger BAR)."""
        if offset % mmap.PAGESIZE:
            raise DriverError(f"BAR offset {offset:#x} is not a multiple of the page size "
                              f"({mmap.PAGESIZE:#x})")
        self.path = Path(path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_SYNC)
        except OSError as exc:
            raise DriverError(f"cannot open BAR {self.path}: {exc.strerror}") from None
        try:
            size = os.fstat(fd).st_size
            length = 4 * words
            if size and size < offset + length:
                raise DriverError(f"BAR {self.path} has {size} bytes; the register map needs "
                                  f"{offset + length}")
            self._map = mmap.mmap(fd, length, mmap.MAP_SHARED,
                                  mmap.PROT_READ | mmap.PROT_WRITE, offset=offset)
        finally:
            os.close(fd)
        self.words = words
        # memoryview.cast("I") loads and stores whole 32-bit words (one access each), where
        # slicing the mmap could copy byte by byte.
        self._view = memoryview(self._map).cast("I")

    def _check(self, address: int) -> None:
        if not 0 <= address < self.words:
            raise DriverError(f"word address {address} is outside the BAR's {self.words} "
                              "words")

    def read_word(self, address: int) -> int:
        self._check(address)
        return self._view[address]

    def write_word(self, address: int, value: int) -> None:
        self._check(address)
        self._view[address] = value

    def close(self) -> None:
        if self._map is not None:
            self._view.release()
            self._map.close()
            self._map = None


def create_bar_file(path: str | Path, regmap) -> Path:
    """A file the size of the register map holding the registers' reset values: a stand-in
    BAR for tests and demos (plain memory: nothing behind it acts on a write)."""
    data = bytearray(4 * regmap.words)
    for p in regmap.placed:
        for w in range(p.register.words):
            _WORD.pack_into(data, 4 * (p.address + w), (p.register.reset >> (32 * w)) & 0xFFFF_FFFF)
    path = Path(path)
    path.write_bytes(bytes(data))
    return path


def word_in_file(path: str | Path, address: int) -> int:
    """A word as the file holds it (little endian), read without the mapping: for tests that
    check what actually landed at the register's byte offset."""
    data = Path(path).read_bytes()
    return _WORD.unpack_from(data, 4 * address)[0]
