"""Trader (hw/rtl/trader.py), unit tier: its capacity and fault paths, in the Amaranth simulator.

The Trader's everyday behaviour (every order and reject, cancel-alls, order ends) is compared
with the golden model end to end in test_replay_rtl.py. Here, with the real strategy and risk
gate beside it and a tiny build, the paths a replay within capacity never takes: the order
table filling up, the update queue overflowing behind a stalled encoder, and host order ends
that name no open chain. Each must halt trading and cancel what is live, never lose silently.
And the host order port: what the gate decides for a host order, and what the Trader refuses
before it (a slot with no book or name, a submit while another waits).
"""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hw.rtl import risk, strategy, trader
from hw.rtl.records import (
    BookUpdate,
    EncodeCommand,
    OrderCause,
    OrderKind,
    OrderRecord,
    pack,
    unpack,
)
from hw.rtl.trader import Trader
from sw.model.config import StrategyParams, SymbolLimits

SLOTS = 4
PERMISSIVE = SymbolLimits(max_order_qty=10_000, max_order_notional=1e9, collar_bps=10_000,
                          max_long=1_000_000, max_short=1_000_000, max_open_orders=255,
                          max_orders_per_sec=1_000_000, rate_burst=65_535)


class DecisionCore(wiring.Component):
    """Trader, strategy and risk gate wired as in hw/rtl/fastpath.py, the encoder left out."""

    def __init__(self, **trader_args):
        self.trader = Trader(slots=SLOTS, **trader_args)
        self.strategy = strategy.Strategy(slots=SLOTS)
        self.gate = risk.RiskGate(slots=SLOTS)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.trader = t = self.trader
        m.submodules.strategy = s = self.strategy
        m.submodules.gate = g = self.gate
        wiring.connect(m, trader=t.o_decision, strategy=s.i_decision)
        wiring.connect(m, strategy=s.o_intents, trader=t.i_intents)
        wiring.connect(m, trader=t.o_request, gate=g.i_request)
        wiring.connect(m, gate=g.o_verdict, trader=t.i_verdict)
        m.d.comb += [g.halt.eq(t.halted), g.position_slot.eq(t.position_slot),
                     t.confirmed_position.eq(g.confirmed_position)]
        return m


def update(slot: int, bid: int, ask: int, index: int, named: bool = True) -> int:
    fields = {"locate": slot + 1, "slot": slot, "bid_price": bid, "bid_shares": 100,
              "ask_price": ask, "ask_shares": 100,
              "stock": int.from_bytes(b"SYM%d    " % slot) if named else 0,
              "named": int(named), "state": ord("T"), "unreliable": 0, "bbo_changed": 1,
              "state_changed": 0, "index": index, "ingress_cycle": 1000 + index}
    return pack(BookUpdate, tuple(fields[name] for name, _ in BookUpdate.as_shape()))


def run(core: DecisionCore, script) -> list[dict]:
    """Configure every slot (permissive limits, quoting), release the halt, run `script`;
    returns every command the Trader handed to the (absent) encoder."""
    t = core.trader
    commands: list[dict] = []
    sim = Simulator(core)
    sim.add_clock(6.4e-9)

    async def bench(ctx):
        g, s = core.gate, core.strategy
        for name, value in risk.register_values(PERMISSIVE).items():
            ctx.set(getattr(g.staged, name), value)
        for name, value in strategy.register_values(StrategyParams()).items():
            ctx.set(getattr(s.staged, name), value)
        for slot in range(SLOTS):
            ctx.set(g.commit.valid, 1)
            ctx.set(g.commit.p.as_value(), slot | 1 << 8 | 1 << 9)
            ctx.set(s.commit.valid, 1)
            ctx.set(s.commit.p.slot, slot)
            await ctx.tick()
            ctx.set(g.commit.valid, 0)
            ctx.set(s.commit.valid, 0)
            await ctx.tick().repeat(strategy.COMMIT_CYCLES + 1)
        ctx.set(t.halt, 0)
        ctx.set(t.o_command.ready, 1)

        async def tick(n=1):
            for _ in range(n):   # a command is taken at the edge where valid and ready
                if ctx.get(t.o_command.valid) and ctx.get(t.o_command.ready):
                    word = ctx.get(t.o_command.p.as_value())
                    commands.append(unpack(OrderRecord, unpack(EncodeCommand, word)["order"]))
                await ctx.tick()

        await script(ctx, t, tick)

    sim.add_testbench(bench)
    sim.run()
    return commands


def sent(commands, kind=None, cause=None):
    return [c for c in commands if not c["rejected"]
            and (kind is None or c["kind"] == kind) and (cause is None or c["cause"] == cause)]


async def send_update(ctx, t, tick, word):
    ctx.set(t.i_update.valid, 1)
    ctx.set(t.i_update.p.as_value(), word)
    await tick()
    ctx.set(t.i_update.valid, 0)


def test_an_idle_trader_decides_at_once_and_adds_no_cycle_to_the_strategy_and_the_gate():
    core = DecisionCore(orders=16, queue=8)
    seen = {}

    async def script(ctx, t, tick):
        ctx.set(t.i_update.valid, 1)
        ctx.set(t.i_update.p.as_value(), update(0, 100_000, 100_400, 0))
        seen["decided_at_once"] = ctx.get(t.o_decision.valid)
        cycle, commands_at = 0, []
        while len(commands_at) < 2 and cycle < 60:
            if ctx.get(t.o_command.valid):
                commands_at.append(cycle)
            await tick()
            ctx.set(t.i_update.valid, 0)
            cycle += 1
        seen["commands_at"] = commands_at

    commands = run(core, script)
    first = trader.LATENCY + strategy.LATENCY + risk.LATENCY
    assert seen["decided_at_once"] == 1
    assert seen["commands_at"] == [first, first + 4]      # buy, then sell (request, verdict)
    assert [(c["kind"], c["side"]) for c in sent(commands)] == [
        (OrderKind.NEW, 0), (OrderKind.NEW, 1)]


def test_updates_arriving_while_busy_wait_and_are_decided_in_order():
    core = DecisionCore(orders=64, queue=16)
    counts = {}

    async def script(ctx, t, tick):
        # Back to back on four slots, each moving the book: each must be decided, in order.
        for n in range(12):
            await send_update(ctx, t, tick, update(n % 4, 100_000 + 1_000 * n, 101_000
                                                   + 1_000 * n, n))
        await tick(400)
        counts.update(updates=ctx.get(t.counters.updates),
                      lost=ctx.get(t.counters.queue_overflows), fault=ctx.get(t.fault))

    commands = run(core, script)
    assert counts == {"updates": 12, "lost": 0, "fault": 0}
    indexes = [c["index"] for c in commands]
    assert indexes == sorted(indexes) and set(indexes) == set(range(12))


def test_an_update_from_a_gap_on_is_decided_after_the_stale_cancel_all_even_if_it_comes_first():
    core = DecisionCore(orders=16, queue=8)

    async def script(ctx, t, tick):
        await send_update(ctx, t, tick, update(0, 100_000, 100_400, 0))    # two live quotes
        await tick(40)
        ctx.set(t.stale, 1)                   # a gap: messages from index 5 on are suspect
        ctx.set(t.stale_index, 5)
        await tick(3)                         # message 5's update arrives before it settles
        await send_update(ctx, t, tick, update(1, 200_000, 200_400, 5))
        await tick(120)

    commands = run(core, script)
    kinds = [(c["kind"], c["cause"], c["index"]) for c in sent(commands)]
    stale_f = (OrderKind.CANCEL, OrderCause.FEED_STALE, 5)
    assert kinds == [(OrderKind.NEW, OrderCause.STRATEGY, 0)] * 2 + [stale_f] * 2


def test_a_full_order_table_faults_halts_and_cancels_everything_live():
    core = DecisionCore(orders=4, queue=8)
    state = {}

    async def script(ctx, t, tick):
        # Three quoting slots want six chains; the table holds four.
        for n, slot in enumerate(range(3)):
            await send_update(ctx, t, tick, update(slot, 100_000, 100_400, n))
            await tick(40)
        await tick(80)
        state.update(fault=ctx.get(t.fault), halted=ctx.get(t.halted),
                     full=ctx.get(t.counters.table_full), chains=ctx.get(t.open_chains))

    commands = run(core, script)
    news = sent(commands, OrderKind.NEW)
    kills = sent(commands, OrderKind.CANCEL, OrderCause.KILL_SWITCH)
    assert len(news) == 4 and state["chains"] == 4
    assert state == {"fault": 1, "halted": 1, "full": 1, "chains": 4}
    # Every live chain is cancelled, oldest first, each naming its D.
    assert [k["orig_clordid"] for k in kills] == [n["clordid"] for n in news]
    assert [k["handle"] for k in kills] == [0, 1, 2, 3]


def test_an_update_lost_behind_a_stalled_encoder_faults_and_halts():
    core = DecisionCore(orders=16, queue=2)
    state = {}

    async def script(ctx, t, tick):
        ctx.set(t.o_command.ready, 0)                 # the encoder (MAC) stalls
        for n in range(8):
            await send_update(ctx, t, tick, update(n % 2, 100_000 + 100 * n, 100_800, n))
            if n == 0:
                await tick(20)       # its first order waits for the encoder; the rest pile up
        state["lost"] = ctx.get(t.counters.queue_overflows)
        state["fault"] = ctx.get(t.fault)
        ctx.set(t.o_command.ready, 1)
        await tick(300)
        state["halted"] = ctx.get(t.halted)
        ctx.set(t.clear_fault, 1)                     # the host clears it ...
        await tick()
        ctx.set(t.clear_fault, 0)
        await tick()
        state["cleared"] = ctx.get(t.fault)

    commands = run(core, script)
    assert state["lost"] > 0 and state["fault"] == 1 and state["halted"] == 1
    assert state["cleared"] == 0
    # Whatever was sent before the halt is cancelled, and no new order follows the fault.
    news = sent(commands, OrderKind.NEW)
    kills = sent(commands, OrderKind.CANCEL, OrderCause.KILL_SWITCH)
    assert news and sorted(k["orig_clordid"] for k in kills) == sorted(
        n["clordid"] for n in news)
    last_kill = commands.index(kills[-1])
    assert not sent(commands[last_kill:], OrderKind.NEW)


def test_order_ends_free_their_chain_and_unknown_ones_are_refused():
    core = DecisionCore(orders=4, queue=8)
    state = {}

    async def script(ctx, t, tick):
        await send_update(ctx, t, tick, update(0, 100_000, 100_400, 0))
        await tick(40)
        state["before"] = ctx.get(t.open_chains)
        for handle in (0, 0, 3, 9):                   # the bid's chain, again, unused, beyond
            ctx.set(t.order_end.valid, 1)
            ctx.set(t.order_end.p, handle)
            await tick()
            ctx.set(t.order_end.valid, 0)
            await tick(6)
        state.update(after=ctx.get(t.open_chains), ends=ctx.get(t.counters.ends),
                     refused=ctx.get(t.counters.ends_refused))
        # The ended bid no longer counts as a live quote: the next update re-quotes with a D.
        await send_update(ctx, t, tick, update(0, 100_000, 100_400, 1))
        await tick(40)

    commands = run(core, script)
    assert (state["before"], state["after"]) == (2, 1)
    assert (state["ends"], state["refused"]) == (1, 3)
    news = sent(commands, OrderKind.NEW)
    assert [(n["side"], n["handle"]) for n in news] == [(0, 0), (1, 1), (0, 2)]


def test_a_slot_no_r_has_named_never_trades_whatever_its_limits():
    """Trading state T and permissive limits, but no name (no R yet, as after a mid-session
    join): nothing is sent, as in the golden model, where a locate trades from its R on."""
    core = DecisionCore(orders=16, queue=8)

    async def script(ctx, t, tick):
        await send_update(ctx, t, tick, update(0, 100_000, 100_400, 0, named=False))
        await tick(60)
        await send_update(ctx, t, tick, update(1, 100_000, 100_400, 1))
        await tick(60)

    commands = run(core, script)
    assert [(c["kind"], c["side"]) for c in sent(commands)] == [
        (OrderKind.NEW, 0), (OrderKind.NEW, 1)]
    assert all(c["rejected"] == 0 for c in commands)


async def submit(ctx, t, tick, slot, side, price, qty, ioc=1):
    """The host order port, as the card's `trader_order_submit` register drives it."""
    ctx.set(t.host_order.valid, 1)
    ctx.set(t.host_order.p.slot, slot)
    ctx.set(t.host_order.p.side, side)
    ctx.set(t.host_order.p.price, price)
    ctx.set(t.host_order.p.qty, qty)
    ctx.set(t.host_order.p.ioc, ioc)
    await tick()
    ctx.set(t.host_order.valid, 0)


def test_host_orders_pass_the_gate_on_the_slot_s_book_and_are_refused_when_unknown():
    """A host order for a slot decided on goes through the gate as a D (cause HOST) with the
    time and message index of its moment; one over the gate's limit comes back refused like any
    other; one for a slot never decided on (no book, no name) or submitted while another still
    waits is refused and counted, never sent."""
    core = DecisionCore(orders=16, queue=8)
    state = {}

    async def script(ctx, t, tick):
        ctx.set(t.now, 77_777)
        ctx.set(t.next_index, 42)
        await send_update(ctx, t, tick, update(0, 100_000, 100_400, 0))
        await tick(40)
        await submit(ctx, t, tick, 0, 1, 100_000, 300)          # a sell at the bid
        await tick(20)
        await submit(ctx, t, tick, 0, 1, 100_000, 20_000)       # over max_order_qty 10,000
        await tick(20)
        await submit(ctx, t, tick, 2, 0, 100_400, 100)          # slot 2: never decided on
        await tick(20)
        await submit(ctx, t, tick, 0, 0, 100_400, 100)          # two back to back: the
        await submit(ctx, t, tick, 0, 0, 100_400, 200)          # second one waits, refused
        await tick(40)
        state.update(taken=ctx.get(t.counters.host_orders),
                     refused=ctx.get(t.counters.host_orders_refused))

    commands = run(core, script)
    host = [c for c in commands if c["cause"] == OrderCause.HOST]
    assert [(c["rejected"], c["kind"], c["side"], c["qty"], c["ioc"]) for c in host] == [
        (0, OrderKind.NEW, 1, 300, 1), (1, OrderKind.NEW, 1, 20_000, 1),
        (0, OrderKind.NEW, 0, 100, 1)]
    assert all((c["index"], c["ingress_cycle"]) == (42, 77_777) for c in host)
    assert host[1]["reason"] != 0                               # the gate's refusal
    assert (state["taken"], state["refused"]) == (3, 2)


def test_a_host_day_order_is_never_the_strategy_s_quote():
    """The strategy keeps managing its own quotes: a host day order on the same side is left
    alone by the next decisions (no G or F names it), and the kill switch cancels it."""
    core = DecisionCore(orders=16, queue=8)

    async def script(ctx, t, tick):
        await send_update(ctx, t, tick, update(0, 100_000, 100_400, 0))
        await tick(40)
        await submit(ctx, t, tick, 0, 0, 99_000, 100, ioc=0)    # a resting buy, below the bid
        await tick(20)
        await send_update(ctx, t, tick, update(0, 100_100, 100_400, 1))   # the bid moves up
        await tick(40)
        ctx.set(t.halt, 1)
        await tick(80)

    commands = run(core, script)
    (host,) = [c for c in sent(commands) if c["cause"] == OrderCause.HOST]
    after = [c for c in sent(commands) if c["orig_clordid"] == host["clordid"]]
    assert [(c["kind"], c["cause"]) for c in after] == [
        (OrderKind.CANCEL, OrderCause.KILL_SWITCH)]
    # The strategy's own bid was replaced when the market moved.
    assert sent(commands, OrderKind.REPLACE, OrderCause.STRATEGY)
