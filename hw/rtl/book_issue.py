"""The book builder's issue stage: book events in, one micro-op a clock out to the pipeline.

Data flow: Ingress -> IssueQueue -> the book's S1 (hw/rtl/book.py). Most events are one
micro-op; an Order Replace (U) is two (remove the old ref, then add the new one with the old
order's slot and side), so it takes two issue slots, and a few micro-ops may wait here.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.records import BookEventKind, FeedEvent

#: Micro-ops that can wait. At line rate none is lost: a message is at least 13 bytes on the
#: wire, so at most 8 events arrive in 13 cycles, and the queue drains in the gaps.
QUEUE = 4
#: One issue slot's work: an event, and for a U which half (`second`: add the new ref).
MicroOp = data.StructLayout({"feed": FeedEvent, "second": 1})


class IssueQueue(wiring.Component):
    """`i_event` (no backpressure) in; `o_op` out, valid in every cycle something can issue.

    Latency 0: an event that finds the queue empty issues in the cycle it arrives (its U's
    second half the next cycle); otherwise the queue's head issues first, in order.
    Overflow (only above line rate): the micro-ops that do not fit are dropped and `dropped`
    pulses (the book marks every slot unreliable and counts it). Reset: empty.
    """

    i_event: In(stream.Signature(FeedEvent, always_ready=True))
    o_op: Out(stream.Signature(MicroOp, always_ready=True))
    dropped: Out(1)

    def elaborate(self, platform):
        m = Module()
        incoming = self.i_event.valid
        first, second = Signal(MicroOp), Signal(MicroOp)
        m.d.comb += [first.feed.eq(self.i_event.p), second.feed.eq(self.i_event.p),
                     second.second.eq(1)]
        is_u_in = self.i_event.p.event.kind == BookEventKind.REPLACE
        queue = [Signal(MicroOp, name=f"queue{i}") for i in range(QUEUE)]
        count = Signal(range(QUEUE + 1))
        m.d.comb += [self.o_op.valid.eq((count != 0) | incoming),
                     self.o_op.p.eq(Mux(count != 0, queue[0], first))]
        # What waits after this cycle: the queue without its head, then the new micro-ops.
        n_new = Mux(incoming, Mux(is_u_in, 2, 1), 0)
        for c in range(QUEUE + 1):
            with m.If(count == c):
                if c == 0:          # the event issues at once; a U's second half waits
                    with m.If(incoming & is_u_in):
                        m.d.sync += [queue[0].eq(second), count.eq(1)]
                    continue
                waiting = [*queue[1:c], first, second]
                after_issue = (c - 1) + n_new
                for i in range(min(len(waiting), QUEUE)):
                    m.d.sync += queue[i].eq(waiting[i])
                m.d.sync += count.eq(Mux(after_issue > QUEUE, QUEUE, after_issue))
                m.d.comb += self.dropped.eq(after_issue > QUEUE)
        return m
