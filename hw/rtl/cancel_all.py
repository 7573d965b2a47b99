"""When the Trader must cancel every live order, and in which order with the book's updates.

Data flow: a component of the Trader (hw/rtl/trader.py). Two things cancel everything: the kill
switch (the Trader's `halted` rising: the host's register or a fault) at once, and the feed
going stale (the MoldUDP64 stage's flag rising: a gap, a bad length, a malformed message) once
the updates of the messages before the cause have been decided, as the golden model orders it.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.book import LATENCY as BOOK_LATENCY
from hw.rtl.records import OrderCause

#: Cycles a stale rise waits before it may cancel: every update of an earlier message has left
#: the book (at most book.LATENCY + 1 cycles: a U's second half issues a cycle late) and is in
#: the Trader's queue by then.
STALE_SETTLE = BOOK_LATENCY + 3


class CancelAllRequests(wiring.Component):
    """Pending cancel-alls: `due` when the Trader should start one, with its `cause`, and the
    message `index` and ingress `cycle` the cancels carry; `take` (the Trader starts it) clears it.

    Kill switch: pending from the cycle after `halted` rises (not for the reset's halt), with
    the feed's `next_index` and `now` of that moment; it goes first when both are pending.
    Feed stale: pending from the cycle after `stale` rises, with the MoldUDP64 stage's
    `stale_index` and `stale_cycle`; due `STALE_SETTLE` cycles later, and then only once the
    head of the update queue (`head_valid`, `head_index`) is empty or of a message from the
    cause on. `hold`: the head is such an update, which must wait for the cancel-all.
    `feed_stale`: the feed as the updates being decided see it: set when the stale cancel-all
    is taken, cleared once the host has cleared the stage's flag and none is pending.
    `pending`: either is waiting. Reset: nothing pending (the reset's halt cancels nothing).
    """

    halted: In(1)
    stale: In(1)
    stale_index: In(48)
    stale_cycle: In(64)
    next_index: In(48)
    now: In(64)
    head_valid: In(1)
    head_index: In(48)
    take: In(1)
    due: Out(1)
    cause: Out(OrderCause)
    index: Out(48)
    cycle: Out(64)
    hold: Out(1)
    pending: Out(1)
    feed_stale: Out(1)

    def elaborate(self, platform):
        m = Module()
        halted_r = Signal(init=1)             # reset is halted: no cancel-all for it
        stale_r = Signal()
        m.d.sync += [halted_r.eq(self.halted), stale_r.eq(self.stale)]

        kill_pending = Signal()
        kill_index = Signal(48)
        kill_cycle = Signal(64)
        with m.If(self.halted & ~halted_r):
            m.d.sync += [kill_pending.eq(1), kill_index.eq(self.next_index),
                         kill_cycle.eq(self.now)]
        mark_pending = Signal()
        mark_wait = Signal(range(STALE_SETTLE + 1))
        mark_index = Signal(48)
        mark_cycle = Signal(64)
        with m.If(mark_wait != 0):
            m.d.sync += mark_wait.eq(mark_wait - 1)
        with m.If(self.stale & ~stale_r):
            m.d.sync += [mark_pending.eq(1), mark_wait.eq(STALE_SETTLE),
                         mark_index.eq(self.stale_index), mark_cycle.eq(self.stale_cycle)]
        with m.If(~self.stale & ~mark_pending):
            m.d.sync += self.feed_stale.eq(0)      # the host cleared it

        # Updates of messages from the cause on wait for the walk (the settling time lets the
        # earlier ones arrive and be decided first).
        hold = mark_pending & self.head_valid & (self.head_index >= mark_index)
        mark_due = mark_pending & (mark_wait == 0) & (~self.head_valid | hold)
        m.d.comb += [
            self.hold.eq(hold),
            self.due.eq(kill_pending | mark_due),
            self.cause.eq(Mux(kill_pending, OrderCause.KILL_SWITCH, OrderCause.FEED_STALE)),
            self.index.eq(Mux(kill_pending, kill_index, mark_index)),
            self.cycle.eq(Mux(kill_pending, kill_cycle, mark_cycle)),
            self.pending.eq(kill_pending | mark_pending),
        ]
        # Taking one clears it, even against a rise in the same cycle (which it then covers).
        with m.If(self.take):
            with m.If(kill_pending):
                m.d.sync += kill_pending.eq(0)
            with m.Else():
                m.d.sync += [mark_pending.eq(0), self.feed_stale.eq(1)]
        return m
