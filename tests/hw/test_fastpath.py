"""The whole fast path (hw/rtl/fastpath.py) under Verilator: its tick-to-trade is the sum of
the latencies its blocks state, so no block, queue or hand-off adds a cycle unseen.

Measured as `bench/tick_to_trade.py` measures it (the beat carrying an ITCH message's last byte
into the ingress to the first beat of the order it causes out of the egress), on a short session
with one message per packet. Equivalence of the bytes is tests/hw/test_replay_rtl.py's job.
"""

from hw.rtl import book, encoder, ingress, risk, strategy, trader
from hw.tb.tick_to_trade import measure

STATED = (ingress.LATENCY + book.LATENCY + trader.LATENCY + strategy.LATENCY + risk.LATENCY
          + encoder.LATENCY)


def test_an_idle_path_turns_a_message_into_its_order_in_the_blocks_stated_cycles():
    cycles = measure(messages=600, symbols=4, seed=3)
    assert cycles.size >= 20, "too few strategy orders to see the idle path"
    # The fastest order met an idle path; the others waited behind an earlier order's bytes.
    assert cycles.min() == STATED
    assert (cycles >= STATED).all()
