"""`nerve replay --backend rtl`: a feed file through the simulated fast path.

Where it sits: the RTL twin of sw/model/replay.py. The feed's frames (a pcap's frames as they
are; a NASDAQ file's messages each in its own MoldUDP64 packet, sequenced from 1, which is how
the model replays such a file) are driven into the card (`hw.rtl.nic.Nic`: the fast path behind
its host interfaces) under Verilator, back to back, with the card's PTP time set to each
frame's stamp (the model's ingress cycle, so time-dependent decisions agree). The outputs
become the model's files: bbo.csv from the book's updates, orders.fix from the egress bytes,
orders.csv and rejects.csv from the order events (drained by the event stream); with the same
feed, limits, strategy and host actions they must equal the model's byte for byte (within the
hardware's documented capacity: the summary says when it was left).

The host's part is done here as a host would, through the binding path of drivers/card.py: it
learns each symbol's stock locate from the feed's stock directory (the R messages the file
holds, wherever they are in it), turns learning off, subscribes those locates (in its own
order, by symbol name, not the feed's), reads the card's slot map back and writes each
symbol's limits, position and strategy parameters to the slot the map shows for its locate
(`drivers.card.confirm`); a symbol the host learned no locate for is never subscribed and never
written. The map is checked again after every packet that delivers an R or follows a sequence
gap; a disagreement halts the card (and keeps it halted) and is written to map.json beside the
slots the map gave (summary.json: `slots`, `map_errors`). Scheduled host actions (kill switch,
release, clear stale, limit changes, order ends) are register writes between packets, after
the fast path has gone idle; a release checks the map first, as `Card.release` does.

The card runs in the C++ harness (hw/tb/harness.py), at Verilator's speed: `prepare` writes the
frames and the host's plan (frames.bin, plan.json), `simulate` drives the frames between two
host actions in one harness command and makes the host's register accesses word by word
(`HarnessHost`), and the card's updates, order events and egress bytes come back as files
(updates.bin, events.bin, egress.bin), decoded with the records' layouts.
"""

from __future__ import annotations

import json
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from drivers.card import confirm, limits_writes, map_entry, map_reads, strategy_writes
from drivers.device import Device
from drivers.events import CAUSES, MSG_TYPE
from hw.rtl import book, risk, trader
from hw.rtl.encoder import ascii_text, ascii_word
from hw.rtl.fastpath import SLOTS
from hw.rtl.nic import REGMAP
from hw.rtl.records import (
    BookEventKind,
    BookUpdate,
    OrderEvent,
    OrderKind,
    OrderRecord,
    unpack,
)
from hw.tb import card, harness, sim
from spec.itch import stock_text
from sw.feed.net import UdpEndpoint
from sw.model.config import Limits, StrategyConfig
from sw.model.fastpath import BboRow, OrderRow, RejectRow, tradable_symbol
from sw.model.ingress import directory, feed_frames
from sw.model.orders import SIDE_CHAR
from sw.model.risk import Reason

_FRAME = struct.Struct("<IQ")          # frame length, PTP time stamp (cycles)
IDLE_BETWEEN_FRAMES = 2                # cycles: the MAC's inter-frame gap, roughly
SETTLE = 16                            # idle cycles for the ingress and book to empty
PROGRESS_FRAMES = 50_000               # frames per harness command (and progress line)
REASONS = tuple(Reason)
DIRECTORY = int(BookEventKind.DIRECTORY)


# --- the host side ---------------------------------------------------------------------------

@dataclass
class Plan:
    """What the host knows before the open, and the register writes it will make."""

    frames: list[tuple[int, bytes]]                       # (stamp, frame)
    setup: list[list] = field(default_factory=list)       # ops before the feed
    actions: dict[int, list[list]] = field(default_factory=dict)   # frame number -> ops
    after: list[list] = field(default_factory=list)       # ops after the feed
    locates: dict[str, int] = field(default_factory=dict)  # symbol -> locate, subscribed
    named: int = 0                                        # symbols the feed's R messages name


def _slot_ops(writes: list[tuple[str, int]]) -> list[list]:
    """Register writes for a slot not known yet: the commit (the last write, whose low bits
    are the slot) is sent with the slot the card's map gives (`write_slot`)."""
    *staged, (commit, value) = writes
    return [*(["write", n, v] for n, v in staged), ["write_slot", commit, value]]


def _risk_limits(limits: Limits, symbol: str, *, position: bool) -> list[list]:
    """Stage a symbol's limits (and its confirmed position) and commit them to its slot."""
    confirmed = limits.positions.get(symbol, 0) if position else None
    return _slot_ops(limits_writes(0, limits.for_symbol(symbol), confirmed))


def _configure(limits: Limits, strat: StrategyConfig, symbol: str) -> list[list]:
    ops = _risk_limits(limits, symbol, position=True)
    params = _slot_ops(strategy_writes(0, strat.for_symbol(symbol)))
    # A strategy commit takes strategy.COMMIT_CYCLES; one sent while busy would be refused.
    return [*ops, *params[:-1], ["wait_clear", "strategy_commit_busy"], params[-1]]


def _sync(locates: dict[str, int], limits: Limits, strat: StrategyConfig) -> list:
    """Check the card's map; configure the symbols it binds for the first time."""
    return ["sync", locates, {symbol: _configure(limits, strat, symbol) for symbol in locates}]


def plan(feed, dst: UdpEndpoint, limits: Limits, strat: StrategyConfig, control) -> Plan:
    from sw.model.replay import (
        ClearStaleAction,
        HaltAction,
        HostOrderAction,
        OrderEndedAction,
        ReleaseAction,
        SetLimitsAction,
    )

    frames = feed_frames(feed.data, feed.kind, dst)
    found = directory(frames, dst)
    before = found.before
    result = Plan(frames, named=len(found.locates))
    # The symbols the host trades: the first SLOTS tradable ones the directory names,
    # subscribed in the host's order (by name), which the card's map then reports back.
    tradable = [s for s in found.locates if tradable_symbol(s)][:SLOTS]
    locates = result.locates = {s: found.locates[s] for s in sorted(tradable)}
    # Events leave by the card's stream (a DMA engine's place), which the testbench drains.
    result.setup = [["write", "event_dma", 1],
                    ["write", "net_dst_ip", dst.ip_int], ["write", "net_dst_port", dst.port],
                    ["write", "book_learn", 0],
                    *(["write", "book_subscribe", locate] for locate in locates.values()),
                    _sync(locates, limits, strat)]
    if not limits.halted:
        result.setup.append(["release"])
    initial = limits

    scheduled: dict[int, list] = {}       # frame number -> [(ops, limits after them)]
    index = 0
    for action in control:
        # The model applies an action before the first packet it meets whose first message
        # index is at least `before_msg`.
        while index < len(frames) and before[index] < action.before_msg:
            index += 1
        if isinstance(action, HaltAction):
            ops = [["write", "risk_halt", 1]]
        elif isinstance(action, ReleaseAction):
            ops = [["release"]]
        elif isinstance(action, ClearStaleAction):
            ops = [["write", "mold_stale", 1]]
        elif isinstance(action, SetLimitsAction):
            limits = limits.updated(action.symbol, action.limits)
            ops = [["symbol", name, _risk_limits(limits, name, position=False)]
                   for name in locates if action.symbol is None or name == action.symbol]
        elif isinstance(action, OrderEndedAction):
            ops = [["order_end", action.clordid]]
        elif isinstance(action, HostOrderAction):
            # The host order port, at the slot the card's map gives the symbol.
            submit = (action.side == "S") << 8 | (action.tif == "3") << 9
            ops = [["symbol", action.symbol, [["write", "trader_order_price", action.price],
                                              ["write", "trader_order_qty", action.qty],
                                              ["write_slot", "trader_order_submit", submit]]]]
        else:  # pragma: no cover - the schedule's schema allows nothing else
            raise TypeError(action)
        scheduled.setdefault(index, []).append((ops, limits))
    # Before each frame: the map check its predecessor calls for (with the limits of the
    # time, for a symbol it would bind), then the actions scheduled there.
    limits = initial
    for n in sorted({n + 1 for n in found.check_after} | set(scheduled)):
        ops = [_sync(locates, limits, strat)] if n - 1 in found.check_after and locates else []
        for action_ops, after in scheduled.get(n, []):
            ops += action_ops
            limits = after
        if n < len(frames):
            result.actions[n] = ops
        else:
            result.after += ops
    return result


def order_rows(events: list[dict], prefix: str) -> tuple[list[OrderRow], list[RejectRow]]:
    orders, rejects = [], []
    for e in events:
        o = e["order"]
        kind = OrderKind(o["kind"])
        symbol = stock_text(e["symbol"])
        side = SIDE_CHAR[o["side"]]
        if o["rejected"]:
            failed = [REASONS[n].value for n in range(len(REASONS)) if o["failed"] >> n & 1]
            rejects.append(RejectRow(o["index"], symbol, side, o["price"], o["qty"],
                                     REASONS[o["reason"] - 1].value, MSG_TYPE[kind],
                                     "|".join(failed), o["ingress_cycle"],
                                     CAUSES[o["cause"]]))
            continue
        orig = f"{prefix}{o['orig_clordid']:08d}" if o["orig_clordid"] else ""
        orders.append(OrderRow(o["index"], MSG_TYPE[kind], f"{prefix}{o['clordid']:08d}",
                               symbol, side, o["price"], o["qty"], orig,
                               "3" if o["ioc"] else "0", e["seq"], o["ingress_cycle"],
                               CAUSES[o["cause"]]))
    return orders, rejects


def prepare(feed_path: Path, work: Path, *, limits: Limits | None = None,
            strategy_config: StrategyConfig | None = None, control=(),
            dst: UdpEndpoint = UdpEndpoint(), trade_date=None,
            clordid_prefix: str | None = None) -> Plan:
    """The host's plan for a feed, written to `work` (frames.bin, plan.json) for the simulator."""
    from sw.model.config import load_limits, load_strategy
    from sw.model.replay import Feed

    feed = Feed.open(feed_path)
    limits = limits or load_limits({})
    strategy_config = strategy_config or load_strategy({})
    date = trade_date or feed.trade_date()
    work.mkdir(parents=True, exist_ok=True)
    host = plan(feed, dst, limits, strategy_config, control)
    host.setup.insert(0, ["write", "fix_trade_date",
                          int.from_bytes(f"{date:%Y%m%d}".encode())])
    if clordid_prefix is not None:
        if len(clordid_prefix) > 8 or not clordid_prefix.isascii() or (
                clordid_prefix and not clordid_prefix.isalnum()):
            raise ValueError(f"the ClOrdID prefix is up to 8 ASCII letters/digits, not "
                             f"{clordid_prefix!r}")
        host.setup[:0] = [["write", "fix_clordid_prefix", ascii_word(clordid_prefix)],
                          ["write", "fix_clordid_prefix_len", len(clordid_prefix)]]
    with (work / "frames.bin").open("wb") as f:
        for stamp, frame in host.frames:
            f.write(_FRAME.pack(len(frame), stamp) + frame)
    (work / "plan.json").write_text(json.dumps({
        "setup": host.setup, "actions": host.actions, "after": host.after}))
    return host


def simulate(work: Path, *, build: sim.SimBuild | None = None, free_time: bool = False) -> dict:
    """Run the plan `prepare` wrote into `work` through the card under Verilator, in bulk (the
    C++ harness, hw/tb/harness.py, built once per card): its outputs land in `work`
    (updates.bin, events.bin, egress.bin), and counters.json and map.json beside them.
    `free_time`: the PTP clock runs free and the frames go back to back with no host action
    between them, and the cycle each frame's beats were sampled at goes to beats.bin (the
    tick-to-trade benchmark). Returns the counters."""
    build = build or card.build()
    binary = harness.build(build)
    frames = read_frames(work / "frames.bin")
    plan = json.loads((work / "plan.json").read_text())
    card_sim = harness.Harness(binary, work / "frames.bin", work)
    host = HarnessHost(card_sim, work)
    started = time.perf_counter()
    try:
        if free_time:
            card_sim.command("time free")
        host.settle_reset()
        host.apply(plan["setup"])
        actions = {int(k): v for k, v in plan["actions"].items()} if not free_time else {}
        stops = sorted(n for n in actions if n < len(frames))
        done = 0
        for stop in [*stops, len(frames)]:
            # The frames up to the next host action in one command: no Python per cycle.
            for chunk in range(done, stop, PROGRESS_FRAMES):
                card_sim.frames(chunk, min(stop, chunk + PROGRESS_FRAMES))
                if min(stop, chunk + PROGRESS_FRAMES) % PROGRESS_FRAMES == 0:
                    rate = card_sim.cycles / max(time.perf_counter() - started, 1e-9)
                    print(f"  rtl: {min(stop, chunk + PROGRESS_FRAMES):,}/{len(frames):,} "
                          f"frames, {card_sim.cycles:,} cycles ({rate:,.0f} cycles/s)",
                          file=sys.stderr, flush=True)
            done = stop
            if stop in actions:
                host.apply(actions[stop])
        host.apply(plan["after"] if not free_time else [])
        if free_time:
            card_sim.command(f"beats {work / 'beats.bin'}")
        counters = {"cycles": card_sim.cycles,
                    "simulate_cycles_per_s": round(
                        card_sim.cycles / max(time.perf_counter() - started, 1e-9))}
        for name in COUNTERS:
            counters[name] = host.read(name)
        host.settle()
    finally:
        card_sim.close()
    (work / "counters.json").write_text(json.dumps(counters))
    (work / "map.json").write_text(json.dumps({"slots": host.slots, "errors": host.map_errors}))
    return counters


def _words(layout) -> int:
    """Bytes the harness writes per payload of `layout`: Verilator's storage of its bits."""
    width = layout.as_shape().size
    return 4 if width <= 32 else 8 if width <= 64 else 4 * -(-width // 32)


def read_payloads(path: Path, layout, start: int = 0) -> tuple[list[dict], int]:
    """The payloads of `layout` the harness wrote to `path` from byte `start` on, unpacked, and
    the byte offset after the last whole one (where the next read starts)."""
    if not path.exists():
        return [], start
    with path.open("rb") as f:
        f.seek(start)
        data = f.read()
    size = _words(layout)
    whole = len(data) - len(data) % size
    return ([unpack(layout, int.from_bytes(data[at:at + size], "little"))
             for at in range(0, whole, size)], start + whole)


def read_events(work: Path) -> list[dict]:
    """The card's order events in order, each with its OrderRecord unpacked."""
    events, _ = read_payloads(work / "events.bin", OrderEvent)
    for e in events:
        e["order"] = unpack(OrderRecord, e["order"])
    return events


def read_beats(work: Path) -> list[list[int]]:
    """Per frame, the cycle each of its beats was sampled at (free-running time: beats.bin;
    a frame is one beat per 8 bytes, an empty one a beat)."""
    data = (work / "beats.bin").read_bytes()
    flat = iter(struct.unpack(f"<{len(data) // 8}Q", data))
    return [[next(flat) for _ in range(max(1, -(-len(frame) // 8)))]
            for _, frame in read_frames(work / "frames.bin")]


def replay_rtl(feed_path: Path, out_dir: Path, *, limits: Limits | None = None,
               strategy_config: StrategyConfig | None = None, control=(),
               dst: UdpEndpoint = UdpEndpoint(), trade_date=None,
               clordid_prefix: str | None = None) -> dict:
    """Replay `feed_path` through the RTL fast path; writes the model's output files."""
    from sw.model.replay import write_csv

    work = out_dir / "rtl"
    started = time.perf_counter()
    host = prepare(feed_path, work, limits=limits, strategy_config=strategy_config,
                   control=control, dst=dst, trade_date=trade_date,
                   clordid_prefix=clordid_prefix)
    build = card.build()
    harness.build(build)
    built = time.perf_counter()
    simulate(work, build=build)
    updates, _ = read_payloads(work / "updates.bin", BookUpdate)
    counters = json.loads((work / "counters.json").read_text())
    events = read_events(work)
    bbo = [BboRow(u["index"], u["locate"], stock_text(u["stock"]) if u["named"] else "",
                  u["bid_price"], u["bid_shares"], u["ask_price"], u["ask_shares"])
           for u in updates if u["bbo_changed"]]
    mapped = json.loads((work / "map.json").read_text())
    # The ClOrdID prefix the card's encoder used: read from the card, not assumed.
    prefix = ascii_text(counters["fix_clordid_prefix"], counters["fix_clordid_prefix_len"])
    orders, rejects = order_rows(events, prefix)
    write_csv(out_dir / "bbo.csv", BboRow._fields, bbo)
    write_csv(out_dir / "orders.csv", OrderRow._fields, orders)
    write_csv(out_dir / "rejects.csv", RejectRow._fields, rejects)
    (out_dir / "orders.fix").write_bytes((work / "egress.bin").read_bytes())
    summary = {
        "backend": "rtl",
        "frames": len(host.frames),
        "messages": counters["mold_messages"],
        "bbo_updates": len(bbo),
        "orders": len(orders),
        "rejects": len(rejects),
        "cycles": counters.pop("cycles"),
        "cycles_per_s": counters.pop("simulate_cycles_per_s"),
        "build_s": round(built - started, 1),
        "simulate_s": round(time.perf_counter() - built, 1),
        "unreliable_slots": [s for s in range(SLOTS) if counters["book_unreliable"] >> s & 1],
        "symbols_beyond_slots": max(0, host.named - SLOTS),
        "locates": host.locates,
        "slots": mapped["slots"],
        "map_errors": mapped["errors"],
        "registers": counters,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


# --- the simulator side -------------------------------------------------------------------

COUNTERS = ["mold_messages", "mold_gaps", "mold_stale", "itch_malformed", "book_unreliable",
            "book_slots_used", *(f"book_{name}" for name in book.COUNTERS),
            "risk_commit_error", "strategy_commit_error", "trader_fault", "trader_open_chains",
            "fix_clordid_prefix", "fix_clordid_prefix_len",
            *(f"risk_{name}" for name in risk.COUNTERS),
            *(f"trader_{name}" for name in trader.COUNTERS)]


class HarnessHost:
    """The host's side of a replay on the harness: its register actions between packets, word
    by word over the card's CSR port, with the binding path of drivers/card.py (the map read
    back and confirmed, per-symbol writes by the map's slot)."""

    def __init__(self, card_sim: harness.Harness, out: Path) -> None:
        self.card = card_sim
        self.device = Device(card_sim, REGMAP)     # registers by name, word by word
        self.out = out
        self.handles: dict[int, int] = {}   # chain ClOrdID number -> order-table entry
        self.slots: dict[str, int] = {}     # symbol -> slot, as the card's map confirms
        self.locates: dict[str, int] = {}   # symbol -> locate, as the host subscribed them
        self.map_errors: list[str] = []     # the map's disagreements (the card stays halted)
        self._events_read = 0               # bytes of events.bin already looked at

    def read(self, name: str) -> int:
        return self.device.read(name)

    def write(self, name: str, value: int) -> None:
        self.device.write(name, value)

    def settle_reset(self) -> None:
        """As the host brings a card up: the book's reset sweep (hw/rtl/book.py) ends first."""
        while self.read("book_clearing"):
            self.card.command("idle 1024")

    def settle(self) -> None:
        """Until the fast path is idle; the order events so far name their chains' entries."""
        self.card.settle(SETTLE)
        events, self._events_read = read_payloads(self.out / "events.bin", OrderEvent,
                                                  self._events_read)
        for e in events:
            order = unpack(OrderRecord, e["order"])
            if not order["rejected"] and order["kind"] == OrderKind.NEW:
                self.handles[order["clordid"]] = order["handle"]

    def apply(self, ops) -> None:
        """Host register writes, between packets, once the fast path is idle."""
        self.settle()
        self._ops(ops)
        self.settle()

    def _ops(self, ops, slot: int = 0) -> None:
        for op in ops:
            if op[0] == "write":
                self.write(op[1], op[2])
            elif op[0] == "write_slot":
                self.write(op[1], op[2] | slot)
            elif op[0] == "wait_clear":
                while self.read(op[1]):
                    pass
            elif op[0] == "sync":
                self.sync(op[1], op[2])
            elif op[0] == "release":
                self.sync(self.locates, {})
                if not self.map_errors:
                    self.write("risk_halt", 0)
            elif op[0] == "symbol":     # a symbol's writes, to the slot the map gave it
                if op[1] in self.slots:
                    self._ops(op[2], self.slots[op[1]])
            else:   # order_end: the host names the chain by its table entry
                if op[1] not in self.handles:
                    raise ValueError(f"order_ended names ClOrdID {op[1]}, which the card "
                                     f"never sent as a D")
                self.write("trader_order_end", self.handles[op[1]])

    def read_map(self) -> list:
        used = min(self.read("book_slots_used"), SLOTS)
        entries = []
        for slot in range(used):
            values = []
            for op, name, value in map_reads(slot):
                if op == "write":
                    self.write(name, value)
                else:
                    values.append(self.read(name))
            entries.append(map_entry(slot, *values))
        return entries

    def sync(self, locates: dict, configure: dict) -> None:
        """`Card.sync`: bind by the card's map, configure what it binds for the first time
        (`configure`: each symbol's writes), halt on any disagreement (and stay halted: no
        later release)."""
        self.locates = locates
        slots, wrong = confirm(locates, self.read_map())
        wrong += [f"the card's symbol map moved {s}" for s, n in self.slots.items()
                  if slots.get(s, n) != n]
        if wrong:
            self.map_errors += wrong
            self.write("risk_halt", 1)
            return
        for symbol, slot in slots.items():
            if symbol not in self.slots and symbol in configure:
                self.slots[symbol] = slot
                self._ops(configure[symbol], slot)


def read_frames(path: Path) -> list[tuple[int, bytes]]:
    data = path.read_bytes()
    frames, at = [], 0
    while at < len(data):
        size, stamp = _FRAME.unpack_from(data, at)
        at += _FRAME.size
        frames.append((stamp, data[at:at + size]))
        at += size
    return frames
