"""cocotb tests of the OpenNIC box (run by tests/hw/test_opennic_box.py under Verilator).

Three clocks as on the board: the CMAC's 322 MHz (`cmac_clk`), the shell's 125 MHz register
clock (`axil_clk`) and the fast path's 156.25 MHz (`clk`). The host reaches the card's registers
through the box's `s_axil_*` port (cocotbext-axi's AxiLiteMaster) at the exported byte addresses
(hw.rtl.nic.REGMAP, word address * 4). The 512-bit streams are driven and watched by the small
drivers below (the shell's `tuser_err` is not a name cocotbext-axi's AXI4-Stream bus knows).
"""

import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from hw.rtl.nic import REGMAP

SEED = int(os.environ.get("NERVE_SEED", "1"))


class Box:
    def __init__(self, dut):
        self.dut = dut
        cocotb.start_soon(Clock(dut.cmac_clk, 3.104, unit="ns").start())
        cocotb.start_soon(Clock(dut.axil_clk, 8, unit="ns").start())
        cocotb.start_soon(Clock(dut.clk, 6.4, unit="ns").start())
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.axil_clk,
                                  dut.axil_rst)

    async def reset(self):
        dut = self.dut
        for prefix in ("s_axis_cmac_rx", "s_axis_adap_tx_322mhz"):
            getattr(dut, f"{prefix}_tvalid").value = 0
        dut.m_axis_cmac_tx_tready.value = 1
        for name in ("rst", "cmac_rst", "axil_rst"):
            getattr(dut, name).value = 1
        await ClockCycles(dut.axil_clk, 4)
        for name in ("rst", "cmac_rst", "axil_rst"):
            getattr(dut, name).value = 0
        await ClockCycles(dut.axil_clk, 4)

    async def write(self, name, value):
        await self.axil.write_dword(REGMAP[name].address * 4, value)

    async def read(self, name):
        return await self.axil.read_dword(REGMAP[name].address * 4)

    async def send(self, prefix, frame: bytes, err=0, gaps=0.0, rng=None):
        """Drive one frame on a 512-bit stream (waiting for tready if it has one)."""
        dut = self.dut
        ready = getattr(dut, f"{prefix}_tready", None)
        for start in range(0, len(frame), 64):
            while rng is not None and rng.random() < gaps:
                getattr(dut, f"{prefix}_tvalid").value = 0
                await RisingEdge(dut.cmac_clk)
            chunk = frame[start:start + 64]
            last = start + 64 >= len(frame)
            getattr(dut, f"{prefix}_tvalid").value = 1
            getattr(dut, f"{prefix}_tdata").value = int.from_bytes(chunk, "little")
            getattr(dut, f"{prefix}_tkeep").value = (1 << len(chunk)) - 1
            getattr(dut, f"{prefix}_tlast").value = int(last)
            getattr(dut, f"{prefix}_tuser_err").value = err if last else 0
            while True:
                await RisingEdge(dut.cmac_clk)
                if ready is None or ready.value:
                    break
        getattr(dut, f"{prefix}_tvalid").value = 0

    async def collect(self, prefix, frames: list, ready_p=1.0, rng=None):
        """Gather the frames leaving on a 512-bit stream, forever (as (bytes, tuser_err)).
        tready (if any) is driven at random at each falling edge, and every cycle checks that
        tvalid never falls inside a frame and a word offered is held until taken."""
        dut = self.dut
        ready = getattr(dut, f"{prefix}_tready", None)
        cur = bytearray()
        offered = None
        while True:
            await FallingEdge(dut.cmac_clk)
            take = rng is None or rng.random() < ready_p
            if ready is not None:
                ready.value = int(take)
            await ReadOnly()
            valid = int(getattr(dut, f"{prefix}_tvalid").value)
            word = tuple(int(getattr(dut, f"{prefix}_{name}").value)
                         for name in ("tdata", "tkeep", "tlast", "tuser_err"))
            if offered is not None:
                assert valid and word == offered, f"{prefix}: a word offered was changed"
            assert valid or not cur, f"{prefix}: tvalid fell inside a frame"
            offered = None
            if not valid:
                continue
            if not take:
                offered = word
                continue
            data, keep, last, err = word
            n = bin(keep).count("1")
            assert keep == (1 << n) - 1 and (last or n == 64), f"{prefix}: keep {keep:#x}"
            cur.extend(data.to_bytes(64, "little")[:n])
            if last:
                frames.append((bytes(cur), err))
                cur.clear()


def frame_of(rng, length):
    return bytes(rng.randrange(256) for _ in range(length))


@cocotb.test()
async def registers_through_the_shell_port(dut):
    box = Box(dut)
    await box.reset()
    assert await box.read("eth_session_port") == 0
    await box.write("eth_session_port", 0xBEEF)
    await box.write("eth_session_ip", 0x0A000002)
    assert await box.read("eth_session_port") == 0xBEEF
    assert await box.read("eth_session_ip") == 0x0A000002
    # A 16-bit register keeps its 16 bits only.
    await box.write("eth_port", 0x12345678)
    assert await box.read("eth_port") == 0x5678
    assert await box.read("eth_rx_frames") == 0


@cocotb.test()
async def received_frames_reach_the_adapter_and_the_card_counts_them(dut):
    box = Box(dut)
    rng = random.Random(SEED)
    await box.reset()
    seen = []
    cocotb.start_soon(box.collect("m_axis_adap_rx_322mhz", seen))
    sent = []
    for i in range(12):
        frame = frame_of(rng, rng.choice([60, 64, 65, 128, 200, 511, 1000]))
        err = int(i % 3 == 1)
        sent.append((frame, err))
        # The CMAC never lets tvalid fall inside a frame; between frames, idle cycles.
        await ClockCycles(dut.cmac_clk, rng.choice([0, 0, 1, 5]))
        await box.send("s_axis_cmac_rx", frame, err=err)
    await ClockCycles(dut.cmac_clk, 20)
    assert seen == sent
    # The card takes 64 bits per fast cycle: give it the frames' time (and a margin).
    await ClockCycles(dut.clk, sum(len(f) for f, _ in sent) // 8 + 200)
    good = sum(1 for _, err in sent if not err)
    # The card's counters, in the fast clock, behind the register crossing.
    assert await box.read("eth_rx_frames") == good
    assert await box.read("eth_rx_crc_errors") == len(sent) - good
    assert await box.read("eth_rx_overflows") == 0


@cocotb.test()
async def adapter_frames_reach_the_cmac_under_backpressure(dut):
    box = Box(dut)
    rng = random.Random(SEED + 1)
    await box.reset()
    seen = []
    cocotb.start_soon(box.collect("m_axis_cmac_tx", seen, ready_p=0.6,
                                  rng=random.Random(SEED + 2)))
    sent = []
    for _ in range(10):
        frame = frame_of(rng, rng.randint(60, 700))
        sent.append((frame, 0))
        await box.send("s_axis_adap_tx_322mhz", frame)
        await ClockCycles(dut.cmac_clk, rng.choice([0, 0, 3]))
    await ClockCycles(dut.cmac_clk, 100)
    assert seen == sent
    # The card sent nothing of its own: it is halted from reset.
    assert await box.read("eth_tx_datagrams") == 0
