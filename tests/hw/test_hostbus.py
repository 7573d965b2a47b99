# amaranth: UnusedElaboratable=no
"""CsrArbiter in front of a real CsrBank: concurrent initiators against a register model.

Also home of the bank's Python model (`BankModel`) and the `CsrSystem` harness that the UART
and AXI4-Lite host interface tests put their DUT in front of.
"""

import random

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hw.rtl.csr import WORD_BITS, CsrBank, Register, RegisterMap
from hw.rtl.hostbus import BANK_LATENCY, CsrArbiter, CsrPort

REGMAP = RegisterMap([("blk", (
    Register("mode", 8, "rw", "an 8-bit setting", reset=0x5A),
    Register("word", 32, "rw", "a 32-bit setting", reset=0x01234567),
    Register("wide", 64, "rw", "a 64-bit setting", reset=0x1122334455667788),
    Register("ident", 16, "ro", "a value the logic drives"),
))])
IDENT = 0xBEEF
#: 64 words, most of them unmapped: accesses there must behave as the bank says too.
ADDR_WIDTH = 6
WORD_MASK = (1 << WORD_BITS) - 1


class BankModel:
    """What `CsrBank` serving REGMAP answers, access by access (the scoreboard's reference)."""

    def __init__(self, regmap: RegisterMap = REGMAP, ro: dict | None = None):
        self.regmap = regmap
        self.values = {p.name: p.register.reset for p in regmap.placed}
        self.values.update(ro if ro is not None else {"blk_ident": IDENT})
        self.staged: dict[tuple[str, int], int] = {}
        self.bad_writes = 0

    def _locate(self, addr):
        for p in self.regmap.placed:
            if p.address <= addr < p.address + p.register.words:
                return p, addr - p.address
        return None, 0

    def write(self, addr: int, value: int) -> None:
        p, word = self._locate(addr)
        if p is None or p.register.access == "ro":
            self.bad_writes += 1
        elif word < p.register.words - 1:           # a lower word of a wide register: staged
            self.staged[p.name, word] = value
        else:
            lower = sum(self.staged.get((p.name, w), 0) << (WORD_BITS * w) for w in range(word))
            self.values[p.name] = ((value << (WORD_BITS * word)) | lower) & (
                (1 << p.register.width) - 1)

    def read(self, addr: int) -> int:
        p, word = self._locate(addr)
        if p is None:
            return 0
        value = self.bad_writes if p.name == "csr_bad_writes" else self.values[p.name]
        return (value >> (WORD_BITS * word)) & WORD_MASK


def random_access(rng: random.Random) -> tuple[bool, int, int]:
    """(write, word address, data): mostly mapped words, sometimes unmapped or read-only."""
    addr = rng.randrange(REGMAP.words) if rng.random() < 0.85 else rng.randrange(1 << ADDR_WIDTH)
    return rng.random() < 0.5, addr, rng.getrandbits(WORD_BITS)


class CsrSystem(wiring.Component):
    """`CsrArbiter` -> `CsrBank` (REGMAP, `blk_ident` tied to IDENT).

    `hosts` are components with a `csr` CsrPort initiator, on the arbiter's first ports; the
    other `free_ports` ports are the testbench's (`self.arbiter.ports[len(hosts):]`).
    """

    def __init__(self, hosts=(), free_ports=0):
        self.hosts = list(hosts)
        self.arbiter = CsrArbiter(len(self.hosts) + free_ports, ADDR_WIDTH)
        self.bank = CsrBank(REGMAP, ADDR_WIDTH)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.arbiter = self.arbiter
        m.submodules.bank = self.bank
        for index, host in enumerate(self.hosts):
            m.submodules[f"host{index}"] = host
            wiring.connect(m, host=host.csr, arbiter=self.arbiter.ports[index])
        wiring.connect(m, arbiter=self.arbiter.bus, bank=self.bank.bus)
        m.d.comb += self.bank.ro["blk_ident"].eq(IDENT)
        return m


class Initiator:
    """Drives one CsrPort from a testbench and logs every completed access."""

    def __init__(self, ctx, port, index, log):
        self.ctx, self.port, self.index, self.log = ctx, port, index, log

    async def access(self, write: bool, addr: int, data: int = 0, limit: int = 200):
        """One access; returns (read data, cycles from valid to ack)."""
        ctx, port = self.ctx, self.port
        ctx.set(port.valid, 1)
        ctx.set(port.write, write)
        ctx.set(port.addr, addr)
        ctx.set(port.w_data, data)
        for cycles in range(limit):
            acked, r_data = ctx.get(port.ack), ctx.get(port.r_data)
            if acked:
                # Logged in the ack cycle: the bus's order, which the model must follow.
                self.log.append((self.index, write, addr, data, r_data))
            await ctx.tick()
            if acked:
                ctx.set(port.valid, 0)
                return r_data, cycles
        raise AssertionError(f"initiator {self.index}: no ack in {limit} cycles")


async def idle(ctx, cycles: int) -> None:
    """`cycles` clock cycles, none included (`repeat` refuses 0)."""
    if cycles:
        await ctx.tick().repeat(cycles)


def run(dut, *benches):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for bench in benches:
        sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("initiators", [2, 3])
def test_concurrent_initiators_match_the_register_model(initiators):
    rng = random.Random(initiators)
    dut = CsrSystem(free_ports=initiators)
    model = BankModel()
    log, mismatches = [], []
    accesses = 120

    def initiator(index):
        async def bench(ctx):
            port = Initiator(ctx, dut.arbiter.ports[index], index, log)
            for _ in range(accesses):
                await idle(ctx, rng.choice([0, 0, 0, 1, 2, 5]))
                write, addr, data = random_access(rng)
                r_data, _ = await port.access(write, addr, data)
                # Logged accesses are applied in bus order: every read is checked against the
                # model state left by all accesses acknowledged before it, by any initiator.
                while log:
                    who, w, a, d, got = log.pop(0)
                    if w:
                        model.write(a, d)
                    elif got != model.read(a):
                        mismatches.append((who, a, got, model.read(a)))
        return bench

    run(dut, *(initiator(i) for i in range(initiators)))
    assert mismatches == []
    assert model.bad_writes > 0           # the traffic did reach read-only and unmapped words


def test_every_read_sees_the_model_across_initiators():
    """Initiator 1 reads back what initiator 0 wrote, word by word (wide registers staged)."""
    dut = CsrSystem(free_ports=2)
    model = BankModel()
    got = {}

    async def writer(ctx):
        port = Initiator(ctx, dut.arbiter.ports[0], 0, [])
        for addr in range(1, REGMAP.words):
            await port.access(True, addr, 0xA5A50000 | addr)
            model.write(addr, 0xA5A50000 | addr)

    async def reader(ctx):
        port = Initiator(ctx, dut.arbiter.ports[1], 1, [])
        await ctx.tick().repeat(60)       # after the writer
        for addr in range(REGMAP.words):
            got[addr], _ = await port.access(False, addr)

    run(dut, writer, reader)
    assert got == {addr: model.read(addr) for addr in range(REGMAP.words)}
    assert got[REGMAP["blk_ident"].address] == IDENT
    assert got[0] == 1                    # the write to blk_ident was refused and counted


def test_round_robin_when_every_initiator_always_wants_the_bus():
    dut = CsrSystem(free_ports=3)
    log = []

    def initiator(index):
        async def bench(ctx):
            port = Initiator(ctx, dut.arbiter.ports[index], index, log)
            for _ in range(30):
                await port.access(False, 1)
        return bench

    run(dut, *(initiator(i) for i in range(3)))
    order = [who for who, *_ in log]
    assert order == [0, 1, 2] * 30


def test_no_initiator_waits_behind_more_than_one_access_of_each_other():
    """Random gaps: an access waits at most for one access of every other initiator."""
    rng = random.Random(7)
    initiators = 3
    dut = CsrSystem(free_ports=initiators)
    log, waits = [], []

    def initiator(index):
        async def bench(ctx):
            port = Initiator(ctx, dut.arbiter.ports[index], index, log)
            for _ in range(60):
                await idle(ctx, rng.choice([0, 0, 1, 3]))
                before = len(log)
                write, addr, data = random_access(rng)
                await port.access(write, addr, data)
                waits.append(len(log) - before - 1)   # other accesses served while waiting
        return bench

    run(dut, *(initiator(i) for i in range(initiators)))
    assert max(waits) <= initiators - 1
    assert max(waits) == initiators - 1   # the traffic did contend
    assert sorted({who for who, *_ in log}) == [0, 1, 2]


def test_latency_when_idle():
    dut = CsrSystem(free_ports=1)
    cycles = {}

    async def bench(ctx):
        port = Initiator(ctx, dut.arbiter.ports[0], 0, [])
        _, cycles["write"] = await port.access(True, 1, 0x42)
        await ctx.tick().repeat(3)
        value, cycles["read"] = await port.access(False, 1)
        cycles["value"] = value

    run(dut, bench)
    assert cycles == {"write": BANK_LATENCY + 1, "read": BANK_LATENCY + 1, "value": 0x42}


def test_strobes_are_one_cycle_and_never_overlap():
    dut = CsrSystem(free_ports=2)
    bus = dut.arbiter.bus
    strobes = []
    done = []

    def initiator(index):
        async def bench(ctx):
            port = Initiator(ctx, dut.arbiter.ports[index], index, [])
            for i in range(10):
                await port.access(i % 2 == 0, 2, i)
            done.append(index)
        return bench

    async def monitor(ctx):
        while len(done) < 2:
            strobes.append(ctx.get(bus.w_stb) + ctx.get(bus.r_stb))
            await ctx.tick()

    run(dut, initiator(0), initiator(1), monitor)
    starts = [i for i, s in enumerate(strobes) if s]
    assert len(starts) == 20
    assert max(strobes) == 1
    # One access in flight at a time: strobes at least the bank's latency + ack apart.
    assert min(b - a for a, b in zip(starts, starts[1:], strict=False)) >= BANK_LATENCY + 2


@pytest.mark.parametrize(("args", "message"), [
    ((0, 8), "initiators must be 1..8, not 0"),
    ((9, 8), "initiators must be 1..8, not 9"),
    (("2", 8), "initiators must be 1..8, not '2'"),
    ((2, 0), "addr_width must be 1..32, not 0"),
    ((2, 33), "addr_width must be 1..32, not 33"),
])
def test_arbiter_arguments_are_validated(args, message):
    with pytest.raises(TypeError, match=message):
        CsrArbiter(*args)


def test_port_addr_width_is_validated():
    with pytest.raises(TypeError, match="addr_width must be 1..32, not 0"):
        CsrPort(0)
