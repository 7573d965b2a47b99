"""Small per-symbol tables in distributed (LUT) RAM, shared by the book, the Trader and the gate.

A table of one entry per symbol slot, read asynchronously (so a stage reads and writes its slot's
entry in one cycle and the next cycle's read already sees the write) and written once a cycle.
On ECP5 this maps to DPR16X4 LUT RAM: a 32 x W table costs about W/2 logic cells and a small
read mux, where registers cost 32 x W flip-flops and a 32:1 mux per bit. RAM is not reset: each
user keeps a per-slot valid bit (in flip-flops, reset) where the reset state matters.
"""

from amaranth import Module
from amaranth.lib.memory import Memory, ReadPort, WritePort


def slot_table(m: Module, name: str, shape, depth: int,
               readers: int = 1) -> tuple[list[ReadPort], WritePort]:
    """Add a `depth`-entry table named `name` to `m`: `readers` asynchronous read ports and one
    write port."""
    memory = Memory(shape=shape, depth=depth, init=[])
    m.submodules[name] = memory
    return [memory.read_port(domain="comb") for _ in range(readers)], memory.write_port()
