"""When the Trader cancels everything (hw/rtl/cancel_all.py), unit tier in the Amaranth simulator:
the kill switch at once and first, the feed stale after its settling time and only once the
updates before its cause are decided, and the feed-stale view the decisions see."""


from hw.rtl.cancel_all import STALE_SETTLE, CancelAllRequests
from hw.rtl.records import OrderCause
from hw.tb.unit import simulate


def run(bench):
    simulate(CancelAllRequests(), bench)


def state(ctx, dut):
    return {name: ctx.get(getattr(dut, name))
            for name in ("due", "index", "cycle", "hold", "pending", "feed_stale")}


def test_the_reset_halt_cancels_nothing_and_a_halt_rise_is_due_at_once_with_its_moment():
    seen = []

    async def bench(ctx, dut):
        ctx.set(dut.halted, 1)                      # as after reset
        await ctx.tick().repeat(3)
        seen.append(ctx.get(dut.due))
        ctx.set(dut.halted, 0)
        await ctx.tick()
        ctx.set(dut.next_index, 42)
        ctx.set(dut.now, 9000)
        ctx.set(dut.halted, 1)
        await ctx.tick()
        seen.append(state(ctx, dut) | {"cause": ctx.get(dut.cause)})
        ctx.set(dut.take, 1)
        await ctx.tick()
        ctx.set(dut.take, 0)
        seen.append(ctx.get(dut.pending))

    run(bench)
    assert seen[0] == 0
    assert seen[1] == {"due": 1, "index": 42, "cycle": 9000, "hold": 0, "pending": 1,
                       "feed_stale": 0, "cause": OrderCause.KILL_SWITCH.value}
    assert seen[2] == 0


def test_a_stale_rise_waits_to_settle_then_for_the_updates_before_its_cause():
    seen = {}

    async def bench(ctx, dut):
        ctx.set(dut.stale_index, 100)
        ctx.set(dut.stale_cycle, 5555)
        ctx.set(dut.stale, 1)
        ctx.set(dut.head_valid, 1)
        ctx.set(dut.head_index, 99)                 # an update of a message before the cause
        waited = 0
        await ctx.tick()
        while not ctx.get(dut.due) and waited < 3 * STALE_SETTLE:
            await ctx.tick()
            waited += 1
        seen["waited_with_an_earlier_update"] = (ctx.get(dut.due), ctx.get(dut.hold))
        ctx.set(dut.head_index, 100)                # the head is now the cause's own update
        seen["cause_update"] = (ctx.get(dut.due), ctx.get(dut.hold), ctx.get(dut.cause),
                                ctx.get(dut.index), ctx.get(dut.cycle))
        ctx.set(dut.take, 1)
        await ctx.tick()
        ctx.set(dut.take, 0)
        seen["taken"] = (ctx.get(dut.pending), ctx.get(dut.feed_stale), ctx.get(dut.hold))
        await ctx.tick().repeat(3)
        seen["still_stale"] = ctx.get(dut.feed_stale)
        ctx.set(dut.stale, 0)                       # the host clears the stage's flag
        await ctx.tick()
        seen["cleared"] = ctx.get(dut.feed_stale)

    run(bench)
    assert seen["waited_with_an_earlier_update"] == (0, 0)
    assert seen["cause_update"] == (1, 1, OrderCause.FEED_STALE.value, 100, 5555)
    assert seen["taken"] == (0, 1, 0)
    assert seen["still_stale"] == 1 and seen["cleared"] == 0


def test_a_stale_rise_is_due_after_exactly_the_settling_time_with_the_queue_empty():
    cycles = []

    async def bench(ctx, dut):
        ctx.set(dut.stale, 1)
        for cycle in range(STALE_SETTLE + 3):
            await ctx.tick()
            if ctx.get(dut.due):
                cycles.append(cycle)

    run(bench)
    assert cycles[0] == STALE_SETTLE


def test_the_kill_switch_goes_before_a_pending_stale():
    seen = []

    async def bench(ctx, dut):
        ctx.set(dut.stale, 1)
        ctx.set(dut.stale_index, 7)
        await ctx.tick().repeat(STALE_SETTLE + 2)
        ctx.set(dut.halted, 1)
        await ctx.tick()
        for _ in range(2):
            seen.append((ctx.get(dut.cause), ctx.get(dut.index)))
            ctx.set(dut.take, 1)
            await ctx.tick()
        ctx.set(dut.take, 0)
        seen.append(ctx.get(dut.pending))

    run(bench)
    assert seen == [(OrderCause.KILL_SWITCH.value, 0), (OrderCause.FEED_STALE.value, 7), 0]
