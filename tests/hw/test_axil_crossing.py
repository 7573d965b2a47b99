# amaranth: UnusedElaboratable=no
# (the constructor tests make blocks only to see their arguments refused)

"""AxiLiteCrossing (hw/rtl/axil_crossing.py) in the Amaranth simulator with two unrelated
clocks: random reads and writes from the slave side reach a register model on the master side
once each, unchanged, and their responses (data and codes) come back, under random ready and
response delays on both sides, at several clock ratios."""

import random

import pytest
from amaranth.sim import Simulator

from hw.rtl.axil_crossing import AxiLiteCrossing

ADDR_WIDTH = 12
SLVERR = 2


def run(s_period, m_period, n=60, seed=1):
    """`n` random transactions; returns (what the host saw, what the register model saw)."""
    rng = random.Random(seed)
    dut = AxiLiteCrossing(ADDR_WIDTH, s_domain="axil", m_domain="sync")
    ops = []
    for _ in range(n):
        addr = rng.randrange(1 << ADDR_WIDTH) & ~3
        if rng.random() < 0.5:
            ops.append(("w", addr, rng.randrange(1 << 32), rng.randrange(16)))
        else:
            ops.append(("r", addr, 0, 0))
    host_seen, model_seen, memory = [], [], {}
    done = []

    def resp_for(addr):
        # Some addresses answer SLVERR, to see the code cross unchanged.
        return SLVERR if addr & 0x40 else 0

    async def host(ctx):
        s = dut.s_axi
        for kind, addr, data, strb in ops:
            for _ in range(rng.randrange(3)):
                await ctx.tick("axil")
            if kind == "w":
                ctx.set(s.awvalid, 1)
                ctx.set(s.awaddr, addr)
                ctx.set(s.awprot, 5)
                ctx.set(s.wvalid, 1)
                ctx.set(s.wdata, data)
                ctx.set(s.wstrb, strb)
                aw = w = False
                while not (aw and w):
                    aw_now, w_now = ctx.get(s.awready), ctx.get(s.wready)
                    await ctx.tick("axil")
                    aw, w = aw or aw_now, w or w_now
                    ctx.set(s.awvalid, not aw)
                    ctx.set(s.wvalid, not w)
                while True:
                    ready = rng.random() < 0.5
                    ctx.set(s.bready, ready)
                    valid, resp = ctx.get(s.bvalid), ctx.get(s.bresp)
                    await ctx.tick("axil")
                    if valid and ready:
                        break
                ctx.set(s.bready, 0)
                host_seen.append(("w", addr, resp))
            else:
                ctx.set(s.arvalid, 1)
                ctx.set(s.araddr, addr)
                while True:
                    taken = ctx.get(s.arready)
                    await ctx.tick("axil")
                    if taken:
                        break
                ctx.set(s.arvalid, 0)
                while True:
                    ready = rng.random() < 0.5
                    ctx.set(s.rready, ready)
                    valid = ctx.get(s.rvalid)
                    rdata, resp = ctx.get(s.rdata), ctx.get(s.rresp)
                    await ctx.tick("axil")
                    if valid and ready:
                        break
                ctx.set(s.rready, 0)
                host_seen.append(("r", addr, rdata, resp))
        done.append(True)

    async def registers(ctx):
        mst = dut.m_axi
        while not done:
            ctx.set(mst.awready, rng.random() < 0.5)
            ctx.set(mst.wready, rng.random() < 0.5)
            ctx.set(mst.arready, rng.random() < 0.5)
            aw = ctx.get(mst.awvalid) and ctx.get(mst.awready)
            w = ctx.get(mst.wvalid) and ctx.get(mst.wready)
            ar = ctx.get(mst.arvalid) and ctx.get(mst.arready)
            if aw:
                got_aw = (ctx.get(mst.awaddr), ctx.get(mst.awprot))
            if w:
                got_w = (ctx.get(mst.wdata), ctx.get(mst.wstrb))
            if ar:
                read_addr = ctx.get(mst.araddr)
            await ctx.tick("sync")
            if aw or w:
                # Wait for the other half of the write, then answer after a random delay.
                pending = {"aw": aw, "w": w}
                ctx.set(mst.awready, 0)
                ctx.set(mst.wready, 0)
                ctx.set(mst.arready, 0)
                while not (pending["aw"] and pending["w"]):
                    half = "w" if pending["aw"] else "aw"
                    ctx.set(getattr(mst, f"{half}ready"), 1)
                    if ctx.get(getattr(mst, f"{half}valid")):
                        if half == "aw":
                            got_aw = (ctx.get(mst.awaddr), ctx.get(mst.awprot))
                        else:
                            got_w = (ctx.get(mst.wdata), ctx.get(mst.wstrb))
                        pending[half] = True
                    await ctx.tick("sync")
                    ctx.set(getattr(mst, f"{half}ready"), 0)
                addr, prot = got_aw
                model_seen.append(("w", addr, *got_w, prot))
                memory[addr] = got_w[0]
                await respond(ctx, mst.bvalid, mst.bready, [(mst.bresp, resp_for(addr))])
            elif ar:
                ctx.set(mst.arready, 0)
                model_seen.append(("r", read_addr))
                await respond(ctx, mst.rvalid, mst.rready,
                              [(mst.rdata, memory.get(read_addr, read_addr * 3 + 1)),
                               (mst.rresp, resp_for(read_addr))])

    async def respond(ctx, valid, ready, values):
        ctx.set(dut.m_axi.awready, 0)
        ctx.set(dut.m_axi.wready, 0)
        ctx.set(dut.m_axi.arready, 0)
        for _ in range(rng.randrange(4)):
            await ctx.tick("sync")
        ctx.set(valid, 1)
        for signal, value in values:
            ctx.set(signal, value)
        while True:
            taken = ctx.get(ready)
            await ctx.tick("sync")
            if taken:
                break
        ctx.set(valid, 0)

    sim = Simulator(dut)
    sim.add_clock(s_period, domain="axil")
    sim.add_clock(m_period, domain="sync")
    sim.add_testbench(host)
    sim.add_testbench(registers, background=True)
    sim.run()

    # The host's view against a model that applies the same operations in order.
    expected, memory2 = [], {}
    for kind, addr, data, _strb in ops:
        if kind == "w":
            memory2[addr] = data
            expected.append(("w", addr, resp_for(addr)))
        else:
            expected.append(("r", addr, memory2.get(addr, addr * 3 + 1), resp_for(addr)))
    model_expected = [("w", a, d, s, 5) if k == "w" else ("r", a) for k, a, d, s in ops]
    return host_seen, expected, model_seen, model_expected


@pytest.mark.parametrize("s_period, m_period", [
    (8e-9, 6.4e-9),       # the shell's 125 MHz into a 156.25 MHz fast path
    (8e-9, 25.6e-9),      # into a slow fast path (a quarter rate board)
    (8e-9, 3.1e-9),       # into a fast path at the CMAC's rate
    (7.3e-9, 7.7e-9),     # nearly equal, drifting
])
def test_transactions_cross_once_each_unchanged(s_period, m_period):
    host_seen, expected, model_seen, model_expected = run(s_period, m_period)
    assert model_seen == model_expected
    assert host_seen == expected


def test_arguments_are_validated():
    with pytest.raises(TypeError, match="addr_width must be 3..34"):
        AxiLiteCrossing(2)
    with pytest.raises(ValueError, match="s_domain and m_domain must differ"):
        AxiLiteCrossing(12, s_domain="sync", m_domain="sync")
