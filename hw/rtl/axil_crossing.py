"""The host's register bus carried from the PCIe shell's clock into the fast path's.

Data flow (hw/rtl/opennic_box.py): OpenNIC shell AXI4-Lite (axil, 125 MHz) -> AxiLiteCrossing
-> (sync) Nic.axi -> AxiLiteSlave -> CSR bank.

One transaction at a time, by a two-phase (toggle) handshake: the slave side holds the
request (kind, address, data, strobes) in registers and flips `req`; the master side sees the
flip through a two-flop synchroniser, runs the transaction, holds the response in registers
and flips `ack`; the slave side sees that flip through its own synchroniser and answers. Each
held word is stable for the whole time its toggle takes to cross, so only the one-bit toggles
need synchronisers (the XDC bounds the held words' paths with a max delay).
"""

from amaranth import Module, Signal
from amaranth.lib import cdc, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.axil import WORD_BYTES, AxiLite
from hw.rtl.csr import WORD_BITS


class AxiLiteCrossing(wiring.Component):
    """AXI4-Lite slave `s_axi` in domain `s_domain`, master `m_axi` in `m_domain`.

    Latency: with a master-side slave answering in L cycles, a response is valid on `s_axi`
    about 1 + 3 slave-side cycles + L + 4 master-side cycles after its request is taken (two
    synchroniser flops and an edge detect each way, plus one register on each side).
    Rate: one transaction at a time; the next is taken the cycle after the response.
    Backpressure: `awready`, `wready` and `arready` are high only in the idle state; a write
    is taken when AW and W are both valid (together, in one cycle; AXI lets a slave wait
    for both), a read when AR is valid; a read pending with a write goes first. Responses are
    registered and held until taken. On `m_axi`, AW and W are offered together and each
    dropped once taken; `bready`/`rready` are high while waiting.
    Bad input: none is judged here: addresses, strobes and responses pass unchanged (the
    master side's slave answers SLVERR for what it refuses). `awprot`/`arprot` pass through.
    Reset: idle, both toggles 0. Both domains must be reset together (the toggles of one side
    are compared with the other's): the OpenNIC box resets all three from one source.
    """

    def __init__(self, addr_width: int, *, s_domain: str = "axil", m_domain: str = "sync"):
        if not isinstance(addr_width, int) or isinstance(addr_width, bool) \
                or not 3 <= addr_width <= 34:
            raise TypeError(f"addr_width must be 3..34, not {addr_width!r}")
        if s_domain == m_domain:
            raise ValueError(f"s_domain and m_domain must differ (both {s_domain!r}): a "
                             f"crossing within one clock is only latency")
        self.addr_width = addr_width
        self.s_domain = s_domain
        self.m_domain = m_domain
        super().__init__({
            "s_axi": In(AxiLite(addr_width)),
            "m_axi": Out(AxiLite(addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        s, mst = self.s_axi, self.m_axi
        sd, md = m.d[self.s_domain], m.d[self.m_domain]

        # Request words, held by the slave side from the toggle until the answer.
        req = Signal()
        write = Signal()
        addr = Signal(self.addr_width)
        prot = Signal(3)
        wdata = Signal(WORD_BITS)
        wstrb = Signal(WORD_BYTES)
        # Response words, held by the master side from its toggle until the next request.
        ack = Signal()
        resp = Signal(2)
        rdata = Signal(WORD_BITS)

        req_m = Signal()
        ack_s = Signal()
        m.submodules.req_sync = cdc.FFSynchronizer(req, req_m, o_domain=self.m_domain)
        m.submodules.ack_sync = cdc.FFSynchronizer(ack, ack_s, o_domain=self.s_domain)

        # --- slave side ---------------------------------------------------------------------
        with m.FSM(domain=self.s_domain, name="slave"):
            with m.State("IDLE"):
                m.d.comb += [s.arready.eq(1),
                             s.awready.eq(~s.arvalid & s.awvalid & s.wvalid),
                             s.wready.eq(~s.arvalid & s.awvalid & s.wvalid)]
                with m.If(s.arvalid):
                    sd += [write.eq(0), addr.eq(s.araddr), prot.eq(s.arprot), req.eq(~req)]
                    m.next = "WAIT"
                with m.Elif(s.awvalid & s.wvalid):
                    sd += [write.eq(1), addr.eq(s.awaddr), prot.eq(s.awprot),
                           wdata.eq(s.wdata), wstrb.eq(s.wstrb), req.eq(~req)]
                    m.next = "WAIT"
            with m.State("WAIT"), m.If(ack_s == req):
                sd += [s.bresp.eq(resp), s.rresp.eq(resp), s.rdata.eq(rdata)]
                m.next = "RESPOND"
            with m.State("RESPOND"):
                m.d.comb += [s.bvalid.eq(write), s.rvalid.eq(~write)]
                with m.If(write & s.bready | ~write & s.rready):
                    m.next = "IDLE"

        # --- master side --------------------------------------------------------------------
        aw_done = Signal()
        w_done = Signal()
        m.d.comb += [mst.awaddr.eq(addr), mst.araddr.eq(addr), mst.awprot.eq(prot),
                     mst.arprot.eq(prot), mst.wdata.eq(wdata), mst.wstrb.eq(wstrb)]
        with m.FSM(domain=self.m_domain, name="master"):
            with m.State("IDLE"), m.If(req_m != ack):
                md += [aw_done.eq(0), w_done.eq(0)]
                m.next = "ISSUE"
            with m.State("ISSUE"):
                with m.If(write):
                    m.d.comb += [mst.awvalid.eq(~aw_done), mst.wvalid.eq(~w_done),
                                 mst.bready.eq(aw_done & w_done)]
                    with m.If(mst.awvalid & mst.awready):
                        md += aw_done.eq(1)
                    with m.If(mst.wvalid & mst.wready):
                        md += w_done.eq(1)
                    with m.If(mst.bvalid & mst.bready):
                        md += [resp.eq(mst.bresp), ack.eq(~ack)]
                        m.next = "IDLE"
                with m.Else():
                    m.d.comb += [mst.arvalid.eq(~aw_done), mst.rready.eq(aw_done)]
                    # `aw_done` stands for the read's AR having been taken.
                    with m.If(mst.arvalid & mst.arready):
                        md += aw_done.eq(1)
                    with m.If(mst.rvalid & mst.rready):
                        md += [resp.eq(mst.rresp), rdata.eq(mst.rdata), ack.eq(~ack)]
                        m.next = "IDLE"
        return m
