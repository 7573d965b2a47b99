# amaranth: UnusedElaboratable=no
"""AXI4-Lite slave in front of the real arbiter and bank (Amaranth simulator).

A manager model drives random traffic (AW and W in either order or together, random valid
delays, random B/R backpressure); a monitor on the slave's CsrPort applies every executed
access to the bank's model in bus order, and each response is checked against it.
"""

import random

import pytest
from amaranth.sim import Simulator

from hw.rtl.axil import AxiLite, AxiLiteSlave, Resp
from hw.rtl.hostbus import BANK_LATENCY
from tests.hw.test_hostbus import ADDR_WIDTH, REGMAP, BankModel, CsrSystem, idle, random_access

OKAY, SLVERR = Resp.OKAY.value, Resp.SLVERR.value
LIMIT = 500


class Monitor:
    """Watches the slave's CsrPort: each executed access, in bus order, against the model."""

    def __init__(self, port, model):
        self.port, self.model = port, model
        self.writes, self.reads, self.kinds = [], [], []

    async def run(self, ctx):
        port = self.port
        while True:
            if ctx.get(port.valid) and ctx.get(port.ack):
                addr = ctx.get(port.addr)
                if ctx.get(port.write):
                    self.model.write(addr, ctx.get(port.w_data))
                    self.writes.append((addr, ctx.get(port.w_data)))
                else:
                    self.reads.append((addr, self.model.read(addr)))
                self.kinds.append("W" if ctx.get(port.write) else "R")
            await ctx.tick()


class Manager:
    """AXI4-Lite manager: one write and one read outstanding, from separate testbenches.

    Traffic shape (`rng`, delays, backpressure probability) is the caller's; the checks are
    the monitor's model and the AXI stability rules.
    """

    def __init__(self, axi, monitor, rng, ready_probability=0.5):
        self.axi, self.monitor, self.rng = axi, monitor, rng
        self.ready_probability = ready_probability

    async def _response(self, ctx, valid, ready, fields):
        """Waits for `valid` with random `ready`; returns the fields and cycles waited, checking
        they are held stable until taken."""
        held = None
        for cycle in range(LIMIT):
            take = self.rng.random() < self.ready_probability
            ctx.set(ready, take)
            if ctx.get(valid):
                values = tuple(ctx.get(f) for f in fields)
                assert held in (None, values), "response changed before it was taken"
                held = values
                if take:
                    await ctx.tick()
                    ctx.set(ready, 0)
                    return held, cycle
            else:
                assert held is None, "valid dropped before the response was taken"
            await ctx.tick()
        raise AssertionError(f"no response in {LIMIT} cycles")

    async def write(self, ctx, addr, data, strb=0b1111, aw_delay=0, w_delay=0):
        """Returns (bresp, cycles from both AW and W presented to bvalid)."""
        axi = self.axi
        ctx.set(axi.awaddr, addr)
        ctx.set(axi.wdata, data)
        ctx.set(axi.wstrb, strb)
        aw_done = w_done = False
        cycle = 0
        while not (aw_done and w_done):
            ctx.set(axi.awvalid, not aw_done and cycle >= aw_delay)
            ctx.set(axi.wvalid, not w_done and cycle >= w_delay)
            aw_fire = ctx.get(axi.awvalid) and ctx.get(axi.awready)
            w_fire = ctx.get(axi.wvalid) and ctx.get(axi.wready)
            await ctx.tick()
            aw_done, w_done, cycle = aw_done or aw_fire, w_done or w_fire, cycle + 1
            assert cycle < LIMIT, "AW or W never taken"
        ctx.set(axi.awvalid, 0)
        ctx.set(axi.wvalid, 0)
        (resp,), waited = await self._response(ctx, axi.bvalid, axi.bready, [axi.bresp])
        return resp, waited + cycle - max(aw_delay, w_delay)

    async def read(self, ctx, addr, ar_delay=0):
        """Returns (rresp, rdata, cycles from AR presented to rvalid)."""
        axi = self.axi
        await idle(ctx, ar_delay)
        ctx.set(axi.araddr, addr)
        ctx.set(axi.arvalid, 1)
        cycle = 0
        while not ctx.get(axi.arready):
            await ctx.tick()
            cycle += 1
            assert cycle < LIMIT, "AR never taken"
        await ctx.tick()
        ctx.set(axi.arvalid, 0)
        (resp, data), waited = await self._response(ctx, axi.rvalid, axi.rready,
                                                    [axi.rresp, axi.rdata])
        return resp, data, waited + cycle + 1

    async def checked_write(self, ctx, addr, data, strb=0b1111, **delays):
        resp, _ = await self.write(ctx, addr, data, strb, **delays)
        writes = self.monitor.writes
        if strb == 0b1111 and addr % 4 == 0:
            assert (resp, writes) == (OKAY, [(addr >> 2, data)])
        else:                                     # refused: nothing reached the bank
            assert (resp, writes) == (SLVERR, [])
        writes.clear()

    async def checked_read(self, ctx, addr, **delays):
        resp, data, _ = await self.read(ctx, addr, **delays)
        reads = self.monitor.reads
        if addr % 4 == 0:
            (word, expected), = reads
            assert (resp, word, data) == (OKAY, addr >> 2, expected), f"read of byte {addr:#x}"
        else:
            assert (resp, data, reads) == (SLVERR, 0, [])
        reads.clear()


def run(script, ready_probability=0.5, seed=0):
    """`script(ctx, manager)` coroutines (one or more) against AxiLiteSlave -> arbiter -> bank."""
    slave = AxiLiteSlave(ADDR_WIDTH + 2)
    dut = CsrSystem(hosts=[slave])
    model = BankModel()
    monitor = Monitor(slave.csr, model)
    manager = Manager(slave.axi, monitor, random.Random(seed), ready_probability)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(monitor.run, background=True)
    for bench in script if isinstance(script, tuple) else (script,):
        async def testbench(ctx, bench=bench):
            await bench(ctx, manager)
        sim.add_testbench(testbench)
    sim.run()
    return monitor


def random_byte_address(rng, bad_fraction=0.1):
    _, word, _ = random_access(rng)
    return 4 * word + (rng.randrange(1, 4) if rng.random() < bad_fraction else 0)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_concurrent_traffic_matches_the_register_model(seed):
    rng = random.Random(seed)
    modes = []

    async def writer(ctx, manager):
        for _ in range(80):
            mode = rng.choice(["aw_first", "w_first", "together"])
            modes.append(mode)
            later = rng.randrange(1, 4)
            delays = {"aw_first": (0, later), "w_first": (later, 0), "together": (0, 0)}[mode]
            start = rng.choice([0, 0, 2])
            strb = 0b1111 if rng.random() < 0.9 else rng.randrange(15)
            await manager.checked_write(ctx, random_byte_address(rng), rng.getrandbits(32), strb,
                                        aw_delay=start + delays[0], w_delay=start + delays[1])

    async def reader(ctx, manager):
        for _ in range(80):
            await manager.checked_read(ctx, random_byte_address(rng),
                                       ar_delay=rng.choice([0, 0, 1, 3]))

    monitor = run((writer, reader), seed=seed)
    assert set(modes) == {"aw_first", "w_first", "together"}
    assert monitor.model.bad_writes > 0                      # read-only and unmapped words too
    assert "WW" in "".join(monitor.kinds) and "RW" in "".join(monitor.kinds)


def test_pending_reads_and_writes_alternate():
    """Both sides always busy: the slave serves W, R, W, R... (a read first after reset)."""
    address = 4 * REGMAP["blk_word"].address

    async def writer(ctx, manager):
        for i in range(20):
            await manager.checked_write(ctx, address, i)

    async def reader(ctx, manager):
        for _ in range(20):
            await manager.checked_read(ctx, address)

    monitor = run((writer, reader), ready_probability=1.0)
    assert "".join(monitor.kinds) == "RW" * 20


def test_slverr_for_partial_strobes_and_unaligned_addresses_and_nothing_is_written():
    word = REGMAP["blk_word"].address
    reset = REGMAP["blk_word"].register.reset
    seen = []

    async def script(ctx, manager):
        for strb in (0b0000, 0b0001, 0b0111, 0b1110, 0b1011):
            seen.append(await manager.write(ctx, 4 * word, 0xFFFFFFFF, strb))
        for offset in (1, 2, 3):
            seen.append(await manager.write(ctx, 4 * word + offset, 0xFFFFFFFF))
            seen.append(await manager.read(ctx, 4 * word + offset))
        seen.append(await manager.read(ctx, 4 * word))
        seen.append(await manager.read(ctx, 0))               # csr_bad_writes

    monitor = run(script, ready_probability=1.0)
    assert [s[0] for s in seen[:-2]] == [SLVERR] * 11
    assert [s[1] for s in seen[5:-2] if len(s) == 3] == [0] * 3   # refused reads return 0
    assert (seen[-2][:2], seen[-1][:2]) == ((OKAY, reset), (OKAY, 0))
    assert monitor.writes == [] and len(monitor.reads) == 2     # only the two good reads ran


def test_latency_and_backpressure_hold():
    """Idle slave: bvalid BANK_LATENCY + 4 cycles after AW and W, rvalid as many after AR
    (the slave's own 3 and the arbiter's 1 around the bank's); responses held while the manager
    is not ready (the manager model checks stability)."""
    address = 4 * REGMAP["blk_mode"].address
    seen = {}

    async def script(ctx, manager):
        _, seen["write"] = await manager.write(ctx, address, 0x99)
        _, seen["value"], seen["read"] = await manager.read(ctx, address)
        manager.monitor.writes.clear()
        manager.monitor.reads.clear()
        manager.ready_probability = 0.1
        for i in range(5):
            await manager.checked_write(ctx, address, i)
            await manager.checked_read(ctx, address)

    run(script, ready_probability=1.0)
    assert seen == {"write": BANK_LATENCY + 4, "value": 0x99, "read": BANK_LATENCY + 4}


@pytest.mark.parametrize(("block", "arg"), [(AxiLite, 2), (AxiLiteSlave, 35), (AxiLiteSlave, "18")])
def test_addr_width_is_validated(block, arg):
    with pytest.raises(TypeError, match=f"addr_width must be 3..34, not {arg!r}"):
        block(arg)
