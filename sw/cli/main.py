"""`nerve`: the appliance's command line.

    nerve gen     write a synthetic ITCH 5.0 session (.itch NASDAQ file or .pcap of MoldUDP64)
    nerve replay  run a feed through the fast path and write BBO, orders and rejects
    nerve demo    generate a feed with faults and replay it with a kill-switch drill
    nerve regmap  export the hardware register map (Markdown, JSON or C header)
    nerve serve   run the control plane (API, dashboard, metrics) in front of a card
    nerve token   add, list or revoke the control plane's API tokens

Errors in input files are reported in one line (with the byte offset or the bad key) and exit
with status 2; nothing is written for a feed that cannot be read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from drivers import BACKENDS as CARD_BACKENDS
from sw.control.auth import Role
from sw.feed.itch import FeedFormatError
from sw.feed.net import UdpEndpoint
from sw.model.config import ConfigError

BACKENDS = ("model", "rtl")  # rtl: the fast-path RTL under Verilator


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"date must be YYYY-MM-DD, not {text!r}") from None


def _endpoint(text: str) -> UdpEndpoint:
    try:
        return UdpEndpoint.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _host_port(text: str) -> tuple[str, int]:
    """HOST:PORT for a server to listen on (port 0: any free one)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65_535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT such as 127.0.0.1:8000, not "
                                         f"{text!r}")
    return host, int(port)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, not {text!r}")
    return value


def _regimes(text: str) -> tuple:
    """--regime KIND:SHARE[:OPTION...][,...] (sw/feed/generator.py parse_regimes)."""
    from sw.feed.generator import parse_regimes

    try:
        return parse_regimes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _progress(label: str):
    start = time.perf_counter()

    def report(done: int, total: int | None = None) -> None:
        rate = done / max(time.perf_counter() - start, 1e-9)
        of = f"/{total:,}" if total else ""
        print(f"  {label}: {done:,}{of} ({rate / 1e3:,.0f} k/s)", file=sys.stderr, flush=True)

    return report


def cmd_gen(args: argparse.Namespace) -> int:
    from sw.feed.generator import MarketConfig, PcapOptions, generate

    config = MarketConfig(symbols=args.symbols, messages=args.messages, seed=args.seed,
                          rate=args.rate, late_symbols=args.late_symbols,
                          unnamed_symbols=args.unnamed_symbols, regimes=args.regime)
    options = PcapOptions(dst=args.dst, date=args.date, gaps=args.gaps,
                          duplicates=args.duplicates, malformed=args.malformed)
    start = time.perf_counter()
    summary = generate(config, args.out, pcap=options, progress=_progress("messages"))
    took = time.perf_counter() - start
    kinds = " ".join(f"{k}:{v}" for k, v in sorted(summary["by_type"].items()))
    frames = f", {summary['frames']:,} frames" if "frames" in summary else ""
    print(f"wrote {args.out}: {summary['messages']:,} messages{frames}, "
          f"{summary['bytes']:,} bytes, {config.symbols} symbols in {took:.2f} s")
    print(f"  by type: {kinds}")
    return 0


def print_summary(summary: dict, took: float, out_dir: Path) -> None:
    rate = summary["messages"] / max(took, 1e-9)
    print(f"replayed {summary['messages']:,} ITCH messages in {took:.2f} s "
          f"({rate / 1e3:,.0f} k msg/s) -> {out_dir}")
    print(f"  BBO updates: {summary['bbo_updates']:,}")
    by_type = ", ".join(f"{k} {v:,}" for k, v in summary["orders_by_type"].items()) or "none"
    print(f"  orders:      {summary['orders']:,} ({by_type})")
    causes = ", ".join(f"{k} {v:,}" for k, v in summary["orders_by_cause"].items()) or "none"
    print(f"  sent by:     {causes}")
    reasons = ", ".join(f"{k} {v:,}" for k, v in summary["rejects_by_reason"].items()) or "none"
    print(f"  rejects:     {summary['rejects']:,} ({reasons})")
    print(f"  feed:        {summary['gaps']} gaps ({summary['missing_messages']:,} messages "
          f"missing), {summary['malformed_messages']} malformed messages, "
          f"{sum(summary['frames_dropped'].values())} frames dropped")
    if summary["halted"]:
        print("  kill switch: ENGAGED at end of replay")


def cmd_replay_rtl(args: argparse.Namespace, limits, strategy, control) -> int:
    """The RTL backend: the whole fast path under Verilator; writes the model's files."""
    from hw.tb.replay import replay_rtl

    summary = replay_rtl(args.feed, args.out, limits=limits, strategy_config=strategy,
                         control=control, dst=args.dst, trade_date=args.date,
                         clordid_prefix=args.clordid_prefix)
    regs = summary["registers"]
    print(f"replayed {summary['messages']:,} ITCH messages ({summary['frames']:,} frames, "
          f"{summary['cycles']:,} cycles) through the RTL in {summary['simulate_s']:.1f} s "
          f"(+{summary['build_s']:.1f} s build) -> {args.out}")
    print(f"  BBO updates: {summary['bbo_updates']:,}; orders: {summary['orders']:,}; "
          f"rejects: {summary['rejects']:,}; symbols: {len(summary['slots'])} bound by the "
          f"card's map")
    print(f"  feed:        {regs['mold_gaps']} gaps, {regs['itch_malformed']} malformed messages")
    if summary["map_errors"]:
        print("  WARNING: the card's symbol map disagreed with the host's subscriptions; the "
              "card was halted: " + "; ".join(summary["map_errors"]), file=sys.stderr)
    lost = {name: regs[f"book_{name}"] for name in (
        "order_overflow", "price_out_of_window", "level_conflict",
        "level_overflow", "queue_overflow") if regs[f"book_{name}"]}
    if summary["unreliable_slots"] or lost or summary["symbols_beyond_slots"]:
        print(f"  WARNING: the feed left the book's capacity ({lost}; unreliable slots "
              f"{summary['unreliable_slots']}; {summary['symbols_beyond_slots']} symbols "
              "beyond the slots): the outputs differ from the model for those symbols "
              "(docs/book.md)", file=sys.stderr)
    if regs["trader_fault"]:
        print("  WARNING: the order table faulted (queue overflow or table full) and halted "
              "trading: the outputs differ from the model from there on (docs/fastpath.md)",
              file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from sw.model.config import load_limits, load_strategy
    from sw.model.replay import load_control, replay

    limits = load_limits(args.limits) if args.limits else None
    strategy = load_strategy(args.strategy) if args.strategy else None
    control = load_control(args.control) if args.control else []
    if args.backend == "rtl":
        return cmd_replay_rtl(args, limits, strategy, control)
    start = time.perf_counter()
    result = replay(args.feed, args.out, limits=limits, strategy=strategy, control=control,
                    dst=args.dst, trade_date=args.date, clordid_prefix=args.clordid_prefix,
                    progress=_progress("ingress units"))
    print_summary(result.summary, time.perf_counter() - start, args.out)
    return 0


def risk_limits(args: argparse.Namespace):
    """Portfolio risk's limits from the run's flags; a bad pair is a clear error."""
    from sw.risk.portfolio import RiskLimits

    try:
        return RiskLimits(max_loss=args.max_loss, max_drawdown=args.max_drawdown,
                          max_gross_exposure=args.max_gross, max_var=args.max_var,
                          max_symbol_exposure=args.max_symbol,
                          reduce_gross_exposure=args.reduce_gross,
                          reduce_symbol_exposure=args.reduce_symbol)
    except ValueError as exc:
        raise ValueError(str(exc).replace("reduce_gross_exposure", "--reduce-gross")
                       .replace("max_gross_exposure", "--max-gross")
                       .replace("reduce_symbol_exposure", "--reduce-symbol")
                       .replace("max_symbol_exposure", "--max-symbol")) from None


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from sw.model.config import Limits, StrategyConfig, load_limits, load_strategy
    from sw.run.appliance import Appliance, RunConfig

    config = RunConfig(
        args.feed, args.out,
        load_limits(args.limits) if args.limits else Limits(),
        load_strategy(args.strategy) if args.strategy else StrategyConfig(),
        args.venue or [venue_spec("SIM")],
        cadence_ns=args.cadence_ms * 1_000_000, feedback=not args.no_feedback,
        risk=risk_limits(args),
        duration_s=args.duration, speed=args.speed, backend=args.backend,
        fix_config=args.fix_config,
        overwrite=args.overwrite, viewer_token=getattr(args, "viewer_token", False),
        api=args.api, api_linger_s=args.api_linger)
    start = time.perf_counter()
    summary = asyncio.run(Appliance(config).run())
    print_run_summary(summary, time.perf_counter() - start, args.out)
    return 0


VENUE_KEYS = {"latency_in_ns": int, "latency_out_ns": int, "maker_fee": int, "taker_fee": int,
              "fill_probability": float, "seed": int, "queue_model": str}


def venue_spec(text: str):
    """NAME[:KEY=VALUE,...] -> a venue simulator's launch settings (docs/run.md)."""
    from sw.venue.matching import VenueSettings
    from sw.venue.process import VenueLaunch

    name, _, rest = text.partition(":")
    if not name.isalnum() or len(name) > 16:
        raise argparse.ArgumentTypeError(f"venue {text!r}: NAME must be 1-16 letters/digits")
    values: dict = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in VENUE_KEYS:
            raise argparse.ArgumentTypeError(
                f"venue {name}: {item!r} is not KEY=VALUE with KEY one of "
                f"{', '.join(VENUE_KEYS)}")
        try:
            values[key] = VENUE_KEYS[key](value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"venue {name}: {key}={value!r} is not a "
                                             f"{VENUE_KEYS[key].__name__}") from None
    queue_model = values.pop("queue_model", "risk_averse")
    try:
        return VenueLaunch(VenueSettings(name, **values), queue_model=queue_model)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"venue {name}: {error}") from None


def print_run_summary(summary, seconds: float, out: Path) -> None:
    totals = summary.totals

    def money(value: float | None) -> str:
        return "unknown" if value is None else f"${value:,.2f}"

    print(f"ran {summary.frames:,} packets ({summary.feed_seconds:.2f} s of feed) in "
          f"{seconds:.1f} s{' (stopped early: --duration)' if summary.stopped_early else ''}")
    print(f"  orders sent {summary.orders_sent:,}, refused by the gate {summary.gate_rejects:,}, "
          f"venue reports {summary.reports:,}, fills {summary.fills:,}")
    print(f"  P&L: realised {money(totals.get('realised_pnl'))}, unrealised "
          f"{money(totals.get('unrealised_pnl'))}, fees {money(totals.get('fees'))}, net "
          f"{money(totals.get('net_pnl'))}")
    print(f"  feedback changes {summary.parameter_changes}, risk decisions "
          f"{summary.risk_decisions}; open orders: OMS {summary.open_orders_oms}, card "
          f"{summary.open_chains_card} ({'LEAK' if summary.exposure_leak else 'no exposure leak'})")
    if len(summary.venues) > 1:
        by_venue = summary.tca.get("venue", {})
        print("  per venue: " + "; ".join(
            f"{name} {orders:,} orders, {by_venue.get(name, {}).get('fills', 0):,} fills"
            + (f", slippage {by_venue[name]['slippage_bps']:+.2f} bps"
               if by_venue.get(name, {}).get("slippage_bps") is not None else "")
            for name, orders in summary.venues.items()))
    tca = summary.tca
    if tca.get("fills"):
        horizon = tca["all"]["markout_bps"]
        known = ", ".join(f"{int(h) / 1e9:g} s {v:+.2f}" for h, v in horizon.items()
                          if v is not None)
        print(f"  TCA: arrival slippage {tca['all']['slippage_bps']:+.2f} bps, markouts "
              f"(bps) {known or 'unknown yet'}")
    print(f"  outputs in {out}: report.html, fills.csv, positions.csv, tca.json, "
          "summary.json, events.duckdb, parquet/, control.db (audit)")
    print(f"  the report: {out / 'report.html'}")


#: The demo's market: a normal stretch, a trend, a quiet stretch, normal again.
DEMO_REGIMES = "normal:1,trending:1,quiet:1,normal:1"
#: The demo's portfolio limits on one symbol's exposure, dollars: reduce-only, then cut.
DEMO_MAX_SYMBOL, DEMO_REDUCE_SYMBOL = 200_000.0, 300_000.0


def cmd_demo(args: argparse.Namespace) -> int:
    from sw.feed.generator import MarketConfig, PcapOptions, generate, parse_regimes

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    feed = out / "feed.pcap"
    config = MarketConfig(symbols=6, messages=args.messages, seed=7, rate=args.rate,
                          regimes=parse_regimes(DEMO_REGIMES))
    print(f"1/2 generating {config.messages:,} messages over {config.symbols} symbols "
          f"({config.messages / config.rate:.1f} s of feed time; regimes {DEMO_REGIMES}: a "
          f"trending stretch that picks off a static quote, a quiet one) -> {feed}")
    generate(config, feed, pcap=PcapOptions())
    print("2/2 the appliance end to end: the card (golden model) trades the feed, its orders go "
          "over FIX to the venue simulator, fills come back to the OMS, TCA measures them and "
          "the feedback policy adjusts the strategy")
    venues = [venue_spec("FAST:latency_in_ns=20000,latency_out_ns=20000,maker_fee=-20,"
                         "taker_fee=30,seed=7"),
              venue_spec("SLOW:latency_in_ns=250000,latency_out_ns=250000,maker_fee=-5,"
                         "taker_fee=10,fill_probability=0.8,queue_model=prob:2,seed=7")]
    print(f"   venues: {', '.join(v.settings.name for v in venues)} (FAST: 20 us each way, "
          "taker $0.0030, maker rebate $0.0020; SLOW: 250 us, taker $0.0010, rebate $0.0005, "
          "80% of passive fills, probabilistic queue)")
    run = argparse.Namespace(
        feed=feed, out=out, limits=Path("docs/examples/limits.json"),
        strategy=Path("docs/examples/strategy.json"), venue=venues, cadence_ms=500,
        no_feedback=False, duration=args.duration,
        api=None if args.no_api else args.api, api_linger=args.linger,
        backend="model", fix_config=None, overwrite=True, speed=args.speed, max_loss=None,
        max_drawdown=None, max_gross=None, max_var=None, viewer_token=True,
        # A symbol past $200,000 goes reduce-only; past $300,000 it is cut back by host orders.
        max_symbol=DEMO_MAX_SYMBOL, reduce_symbol=DEMO_REDUCE_SYMBOL, reduce_gross=None)
    return cmd_run(run)


REGMAP_DOC_HEAD = """# Register map

Generated from `hw/rtl` by `nerve regmap --format md --out docs/registers.md`; do not edit.
Byte offsets on the 32-bit CSR bus (word address = offset / 4). Registers wider than 32 bits
take consecutive words, least significant first; reading the first word of a read-only register
latches all of it, so wide counters read consistently. Access `w1c`: a status the hardware sets
and the host clears by writing 1s. See `hw/rtl/csr.py`.

"""


def regmap_text(fmt: str) -> str:
    from hw.rtl.nic import REGMAP

    if fmt == "json":
        return REGMAP.to_json()
    if fmt == "c":
        return REGMAP.to_c_header()
    return REGMAP_DOC_HEAD + REGMAP.to_markdown()


def cmd_regmap(args: argparse.Namespace) -> int:
    text = regmap_text(args.format)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
        print(f"wrote {args.out}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from bitstreams import boards, build
    from hw.rtl.capacity import by_name

    board = boards.by_name(args.board)
    capacity = by_name(args.capacity) if args.capacity else None
    try:
        result = build.build(board, capacity, fast_divider=args.fast_divider, seed=args.seed,
                             minutes=args.minutes, allow_timing_fail=args.allow_timing_fail)
    except build.BuildError as exc:
        print(f"nerve build: error: {exc}", file=sys.stderr)
        return 1
    return 0 if result["timing_met"] else 3


def cmd_flash(args: argparse.Namespace) -> int:
    from bitstreams import boards, flash

    board = boards.by_name(args.board)
    try:
        flash.flash(board, args.bitstream, to_flash=args.flash)
    except flash.FlashError as exc:
        print(f"nerve flash: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _control_settings(args: argparse.Namespace, keys: tuple[str, ...]):
    """The control plane's settings: environment (NERVE_*) overridden by the given options."""
    from pydantic import ValidationError

    from sw.control.settings import Settings
    from sw.model.config import describe

    given = {key: getattr(args, key) for key in keys if getattr(args, key, None) is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError(describe(exc, "settings")) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from sw.control.server import serve

    serve(_control_settings(args, ("backend", "device", "host", "port", "db", "symbols",
                                   "limits", "strategy")))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    import getpass

    from sw.control.auth import User
    from sw.control.store import Store

    store = Store(_control_settings(args, ("db",)).db)
    # Whoever can write the store's file has every authority: audit them as risk.
    operator = User(f"{getpass.getuser()}@nerve-token", Role.RISK)
    try:
        if args.token_command == "add":
            token = store.add_token(args.name, args.role, operator)
            print(token)
            print(f"token for {args.name} ({args.role}) in {store.path}: shown this once, "
                  "only its SHA-256 is stored", file=sys.stderr)
        elif args.token_command == "revoke":
            store.remove_token(args.name, operator)
            print(f"revoked the token of {args.name}")
        else:
            holders = store.tokens()
            for info in holders:
                print(f"{info.name:24} {info.role:8} {info.created_at}")
            if not holders:
                print(f"no tokens in {store.path}", file=sys.stderr)
    finally:
        store.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nerve", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("gen", help="write a synthetic ITCH 5.0 session")
    gen.add_argument("--symbols", type=_positive, default=8)
    gen.add_argument("--messages", type=_positive, default=100_000,
                     help="total messages, announcements included")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--out", type=Path, required=True, help="FILE.itch or FILE.pcap")
    gen.add_argument("--rate", type=float, default=200_000.0,
                     help="mean message rate, messages/s (default 200000)")
    gen.add_argument("--late-symbols", type=_count, default=0,
                     help="mid-session join: the first N symbols get their R and H only after "
                          "their first adds")
    gen.add_argument("--unnamed-symbols", type=_count, default=0,
                     help="mid-session join: the last N symbols never get an R")
    gen.add_argument("--regime", type=_regimes, default=(),
                     help="market regimes in order, each over its share of the session: "
                          "KIND:SHARE[:OPTION...][,...], KIND normal, trending (options up|down, "
                          "every=N, ticks=N) or quiet (shock_rate=P, shock_ticks=N); e.g. "
                          "normal:1,trending:2:down,quiet:1 (default: all normal)")
    gen.add_argument("--gaps", type=_count, default=0, help="pcap only: packets to drop")
    gen.add_argument("--duplicates", type=_count, default=0, help="pcap only: packets to repeat")
    gen.add_argument("--malformed", type=_count, default=0,
                     help="pcap only: messages sent one byte too long for their type")
    gen.add_argument("--dst", type=_endpoint, default=UdpEndpoint(),
                     help="pcap only: destination ip:port (default 233.54.12.111:26477)")
    gen.add_argument("--date", type=_date, default=None, help="pcap only: capture date")
    gen.set_defaults(func=cmd_gen)

    rep = sub.add_parser("replay", help="run a feed through the fast path")
    rep.add_argument("--feed", type=Path, required=True, help="NASDAQ file or pcap")
    rep.add_argument("--backend", choices=BACKENDS, default="model")
    rep.add_argument("--limits", type=Path, help="limits JSON (docs/limits.md)")
    rep.add_argument("--strategy", type=Path, help="strategy JSON (docs/golden-model.md)")
    rep.add_argument("--control", type=Path, help="scheduled host actions JSON")
    rep.add_argument("--dst", type=_endpoint, default=UdpEndpoint(),
                     help="accepted destination ip:port (default 233.54.12.111:26477)")
    rep.add_argument("--date", type=_date, default=None,
                     help="trade date for FIX timestamps (default: pcap date, else 2026-11-20)")
    rep.add_argument("--clordid-prefix", default=None,
                     help="the card's ClOrdID prefix, 0-8 letters/digits (default: the card's "
                          "reset value, NRV)")
    rep.add_argument("--out", type=Path, required=True, help="output directory")
    rep.set_defaults(func=cmd_replay)

    run = sub.add_parser("run", help="the appliance end to end: card, FIX session, venue, "
                                     "OMS, TCA and feedback, in lock-step with the feed")
    run.add_argument("--feed", type=Path, required=True, help="NASDAQ file or pcap")
    run.add_argument("--backend", choices=("model", "rtl"), default="model",
                     help="the card: the golden model, or the RTL under Verilator (the first "
                          "run builds it, about 6 minutes)")
    run.add_argument("--limits", type=Path, help="limits JSON (docs/limits.md)")
    run.add_argument("--strategy", type=Path, help="strategy JSON (docs/golden-model.md)")
    run.add_argument("--out", type=Path, required=True, help="output directory")
    run.add_argument("--speed", type=float, default=0.0, metavar="X",
                     help="replay the feed at X times real time (1: real time; default 0: as "
                          "fast as it goes; the results are the same either way)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace a previous run's state and outputs in --out")
    run.add_argument("--duration", type=float, default=None,
                     help="stop after this many wall-clock seconds (default: the whole feed)")
    run.add_argument("--fix-config", type=Path, default=None, metavar="FILE",
                     help="connect to the FIX 4.4 acceptor a QuickFIX initiator settings file "
                          "names, instead of starting the venue simulator (no lock-step)")
    run.add_argument("--venue", type=venue_spec, action="append", metavar="NAME[:KEY=VALUE,...]",
                     help="a venue simulator (repeat for several; default one, SIM); keys: "
                          "latency_in_ns, latency_out_ns (default 50000), maker_fee (-20), "
                          "taker_fee (30: ITCH units per share, 1/10,000 $), fill_probability "
                          "(1.0), queue_model (risk_averse or prob:POWER), seed (0)")
    run.add_argument("--cadence-ms", type=_positive, default=1_000,
                     help="feed-time interval of risk, TCA and feedback (default 1000)")
    for flag, what in (("--max-loss", "a daily loss beyond it halts the card"),
                       ("--max-drawdown", "a fall from the day's best P&L beyond it halts"),
                       ("--max-gross", "gross exposure beyond it: held symbols reduce-only"),
                       ("--max-var", "99%% VaR beyond it: held symbols reduce-only"),
                       ("--max-symbol", "a symbol's exposure beyond it: it goes reduce-only"),
                       ("--reduce-gross", "gross exposure beyond it: every position is cut "
                        "back to --max-gross by host orders"),
                       ("--reduce-symbol", "a symbol's exposure beyond it: its position is cut "
                        "back to --max-symbol by a host order")):
        run.add_argument(flag, type=float, default=None, metavar="DOLLARS",
                         help=f"portfolio risk: {what} (default: none)")
    run.add_argument("--no-feedback", action="store_true",
                     help="measure but never change the strategy")
    run.add_argument("--api", type=_host_port, default=None, metavar="HOST:PORT",
                     help="serve the control plane and dashboard while the run lasts")
    run.add_argument("--api-linger", type=float, default=0.0, metavar="SECONDS",
                     help="keep serving the control plane this long after the run ends")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="generate a feed and run the appliance end to end")
    demo.add_argument("--out", type=Path, default=Path("build/demo"))
    demo.add_argument("--messages", type=_positive, default=60_000)
    demo.add_argument("--rate", type=float, default=10_000.0,
                      help="mean message rate, messages/s of feed time")
    demo.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                      help="stop after this many wall-clock seconds (default: the whole feed)")
    demo.add_argument("--speed", type=float, default=0.0, metavar="X",
                      help="replay at X times real time (default 0: as fast as it goes)")
    demo.add_argument("--api", type=_host_port, default=("127.0.0.1", 0),
                      metavar="HOST:PORT",
                      help="the control plane and dashboard while the demo runs (default "
                           "127.0.0.1 on any free port; its URL and a viewer token are printed)")
    demo.add_argument("--linger", type=float, default=0.0, metavar="SECONDS",
                      help="keep the dashboard up this long after the run")
    demo.add_argument("--no-api", action="store_true", help="run headless")
    demo.set_defaults(func=cmd_demo)

    regs = sub.add_parser("regmap", help="export the hardware register map")
    regs.add_argument("--format", choices=("md", "json", "c"), default="md")
    regs.add_argument("--out", type=Path, help="file to write (default: standard output)")
    regs.set_defaults(func=cmd_regmap)

    board_help = "board name (ecpix5-85)"
    build = sub.add_parser("build", help="build a board's bitstream and its timing report",
                           description="Amaranth, then yosys, nextpnr-ecp5 and ecppack from "
                           "the package registry (the [fpga] extra). Exit status 3 when timing "
                           "is not met.")
    build.add_argument("--board", required=True, help=board_help)
    build.add_argument("--capacity", help="board, middle or default (default: the board's)")
    build.add_argument("--fast-divider", type=int, metavar="N",
                       help="the fast path at 625/N MHz, N a multiple of 4 (default: the "
                       "board's; 16 on the ECPIX-5, 39.0625 MHz)")
    build.add_argument("--seed", type=int, default=1, help="nextpnr's placer seed")
    build.add_argument("--minutes", type=float, default=90.0,
                       help="time limit for place and route (default 90)")
    build.add_argument("--allow-timing-fail", action="store_true",
                       help="write the bitstream even when timing is not met")
    build.set_defaults(func=cmd_build)

    flash = sub.add_parser("flash", help="program a connected board (openFPGALoader)")
    flash.add_argument("--board", required=True, help=board_help)
    flash.add_argument("--bitstream", type=Path,
                       help="the .bit file (default: the last `nerve build` of the board)")
    flash.add_argument("--flash", action="store_true",
                       help="write the board's SPI flash (default: configuration SRAM)")
    flash.set_defaults(func=cmd_flash)

    serve = sub.add_parser("serve", help="run the control plane in front of a card",
                           description="Serve the API, dashboard and metrics. The card starts "
                           "halted; a risk officer releases it. Options default to NERVE_* "
                           "environment variables.")
    serve.add_argument("--backend", choices=CARD_BACKENDS, help="the card (default: model)")
    serve.add_argument("--device", help="sim HOST:PORT, serial port, or BAR resource file")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--db", type=Path, help="SQLite store (default nerve.db)")
    serve.add_argument("--symbols", help="symbol directory in slot order, e.g. AAPL,MSFT "
                       "(default: the store's)")
    serve.add_argument("--limits", type=Path, help="limits JSON seeding an empty store")
    serve.add_argument("--strategy", type=Path, help="strategy JSON seeding an empty store")
    serve.set_defaults(func=cmd_serve)

    token = sub.add_parser("token", help="manage the control plane's API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    add = token_sub.add_parser("add", help="make a token and print it once")
    add.add_argument("name", help="who holds it (named in the audit log)")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    revoke = token_sub.add_parser("revoke", help="delete a holder's token")
    revoke.add_argument("name")
    listing = token_sub.add_parser("list", help="list the token holders and roles")
    for p in (add, revoke, listing):
        p.add_argument("--db", type=Path, help="SQLite store (default nerve.db)")
        p.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "date", None) is None and args.command == "gen":
        from sw.feed.generator import DEFAULT_DATE
        args.date = DEFAULT_DATE
    try:
        return args.func(args)
    except (FeedFormatError, ConfigError, ValueError, OverflowError) as exc:
        print(f"nerve {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
