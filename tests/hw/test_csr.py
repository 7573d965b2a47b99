"""Register map and CSR bank: addresses, exports, and the bus behaviour (Amaranth simulator)."""

import json
import subprocess

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hw.rtl import netfilter
from hw.rtl.csr import READ_LATENCY, CsrBank, Register, RegisterMap

BLOCK = (
    Register("mode", 8, "rw", "an 8-bit setting", reset=0x5A),
    Register("limit", 64, "rw", "a 64-bit setting", reset=0x1122334455667788),
    Register("events", 48, "ro", "a counter"),
)


def test_addresses_are_consecutive_words_in_declaration_order():
    regmap = RegisterMap([("blk", BLOCK)])
    got = [(p.name, p.address) for p in regmap.placed]
    assert got == [("csr_bad_writes", 0), ("blk_mode", 1), ("blk_limit", 2),
                   ("blk_events", 4)]
    assert regmap.words == 6


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "Mode"}, "lower_snake_case"),
    ({"width": 0}, "width must be 1..512"),
    ({"access": "wo"}, "access must be 'rw', 'ro', 'w1c' or 'cmd'"),
    ({"access": "w1c", "width": 33}, "w1c register is at most 32 bits"),
    ({"reset": 256}, "does not fit 8 bits"),
    ({"doc": ""}, "needs a description"),
])
def test_register_declarations_are_validated(kwargs, message):
    args = {"name": "mode", "width": 8, "access": "rw", "doc": "d", "reset": 0} | kwargs
    with pytest.raises(ValueError, match=message):
        Register(**args)


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="declared twice"):
        RegisterMap([("blk", BLOCK), ("blk", BLOCK[:1])])


def test_exports_agree(tmp_path):
    regmap = RegisterMap([("net", netfilter.REGISTERS), ("blk", BLOCK)])
    data = json.loads(regmap.to_json())
    assert [r["name"] for r in data["registers"]] == [p.name for p in regmap.placed]
    markdown = regmap.to_markdown()
    for r in data["registers"]:
        assert f"`{r['name']}`" in markdown
    # The C header compiles, and the offsets it defines are the JSON's.
    (tmp_path / "regs.h").write_text(regmap.to_c_header())
    program = ['#include <stdio.h>', '#include "regs.h"', "int main(void) {"]
    program += [f'printf("%u\\n", NERVE_{r["name"].upper()}_OFFSET);' for r in data["registers"]]
    program += ["return 0; }"]
    (tmp_path / "main.c").write_text("\n".join(program))
    subprocess.run(["gcc", "-Wall", "-Werror", "-o", str(tmp_path / "main"),
                    str(tmp_path / "main.c")], check=True, cwd=tmp_path)
    out = subprocess.run([str(tmp_path / "main")], capture_output=True, text=True, check=True)
    assert [int(x) for x in out.stdout.split()] == [r["byte_offset"] for r in data["registers"]]


class Harness(wiring.Component):
    """The bank with a free-running counter on `blk_events`."""

    def __init__(self, regmap):
        self.bank = CsrBank(regmap)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = self.bank
        events = Signal(48, init=(1 << 32) - 3)  # about to carry into the high word
        m.d.sync += events.eq(events + 1)
        m.d.comb += self.bank.ro["blk_events"].eq(events)
        return m


def run(regmap, script):
    dut = Harness(regmap)
    bus = dut.bank.bus
    log = {}

    async def bench(ctx):
        async def write(addr, value):
            ctx.set(bus.addr, addr)
            ctx.set(bus.w_data, value)
            ctx.set(bus.w_stb, 1)
            await ctx.tick()
            ctx.set(bus.w_stb, 0)
            await ctx.tick().repeat(2)    # applied three cycles after the strobe

        async def read(addr):
            ctx.set(bus.addr, addr)
            ctx.set(bus.r_stb, 1)
            await ctx.tick()
            ctx.set(bus.r_stb, 0)
            await ctx.tick().repeat(READ_LATENCY - 1)
            return ctx.get(bus.r_data)

        await script(ctx, dut, write, read, log)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return log


REGMAP = RegisterMap([("blk", BLOCK)])
MODE, LIMIT, EVENTS = (REGMAP[n].address for n in ("blk_mode", "blk_limit", "blk_events"))


def test_reset_values_read_back():
    async def script(ctx, dut, write, read, log):
        log["mode"] = await read(MODE)
        log["limit"] = (await read(LIMIT)) | (await read(LIMIT + 1)) << 32
    assert run(REGMAP, script) == {"mode": 0x5A, "limit": 0x1122334455667788}


def test_wide_write_takes_effect_on_its_last_word():
    async def script(ctx, dut, write, read, log):
        await write(LIMIT, 0xDEADBEEF)
        log["after_low"] = ctx.get(dut.bank.rw["blk_limit"])
        await write(LIMIT + 1, 0x01234567)
        log["after_high"] = ctx.get(dut.bank.rw["blk_limit"])
    log = run(REGMAP, script)
    assert log["after_low"] == 0x1122334455667788      # unchanged: no half-applied value
    assert log["after_high"] == 0x01234567DEADBEEF


def test_counter_reads_are_snapshot_consistent():
    """The counter crosses 2**32 between the two word reads; the pair is still one value."""
    async def script(ctx, dut, write, read, log):
        low = await read(EVENTS)
        await ctx.tick().repeat(5)
        high = await read(EVENTS + 1)
        log["value"] = high << 32 | low
    value = run(REGMAP, script)["value"]
    assert value in range((1 << 32) - 3, (1 << 32) + 2)
    assert (value >> 32) == (1 if value >= 1 << 32 else 0)


def test_bad_writes_are_ignored_and_counted():
    async def script(ctx, dut, write, read, log):
        await write(EVENTS, 7)            # read-only
        await write(REGMAP.words + 3, 7)  # unmapped
        await write(MODE, 0x33)           # fine
        log["bad"] = await read(0)
        log["mode"] = await read(MODE)
        log["unmapped"] = await read(REGMAP.words + 3)
    assert run(REGMAP, script) == {"bad": 2, "mode": 0x33, "unmapped": 0}


ALARMS = RegisterMap([("blk", (Register("alarms", 4, "w1c", "sticky alarm bits"),))])


class AlarmHarness(wiring.Component):
    """Alarm bits that latch on and stay on until the host writes 1s to clear them."""

    def __init__(self):
        self.bank = CsrBank(ALARMS)
        self.raise_ = Signal(4)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = self.bank
        alarms = Signal(4)
        m.d.sync += alarms.eq((alarms & ~self.bank.clear["blk_alarms"]) | self.raise_)
        m.d.comb += self.bank.ro["blk_alarms"].eq(alarms)
        return m


def test_w1c_clears_only_the_bits_written_and_counts_no_bad_write():
    dut = AlarmHarness()
    bus, address = dut.bank.bus, ALARMS["blk_alarms"].address
    log = []

    async def bench(ctx):
        async def access(write, value=0):
            ctx.set(bus.addr, address)
            ctx.set(bus.w_data, value)
            ctx.set(bus.w_stb if write else bus.r_stb, 1)
            await ctx.tick()
            ctx.set(bus.w_stb, 0)
            ctx.set(bus.r_stb, 0)
            # read data is valid for one cycle, READ_LATENCY after the strobe
            await ctx.tick().repeat(READ_LATENCY - 1)
            return ctx.get(bus.r_data)

        ctx.set(dut.raise_, 0b1011)
        await ctx.tick()
        ctx.set(dut.raise_, 0)
        log.append(await access(False))
        await access(True, 0b0011)        # clear two of the three
        log.append(await access(False))
        ctx.set(bus.addr, 0)
        ctx.set(bus.r_stb, 1)
        await ctx.tick()
        ctx.set(bus.r_stb, 0)
        await ctx.tick().repeat(READ_LATENCY - 1)
        log.append(ctx.get(bus.r_data))   # csr_bad_writes

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert log == [0b1011, 0b1000, 0]


COMMANDS = RegisterMap([("blk", (Register("subscribe", 16, "cmd", "a command word"),
                                 Register("mode", 8, "rw", "a mode")))])


def test_cmd_register_presents_each_write_once_and_reads_as_zero():
    bank = CsrBank(COMMANDS)
    bus, command = bank.bus, bank.command["blk_subscribe"]
    address = COMMANDS["blk_subscribe"].address
    taken, reads = [], []

    async def bench(ctx):
        for value in (0x1234, 0x0007):
            ctx.set(bus.addr, address)
            ctx.set(bus.w_data, value)
            ctx.set(bus.w_stb, 1)
            await ctx.tick()
            ctx.set(bus.w_stb, 0)
            for _ in range(5):                # the strobe is one cycle long, then gone
                await ctx.tick()
                if ctx.get(command.stb):
                    taken.append(ctx.get(command.value))
        ctx.set(bus.r_stb, 1)
        await ctx.tick()
        ctx.set(bus.r_stb, 0)
        await ctx.tick().repeat(2)
        reads.append(ctx.get(bus.r_data))
        ctx.set(bus.addr, 0)                  # csr_bad_writes: a command write is not bad
        ctx.set(bus.r_stb, 1)
        await ctx.tick()
        ctx.set(bus.r_stb, 0)
        await ctx.tick().repeat(2)
        reads.append(ctx.get(bus.r_data))

    sim = Simulator(bank)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert taken == [0x1234, 0x0007]
    assert reads == [0, 0]


def test_every_block_reads_back_through_its_own_word_then_the_shared_one():
    """Reads are gathered per block, then across blocks: each register of each block still reads
    its own value, READ_LATENCY cycles after its strobe, and nothing of any other."""
    other = (Register("gain", 16, "rw", "another block's register", reset=0x1234),
             Register("tag", 8, "rw", "and one more", reset=0x5C))
    regmap = RegisterMap([("blk", BLOCK), ("aux", other)])
    # The blocks' words really are separate: one registered word per block prefix.
    blocks = {p.block for p in regmap.placed}
    assert blocks == {"csr", "blk", "aux"}

    async def script(ctx, dut, write, read, log):
        for name in ("blk_mode", "aux_gain", "aux_tag", "blk_limit"):
            log[name] = await read(regmap[name].address)
        await write(regmap["aux_tag"].address, 0xA7)
        log["aux_tag_after"] = await read(regmap["aux_tag"].address)
        log["blk_mode_after"] = await read(regmap["blk_mode"].address)

    assert run(regmap, script) == {"blk_mode": 0x5A, "aux_gain": 0x1234, "aux_tag": 0x5C,
                                   "blk_limit": 0x55667788, "aux_tag_after": 0xA7,
                                   "blk_mode_after": 0x5A}
