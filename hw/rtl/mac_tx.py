"""Gigabit Ethernet MAC, transmit side: frame bytes in, GMII out.

Data flow: the NIC's frame path (UDP egress) -> clock-domain crossing -> `MacTx` -> GMII ->
`hw.rtl.rgmii` (DDR output registers) -> RGMII pins. `MacTx` runs in the transmit clock; it is
written in `sync` and the parent renames the domain (`DomainRenamer`).
"""

from amaranth import Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.crc32 import INIT, crc32_byte
from hw.rtl.records import MacByte
from spec.ethernet import FCS_BYTES, IFG_BYTES, MIN_FRAME, PREAMBLE, SFD

#: Cycles from `i_byte.valid` rising (MAC idle, gap done) to the first preamble byte on tx_data.
START_LATENCY = 1
#: Cycles from a byte taken on `i_byte` to that byte on `tx_data`.
LATENCY = 1
#: Cycles from `i_byte.valid` rising (MAC idle) to the frame's first byte being taken.
FIRST_TAKEN = len(PREAMBLE) + 1

_PREAMBLE_BYTE = PREAMBLE[0]
#: A frame's bytes before the FCS are padded with zeros to this length.
_PADDED = MIN_FRAME - FCS_BYTES


class MacTx(wiring.Component):
    """GMII transmitter at 1 Gb/s: preamble, SFD, pad, FCS, inter-frame gap.

    A frame starts when `i_byte.valid` is 1 while the MAC is idle: the MAC sends 7 preamble
    bytes and the SFD (bytes are not taken meanwhile; a stream producer holds `valid`), then
    takes one byte per clock (`i_byte.ready` 1) until the byte with `last`, pads with zero
    bytes to 60, sends the FCS (4 bytes, least significant first) and keeps `tx_en` low for
    IFG_BYTES (12) cycles before the next preamble. Bytes past MAX_FRAME are not refused: the
    producer sizes frames.

    Latency: the first preamble byte is on `tx_data` START_LATENCY (1) cycle after `valid`
    rose; the first byte is taken FIRST_TAKEN (8) cycles after that rise; a byte taken in cycle
    t is on `tx_data` in cycle t + LATENCY (1).
    Rate: one byte per clock while a frame is sent; between frames the preamble, pad, FCS and
    gap cost 8 + pad + 4 + 12 cycles in which `ready` is 0.
    Backpressure: none on the MAC's side once a frame started: the producer must offer a byte
    every cycle until `last`.
    Reset: idle (`tx_en`, `tx_er` low), no gap owed.

    Bad input: `valid` low in a cycle where a byte is due (underrun), or a byte with `error`:
    the frame is aborted: `tx_er` is 1 with `tx_en` from that byte time to the frame's end,
    and the frame ends with a wrong FCS (the register not complemented), so no receiver takes
    it; no pad. Input bytes are then taken and thrown away up to the frame's `last` (not the
    erroring byte's frame again if that byte had `last`), while the FCS and gap go out.
    `underrun` pulses for 1 cycle (with the first `tx_er` byte) for an underrun, not for an
    `error` byte.
    """

    i_byte: In(stream.Signature(MacByte))
    tx_data: Out(8)
    tx_en: Out(1)
    tx_er: Out(1)
    underrun: Out(1)

    def elaborate(self, platform):
        m = Module()

        step = Signal(range(max(len(PREAMBLE) + 1, IFG_BYTES, _PADDED + 1)))
        crc = Signal(32, init=INIT)
        aborting = Signal()         # the frame under way is aborted: tx_er to its end
        discard = Signal()          # throw input bytes away up to a `last`

        byte = self.i_byte.p
        taking_to_discard = Signal()
        m.d.comb += taking_to_discard.eq(discard & self.i_byte.valid & self.i_byte.ready)

        m.d.sync += [self.underrun.eq(0), self.tx_er.eq(0), self.tx_en.eq(0),
                     self.tx_data.eq(0)]
        with m.If(taking_to_discard & byte.last):
            m.d.sync += discard.eq(0)

        with m.FSM(init="IDLE"):
            with m.State("IDLE"):
                m.d.comb += self.i_byte.ready.eq(discard)
                with m.If(self.i_byte.valid & ~discard):
                    m.d.sync += [self.tx_en.eq(1), self.tx_data.eq(_PREAMBLE_BYTE),
                                 step.eq(1), crc.eq(INIT), aborting.eq(0)]
                    m.next = "PREAMBLE"
            with m.State("PREAMBLE"):
                m.d.sync += [self.tx_en.eq(1), step.eq(step + 1)]
                with m.If(step == len(PREAMBLE)):
                    m.d.sync += [self.tx_data.eq(SFD), step.eq(0)]
                    m.next = "DATA"
                with m.Else():
                    m.d.sync += self.tx_data.eq(_PREAMBLE_BYTE)
            with m.State("DATA"):
                m.d.comb += self.i_byte.ready.eq(1)
                m.d.sync += [
                    self.tx_en.eq(1),
                    self.tx_data.eq(byte.data),
                    crc.eq(crc32_byte(crc, byte.data)),
                ]
                with m.If(step != _PADDED):
                    m.d.sync += step.eq(step + 1)
                with m.If(~self.i_byte.valid | byte.error):
                    # The receiver must not take this frame: tx_er now, a wrong FCS at the end.
                    m.d.sync += [self.tx_er.eq(1), aborting.eq(1), step.eq(0),
                                 self.underrun.eq(~self.i_byte.valid),
                                 discard.eq(~(self.i_byte.valid & byte.last))]
                    m.next = "FCS"
                with m.Elif(byte.last):
                    with m.If(step >= _PADDED - 1):
                        m.d.sync += step.eq(0)
                        m.next = "FCS"
                    with m.Else():
                        m.next = "PAD"
            with m.State("PAD"):
                m.d.comb += self.i_byte.ready.eq(discard)
                m.d.sync += [self.tx_en.eq(1), self.tx_data.eq(0),
                             crc.eq(crc32_byte(crc, Const(0, 8))), step.eq(step + 1)]
                with m.If(step == _PADDED - 1):
                    m.d.sync += step.eq(0)
                    m.next = "FCS"
            with m.State("FCS"):
                m.d.comb += self.i_byte.ready.eq(discard)
                # Shift the register out a byte at a time; an aborted frame's is not
                # complemented, which is never the right FCS.
                m.d.sync += [
                    self.tx_en.eq(1),
                    self.tx_er.eq(aborting),
                    self.tx_data.eq(crc[:8] ^ ~aborting.replicate(8)),
                    crc.eq(crc >> 8),
                    step.eq(step + 1),
                ]
                with m.If(step == FCS_BYTES - 1):
                    m.d.sync += step.eq(0)
                    m.next = "GAP"
            with m.State("GAP"):
                m.d.comb += self.i_byte.ready.eq(discard)
                m.d.sync += step.eq(step + 1)
                with m.If(step == IFG_BYTES - 1):
                    m.next = "IDLE"
        return m
