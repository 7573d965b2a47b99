"""AXI4-Lite host access: the card's registers behind a PCIe (or SoC) AXI4-Lite manager.

Data flow: PCIe endpoint's AXI4-Lite manager -> `AxiLiteSlave` -> `CsrPort` (-> `hw.rtl.hostbus.
CsrArbiter` -> `hw.rtl.csr.CsrBank`). AXI addresses are byte addresses; the bank's are word
addresses (byte offset >> 2), as the exported register map's `byte_offset` already says.
"""

from amaranth import Module, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.csr import WORD_BITS
from hw.rtl.hostbus import CsrPort

#: Bytes per bus word: the bank is 32-bit words only.
WORD_BYTES = WORD_BITS // 8


class Resp(enum.Enum, shape=2):
    """AXI response codes (BRESP, RRESP)."""

    OKAY = 0
    EXOKAY = 1
    SLVERR = 2
    DECERR = 3


class AxiLite(wiring.Signature):
    """AXI4-Lite, 32-bit data, `addr_width`-bit byte addresses (manager view)."""

    def __init__(self, addr_width: int):
        if not isinstance(addr_width, int) or not 3 <= addr_width <= 34:
            raise TypeError(f"addr_width must be 3..34, not {addr_width!r}")
        self.addr_width = addr_width
        super().__init__({
            "awvalid": Out(1), "awready": In(1), "awaddr": Out(addr_width), "awprot": Out(3),
            "wvalid": Out(1), "wready": In(1), "wdata": Out(WORD_BITS),
            "wstrb": Out(WORD_BYTES),
            "bvalid": In(1), "bready": Out(1), "bresp": In(2),
            "arvalid": Out(1), "arready": In(1), "araddr": Out(addr_width), "arprot": Out(3),
            "rvalid": In(1), "rready": Out(1), "rdata": In(WORD_BITS), "rresp": In(2),
        })


class AxiLiteSlave(wiring.Component):
    """Serves AXI4-Lite reads and writes on a CsrPort, one at a time.

    Write: AW and W are taken in either order or together (each is held in its own register);
    with both held, the word is written on `csr` and then answered on B. Read: AR is held, read
    on `csr`, answered on R. At most one write and one read are outstanding: `awready` and
    `wready` stay low from their beat until its B is taken, `arready` from AR until R is taken.
    A pending read and a pending write are served alternately, so neither starves: the one just
    served cannot be pending again before its response is taken.
    Latency: with `csr` served by an idle `CsrArbiter` (5 cycles), `bvalid` rises 8 cycles after
    AW and W are both presented (together), `rvalid` 8 cycles after AR.
    Rate: one transaction per 9 cycles at best (the next beat is taken the cycle after B or R).
    Backpressure: `bvalid` with `bresp`, and `rvalid` with `rdata` and `rresp`, are registered
    and held stable until `bready` / `rready`.
    Bad input: the CSR bank is word only, so a write whose `wstrb` is not 0b1111, or any access
    whose address is not a multiple of 4, is not performed and is answered SLVERR (read data
    0). `awprot` and `arprot` are ignored. Addresses outside the register map are the bank's:
    reads return 0, writes are ignored and counted (`csr_bad_writes`), both answered OKAY.
    Reset: nothing held, no response pending. A read and a write taken in the same cycle: the
    read goes first.
    """

    def __init__(self, addr_width: int = 18):
        if not isinstance(addr_width, int) or not 3 <= addr_width <= 34:
            raise TypeError(f"addr_width must be 3..34, not {addr_width!r}")
        self.addr_width = addr_width
        super().__init__({
            "axi": In(AxiLite(addr_width)),
            "csr": Out(CsrPort(addr_width - 2)),
        })

    def elaborate(self, platform):
        m = Module()
        axi = self.axi
        aw_held, w_held, ar_held = Signal(), Signal(), Signal()
        aw_addr = Signal(self.addr_width)
        ar_addr = Signal(self.addr_width)
        w_data = Signal(WORD_BITS)
        w_strb = Signal(WORD_BYTES)

        write_pending = aw_held & w_held
        write_bad = (w_strb != 0b1111) | (aw_addr[:2] != 0)
        read_bad = ar_addr[:2] != 0

        m.d.comb += [
            axi.awready.eq(~aw_held), axi.wready.eq(~w_held), axi.arready.eq(~ar_held),
            self.csr.w_data.eq(w_data),
        ]
        with m.If(axi.awvalid & axi.awready):
            m.d.sync += [aw_held.eq(1), aw_addr.eq(axi.awaddr)]
        with m.If(axi.wvalid & axi.wready):
            m.d.sync += [w_held.eq(1), w_data.eq(axi.wdata), w_strb.eq(axi.wstrb)]
        with m.If(axi.arvalid & axi.arready):
            m.d.sync += [ar_held.eq(1), ar_addr.eq(axi.araddr)]

        with m.FSM():
            with m.State("IDLE"):
                # A transaction's registers are freed only when its response is taken, so in
                # this state the one served last is never pending again yet: the other kind,
                # if pending, goes next. Ties (both taken in the same cycle) go to the read.
                with m.If(ar_held):
                    with m.If(read_bad):
                        m.d.sync += [axi.rresp.eq(Resp.SLVERR), axi.rdata.eq(0)]
                        m.next = "R"
                    with m.Else():
                        m.next = "READ"
                with m.Elif(write_pending):
                    with m.If(write_bad):
                        m.d.sync += axi.bresp.eq(Resp.SLVERR)
                        m.next = "B"
                    with m.Else():
                        m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += [self.csr.valid.eq(1), self.csr.write.eq(1),
                             self.csr.addr.eq(aw_addr[2:])]
                with m.If(self.csr.ack):
                    m.d.sync += axi.bresp.eq(Resp.OKAY)
                    m.next = "B"
            with m.State("READ"):
                m.d.comb += [self.csr.valid.eq(1), self.csr.addr.eq(ar_addr[2:])]
                with m.If(self.csr.ack):
                    m.d.sync += [axi.rresp.eq(Resp.OKAY), axi.rdata.eq(self.csr.r_data)]
                    m.next = "R"
            with m.State("B"):
                m.d.comb += axi.bvalid.eq(1)
                with m.If(axi.bready):
                    m.d.sync += [aw_held.eq(0), w_held.eq(0)]
                    m.next = "IDLE"
            with m.State("R"):
                m.d.comb += axi.rvalid.eq(1)
                with m.If(axi.rready):
                    m.d.sync += ar_held.eq(0)
                    m.next = "IDLE"
        return m
