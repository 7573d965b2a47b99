"""The book's issue stage (hw/rtl/book_issue.py), unit tier in the Amaranth simulator: events
issue in the cycle they arrive, a U takes two slots, waiting micro-ops keep their order, and
an overflow above line rate drops and says so."""

from amaranth.sim import Simulator

from hw.rtl.book_issue import QUEUE, IssueQueue
from hw.rtl.records import BookEventKind

ADD, REPLACE = BookEventKind.ADD.value, BookEventKind.REPLACE.value


def run(arrivals):
    """Drive one event (kind, ref) or None per cycle; returns what issued each cycle
    ((ref, second) or None) and the cycles `dropped` pulsed."""
    dut = IssueQueue()
    issued, dropped = [], []

    async def bench(ctx):
        for cycle, item in enumerate([*arrivals, *[None] * (2 * QUEUE)]):
            ctx.set(dut.i_event.valid, item is not None)
            if item is not None:
                kind, ref = item
                ctx.set(dut.i_event.p.event.kind, kind)
                ctx.set(dut.i_event.p.event.ref, ref)
            if ctx.get(dut.o_op.valid):
                issued.append((ctx.get(dut.o_op.p.feed.event.ref), ctx.get(dut.o_op.p.second)))
            else:
                issued.append(None)
            if ctx.get(dut.dropped):
                dropped.append(cycle)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return issued, dropped


def test_an_event_issues_in_the_cycle_it_arrives_and_a_u_takes_the_next_slot_too():
    issued, dropped = run([(ADD, 1), None, (REPLACE, 2), None, None, (ADD, 3)])
    assert issued[:7] == [(1, 0), None, (2, 0), (2, 1), None, (3, 0), None]
    assert dropped == []


def test_back_to_back_us_wait_in_order_and_drain_in_the_gaps():
    issued, dropped = run([(REPLACE, 1), (REPLACE, 2), (ADD, 3), None, None, None])
    assert [op for op in issued if op] == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0)]
    assert dropped == []


def test_a_burst_above_line_rate_overflows_and_says_so():
    issued, dropped = run([(REPLACE, n) for n in range(1, 7)])
    assert dropped, "six Us back to back need 12 slots in 6 cycles: some must drop"
    got = [op for op in issued if op]
    assert got[:4] == [(1, 0), (1, 1), (2, 0), (2, 1)]      # the oldest keep their order
    assert len(got) < 12
