# amaranth: UnusedElaboratable=no
"""UART receiver, transmitter and register bridge (Amaranth simulator), and the host helpers.

The bridge sits in front of the real arbiter and bank (`CsrSystem`); a bit-level host drives
its `rx` and samples its `tx`, and every answer is checked against the bank's model.
"""

import random
import struct

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hw.rtl.hostbus import BANK_LATENCY
from hw.rtl.uart import (
    BITS_PER_BYTE,
    OP_READ,
    OP_WRITE,
    REQUEST_BYTES,
    RESPONSE_BYTES,
    STATUS_BAD_ADDRESS,
    STATUS_BAD_CRC,
    STATUS_BAD_OP,
    STATUS_OK,
    SYNC_REQUEST,
    SYNC_RESPONSE,
    UartBridge,
    UartRx,
    UartTx,
    crc16,
    decode_response,
    encode_request,
)
from tests.hw.test_hostbus import ADDR_WIDTH, REGMAP, BankModel, CsrSystem, idle, random_access

DIVISOR = 4


class Clock:
    """Counts cycles from the start of the simulation (a background testbench)."""

    def __init__(self):
        self.now = 0

    async def run(self, ctx):
        async for _ in ctx.tick():
            self.now += 1


class SerialHost:
    """The host's end of the line: drives `rx` bit by bit, and samples `tx` into `received`
    (with each byte's start-bit cycle in `starts`) from a background testbench."""

    def __init__(self, rx, tx, divisor, clock):
        self.rx, self.tx, self.divisor, self.clock = rx, tx, divisor, clock
        self.received = bytearray()
        self.starts = []
        self.bad_stop_bits = 0

    async def sample(self, ctx):
        while True:
            while ctx.get(self.tx):
                await ctx.tick()
            start = self.clock.now
            await ctx.tick().repeat(self.divisor // 2)       # middle of the start bit
            assert ctx.get(self.tx) == 0, "start bit shorter than half a bit"
            byte = 0
            for bit in range(8):
                await ctx.tick().repeat(self.divisor)
                byte |= ctx.get(self.tx) << bit
            await ctx.tick().repeat(self.divisor)
            self.bad_stop_bits += ctx.get(self.tx) == 0
            self.received.append(byte)
            self.starts.append(start)

    async def send_byte(self, ctx, byte, stop=1):
        for bit in [0, *((byte >> i) & 1 for i in range(8)), stop]:
            ctx.set(self.rx, bit)
            await ctx.tick().repeat(self.divisor)
        ctx.set(self.rx, 1)

    async def send(self, ctx, frame: bytes, gap_bits=0):
        for byte in frame:
            await self.send_byte(ctx, byte)
            await idle(ctx, gap_bits * self.divisor)

    async def recv(self, ctx, n, limit=4000) -> bytes:
        for _ in range(limit):
            if len(self.received) >= n:
                frame = bytes(self.received[:n])
                del self.received[:n]
                return frame
            await ctx.tick()
        raise AssertionError(f"{n} bytes expected, {len(self.received)} received")

    async def transact(self, ctx, op, addr, data=0) -> tuple[int, int]:
        await self.send(ctx, encode_request(op, addr, data))
        return decode_response(await self.recv(ctx, RESPONSE_BYTES))


def run_bridge(script, **bridge_args):
    """`script(ctx, host, bridge)` against a UartBridge -> CsrArbiter -> CsrBank."""
    bridge = UartBridge(DIVISOR, ADDR_WIDTH, **bridge_args)
    dut = CsrSystem(hosts=[bridge])
    clock = Clock()
    host = SerialHost(bridge.rx, bridge.tx, DIVISOR, clock)

    async def bench(ctx):
        await ctx.tick().repeat(3)
        await script(ctx, host, bridge)
        await ctx.tick().repeat(4)                           # counters lag two cycles
        assert host.bad_stop_bits == 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(clock.run, background=True)
    sim.add_testbench(host.sample, background=True)
    sim.add_testbench(bench)
    sim.run()
    return bridge


def counters(ctx, bridge):
    return {name: ctx.get(getattr(bridge, name))
            for name in ("crc_errors", "framing_errors", "dropped_bytes", "requests")}


# --- the bridge ---------------------------------------------------------------------------------

def test_random_reads_and_writes_match_the_register_model():
    rng = random.Random(3)
    model = BankModel()
    log = {}

    async def script(ctx, host, bridge):
        for _ in range(30):
            write, addr, data = random_access(rng)
            status, value = await host.transact(ctx, OP_WRITE if write else OP_READ, addr, data)
            assert status == STATUS_OK
            if write:
                model.write(addr, data)
                assert value == data                         # echoed
            else:
                assert value == model.read(addr), f"read of word {addr}"
        await ctx.tick().repeat(4)
        log.update(counters(ctx, bridge))

    run_bridge(script)
    assert log == {"crc_errors": 0, "framing_errors": 0, "dropped_bytes": 0, "requests": 30}
    assert model.bad_writes > 0


def test_back_to_back_requests_are_each_answered_in_order():
    """The host need not wait: each response is sent while the next request arrives."""
    address = REGMAP["blk_word"].address
    seen = {}

    async def script(ctx, host, bridge):
        requests = [encode_request(OP_WRITE, address, 0x1111), encode_request(OP_READ, address),
                    encode_request(OP_WRITE, address, 0x2222), encode_request(OP_READ, address)]
        await host.send(ctx, b"".join(requests))
        frames = await host.recv(ctx, len(requests) * RESPONSE_BYTES)
        seen["answers"] = [decode_response(frames[i:i + RESPONSE_BYTES])
                           for i in range(0, len(frames), RESPONSE_BYTES)]

    run_bridge(script)
    assert seen["answers"] == [(STATUS_OK, 0x1111)] * 2 + [(STATUS_OK, 0x2222)] * 2


def test_round_trip_latency():
    """Cycles from a request's first bit on the wire to the end of its response's last bit."""
    trips = {}

    async def script(ctx, host, bridge):
        for op, name in ((OP_WRITE, "write"), (OP_READ, "read")):
            begin = host.clock.now
            status, value = await host.transact(ctx, op, REGMAP["blk_word"].address, 0xC0FFEE)
            assert (status, value) == (STATUS_OK, 0xC0FFEE)
            trips[name] = host.starts[-1] + BITS_PER_BYTE * DIVISOR - begin
            trips[f"{name}_turnaround"] = (host.starts[-RESPONSE_BYTES] - begin
                                           - REQUEST_BYTES * BITS_PER_BYTE * DIVISOR)

    run_bridge(script)
    wire = (REQUEST_BYTES + RESPONSE_BYTES) * BITS_PER_BYTE * DIVISOR
    # The bridge's own part: from the end of the request's stop bit to the response start bit,
    # the bank's latency and the bridge's and the arbiter's cycles around it.
    turnaround = BANK_LATENCY + 7
    assert trips == {"write": wire + turnaround, "read": wire + turnaround,
                     "write_turnaround": turnaround, "read_turnaround": turnaround}


def test_bad_crc_is_answered_and_not_executed():
    address = REGMAP["blk_word"].address
    seen = {}

    async def script(ctx, host, bridge):
        frame = bytearray(encode_request(OP_WRITE, address, 0xDEADBEEF))
        frame[-1] ^= 0x01
        await host.send(ctx, frame)
        seen["bad"] = decode_response(await host.recv(ctx, RESPONSE_BYTES))
        frame = bytearray(encode_request(OP_WRITE, address, 0xDEADBEEF))
        frame[4] ^= 0x80                                     # a data bit flipped on the line
        await host.send(ctx, frame)
        seen["flipped"] = decode_response(await host.recv(ctx, RESPONSE_BYTES))
        seen["after"] = await host.transact(ctx, OP_READ, address)
        await ctx.tick().repeat(4)
        seen["counters"] = counters(ctx, bridge)

    run_bridge(script)
    assert seen["bad"] == (STATUS_BAD_CRC, 0)
    assert seen["flipped"] == (STATUS_BAD_CRC, 0)
    assert seen["after"] == (STATUS_OK, REGMAP["blk_word"].register.reset)
    assert seen["counters"] == {"crc_errors": 2, "framing_errors": 0, "dropped_bytes": 0,
                                "requests": 1}


def test_bad_op_and_bad_address_are_answered_and_not_executed():
    address = REGMAP["blk_word"].address
    seen = {}

    async def script(ctx, host, bridge):
        seen["op"] = await host.transact(ctx, 0x03, address, 0x11111111)
        seen["zero_op"] = await host.transact(ctx, 0x00, address, 0x11111111)
        # 6-bit bus: word 64 + address would alias onto the register if the bits were dropped.
        seen["address"] = await host.transact(ctx, OP_WRITE, (1 << ADDR_WIDTH) + address, 7)
        seen["top"] = await host.transact(ctx, OP_READ, 0xFFFF)
        seen["after"] = await host.transact(ctx, OP_READ, address)
        seen["bad_writes"] = await host.transact(ctx, OP_READ, 0)
        await ctx.tick().repeat(4)
        seen["requests"] = ctx.get(bridge.requests)

    run_bridge(script)
    assert seen == {"op": (STATUS_BAD_OP, 0), "zero_op": (STATUS_BAD_OP, 0),
                    "address": (STATUS_BAD_ADDRESS, 0), "top": (STATUS_BAD_ADDRESS, 0),
                    "after": (STATUS_OK, REGMAP["blk_word"].register.reset),
                    "bad_writes": (STATUS_OK, 0), "requests": 2}


def test_bytes_between_frames_are_skipped_and_counted():
    rng = random.Random(5)
    model = BankModel()
    seen = {"garbage": 0}

    async def script(ctx, host, bridge):
        for _ in range(6):
            garbage = bytes(rng.choice([b for b in range(256) if b != SYNC_REQUEST])
                            for _ in range(rng.randrange(4)))
            await host.send(ctx, garbage, gap_bits=rng.choice([0, 3]))
            seen["garbage"] += len(garbage)
            write, addr, data = random_access(rng)
            status, value = await host.transact(ctx, OP_WRITE if write else OP_READ, addr, data)
            assert status == STATUS_OK
            if write:
                model.write(addr, data)
            else:
                assert value == model.read(addr)
        await ctx.tick().repeat(4)
        seen["counters"] = counters(ctx, bridge)

    run_bridge(script)
    assert seen["garbage"] > 0
    assert seen["counters"] == {"crc_errors": 0, "framing_errors": 0,
                                "dropped_bytes": seen["garbage"], "requests": 6}


def test_truncated_frame_is_discarded_after_the_timeout():
    address = REGMAP["blk_word"].address
    timeout_bits = 16
    seen = {}

    async def script(ctx, host, bridge):
        await host.send(ctx, encode_request(OP_WRITE, address, 0x0BAD0BAD)[:6])
        await idle(ctx, (timeout_bits + 2) * DIVISOR)        # silence: the partial frame goes
        seen["no_answer"] = len(host.received)
        seen["write"] = await host.transact(ctx, OP_WRITE, address, 0x600D600D)
        seen["read"] = await host.transact(ctx, OP_READ, address)
        await ctx.tick().repeat(4)
        seen["counters"] = counters(ctx, bridge)

    run_bridge(script, timeout_bits=timeout_bits)
    assert seen == {"no_answer": 0, "write": (STATUS_OK, 0x600D600D),
                    "read": (STATUS_OK, 0x600D600D),
                    "counters": {"crc_errors": 0, "framing_errors": 0, "dropped_bytes": 6,
                                 "requests": 2}}


def test_gaps_within_the_timeout_keep_the_frame():
    address = REGMAP["blk_mode"].address
    timeout_bits = 16
    seen = {}

    async def script(ctx, host, bridge):
        await host.send(ctx, encode_request(OP_WRITE, address, 0x3C), gap_bits=timeout_bits)
        seen["write"] = decode_response(await host.recv(ctx, RESPONSE_BYTES))
        seen["read"] = await host.transact(ctx, OP_READ, address)

    run_bridge(script, timeout_bits=timeout_bits)
    assert seen == {"write": (STATUS_OK, 0x3C), "read": (STATUS_OK, 0x3C)}


def test_framing_error_is_counted_and_the_bridge_recovers():
    address = REGMAP["blk_mode"].address
    seen = {}

    async def script(ctx, host, bridge):
        await host.send_byte(ctx, 0x00, stop=0)              # a break-like byte
        await ctx.tick().repeat(4 * DIVISOR)
        seen["write"] = await host.transact(ctx, OP_WRITE, address, 0x77)
        seen["read"] = await host.transact(ctx, OP_READ, address)
        await ctx.tick().repeat(4)
        seen["counters"] = counters(ctx, bridge)

    run_bridge(script)
    assert seen == {"write": (STATUS_OK, 0x77), "read": (STATUS_OK, 0x77),
                    "counters": {"crc_errors": 0, "framing_errors": 1, "dropped_bytes": 0,
                                 "requests": 2}}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"divisor": 3}, "divisor must be an integer of at least 4, not 3"),
    ({"divisor": 4.0}, "divisor must be an integer of at least 4, not 4.0"),
    ({"addr_width": 17}, "addr_width must be 1..16, not 17"),
    ({"addr_width": 0}, "addr_width must be 1..16, not 0"),
    ({"timeout_bits": 0}, "timeout_bits must be a positive integer, not 0"),
])
def test_bridge_arguments_are_validated(kwargs, message):
    with pytest.raises(TypeError, match=message):
        UartBridge(**({"divisor": 4} | kwargs))


@pytest.mark.parametrize("block", [UartRx, UartTx])
def test_divisor_is_validated(block):
    with pytest.raises(TypeError, match="divisor must be an integer of at least 4, not 2"):
        block(2)


# --- receiver and transmitter -------------------------------------------------------------------

class Loopback(wiring.Component):
    def __init__(self, divisor):
        self.tx = UartTx(divisor)
        self.rx = UartRx(divisor)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = self.tx
        m.submodules.rx = self.rx
        m.d.comb += self.rx.rx.eq(self.tx.tx)
        return m


@pytest.mark.parametrize("divisor", [4, 7])
def test_loopback_of_random_bytes(divisor):
    rng = random.Random(divisor)
    sent = [rng.randrange(256) for _ in range(40)]
    dut = Loopback(divisor)
    got, taken, errors = [], [], []

    async def producer(ctx):
        stream = dut.tx.i_byte
        for cycle in range(100_000):
            if not sent[len(taken):]:
                break
            ctx.set(stream.valid, rng.random() < 0.7)       # sometimes late: idle line
            ctx.set(stream.payload, sent[len(taken)])
            if ctx.get(stream.valid) and ctx.get(stream.ready):
                taken.append(cycle)
            await ctx.tick()
        ctx.set(stream.valid, 0)
        await ctx.tick().repeat(12 * divisor)

    async def consumer(ctx):
        ctx.set(dut.rx.o_byte.ready, 1)
        while True:
            if ctx.get(dut.rx.o_byte.valid):
                got.append(ctx.get(dut.rx.o_byte.payload))
            if ctx.get(dut.rx.framing_error) or ctx.get(dut.rx.overrun):
                errors.append("error")
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer, background=True)
    sim.run()
    assert got == sent
    assert errors == []
    gaps = [b - a for a, b in zip(taken, taken[1:], strict=False)]
    assert min(gaps) == BITS_PER_BYTE * divisor             # back to back: 10 bit times a byte
    assert max(gaps) > BITS_PER_BYTE * divisor              # and the line also went idle


def run_rx(script, divisor=DIVISOR):
    rx = UartRx(divisor)
    clock = Clock()
    host = SerialHost(rx.rx, None, divisor, clock)
    sim = Simulator(rx)
    sim.add_clock(1e-8)
    sim.add_testbench(clock.run, background=True)

    async def bench(ctx):
        await ctx.tick().repeat(2)
        await script(ctx, host, rx)

    sim.add_testbench(bench)
    sim.run()


def test_rx_holds_a_byte_until_taken_and_drops_the_next_on_overrun():
    seen = {"overrun": 0, "payloads": set()}

    async def watch(ctx, rx, cycles):
        for _ in range(cycles):
            seen["overrun"] += ctx.get(rx.overrun)
            if ctx.get(rx.o_byte.valid):
                seen["payloads"].add(ctx.get(rx.o_byte.payload))
            await ctx.tick()

    async def script(ctx, host, rx):
        await host.send_byte(ctx, 0x81)
        await host.send_byte(ctx, 0x7E)                      # arrives while 0x81 is held
        await watch(ctx, rx, 3 * DIVISOR)
        ctx.set(rx.o_byte.ready, 1)
        await ctx.tick()
        ctx.set(rx.o_byte.ready, 0)
        seen["valid_after_take"] = ctx.get(rx.o_byte.valid)

    run_rx(script)
    assert seen == {"overrun": 1, "payloads": {0x81}, "valid_after_take": 0}


def test_rx_framing_error_drops_the_byte_and_waits_for_the_line_to_go_high():
    seen = {"framing": 0, "bytes": []}

    async def script(ctx, host, rx):
        ctx.set(rx.o_byte.ready, 1)

        async def watch(cycles):
            for _ in range(cycles):
                seen["framing"] += ctx.get(rx.framing_error)
                if ctx.get(rx.o_byte.valid):
                    seen["bytes"].append(ctx.get(rx.o_byte.payload))
                await ctx.tick()

        ctx.set(rx.rx, 0)                                    # a break: low for 30 bit times
        await watch(30 * DIVISOR)
        ctx.set(rx.rx, 1)
        await watch(2 * DIVISOR)
        for bit in [0, 0, 1, 0, 1, 0, 1, 0, 1, 1]:          # 0xAA, good stop bit
            ctx.set(rx.rx, bit)
            await watch(DIVISOR)
        await watch(3 * DIVISOR)

    run_rx(script)
    assert seen == {"framing": 1, "bytes": [0xAA]}


def test_rx_ignores_a_glitch_shorter_than_half_a_bit():
    seen = {"valid": 0, "framing": 0}

    async def script(ctx, host, rx):
        ctx.set(rx.o_byte.ready, 1)
        ctx.set(rx.rx, 0)
        await ctx.tick()
        ctx.set(rx.rx, 1)
        for _ in range(12 * DIVISOR):
            seen["valid"] += ctx.get(rx.o_byte.valid)
            seen["framing"] += ctx.get(rx.framing_error)
            await ctx.tick()

    run_rx(script, divisor=8)
    assert seen == {"valid": 0, "framing": 0}


# --- host helpers -------------------------------------------------------------------------------

def test_crc16_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == 0xFFFF


def test_request_layout():
    frame = encode_request(OP_WRITE, 0x1234, 0xA1B2C3D4)
    assert len(frame) == REQUEST_BYTES
    assert frame[:8] == bytes([SYNC_REQUEST, OP_WRITE, 0x12, 0x34, 0xA1, 0xB2, 0xC3, 0xD4])
    assert frame[8:] == crc16(frame[1:8]).to_bytes(2, "big")
    assert encode_request(OP_READ, 5)[4:8] == bytes(4)
    # Without reflection or a final XOR, the CRC over the message and its CRC is zero.
    assert crc16(frame[1:]) == 0


def test_response_round_trip():
    body = struct.pack(">BI", STATUS_OK, 0xCAFEF00D)
    frame = bytes([SYNC_RESPONSE]) + body + crc16(body).to_bytes(2, "big")
    assert decode_response(frame) == (STATUS_OK, 0xCAFEF00D)


@pytest.mark.parametrize(("frame", "message"), [
    (bytes(7), "a response is 8 bytes, not 7"),
    (bytes([0x55]) + bytes(7), "response sync byte is 0x55, not 0xaa"),
    (bytes([SYNC_RESPONSE]) + bytes(7), "response CRC is 0x0000, computed 0x"),
])
def test_decode_response_refuses_bad_frames(frame, message):
    with pytest.raises(ValueError, match=message):
        decode_response(frame)


@pytest.mark.parametrize(("args", "message"), [
    ((256, 0), "op must be a byte, not 256"),
    ((OP_READ, 1 << 16), "word address must be 0..0xffff, not 65536"),
    ((OP_WRITE, 0, -1), "data must be a 32-bit unsigned word, not -1"),
])
def test_encode_request_refuses_bad_fields(args, message):
    with pytest.raises(ValueError, match=message):
        encode_request(*args)
