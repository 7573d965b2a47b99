# amaranth: UnusedElaboratable=no
# (the blocks here are built to read their signatures, never elaborated)
"""Ports without backpressure say so (`always_ready`), `wiring.connect` holds the contract, and
the converters name a component's ports without the constants (hw/rtl/toplevel.py)."""

import pytest
from amaranth import Module
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import ConnectionError

from hw.rtl.book import BookBuilder
from hw.rtl.encoder import OrderEncoder
from hw.rtl.fallthrough import FallThroughFIFO
from hw.rtl.fastpath import FastPath
from hw.rtl.ingress import Ingress
from hw.rtl.itch import ItchDecoder
from hw.rtl.moldudp64 import MoldUDP64
from hw.rtl.netfilter import NetFilter
from hw.rtl.records import BookUpdate
from hw.rtl.risk import RiskGate
from hw.rtl.strategy import Strategy
from hw.rtl.toplevel import top_ports
from hw.rtl.trader import Trader

#: Every stream of the fast path that never stalls its producer, or ignores its consumer's ready.
ALWAYS_READY = [
    (NetFilter, ("i_frame", "o_payload")), (MoldUDP64, ("i_payload", "o_message")),
    (ItchDecoder, ("i_message", "o_event")), (Ingress, ("i_frame", "o_event", "o_payload")),
    (BookBuilder, ("i_event", "o_update", "subscribe")),
    (Trader, ("i_update", "o_decision", "i_intents", "o_request", "i_verdict")),
    (Strategy, ("i_decision", "o_intents", "commit")),
    (RiskGate, ("i_request", "o_verdict", "commit")), (OrderEncoder, ("seq_set",)),
    (FastPath, ("i_frame", "o_update")),
]
#: The streams that honour ready: their producer may be stalled.
BACKPRESSURE = [(Trader, ("o_command", "order_end", "host_order")),
                (OrderEncoder, ("i_command", "o_egress", "o_event")),
                (FastPath, ("o_egress", "o_event"))]


@pytest.mark.parametrize(("block", "ports"), ALWAYS_READY, ids=lambda v: getattr(v, "__name__", ""))
def test_ports_without_backpressure_are_always_ready(block, ports):
    built = block()
    for name in ports:
        assert getattr(built, name).signature.always_ready, f"{block.__name__}.{name}"


@pytest.mark.parametrize(("block", "ports"), BACKPRESSURE, ids=lambda v: getattr(v, "__name__", ""))
def test_ports_that_can_stall_are_not(block, ports):
    built = block()
    for name in ports:
        assert not getattr(built, name).signature.always_ready, f"{block.__name__}.{name}"


def test_connect_refuses_an_always_ready_producer_to_a_consumer_that_can_stall():
    m = Module()
    with pytest.raises(ConnectionError, match="constant value 1 to an output member"):
        wiring.connect(m, book=BookBuilder().o_update,
                       fifo=FallThroughFIFO(shape=BookUpdate, depth=4).w)


def test_top_ports_leave_out_the_constant_ready_and_keep_every_signal():
    ingress = Ingress()
    names = {signal.name for signal in top_ports(ingress)}
    assert {"i_frame__valid", "i_frame__payload", "o_event__valid", "o_event__payload"} <= names
    assert "i_frame__ready" not in names and "o_event__ready" not in names
    text = verilog.convert(ingress, name="ingress", ports=top_ports(ingress), emit_src=False)
    assert "input i_frame__valid;" in text and "i_frame__ready" not in text
