"""UART host link: the card's registers over a serial line (bring-up, lab, out-of-band access).

Data flow: host serial port -> `UartRx` -> request parser -> `CsrPort` (-> `hw.rtl.hostbus.
CsrArbiter` -> `hw.rtl.csr.CsrBank`) -> response -> `UartTx` -> host. The frame format is defined
once, here: the constants and the pure-Python `crc16`, `encode_request` and `decode_response`
are what the host driver imports, so the host never re-types the protocol.

Request (host -> card), 10 bytes, multi-byte fields big-endian:
  SYNC_REQUEST, op (OP_READ / OP_WRITE), word address (2), data (4, zeros for a read), CRC (2)
Response (card -> host), 8 bytes:
  SYNC_RESPONSE, status (STATUS_*), data (4: the read data, the written data echoed, or zeros
  on error), CRC (2)
The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, init 0xFFFF, not reflected, no final XOR)
over the bytes between the sync byte and the CRC. Every request that arrives whole gets exactly
one response; one with a bad CRC or a bad op is not executed, so the host may simply retry it.
"""

import binascii
import struct

from amaranth import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.csr import WORD_BITS, count_events
from hw.rtl.hostbus import CsrPort

SYNC_REQUEST = 0x55
SYNC_RESPONSE = 0xAA
OP_READ = 0x01
OP_WRITE = 0x02
STATUS_OK = 0x00
STATUS_BAD_CRC = 0x01
STATUS_BAD_OP = 0x02
STATUS_BAD_ADDRESS = 0x03       # the word address does not fit the bridge's `addr_width`
REQUEST_BYTES = 10
RESPONSE_BYTES = 8
#: Address bits on the wire; a bridge with a narrower bus refuses the addresses it cannot reach.
WIRE_ADDR_BITS = 16
#: Bits on the line per byte: start, 8 data, stop (8N1).
BITS_PER_BYTE = 10

_CRC_POLY = 0x1021
_CRC_INIT = 0xFFFF

#: A request after its sync byte, as the parser's shift register holds it (first byte on the
#: wire at the top, so fields are listed least significant first).
RequestBody = data.StructLayout({"crc": 16, "data": 32, "addr": 16, "op": 8})


# --- host side (pure Python) -------------------------------------------------------------------

def crc16(payload: bytes) -> int:
    """CRC-16/CCITT-FALSE of `payload` (check value: 0x29B1 for b"123456789")."""
    return binascii.crc_hqx(payload, _CRC_INIT)


def encode_request(op: int, addr: int, data: int = 0) -> bytes:
    """The 10-byte request frame. `op` is not checked against OP_*: the card answers a bad op
    with STATUS_BAD_OP, and tests need to send one."""
    if not 0 <= op <= 0xFF:
        raise ValueError(f"op must be a byte, not {op!r}")
    if not 0 <= addr < 1 << WIRE_ADDR_BITS:
        raise ValueError(f"word address must be 0..0xffff, not {addr!r}")
    if not 0 <= data < 1 << WORD_BITS:
        raise ValueError(f"data must be a 32-bit unsigned word, not {data!r}")
    body = struct.pack(">BHI", op, addr, data)
    return bytes([SYNC_REQUEST]) + body + struct.pack(">H", crc16(body))


def decode_response(frame: bytes) -> tuple[int, int]:
    """(status, data) of an 8-byte response frame; ValueError if it is not one."""
    if len(frame) != RESPONSE_BYTES:
        raise ValueError(f"a response is {RESPONSE_BYTES} bytes, not {len(frame)}")
    if frame[0] != SYNC_RESPONSE:
        raise ValueError(f"response sync byte is 0x{frame[0]:02x}, not 0x{SYNC_RESPONSE:02x}")
    status, value, crc = struct.unpack(">BIH", frame[1:])
    if crc != crc16(frame[1:6]):
        raise ValueError(f"response CRC is 0x{crc:04x}, computed 0x{crc16(frame[1:6]):04x}")
    return status, value


# --- gateware ----------------------------------------------------------------------------------

def _check_divisor(divisor):
    if not isinstance(divisor, int) or divisor < 4:
        # Four cycles per bit leave a mid-bit sample clear of the synchroniser's jitter.
        raise TypeError(f"divisor must be an integer of at least 4, not {divisor!r}")


def crc16_update(crc: Value, byte: Value) -> Value:
    """CRC-16/CCITT-FALSE register after one more byte: the bit-serial loop, unrolled.

    Bytewise rather than bit-serial: one cycle per byte needs no bit sequencer and never makes
    a byte wait for the previous byte's eight cycles; it costs a few dozen XOR gates, and a
    UART byte takes at least 40 cycles, so neither choice is pressed for area or time.
    """
    for i in reversed(range(8)):              # most significant bit first: not reflected
        feedback = crc[15] ^ byte[i]
        crc = Cat(Const(0, 1), crc[:15]) ^ Mux(feedback, _CRC_POLY, 0)
    return crc


class UartRx(wiring.Component):
    """Receives 8N1 bytes from `rx` (`divisor` clock cycles per bit, an int >= 4).

    `rx` goes through a two-flop synchroniser (it idles high). A start bit is detected on the
    first low sample and confirmed half a bit later (a shorter low pulse is a glitch, ignored);
    each data bit and the stop bit are sampled in the middle of their bit time.
    Latency: a byte is on `o_byte` 3 cycles after the middle of its stop bit.
    Rate: one byte per 10 bit times; the receiver hunts for the next start bit from the middle
    of the stop bit, so a sender a few percent fast is still received.
    Backpressure: `o_byte` holds a byte (valid, stable) until it is taken. The line cannot wait:
    a byte that completes while the previous one is still held is dropped and `overrun` pulses
    for one cycle (a consumer that takes a byte within 10 bit times never sees one).
    Bad input: a stop bit of 0 drops the byte and pulses `framing_error` for one cycle; the
    receiver then waits for the line to return high (a break counts once, not every 10 bits).
    Reset: idle, hunting for a start bit, no byte held.
    """

    rx: In(1, init=1)
    o_byte: Out(stream.Signature(8))
    framing_error: Out(1)
    overrun: Out(1)

    def __init__(self, divisor: int):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        half = self.divisor // 2
        # Two flops: `rx` is asynchronous to the clock. They reset to the idle (high) level.
        rx_meta = Signal(init=1)
        rx_sync = Signal(init=1)
        countdown = Signal(range(self.divisor))
        bit = Signal(range(8))
        shift = Signal(8)

        m.d.sync += [rx_meta.eq(self.rx), rx_sync.eq(rx_meta)]
        m.d.sync += [self.framing_error.eq(0), self.overrun.eq(0)]
        with m.If(self.o_byte.ready):
            m.d.sync += self.o_byte.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"), m.If(~rx_sync):
                m.d.sync += countdown.eq(half - 1)
                m.next = "START"
            with m.State("START"):
                m.d.sync += countdown.eq(countdown - 1)
                with m.If(countdown == 0):
                    with m.If(rx_sync):
                        m.next = "IDLE"               # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [countdown.eq(self.divisor - 1), bit.eq(0)]
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.sync += countdown.eq(countdown - 1)
                with m.If(countdown == 0):
                    # Least significant bit first: each sample enters at the top.
                    m.d.sync += [shift.eq(Cat(shift[1:], rx_sync)),
                                 countdown.eq(self.divisor - 1), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += countdown.eq(countdown - 1)
                with m.If(countdown == 0):
                    with m.If(~rx_sync):
                        m.d.sync += self.framing_error.eq(1)
                        m.next = "BREAK"
                    with m.Elif(self.o_byte.valid & ~self.o_byte.ready):
                        m.d.sync += self.overrun.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [self.o_byte.valid.eq(1), self.o_byte.payload.eq(shift)]
                        m.next = "IDLE"
            with m.State("BREAK"), m.If(rx_sync):
                m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """Sends 8N1 bytes on `tx` (`divisor` clock cycles per bit, an int >= 4).

    Latency: the start bit begins the cycle after `i_byte` is taken.
    Rate: back to back, one byte per 10 bit times exactly: `i_byte.ready` is high while idle and
    in the last cycle of a stop bit.
    Backpressure: `i_byte.ready` is low while a byte is on the line.
    Reset: idle, `tx` high.
    """

    i_byte: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, divisor: int):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        # The bits still to send, least significant first; ones when idle, so `tx` idles high.
        shift = Signal(BITS_PER_BYTE, init=(1 << BITS_PER_BYTE) - 1)
        bits_left = Signal(range(BITS_PER_BYTE + 1))
        countdown = Signal(range(self.divisor))

        m.d.comb += [
            self.tx.eq(shift[0]),
            self.i_byte.ready.eq((bits_left == 0) | ((bits_left == 1) & (countdown == 0))),
        ]
        with m.If(self.i_byte.valid & self.i_byte.ready):
            m.d.sync += [shift.eq(Cat(Const(0, 1), self.i_byte.payload, Const(1, 1))),
                         bits_left.eq(BITS_PER_BYTE), countdown.eq(self.divisor - 1)]
        with m.Elif(bits_left != 0):
            m.d.sync += countdown.eq(countdown - 1)
            with m.If(countdown == 0):
                m.d.sync += [shift.eq(Cat(shift[1:], Const(1, 1))), bits_left.eq(bits_left - 1),
                             countdown.eq(self.divisor - 1)]
        return m


class UartBridge(wiring.Component):
    """Executes framed register requests from the `rx` line on `csr`; answers on `tx`.

    The frame format is the module's (see its docstring and the Python helpers).
    Latency: with the CSR arbiter idle, the response's start bit begins 11 cycles after the end
    of the request's last stop bit, 13 after its middle (UartRx 3, parse and check 2, CsrPort
    access 6, response load and UartTx 2). A read or write round trip, from the request's first
    bit to the end of the response's last, is 18 bytes on the wire plus those 11 cycles: 731
    cycles at divisor 4 (tests/hw/test_uart.py pins it).
    Rate: one request at a time, but the host need not wait for a response before sending the
    next request: a response (8 bytes) is on the line before the next request (10) is in.
    Backpressure: on `csr`, it waits for `ack`. On the line there is none: the next request's
    bytes are taken while the current response is sent.
    Bad input: bytes outside a frame (before a SYNC_REQUEST) are ignored and counted in
    `dropped_bytes`; an inter-byte gap longer than `timeout_bits` bit times inside a frame
    discards the partial frame (its bytes counted in `dropped_bytes`) and the parser hunts for
    a sync byte again, so a truncated frame never poisons the next; a byte with a bad stop bit
    is dropped and counted in `framing_errors` (its frame then times out, or fails its CRC).
    A whole request with a bad CRC is answered STATUS_BAD_CRC (counted in `crc_errors`), then a
    bad op STATUS_BAD_OP, then an address with bits above `addr_width` STATUS_BAD_ADDRESS, none
    of them executed; the data field of a read is ignored. `requests` counts executed requests.
    Counters are 32 bits, wrap, and lag their event by two cycles.
    Reset: hunting for a sync byte, `tx` idle high, counters zero.
    """

    def __init__(self, divisor: int, addr_width: int = 16, timeout_bits: int = 32):
        _check_divisor(divisor)
        if not isinstance(addr_width, int) or not 1 <= addr_width <= WIRE_ADDR_BITS:
            raise TypeError(f"addr_width must be 1..{WIRE_ADDR_BITS}, not {addr_width!r}")
        if not isinstance(timeout_bits, int) or timeout_bits < 1:
            raise TypeError(f"timeout_bits must be a positive integer, not {timeout_bits!r}")
        self.divisor = divisor
        self.addr_width = addr_width
        self.timeout_bits = timeout_bits
        super().__init__({
            "rx": In(1, init=1), "tx": Out(1, init=1),
            "csr": Out(CsrPort(addr_width)),
            "crc_errors": Out(32), "framing_errors": Out(32), "dropped_bytes": Out(32),
            "requests": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = rx = UartRx(self.divisor)
        m.submodules.tx = tx = UartTx(self.divisor)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]

        # --- request parser ------------------------------------------------------------------
        byte = rx.o_byte.payload
        body = Signal(RequestBody)
        rx_crc = Signal(16)
        received = Signal(range(REQUEST_BYTES))   # bytes of the frame after its sync byte
        # A byte completes 10 bit times after the previous one plus the gap between them.
        limit = (BITS_PER_BYTE + self.timeout_bits) * self.divisor
        since_byte = Signal(range(limit + 1))
        status = Signal(8)
        result = Signal(WORD_BITS)
        hunt_drop = Signal()
        discarded = Signal(range(REQUEST_BYTES))   # bytes of a partial frame, this cycle
        executed = Signal()
        crc_error = Signal()

        high_addr = (body.addr[self.addr_width:] if self.addr_width < WIRE_ADDR_BITS
                     else Const(0))
        m.d.comb += [
            self.csr.addr.eq(body.addr[:self.addr_width]),
            self.csr.write.eq(body.op == OP_WRITE),
            self.csr.w_data.eq(body.data),
        ]

        # --- response sender (its own CRC: the next request may arrive while it sends) -------
        to_send = Signal(range(RESPONSE_BYTES + 1))
        tx_status = Signal(8)
        tx_data = Signal(WORD_BITS)
        tx_crc = Signal(16)
        index = Signal(range(RESPONSE_BYTES))
        m.d.comb += index.eq(RESPONSE_BYTES - to_send)
        wire_bytes = Array([Const(SYNC_RESPONSE, 8), tx_status,
                            *(tx_data[8 * i:8 * i + 8] for i in reversed(range(4))),
                            tx_crc[8:16], tx_crc[0:8]])
        m.d.comb += [tx.i_byte.valid.eq(to_send != 0), tx.i_byte.payload.eq(wire_bytes[index])]
        with m.If(tx.i_byte.valid & tx.i_byte.ready):
            m.d.sync += to_send.eq(to_send - 1)
            with m.If((index >= 1) & (index <= 5)):   # status and data are covered
                m.d.sync += tx_crc.eq(crc16_update(tx_crc, tx.i_byte.payload))

        with m.FSM():
            with m.State("HUNT"):
                m.d.comb += rx.o_byte.ready.eq(1)
                with m.If(rx.o_byte.valid):
                    with m.If(byte == SYNC_REQUEST):
                        m.d.sync += [rx_crc.eq(_CRC_INIT), received.eq(0), since_byte.eq(0)]
                        m.next = "RECEIVE"
                    with m.Else():
                        m.d.comb += hunt_drop.eq(1)
            with m.State("RECEIVE"):
                m.d.comb += rx.o_byte.ready.eq(1)
                with m.If(rx.o_byte.valid):
                    m.d.sync += [body.eq(Cat(byte, body.as_value()[:-8])),
                                 rx_crc.eq(crc16_update(rx_crc, byte)),
                                 received.eq(received + 1), since_byte.eq(0)]
                    with m.If(received == REQUEST_BYTES - 2):
                        m.next = "CHECK"
                with m.Elif(since_byte == limit):
                    m.d.comb += discarded.eq(received + 1)     # with its sync byte
                    m.next = "HUNT"
                with m.Else():
                    m.d.sync += since_byte.eq(since_byte + 1)
            with m.State("CHECK"):
                # The CRC register has run over the CRC field too: a good frame leaves 0.
                with m.If(rx_crc != 0):
                    m.d.comb += crc_error.eq(1)
                    m.d.sync += [status.eq(STATUS_BAD_CRC), result.eq(0)]
                    m.next = "RESPOND"
                with m.Elif((body.op != OP_READ) & (body.op != OP_WRITE)):
                    m.d.sync += [status.eq(STATUS_BAD_OP), result.eq(0)]
                    m.next = "RESPOND"
                with m.Elif(high_addr != 0):
                    m.d.sync += [status.eq(STATUS_BAD_ADDRESS), result.eq(0)]
                    m.next = "RESPOND"
                with m.Else():
                    m.d.sync += status.eq(STATUS_OK)
                    m.next = "ACCESS"
            with m.State("ACCESS"):
                m.d.comb += self.csr.valid.eq(1)
                with m.If(self.csr.ack):
                    m.d.sync += result.eq(Mux(self.csr.write, body.data, self.csr.r_data))
                    m.d.comb += executed.eq(1)
                    m.next = "RESPOND"
            with m.State("RESPOND"), m.If(to_send == 0):
                m.d.sync += [tx_status.eq(status), tx_data.eq(result), tx_crc.eq(_CRC_INIT),
                             to_send.eq(RESPONSE_BYTES)]
                m.next = "HUNT"

        count_events(m, self, {
            "crc_errors": crc_error,
            "framing_errors": rx.framing_error,
            "dropped_bytes": hunt_drop + discarded + rx.overrun,
            "requests": executed,
        })
        return m
