"""The loop's host side, timed: a fill into the card's position register, and a cadence's
measurement into adjusted strategy parameters in the card's registers.

    python bench/loop.py [--fills 1000 10000 100000] [--reports 2000]

Two paths, on the model card behind its register map (drivers/model.py; a board adds its
transport's register round trips, docs/drivers.md):
- fill -> position applied: the OMS books an execution report and its confirmed position is
  committed to the symbol's slot in the card's gate (`Oms.handle` -> `Card.commit_limits`),
  per report, microseconds;
- fill -> adjusted parameter in registers: at a cadence point, TCA measures every fill so far,
  the feedback policy proposes, and the desk applies a change through its audited path (SQLite
  audit row, strategy registers staged, read back and committed): milliseconds, by stage, for
  TCA tables of several sizes. In a run the cadence (`--cadence-ms`, 1 s of feed time by
  default) comes on top: a fill waits for the next cadence point.

Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tca_store import session  # noqa: E402
from drivers import open_device  # noqa: E402
from drivers.card import Card  # noqa: E402
from sw.control.auth import Role, User  # noqa: E402
from sw.control.desk import Desk, StrategyUpdate  # noqa: E402
from sw.control.store import Store  # noqa: E402
from sw.feed.generator import MarketConfig, MarketGenerator, PcapOptions, pcap_frames  # noqa: E402
from sw.model.clock import ns_to_cycles  # noqa: E402
from sw.model.config import StrategyParamsUpdate  # noqa: E402
from sw.oms.oms import Oms  # noqa: E402
from sw.tca.analysis import TcaAnalysis  # noqa: E402
from sw.tca.feedback import FeedbackPolicy  # noqa: E402

SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META")   # the generator's first six
POLICY = User("feedback-policy", Role.TRADER)


def started_card(root: Path) -> tuple[Card, Desk]:
    """A model card with its documents loaded and released, its symbols named by a feed."""
    card = Card(open_device("model"), {s: n + 1 for n, s in enumerate(SYMBOLS)})
    desk = Desk(card, Store(root / "control.db"))
    desk.start()
    config = MarketConfig(symbols=len(SYMBOLS), messages=2000, seed=1)
    frames = list(pcap_frames(list(MarketGenerator(config)), PcapOptions(), 1))
    model = card.device.transport.card
    for at, frame in frames:
        model.frame(frame, ns_to_cycles(at - frames[0][0]) + 1000)
    card.events(100_000)
    return card, desk


def percentiles(samples_s: list[float], unit: float) -> str:
    a = np.asarray(samples_s) / unit
    return f"p50 {np.percentile(a, 50):8.1f}  p99 {np.percentile(a, 99):8.1f}"


def fill_to_position(root: Path, card: Card, reports: int) -> None:
    slots = {s: card.slot_of(s) for s in SYMBOLS}
    oms = Oms(root / "journal.jsonl", on_position=lambda s, q: card.commit_limits(
        slots[s], None, q))
    _, orders, fills = session(reports)
    oms.handle(orders)
    took = []
    for report in fills:
        start = time.perf_counter()
        oms.handle([report])
        took.append(time.perf_counter() - start)
    oms.close()
    print(f"fill -> position in the card's gate, {reports:,} reports (journal fsync each): "
          f"{percentiles(took, 1e-6)} us")


def cadence_to_registers(root: Path, card: Card, desk: Desk, sizes: list[int]) -> None:
    print(f"{'fills':>9} {'TCA measure':>12} {'policy':>8} {'desk + registers':>17} "
          f"{'total':>8}   (ms; changes proposed)")
    half = 2
    for size in sizes:
        quotes, orders, fills = session(size)
        tca = TcaAnalysis()
        for events in (quotes, orders, fills):
            for event in events:
                tca.add(event)
        policy = FeedbackPolicy()
        now = fills[-1].TransactTime
        t0 = time.perf_counter()
        measured = tca.measure()
        t1 = time.perf_counter()
        current = desk.effective_strategy()
        limits = desk.effective_limits()
        proposed = 0
        for symbol, row in measured["symbol"].items():
            params = current[symbol].model_dump()
            proposed += len(policy.propose(symbol, row, params, params, 0,
                                           limits[symbol].max_long, now))
        t2 = time.perf_counter()
        # One applied change, as the policy's are applied: audited, staged, read back and
        # committed to the symbol's slot (alternating so that every one is a change).
        half = 5 - half
        desk.update_strategy(POLICY, StrategyUpdate(symbols={
            "AAPL": StrategyParamsUpdate(half_spread_ticks=half)}),
            why={"half_spread_ticks": {"old": 5 - half, "new": half, "why": "bench"}})
        t3 = time.perf_counter()
        slot = card.slot_of("AAPL")
        assert card.device.transport.card.slot_params[slot].half_spread_ticks == half
        print(f"{size:>9,} {1e3 * (t1 - t0):12.1f} {1e3 * (t2 - t1):8.2f} "
              f"{1e3 * (t3 - t2):17.2f} {1e3 * (t3 - t0):8.1f}   ({proposed})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fills", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--reports", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        card, desk = started_card(root)
        fill_to_position(root, card, args.reports)
        cadence_to_registers(root, card, desk, args.fills)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
