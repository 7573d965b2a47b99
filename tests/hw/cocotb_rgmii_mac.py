"""cocotb tests of the MAC behind RGMII (hw/tb/rgmii.py), run by tests/hw/test_rgmii_mac.py
under Verilator, against cocotbext-eth's RGMII source and sink (a third-party model of the
PHY side: preamble, SFD, FCS, DDR nibbles and RX_ER encoding are theirs, not ours).

Receive: frames from the RgmiiSource, the bytes and verdicts on `o_byte`/`o_verdict` against
zlib-based expectations. Transmit: frames driven on `i_byte`, taken apart by the RgmiiSink
(payload, FCS, TX_ER), and the inter-frame gap counted at the pins (RGMII ctl low at the
transmit clock's rising edges).
"""

import logging
import os
import random
import zlib

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer
from cocotbext.eth import GmiiFrame, RgmiiSink, RgmiiSource

from hw.rtl.records import MacByte, RxVerdict, pack, unpack
from spec.ethernet import CRC_RESIDUE, IFG_BYTES, MAX_FRAME, MIN_FRAME, PREAMBLE, SFD

SEED = int(os.environ.get("NERVE_SEED", "1"))
PERIOD_NS = 8
HEAD = PREAMBLE + bytes([SFD])
CLEAN = {"crc": 0, "runt": 0, "giant": 0, "phy": 0}


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.received: list[tuple[bytes, dict]] = []
        self.errors: list[str] = []
        self.ctl_runs: list[tuple[int, int]] = []     # (ctl level, rising edges) at the pins
        Clock(dut.eth_rx_clk, PERIOD_NS, unit="ns").start()
        Clock(dut.eth_tx_clk, PERIOD_NS, unit="ns").start()
        self.source = RgmiiSource(dut.rgmii_rx_data, dut.rgmii_rx_ctl, dut.eth_rx_clk)
        self.sink = RgmiiSink(dut.rgmii_tx_data, dut.rgmii_tx_ctl, dut.rgmii_tx_clk)
        for model in (self.source, self.sink):
            model.log.setLevel(logging.WARNING)     # they log every frame whole

    async def reset(self):
        dut = self.dut
        for rst in (dut.eth_rx_rst, dut.eth_tx_rst, dut.eth_tx90_rst):
            rst.value = 1
        dut.i_byte__valid.value = 0
        # The transmit clock pin's domain runs 90 degrees (2 ns) after the data's.
        await Timer(PERIOD_NS // 4, unit="ns")
        Clock(dut.eth_tx90_clk, PERIOD_NS, unit="ns").start()
        for _ in range(4):
            await RisingEdge(dut.eth_tx_clk)
        for rst in (dut.eth_rx_rst, dut.eth_tx_rst, dut.eth_tx90_rst):
            rst.value = 0
        cocotb.start_soon(self._receive())
        cocotb.start_soon(self._count_ctl())

    async def _receive(self):
        current = None
        while True:
            await RisingEdge(self.dut.eth_rx_clk)
            await ReadOnly()
            if not self.dut.o_byte__valid.value:
                if self.dut.o_verdict.value.to_unsigned():
                    self.errors.append("verdict without a byte")
                continue
            p = unpack(MacByte, self.dut.o_byte__payload.value.to_unsigned())
            verdict = unpack(RxVerdict, self.dut.o_verdict.value.to_unsigned())
            if p["first"]:
                if current is not None:
                    self.errors.append("first inside a frame")
                current = bytearray()
            if current is None:
                self.errors.append("byte outside a frame")
                current = bytearray()
            current.append(p["data"])
            if p["last"]:
                if p["error"] != int(any(verdict.values())):
                    self.errors.append(f"error {p['error']} with verdict {verdict}")
                self.received.append((bytes(current), verdict))
                current = None

    async def _count_ctl(self):
        level, run = 0, 0
        while True:
            await RisingEdge(self.dut.rgmii_tx_clk)
            await ReadOnly()
            ctl = int(self.dut.rgmii_tx_ctl.value)
            if ctl == level:
                run += 1
            else:
                self.ctl_runs.append((level, run))
                level, run = ctl, 1

    async def settle_rx(self, frames: int):
        await self.source.wait()
        for _ in range(40):
            await RisingEdge(self.dut.eth_rx_clk)
        assert self.errors == []
        assert len(self.received) == frames, f"{len(self.received)} frames, expected {frames}"

    async def transmit(self, frames, holes=frozenset(), errors=frozenset()):
        """Offer `frames` back to back on i_byte; `holes`: (frame, byte) offered one cycle late
        (an underrun); `errors`: (frame, byte) sent with `error`."""
        dut = self.dut
        queue = [(f, i, b, i == 0, i == len(body) - 1) for f, body in enumerate(frames)
                 for i, b in enumerate(body)]
        pos, holes_done = 0, set()
        while pos < len(queue):
            await FallingEdge(dut.eth_tx_clk)
            f, i, b, first, last = queue[pos]
            hole = (f, i) in holes and (f, i) not in holes_done
            dut.i_byte__valid.value = int(not hole)
            dut.i_byte__payload.value = pack(MacByte, (b, int(first), int(last),
                                                       int((f, i) in errors)))
            await Timer(1, unit="ns")      # `ready` settles; the rising edge is 3 ns away
            if int(dut.i_byte__ready.value):
                if hole:
                    holes_done.add((f, i))
                else:
                    pos += 1
        await FallingEdge(dut.eth_tx_clk)
        dut.i_byte__valid.value = 0


def expect_rx(body: bytes, error_at=()) -> tuple[bytes, dict] | None:
    """What MacRx emits for `body` (the bytes after the SFD, FCS included): None for nothing."""
    if len(body) > MAX_FRAME:
        return body[:MAX_FRAME - 4], {**CLEAN, "giant": 1,
                                      "phy": int(any(e <= MAX_FRAME for e in error_at))}
    if len(body) <= 4:
        return None
    residue = zlib.crc32(body) ^ 0xFFFFFFFF
    return body[:-4], {"crc": int(residue != CRC_RESIDUE), "runt": int(len(body) < MIN_FRAME),
                       "giant": 0, "phy": int(bool(error_at))}


def with_fcs(payload: bytes) -> bytes:
    return payload + zlib.crc32(payload).to_bytes(4, "little")


def raw_frame(body: bytes, error_at=(), head=HEAD) -> GmiiFrame:
    wire = head + body
    return GmiiFrame(wire, [int(n - len(head) in error_at) for n in range(len(wire))])


@cocotb.test()
async def receive_good_frames_back_to_back(dut):
    """Good frames at the source's minimum gap (12): every byte, no verdict."""
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(SEED)
    payloads = [rng.randbytes(n) for n in [60, 1514, 61, *(rng.randrange(1, 400) for _ in
                                                           range(12))]]
    for p in payloads:
        await tb.source.send(GmiiFrame.from_payload(p))
    await tb.settle_rx(len(payloads))
    for n, (p, (got, verdict)) in enumerate(zip(payloads, tb.received, strict=True)):
        assert got == p + bytes(max(0, 60 - len(p))), f"frame {n}"
        assert verdict == CLEAN, f"frame {n}: {verdict}"


@cocotb.test()
async def receive_bad_frames(dut):
    """FCS errors, runts, giants, frames cut short, RX_ER, no SFD, a lone fragment; good
    frames between them must still come through whole."""
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(SEED + 1)
    cases = []        # (GmiiFrame, expected or None)

    def add(body, error_at=(), head=HEAD, emitted=True):
        cases.append((raw_frame(body, error_at, head),
                      expect_rx(body, error_at) if emitted else None))

    def good():
        add(with_fcs(rng.randbytes(rng.randrange(60, 200))))

    for _ in range(4):
        raw = bytearray(with_fcs(rng.randbytes(rng.randrange(60, 300))))
        bit = rng.randrange(8 * len(raw))
        raw[bit // 8] ^= 1 << bit % 8
        add(bytes(raw))
        good()
    for n in (1, 10, 59):
        add(with_fcs(rng.randbytes(n)))                  # runts with a good FCS
    add(b"\x01\x02\x03")                                 # a fragment: nothing to emit
    good()
    add(with_fcs(rng.randbytes(MAX_FRAME - 4)))          # the longest good frame
    add(with_fcs(rng.randbytes(MAX_FRAME - 3)))          # one byte too long
    add(rng.randbytes(MAX_FRAME + 100))
    good()
    for _ in range(3):
        raw = with_fcs(rng.randbytes(rng.randrange(60, 300)))
        add(raw[:rng.randrange(5, len(raw) - 1)])        # cut short: rx_dv falls early
    body = with_fcs(rng.randbytes(100))
    add(body, error_at={rng.randrange(len(body))})       # RX_ER in the frame
    add(body, head=PREAMBLE, emitted=False)              # no SFD
    add(body, head=bytes([SFD]), emitted=False)          # SFD without preamble
    good()

    for frame, _ in cases:
        await tb.source.send(frame)
    want = [e for _, e in cases if e is not None]
    await tb.settle_rx(len(want))
    for n, (got, exp) in enumerate(zip(tb.received, want, strict=True)):
        assert got == exp, f"frame {n}: {got[1]} != {exp[1]} (or the bytes differ)"
    # The cases reach every verdict bit, and 8 good frames came through among them.
    assert {k for _, v in want for k, bit in v.items() if bit} == set(CLEAN)
    assert sum(1 for _, v in tb.received if not any(v.values())) == 8


def gaps(runs) -> list[int]:
    """Idle stretches between frames at the pins (the one before the first frame left out)."""
    return [n for level, n in runs[1:] if level == 0]


@cocotb.test()
async def transmit_frames_back_to_back(dut):
    """Frames offered back to back: the sink gets each padded, with a good FCS and no TX_ER;
    the gap at the pins is exactly 12 byte times."""
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(SEED + 2)
    payloads = [rng.randbytes(n) for n in [1, 60, 61, 1514, *(rng.randrange(1, 300) for _ in
                                                              range(10))]]
    await tb.transmit(payloads)
    for n, p in enumerate(payloads):
        frame = await tb.sink.recv()
        assert frame.get_preamble() == HEAD, f"frame {n}"
        assert frame.get_payload() == p + bytes(max(0, 60 - len(p))), f"frame {n}"
        assert frame.check_fcs(), f"frame {n}: bad FCS"
        assert frame.error is None, f"frame {n}: TX_ER"
    for _ in range(20):
        await RisingEdge(dut.eth_tx_clk)
    assert gaps(tb.ctl_runs) == [IFG_BYTES] * (len(payloads) - 1), tb.ctl_runs


@cocotb.test()
async def transmit_aborts_are_not_taken(dut):
    """An underrun and an error byte: those frames reach the sink with TX_ER and a bad FCS;
    the frames around them are intact; the gap never shrinks below 12."""
    tb = TB(dut)
    await tb.reset()
    rng = random.Random(SEED + 3)
    payloads = [rng.randbytes(n) for n in (80, 90, 70, 65, 100)]
    await tb.transmit(payloads, holes={(1, 30)}, errors={(3, 20)})
    for n, p in enumerate(payloads):
        frame = await tb.sink.recv()
        if n in (1, 3):
            assert frame.error is not None and any(frame.error), f"frame {n}: no TX_ER"
            assert not frame.check_fcs(), f"frame {n}: aborted but FCS good"
        else:
            assert frame.get_payload() == p and frame.check_fcs(), f"frame {n}"
            assert frame.error is None, f"frame {n}: TX_ER"
    for _ in range(20):
        await RisingEdge(dut.eth_tx_clk)
    assert min(gaps(tb.ctl_runs)) >= IFG_BYTES, tb.ctl_runs
