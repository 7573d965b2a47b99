"""Tick-to-trade of a card build, measured by the hardware's own stamps in simulation.

A synthetic NASDAQ session (one ITCH message per MoldUDP64 packet, frames back to back, the
PTP clock free-running) is replayed through the card's Verilator build (hw/tb/harness.py) with
permissive limits, so that the strategy's orders pass the gate. For every strategy order the
latency is the cycle its first egress beat left (`egress_cycle`, stamped by the encoder) minus
the cycle of the beat that carried the last byte of the ITCH message that caused it (`index`):
ITCH last byte in -> FIX first byte out. Used by bench/tick_to_trade.py and by the whole-path
place-and-route report (bitstreams/fastpath.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from hw.rtl.capacity import DEFAULT, Capacity
from hw.tb import card
from hw.tb.replay import prepare, read_beats, read_events, simulate
from sw.feed.generator import MarketConfig, generate
from sw.model.config import load_limits, load_strategy

#: Bytes before an ITCH message in its frame: Ethernet 14, IPv4 20, UDP 8, MoldUDP64 20, length 2.
MESSAGE_OFFSET = 64
#: The run both users make: enough strategy orders for a stable median and p99, on at most
#: `SYMBOLS` symbols (fewer if the build has fewer slots).
MESSAGES = 3000
SYMBOLS = 8
PERMISSIVE = {"max_order_qty": 1_000_000, "max_order_notional": 1e9, "collar_bps": 10_000,
              "max_long": 10_000_000, "max_short": 10_000_000, "max_open_orders": 255,
              "max_orders_per_sec": 1_000_000, "rate_burst": 65_535}


def measure(messages: int, *, symbols: int | None = None, seed: int = 3,
            capacity: Capacity = DEFAULT) -> np.ndarray:
    """Cycles from each strategy order's triggering ITCH byte to its first FIX byte, on a feed
    of `symbols` symbols (default: `SYMBOLS`, or the build's slots if fewer)."""
    symbols = min(SYMBOLS, capacity.slots) if symbols is None else symbols
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        feed = work / "feed.itch"
        generate(MarketConfig(symbols=symbols, messages=messages, seed=seed), feed)
        host = prepare(feed, work / "rtl", limits=load_limits({"defaults": PERMISSIVE}),
                       strategy_config=load_strategy({}))
        simulate(work / "rtl", build=card.build(capacity=capacity), free_time=True)
        beats = read_beats(work / "rtl")
        latencies = []
        for event in read_events(work / "rtl"):
            order = event["order"]
            if order["rejected"] or order["cause"] != 0:   # strategy orders only
                continue
            frame = host.frames[order["index"]][1]   # one message per frame, none lost
            length = int.from_bytes(frame[MESSAGE_OFFSET - 2:MESSAGE_OFFSET], "big")
            last_beat = (MESSAGE_OFFSET + length - 1) // 8
            latencies.append(event["egress_cycle"] - beats[order["index"]][last_beat])
    return np.array(latencies)


def summary(cycles: np.ndarray) -> dict[str, float]:
    """min, median, p99 and max of `cycles`."""
    return {"min": float(cycles.min()), "median": float(np.median(cycles)),
            "p99": float(np.percentile(cycles, 99)), "max": float(cycles.max())}
