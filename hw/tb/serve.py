"""The simulated card, served: hw/rtl/nic.py under Verilator, driven by other processes.

Where it sits: the hardware end of two transports of drivers/. The `sim` transport
(drivers/sim.py) sends JSON lines over a loopback TCP socket; each request is a batch of word
accesses made through the card's `csr` port (or frames to drive into the MAC side, or stop).
The `uart` transport (drivers/uart.py) opens a pseudo-terminal whose other end this bench turns
into bits on the card's `uart_rx` pin and back from `uart_tx`, so the UART-to-CSR bridge in the
RTL is what answers the host, byte for byte.

Time: the simulator only runs while something is happening, plus a few cycles between polls
when idle, so the card's PTP clock counts simulated cycles, not wall time.

Environment: NERVE_SIM_READY (a file this bench writes, once listening, with
{"port": P, "pty": PATH}), NERVE_SIM_PTY=1 to open the pseudo-terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import socket
import threading
import tty
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, FallingEdge, ReadOnly, RisingEdge, Timer

from hw.rtl.nic import REGMAP
from hw.rtl.records import FrameBeat, pack, unpack
from hw.tb.card import CLOCK_NS, SIM_UART_DIVISOR
from hw.tb.csr import CsrMaster
from hw.tb.frames import beats_of

IDLE_CYCLES = 64            # cycles the card runs between polls when no host is talking
IDLE_BETWEEN_FRAMES = 2     # cycles: the MAC's inter-frame gap, roughly
SETTLE = 16                 # idle cycles for the ingress and book to empty
IDLE_WAIT_S = 0.005         # wall time a poll may wait for a host when nothing is moving
BIT_NS = SIM_UART_DIVISOR * CLOCK_NS


class _Requests:
    """A loopback TCP server (in a thread): JSON lines in, handed to the simulator loop."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.wake_r, self.wake_w = os.pipe()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            for line in stream:
                reply: queue.Queue = queue.Queue(maxsize=1)
                self.queue.put((line, reply))
                os.write(self.wake_w, b"!")
                stream.write(reply.get() + b"\n")
                stream.flush()


class _UartWire:
    """A pseudo-terminal whose bytes become bits on the card's UART pins (8N1).

    Bits are timed with simulator timers, not by counting clock edges in Python: one wake-up
    per bit instead of one per cycle."""

    def __init__(self, dut) -> None:
        self.dut = dut
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)          # bytes pass as they are: no echo, no line discipline
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.pending = bytearray()
        self.arrived = Event()
        self.active = 0                 # bytes being shifted in or out right now
        dut.uart_rx.value = 1
        cocotb.start_soon(self._to_card())
        cocotb.start_soon(self._from_card())

    def poll(self) -> None:
        # Nothing to read (or no client has opened the other end yet): nothing to do.
        with contextlib.suppress(BlockingIOError, OSError):
            self.pending += os.read(self.master, 4096)
        if self.pending:
            self.arrived.set()

    async def _to_card(self) -> None:
        dut = self.dut
        while True:
            if not self.pending:
                self.arrived.clear()
                await self.arrived.wait()
            byte = self.pending.pop(0)
            self.active += 1
            for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]:
                dut.uart_rx.value = bit
                await Timer(BIT_NS, unit="ns")
            self.active -= 1

    async def _from_card(self) -> None:
        dut = self.dut
        while True:
            await FallingEdge(dut.uart_tx)         # a start bit
            self.active += 1
            await Timer(BIT_NS / 2, unit="ns")     # to the middle of the bit
            byte = 0
            for i in range(8):
                await Timer(BIT_NS, unit="ns")
                byte |= int(dut.uart_tx.value) << i
            await Timer(BIT_NS, unit="ns")         # the stop bit
            os.write(self.master, bytes([byte]))
            self.active -= 1


class CardBench:
    """Clock, reset, the CSR master, the frame driver and the egress collector of the served
    card (its host reads events through the registers)."""

    def __init__(self, dut):
        self.dut = dut
        self.csr = CsrMaster(dut, REGMAP)
        self.egress_bytes = bytearray()     # egress taken by `collect_egress`

    async def reset(self):
        dut = self.dut
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        dut.rst.value = 1
        dut.i_frame__valid.value = 0
        dut.time_load.value = 1
        dut.time_value.value = 0
        dut.o_egress__ready.value = 1
        dut.o_event__ready.value = 1
        self.csr.idle()
        for _ in range(2):
            await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.rst.value = 0
        # As the host brings a card up: the book's reset sweep (hw/rtl/book.py) ends first.
        while await self.csr.read("book_clearing"):
            await ClockCycles(dut.clk, 1024)

    async def collect_egress(self):
        """Keep the egress bytes (FIX orders) in `egress_bytes`, waking only while the egress
        is valid: the served card runs many idle cycles at a time, unwatched."""
        dut = self.dut
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            if not dut.o_egress__valid.value:
                await RisingEdge(dut.o_egress__valid)
                await ReadOnly()
            beat = unpack(FrameBeat, dut.o_egress__payload.value.to_unsigned())
            self.egress_bytes += beat["data"].to_bytes(8, "little")[:beat["keep"].bit_length()]

    async def frame(self, frame: bytes) -> None:
        """Drive one frame on the card's own PTP clock."""
        dut = self.dut
        for beat in beats_of(frame):
            await FallingEdge(dut.clk)
            dut.i_frame__valid.value = 1
            dut.i_frame__payload.value = pack(
                FrameBeat, (beat.data, beat.keep, int(beat.first), int(beat.last)))
        for _ in range(IDLE_BETWEEN_FRAMES):
            await FallingEdge(dut.clk)
            dut.i_frame__valid.value = 0

    async def settle(self):
        dut = self.dut
        quiet = 0
        while quiet < SETTLE:
            await FallingEdge(dut.clk)
            dut.i_frame__valid.value = 0
            quiet = 0 if dut.busy.value else quiet + 1


@cocotb.test()
async def serve(dut):
    """Serve the card until a client asks it to stop."""
    tb = CardBench(dut)
    await tb.reset()                      # the host reads events through the registers
    cocotb.start_soon(tb.collect_egress())  # and takes the egress bytes by request
    await FallingEdge(dut.clk)
    dut.time_load.value = 0              # the card's own PTP clock runs
    requests = _Requests()
    wire = _UartWire(dut) if os.environ.get("NERVE_SIM_PTY") == "1" else None
    ready = {"port": requests.port, "pty": wire.path if wire else None}
    # Written whole under another name, then renamed: the client never parses half a file.
    target = Path(os.environ["NERVE_SIM_READY"])
    staging = target.with_suffix(".tmp")
    staging.write_text(json.dumps(ready))
    os.replace(staging, target)
    waitables = [requests.wake_r] + ([wire.master] if wire else [])
    while True:
        busy = wire is not None and (wire.active or wire.pending)
        readable, _, _ = select.select(waitables, [], [], 0 if busy else IDLE_WAIT_S)
        if wire is not None:
            wire.poll()
        if requests.wake_r in readable:
            os.read(requests.wake_r, 1)
        try:
            line, reply = requests.queue.get_nowait()
        except queue.Empty:
            if busy:
                await Timer(10 * BIT_NS, unit="ns")       # a byte's time on the line
            else:
                await ClockCycles(dut.clk, IDLE_CYCLES)
            continue
        try:
            request = json.loads(line)
            if request.get("stop"):
                reply.put(b'{"ok": true}')
                break
            reply.put(json.dumps(await _handle(tb, request)).encode())
        except Exception as exc:      # the client gets the error; the card keeps serving
            reply.put(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
    await RisingEdge(dut.clk)


async def _handle(tb: CardBench, request: dict) -> dict:
    if "ops" in request:
        values = []
        for address, value in request["ops"]:
            values.append(await tb.csr.access(int(address), value))
        return {"values": [v if op[1] is None else None
                           for v, op in zip(values, request["ops"], strict=True)]}
    if "egress" in request:            # the FIX bytes the card sent since the last request
        sent, tb.egress_bytes = bytes(tb.egress_bytes), bytearray()
        return {"egress": sent.hex()}
    if "frames" in request:
        for frame in request["frames"]:
            await tb.frame(bytes.fromhex(frame))
        await tb.settle()
        return {"ok": True}
    raise ValueError(f"unknown request {sorted(request)}")
