"""Gigabit Ethernet MAC, receive side: GMII bytes in, checked frame bytes out.

Data flow: RGMII pins -> `hw.rtl.rgmii` (DDR input registers -> GMII) -> `MacRx` -> byte packer
-> clock-domain crossing -> the NIC's frame path. `MacRx` runs in the PHY's receive clock; it is
written in `sync` and the parent renames the domain (`DomainRenamer`).
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.crc32 import INIT, crc32_byte
from hw.rtl.records import MacByte, RxVerdict
from spec.ethernet import CRC_RESIDUE, FCS_BYTES, MAX_FRAME, MIN_FRAME, PREAMBLE, SFD

#: Cycles from a byte on `rx_data` to the same byte on `o_byte` (see MacRx).
LATENCY = FCS_BYTES + 2

_PREAMBLE_BYTE = PREAMBLE[0]


class MacRx(wiring.Component):
    """GMII receiver at 1 Gb/s: preamble and SFD hunt, FCS check and strip, length checks.

    Inputs `rx_data`, `rx_dv`, `rx_er` are sampled every clock (one byte per clock).
    Output `o_byte` carries every frame byte after the SFD except the 4 FCS bytes, `first` on
    the first and `last` on the last; `o_verdict` is valid on the cycle of `last` (zero
    otherwise) and `o_byte.p.error` there is its OR: drop the frame.

    Latency: a byte on `rx_data` in cycle t is on `o_byte` in cycle t + LATENCY (6): the FCS
    is stripped by holding the last 5 bytes (4 FCS candidates and the byte in front of them,
    which becomes `last` when `rx_dv` falls), plus the output register. The last byte and its
    verdict come out 1 cycle after the first cycle with `rx_dv` low.
    Rate: one byte per clock; no backpressure (`o_byte` is always ready).
    Reset: waits for `rx_dv` low before hunting, so a frame already under way is ignored.

    Bad input:
    - no SFD (any byte other than 0x55 before 0xD5, or 0xD5 with no 0x55 before it), or
      `rx_er` during the preamble: the burst is ignored until `rx_dv` falls; nothing is emitted.
    - FCS mismatch, a frame cut short included: `crc`. Under MIN_FRAME bytes with the FCS:
      `runt` (with `crc` too if its FCS is wrong). `rx_er` with `rx_dv` during the frame:
      `phy` (the frame is still received to its end).
    - longer than MAX_FRAME bytes with the FCS: `giant`, emitted on the byte that passed the
      limit (the first MAX_FRAME - 4 bytes are emitted, the last of them with `last`, `crc` is
      not checked); the rest is ignored until `rx_dv` falls.
    - a burst with 4 or fewer bytes after the SFD has no byte to emit (they could all be FCS):
      nothing appears on `o_byte`; `o_fragment` pulses for 1 cycle (when the last byte and
      verdict would have come) so such bursts can be counted.
    """

    rx_data: In(8)
    rx_dv: In(1)
    rx_er: In(1)
    o_byte: Out(stream.Signature(MacByte, always_ready=True))
    o_verdict: Out(RxVerdict)
    o_fragment: Out(1)

    def elaborate(self, platform):
        m = Module()

        # window[0] is the newest byte; window[FCS_BYTES] the oldest, the one to emit next.
        window = [Signal(8, name=f"window{n}") for n in range(FCS_BYTES + 1)]
        count = Signal(range(MAX_FRAME + 1))      # bytes after the SFD so far, FCS included
        crc = Signal(32, init=INIT)
        phy_seen = Signal()

        emit = Signal()
        emit_last = Signal()
        emit_first = Signal()
        verdict = Signal(RxVerdict)
        fragment = Signal()

        shifted = [self.rx_data, *window[:-1]]
        # The byte that leaves the window when a new one comes is the frame byte 5 back.
        window_full = count >= FCS_BYTES + 1

        with m.FSM(init="DISCARD"):
            with m.State("DISCARD"), m.If(~self.rx_dv):
                m.next = "IDLE"
            with m.State("IDLE"), m.If(self.rx_dv):
                with m.If((self.rx_data == _PREAMBLE_BYTE) & ~self.rx_er):
                    m.next = "PREAMBLE"
                with m.Else():
                    m.next = "DISCARD"
            with m.State("PREAMBLE"):
                with m.If(~self.rx_dv):
                    m.next = "IDLE"
                with m.Elif(self.rx_er):
                    m.next = "DISCARD"
                with m.Elif(self.rx_data == SFD):
                    m.d.sync += [count.eq(0), crc.eq(INIT), phy_seen.eq(0)]
                    m.next = "FRAME"
                with m.Elif(self.rx_data != _PREAMBLE_BYTE):
                    m.next = "DISCARD"
            with m.State("FRAME"):
                with m.If(self.rx_dv):
                    m.d.sync += [
                        crc.eq(crc32_byte(crc, self.rx_data)),
                        phy_seen.eq(phy_seen | self.rx_er),
                        [w.eq(s) for w, s in zip(window, shifted, strict=True)],
                    ]
                    with m.If(count == MAX_FRAME):
                        # This byte passes the limit: end the frame on the oldest byte held.
                        m.d.comb += [emit.eq(1), emit_last.eq(1),
                                     verdict.giant.eq(1),
                                     verdict.phy.eq(phy_seen | self.rx_er)]
                        m.next = "DISCARD"
                    with m.Else():
                        m.d.sync += count.eq(count + 1)
                        m.d.comb += emit.eq(window_full)
                with m.Else():
                    m.d.comb += [
                        emit.eq(window_full), emit_last.eq(1),
                        fragment.eq(~window_full),
                        verdict.crc.eq(crc != CRC_RESIDUE),
                        verdict.runt.eq(count < MIN_FRAME),
                        verdict.phy.eq(phy_seen),
                    ]
                    m.next = "IDLE"

        m.d.comb += emit_first.eq(count == FCS_BYTES + 1)

        m.d.sync += [
            self.o_byte.valid.eq(emit),
            self.o_byte.p.data.eq(window[-1]),
            self.o_byte.p.first.eq(emit_first),
            self.o_byte.p.last.eq(emit_last),
            self.o_byte.p.error.eq(emit & emit_last & (verdict.as_value() != 0)),
            self.o_verdict.eq(Mux(emit, verdict, 0)),
            self.o_fragment.eq(fragment),
        ]
        return m
