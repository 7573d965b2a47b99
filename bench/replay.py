"""`nerve replay --backend rtl` at simulator speed: a long feed through the whole card's RTL
(the C++ harness, hw/tb/harness.py), compared byte for byte with the golden model.

    python bench/replay.py [--messages 1000000] [--symbols 20] [--seed 1] [--mutated 3]

Prints the harness's simulated cycles per second (frames alone, and the whole replay with the
host's register actions between packets), the wall time of the model and of the RTL, and
whether every output file is equal; then a campaign of feeds with gaps, duplicates and
malformed messages (`--mutated` seeds), each compared with the model. Asserts nothing: a
difference is printed and the exit status is 1."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hw.tb import card, harness  # noqa: E402
from sw.cli.main import main as nerve  # noqa: E402

FILES = ("bbo.csv", "orders.fix", "orders.csv", "rejects.csv")
LIMITS = ROOT / "docs" / "examples" / "limits.json"
STRATEGY = ROOT / "docs" / "examples" / "strategy.json"


def replay(feed: Path, out: Path, backend: str) -> float:
    started = time.perf_counter()
    code = nerve(["replay", "--backend", backend, "--feed", str(feed), "--out", str(out),
                  "--limits", str(LIMITS), "--strategy", str(STRATEGY)])
    if code:
        raise SystemExit(f"nerve replay --backend {backend} failed ({code})")
    return time.perf_counter() - started


def compare(root: Path, feed: Path, what: str) -> bool:
    import json

    model_s = replay(feed, root / "model", "model")
    rtl_s = replay(feed, root / "rtl", "rtl")
    summary = json.loads((root / "rtl" / "summary.json").read_text())
    same = [name for name in FILES
            if (root / "rtl" / name).read_bytes() == (root / "model" / name).read_bytes()]
    unreliable = summary["unreliable_slots"]
    if unreliable:
        print(f"{what}: the feed left the book's capacity on slots {unreliable} (docs/book.md)")
    print(f"{what}: {summary['messages']:,} messages, {summary['frames']:,} frames, "
          f"{summary['cycles']:,} cycles; model {model_s:.1f} s, RTL {rtl_s:.1f} s "
          f"(simulation {summary['simulate_s']:.1f} s, {summary['cycles_per_s']:,} cycles/s "
          f"with the host's actions); {summary['orders']:,} orders, "
          f"{summary['rejects']:,} rejects; files equal: {len(same)}/{len(FILES)}"
          + ("" if len(same) == len(FILES) else f" (differ: {set(FILES) - set(same)})"))
    return len(same) == len(FILES)


def frames_only(work: Path) -> None:
    """The frames of the last RTL replay again, alone: the harness's raw speed."""
    binary = harness.build(card.build())
    sim = harness.Harness(binary, work / "frames.bin", work / "raw")
    started = time.perf_counter()
    from hw.tb.replay import read_frames

    count = len(read_frames(work / "frames.bin"))
    sim.frames(0, count)
    sim.settle(16)
    took = time.perf_counter() - started
    sim.close()
    print(f"harness alone (nothing configured, the filter drops every frame): {count:,} "
          f"frames, {sim.cycles:,} cycles in {took:.2f} s = {sim.cycles / took:,.0f} cycles/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    # A range-bound market keeps a million messages inside the book's default capacity
    # (docs/book.md): the random walk of the normal regime drifts out of a symbol's $1.63
    # price window within ~100,000 of its messages, and the summary then names the unreliable
    # slots, whose outputs the model need not match.
    parser.add_argument("--symbols", type=int, default=24)
    parser.add_argument("--regime", default="quiet:1", help="nerve gen --regime")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mutated", type=int, default=3, help="seeds of damaged feeds")
    args = parser.parse_args()
    started = time.perf_counter()
    harness.build(card.build())
    print(f"card and harness built (or cached) in {time.perf_counter() - started:.0f} s")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        feed = root / "feed.pcap"
        nerve(["gen", "--symbols", str(args.symbols), "--messages", str(args.messages),
               "--seed", str(args.seed), "--regime", args.regime, "--out", str(feed)])
        ok &= compare(root / "long", feed, f"long feed ({args.symbols} symbols, "
                      f"{args.regime}), seed {args.seed}")
        (root / "long" / "rtl" / "rtl" / "raw").mkdir(exist_ok=True)
        frames_only(root / "long" / "rtl" / "rtl")   # the replay's work folder
        for seed in range(1, args.mutated + 1):
            damaged = root / f"damaged{seed}.pcap"
            nerve(["gen", "--symbols", "30", "--messages", "20000", "--seed", str(seed),
                   "--gaps", "5", "--duplicates", "5", "--malformed", "5",
                   "--out", str(damaged)])
            ok &= compare(root / f"damaged{seed}", damaged,
                          f"damaged feed (gaps, duplicates, malformed), seed {seed}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
