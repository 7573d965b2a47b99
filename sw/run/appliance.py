"""The appliance's main job, end to end on one machine: feed -> card -> FIX session -> venue ->
fills -> OMS -> positions back into the card, measured by TCA, adjusted by the feedback policy.

Where it sits: `nerve run`. One process hosts the card (the model backend: the golden model
behind the card's register map, drivers/model.py), the FIX session (sw/session), the OMS
(sw/oms), TCA (sw/tca), portfolio risk (sw/risk) and the control plane's desk (sw/control), and
publishes every event on the bus (sw/bus) for the event store (sw/store) and any other listener.
The venue is its own process (sw/venue), a QuickFIX acceptor trading against the same feed.

Lock-step in feed time, so a run is reproducible at any speed. For each feed packet, in order:

1. the packet enters the card; its new orders and gate rejects come out as card events, and its
   order bytes leave by the egress port;
2. each order is booked by the OMS (`OrderSent`) and its bytes go to the session unchanged;
3. the venue is told how far feed time has gone and how many orders were sent; once it has
   them all it replays its market that far and answers how many reports it has sent; the run
   waits until the session has delivered them all;
4. each report is booked by the OMS; a fill's confirmed position goes into the card's position
   register for that symbol, and an ended order's exposure is released in the card's gate;
5. every `cadence_ns` of feed time: portfolio risk assesses (its decisions halt the card or
   put symbols into reduce-only through the desk), TCA measures, and the feedback policy's
   parameter changes go through the desk's audited strategy update, under its own name.

The hardware gate checks every order whatever the host does; the host's position writes only
make its view exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drivers import open_device
from drivers.card import Card
from drivers.device import Device
from drivers.events import CardEvent
from drivers.model import ModelCard, ModelTransport
from hw.rtl.fastpath import SLOTS
from hw.rtl.nic import REGMAP
from spec.bounds import notional_units
from spec.itch import PRICE_SCALE
from sw.bus import open_bus
from sw.bus.events import (
    GATE_REJECT_REASON,
    Event,
    MsgType,
    OrderRejected,
    OrderSent,
    ParameterUpdate,
    Quote,
    RiskAction,
    RiskDecision,
    Side,
    TimeInForce,
)
from sw.control.auth import Role, User
from sw.control.desk import Desk, DeskError, StrategyUpdate, seed_documents
from sw.control.main import create_app
from sw.control.server import serve_in_thread
from sw.control.settings import Settings
from sw.control.store import Store
from sw.feed.net import UdpEndpoint
from sw.fix.dictionary import split_messages
from sw.model.clock import cycles_to_ns
from sw.model.config import Limits, StrategyConfig, StrategyParams, StrategyParamsUpdate
from sw.model.fastpath import (
    CAUSE_REJECTED_REPLACE,
    CAUSE_STRATEGY,
    FastPath,
    tradable_symbol,
)
from sw.model.ingress import directory, feed_frames
from sw.model.replay import Feed
from sw.model.risk import Reason
from sw.oms.oms import Oms
from sw.risk.portfolio import PortfolioRisk, RiskLimits
from sw.run.book import RunBook
from sw.run.report import write_report
from sw.run.routing import Router, RoutingConfig
from sw.session.edge import event_of
from sw.session.framing import seq_of
from sw.session.session import FixSession, SessionConfig, SharedSequence
from sw.store.feed import feed_rows
from sw.store.store import EventStore
from sw.tca.analysis import TcaAnalysis
from sw.tca.feedback import FeedbackPolicy
from sw.venue.process import VenueLaunch, VenueProcess

log = logging.getLogger("sw.run")

#: What a run leaves in its output folder (replaced by --overwrite).
RUN_STATE = ("oms-journal.jsonl", "control.db", "events.duckdb", "session", "venue",
             "parquet", "summary.json", "tca.json", "fills.csv", "positions.csv", "report.html")


class RunError(ValueError):
    """A run that cannot start; the text says why and what to do (the CLI prints it in one
    line)."""


#: Who the audit log names for the feedback policy's changes.
POLICY = User("feedback-policy", Role.TRADER)
RISK_ENGINE = User("portfolio-risk", Role.RISK)
OMS_USER = User("oms", Role.RISK)
ROUTER = User("router", Role.TRADER)
NS_PER_DAY = 86_400 * 10**9


@dataclass
class RunConfig:
    feed: Path
    out: Path
    limits: Limits
    strategy: StrategyConfig
    venues: list[VenueLaunch]
    risk: RiskLimits = field(default_factory=RiskLimits)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    cadence_ns: int = 1_000_000_000            # risk, TCA and feedback: once a feed second
    step_ns: int = 1_000_000                   # the venue catches up at least this often
    feedback: bool = True
    duration_s: float | None = None            # wall-clock limit (None: the whole feed)
    speed: float = 0.0                         # feed time per wall time (0: as fast as it goes)
    api: tuple[str, int] | None = None         # serve the control plane on (host, port)
    api_linger_s: float = 0.0                  # keep serving it this long after the run
    report_timeout_s: float = 10.0
    dst: UdpEndpoint = field(default_factory=UdpEndpoint)
    backend: str = "model"                     # the card: model (golden) or rtl (Verilator)
    fix_config: Path | None = None             # an external acceptor (QuickFIX settings file)
    overwrite: bool = False                    # replace a previous run's state in `out`
    viewer_token: bool = False                 # with `api`: make and print a viewer's token
    drain_s: float = 2.0                       # external acceptor: wait for reports at the end


@dataclass
class RunSummary:
    frames: int = 0
    orders_sent: int = 0
    gate_rejects: int = 0
    reports: int = 0
    fills: int = 0
    parameter_changes: int = 0
    risk_decisions: int = 0
    reductions: int = 0                             # positions cut by host orders
    seconds: float = 0.0
    feed_seconds: float = 0.0
    stopped_early: bool = False
    totals: dict = field(default_factory=dict)
    open_orders_oms: int = 0
    open_chains_card: int | None = None
    exposure_leak: bool | None = None
    tca: dict = field(default_factory=dict)
    venues: dict = field(default_factory=dict)      # venue -> orders sent to it
    routing_changes: list = field(default_factory=list)   # RoutingChange.as_dict() each


@dataclass(eq=False)
class Route:
    """One venue of the run: its process (None for an external acceptor), its session, and
    the orders sent to it."""

    name: str
    venue: VenueProcess | None
    config: SessionConfig
    session: FixSession | None = None
    orders: int = 0


class ModelBackend:
    """The card as the golden model behind its register map (drivers/model.py), in process."""

    name = "model"

    def __init__(self, dst: UdpEndpoint) -> None:
        self.model = ModelCard(dst)
        self.device = Device(ModelTransport(self.model), REGMAP)

    def frame(self, cycle: int, frame: bytes) -> None:
        self.model.frame(frame, cycle)

    def egress(self) -> list[bytes]:
        return self.model.egress()

    def close(self) -> None:
        self.device.close()


class RtlBackend:
    """The card as its RTL under Verilator, served over a loopback socket (drivers/sim.py). Its
    PTP clock is set to each packet's feed time just before the packet (the golden model stamps
    with feed time too), so time-dependent checks such as the order rate see the same clock."""

    name = "rtl"

    def __init__(self) -> None:
        self.device = open_device("sim")

    def frame(self, cycle: int, frame: bytes) -> None:
        self.device.write_many([("ptp_set_value", cycle), ("ptp_set", 1)])
        self.device.transport.frames([frame])

    def egress(self) -> list[bytes]:
        data = self.device.transport.egress()
        return split_messages(data) if data else []

    def close(self) -> None:
        self.device.close()


class SequenceOnCard:
    """The session's MsgSeqNum source: the card's encoder counter (fix_seq_* registers)."""

    def __init__(self, device: Device) -> None:
        self.device = device

    def reserve(self) -> int:
        with self.device.lock:
            return self.device.batch([("write", "fix_seq_reserve", 1),
                                      ("read", "fix_seq_reserved", None)])[1]

    def next(self) -> int:
        return self.device.read("fix_next_seq")


class Appliance:
    """See the module doc."""

    def __init__(self, config: RunConfig, say: Callable[[str], None] = print) -> None:
        self.config = config
        self.say = say
        self.summary = RunSummary()
        # A run is a trading day from its start: its journal, stores and FIX sequence numbers
        # begin empty. A previous run's are replaced only when asked, never silently.
        previous = [config.out / name for name in RUN_STATE if (config.out / name).exists()]
        if previous and not config.overwrite:
            names = ", ".join(path.name for path in previous)
            raise RunError(f"{config.out} holds a previous run ({names}): choose another "
                           "--out, or pass --overwrite to replace it")
        if config.speed < 0:
            raise RunError(f"--speed must be 0 (as fast as it goes) or positive, not "
                           f"{config.speed:g}")
        for path in previous:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        config.out.mkdir(parents=True, exist_ok=True)
        feed = Feed.open(config.feed)
        self.trade_date = feed.trade_date()
        self._midnight_ns = int(dt.datetime.combine(self.trade_date, dt.time(),
                                                    dt.UTC).timestamp()) * 10**9
        self.frames = feed_frames(feed.data, feed.kind, config.dst)
        known = directory(self.frames, config.dst).locates
        tradable = sorted(s for s in known if tradable_symbol(s))[:SLOTS]
        self.locates = {s: known[s] for s in tradable}
        self.backend = RtlBackend() if config.backend == "rtl" else ModelBackend(config.dst)
        self.device = self.backend.device
        self.card = Card(self.device, self.locates)
        # The host's own view of the market (the golden feed handler and book, no strategy):
        # the quotes TCA and the marks need, whichever card runs.
        self.market = FastPath(Limits(halted=True),
                               StrategyConfig(defaults=StrategyParams(mode="off")),
                               dst=config.dst, trade_date=self.trade_date)
        self.store = Store(config.out / "control.db")
        self.oms = Oms(config.out / "oms-journal.jsonl", on_position=self._confirm_position,
                       on_ended=self._release)
        self.tca = TcaAnalysis()
        # The control plane reads the OMS and TCA from its own thread: one lock for both.
        self.lock = threading.Lock()
        self.app = self.book = None
        if config.api is not None:
            self.book = RunBook(self.oms, self.tca, self.lock)
            self.app = create_app(self.card, self.store, Settings(poll_interval=0.5),
                                  trading=self.book, card_events=False)
            self.desk = self.app.state.desk
        else:
            self.desk = Desk(self.card, self.store)
        self.risk = PortfolioRisk(config.risk)
        self.policy = FeedbackPolicy()
        self.events = EventStore(config.out / "events.duckdb")
        self._handles: dict[str, int] = {}          # a chain's first ClOrdID -> card entry
        self._chain_route: dict[str, Route] = {}    # every ClOrdID -> the venue it went to
        self._prefix = self.card.clordid_prefix()      # read, not assumed
        self._delivered = 0
        self._measured: dict | None = None          # TCA at the last cadence
        self._arrived = asyncio.Event()
        self._inbox: list[tuple[int, int, Event]] = []     # reports of the step, unbooked
        self._bus = None

    # --- the loop into the hardware --------------------------------------------------------

    def _confirm_position(self, symbol: str, qty: int) -> None:
        slot = self.card.slot_of(symbol)
        if slot is not None:
            self.card.commit_limits(slot, None, qty)

    def _release(self, order) -> None:
        handle = self._handles.pop(order.first_clordid, None)
        if handle is not None:
            self.card.order_ended(handle)

    # --- running ---------------------------------------------------------------------------

    async def run(self) -> RunSummary:
        seed_limits = self.config.limits.model_copy(update={"halted": False})
        self.store_documents(seed_limits, self.config.strategy)
        self.card.listen(self.config.dst, self.trade_date)
        if self.app is None:
            self.desk.start()                     # halted, documents loaded by name
            return await self._run()
        host, port = self.config.api
        # The control plane's start-up halts the card and loads the documents (its lifespan).
        with serve_in_thread(self.app, host, port=port) as url:
            if self.config.viewer_token:
                token = self.store.add_token(f"viewer-{int(time.time())}", Role.VIEWER,
                                             User("run", Role.RISK))
                self.say(f"control plane at {url}/ (dashboard; viewer token: {token})")
            else:
                self.say(f"control plane at {url}/ (a token: nerve token add NAME --role "
                         f"viewer --db {self.config.out / 'control.db'})")
            summary = await self._run()
            if self.config.api_linger_s:
                self.say(f"serving for {self.config.api_linger_s:g} s more")
                await asyncio.sleep(self.config.api_linger_s)
        return summary

    async def _run(self) -> RunSummary:
        started = time.perf_counter()
        cfg = self.config
        if self.desk.load_state.error:
            raise RunError(f"the card did not take its documents: "
                           f"{self.desk.load_state.error}")
        shared = SharedSequence(SequenceOnCard(self.device))
        if cfg.fix_config is not None:
            # Any FIX 4.4 acceptor: no lock-step (it trades in its own time), the CompIDs from
            # the settings file into the card's encoder.
            config = SessionConfig.from_quickfix(cfg.fix_config)
            self.card.set_session(config.sender, config.target)
            routes = [Route(config.target, None, config)]
        else:
            routes = []
            for launch in cfg.venues:
                name = launch.settings.name
                process = VenueProcess(cfg.feed, launch, cfg.out / "venue" / name)
                routes.append(Route(name, process, SessionConfig(
                    "127.0.0.1", process.port, launch.member, launch.comp_id, 30, 0.2,
                    cfg.out / "session" / name)))
        for route in routes:
            route.session = FixSession(route.config, shared.for_session(),
                                       self._inbound_from(route.name),
                                       on_undelivered=self._undelivered)
        self._routes, self._shared = routes, shared
        # Each new chain goes where per-venue TCA says (sw/run/routing.py); its G and F follow.
        self.router = Router([r.name for r in routes], cfg.routing, symbols=sorted(self.locates))
        self._route_named = {r.name: r for r in routes}
        self._venue_rank = {r.name: n for n, r in enumerate(routes)}
        async with await open_bus() as bus:
            self._bus = bus
            store_task = asyncio.create_task(self.events.follow(bus))
            for route in routes:
                route.session.start()
            try:
                for route in routes:
                    config = route.config
                    try:
                        await asyncio.wait_for(route.session.logged_on.wait(), 10)
                    except TimeoutError:
                        raise RunError(
                            f"no FIX logon from {config.host}:{config.port} ({config.sender} "
                            f"-> {config.target}) in 10 s") from None
                self.desk.release(User("run", Role.RISK))
                await self._feed(started)
                if cfg.fix_config is None:
                    ended = [await route.venue.end(route.orders) for route in routes]
                    self.summary.reports = sum(ended)
                    await self._await_reports(self.summary.reports)
                else:
                    await asyncio.sleep(cfg.drain_s)    # reports still on their way
                    self.summary.reports = self._delivered
                await self._cadence(self._feed_ns(), final=True)
            finally:
                for route in routes:
                    await route.session.stop()
                    if route.venue is not None:
                        route.venue.close()
                await asyncio.sleep(self.events.flush_seconds * 2)
                store_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await store_task
        self.summary.seconds = time.perf_counter() - started
        self.summary.venues = {r.name: r.orders for r in routes}
        self._finish()
        return self.summary

    def store_documents(self, limits: Limits, strategy: StrategyConfig) -> None:
        seed_documents(self.store, limits=limits, strategy=strategy, symbols=self.locates)

    async def _feed(self, started: float) -> None:
        cfg = self.config
        next_cadence = last_advance = None
        bbo_seen = 0
        first_ns = self._ns_of(self.frames[0][0]) if self.frames else 0
        for n, (cycle, frame) in enumerate(self.frames):
            if cfg.duration_s is not None and time.perf_counter() - started > cfg.duration_s:
                self.summary.stopped_early = True
                break
            if cfg.speed > 0:       # paced: the packet waits for its time (the loop never races)
                due = started + (self._ns_of(cycle) - first_ns) / 1e9 / cfg.speed
                if due > time.perf_counter():
                    await asyncio.sleep(due - time.perf_counter())
            self.backend.frame(cycle, frame)
            self.market.frame(frame, cycle)
            self.summary.frames += 1
            now = self._ns_of(cycle)
            published: list[Event] = []
            rows = self.market.out.bbo
            for row in rows[bbo_seen:]:
                if row.symbol in self.locates:
                    published.append(Quote(Symbol=row.symbol, BidPx=row.bid_px or None,
                                           BidSize=row.bid_qty, OfferPx=row.ask_px or None,
                                           OfferSize=row.ask_qty, TransactTime=now))
            bbo_seen = len(rows)
            egress = await self._pump(now, published)
            # The venue catches up whenever orders went out, and at least every step_ns of
            # feed time (resting orders fill as the market trades): deterministic either way.
            if cfg.fix_config is None and (egress or last_advance is None
                                           or now - last_advance >= cfg.step_ns):
                reports = 0
                for route in self._routes:
                    reports += await route.venue.advance(self._day_ns(cycle), route.orders)
                await self._await_reports(reports)
                last_advance = now
            if next_cadence is None:
                next_cadence = now + cfg.cadence_ns
            if now >= next_cadence:
                await self._cadence(now)
                next_cadence = now + cfg.cadence_ns
            if n % max(len(self.frames) // 10, 1) == 0:
                self.say(f"  {n:,}/{len(self.frames):,} packets, "
                         f"{self.summary.orders_sent:,} orders, {self.summary.fills:,} fills")
        self.summary.feed_seconds = (self._ns_of(self.frames[-1][0]) - self._ns_of(
            self.frames[0][0])) / 1e9 if self.frames else 0.0

    async def _pump(self, now: int, published: list[Event]) -> bool:
        """The card's new events, after `published` (this packet's quotes), into the OMS, TCA,
        portfolio risk, the store and the bus, and its order bytes to their venues unchanged;
        True when any order left."""
        card_events = self.card.events()
        if self.app is not None:
            self.app.state.telemetry.observe(card_events)
        for event in card_events:
            decision = self._card_event(event, now)
            published.append(decision)
            # The bus event leaves out the cause and the triggering message's index: the
            # store's decision table keeps them, so each decision joins to its feed row.
            self.events.add_decision(decision, msg_index=event.msg_index,
                                     cause=event.cause, failed=event.failed)
        with self.lock:
            self.oms.handle(published, report=False)   # orders booked; quotes mark
            for event in published:
                self.tca.add(event)
        routed = {e.MsgSeqNum: self._route_of(e) for e in published
                  if isinstance(e, OrderSent)}
        egress = self.backend.egress()
        for raw in egress:
            seq = seq_of(raw)
            route = routed.get(seq) or self._routes[0]
            self._shared.routed(seq, route.session)
            route.session.send_order(raw)
            route.orders += 1
            self.summary.orders_sent += 1
        for event in published:
            self.risk.add(event)
            await self._bus.publish(event)
        return bool(egress)

    def _card_event(self, event: CardEvent, now: int) -> Event:
        side = Side.BUY if event.side == "B" else Side.SELL
        if event.rejected:
            self.summary.gate_rejects += 1
            reason = Reason(event.reason)
            return OrderRejected(MsgType=MsgType(event.msg_type), Symbol=event.symbol,
                                 Side=side, OrderQty=event.qty, Price=event.price,
                                 OrdRejReason=GATE_REJECT_REASON[reason], GateReason=reason,
                                 IngressCycle=event.ingress_cycle, TransactTime=now)
        clordid = f"{self._prefix}{event.clordid:08d}"
        orig = f"{self._prefix}{event.orig_clordid:08d}" if event.orig_clordid else None
        if event.msg_type == "D":
            self._handles[clordid] = event.handle
        # Only the strategy's orders answer a market data packet: a host order or a cancel-all
        # carries the time it was taken, not an ingress, so it has no tick-to-trade (the store's
        # decision table keeps its cause and message index).
        caused = event.cause in (CAUSE_STRATEGY, CAUSE_REJECTED_REPLACE)
        return OrderSent(MsgType=MsgType(event.msg_type), ClOrdID=clordid, OrigClOrdID=orig,
                         Symbol=event.symbol, Side=side, OrderQty=event.qty,
                         Price=event.price if event.msg_type != "F" else None,
                         TimeInForce=(TimeInForce.IMMEDIATE_OR_CANCEL if event.ioc
                                      else TimeInForce.DAY),
                         MsgSeqNum=event.seq,
                         IngressCycle=event.ingress_cycle if caused else None,
                         EgressCycle=event.egress_cycle, TransactTime=now)

    def _route_of(self, event: OrderSent) -> Route:
        """The venue an order goes to: its chain's, or its symbol's for a new chain."""
        if event.OrigClOrdID is not None and event.OrigClOrdID in self._chain_route:
            route = self._chain_route[event.OrigClOrdID]
        else:
            route = self._route_named[self.router.route(event.Symbol, event.OrderQty)]
        self._chain_route[event.ClOrdID] = route
        return route

    def _inbound_from(self, venue: str) -> Callable:
        return lambda message: self._inbound(message, venue)

    def _inbound(self, message, venue: str) -> None:
        event = event_of(message, venue)
        if self.config.fix_config is None:
            # Lock-step: a step's reports are booked together once all have come, venue by
            # venue in the run's order (each venue's in its own order), so a run books the
            # same reports in the same order whichever session's packets came first.
            self._inbox.append((self._venue_rank[venue], len(self._inbox), event))
        else:
            self._book([event])
        self._delivered += 1
        self._arrived.set()

    def _book(self, reports: list[Event]) -> None:
        with self.lock:
            self.oms.handle(reports, report=False)
            for event in reports:
                self.tca.add(event)
        for event in reports:
            if getattr(event, "ExecType", None) == "F":
                self.summary.fills += 1
            asyncio.get_running_loop().create_task(self._bus.publish(event))

    def _undelivered(self, raw: bytes) -> None:
        log.warning("an order was emitted while the session was down: not sent (%r)", raw[:60])

    async def _await_reports(self, count: int) -> None:
        deadline = time.perf_counter() + self.config.report_timeout_s
        while self._delivered < count:
            self._arrived.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"{count} venue reports expected, {self._delivered} arrived")
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                continue
        held, self._inbox = sorted(self._inbox, key=lambda r: r[:2]), []
        self._book([event for *_, event in held])

    async def _cadence(self, now: int, final: bool = False) -> None:
        """Risk, TCA and feedback at a cadence point. The final one, after the venues have
        closed, decides but sends no order (a reduction then waits for a person)."""
        with self.lock:
            reports = [self.oms.position_report(s, now) for s in self.oms.positions.by_symbol]
            self.tca.sample_pnl()
            table = self.tca.fills()
            measured = self._measured = self.tca.measure(table)
            if self.book is not None:
                self.book.measured = measured
            routing = self.router.update(table, now)
        tca_reports = self.tca.reports(now, measured)
        for change in routing:
            self.summary.routing_changes.append(change.as_dict())
            with self.store.transaction() as tx:
                tx.audit(ROUTER, "routing.change", f"routing.{change.symbol}", change.old,
                         change.as_dict())
        figures = measured["symbol"] if self.config.feedback else {}
        self.desk.confirm_positions(OMS_USER, {r.Symbol: r.NetQty for r in reports})
        # Reduce-only bounds are taken from the confirmed position when entered: re-entered at
        # each cadence they follow it down as cuts fill (audited only when they move), so the
        # strategy cannot buy back what a cut sold.
        for symbol in sorted(self.risk.reduce_only):
            self.desk.enter_reduce_only(RISK_ENGINE, symbol)
        for report in reports:
            self.risk.add(report)
            await self._bus.publish(report)
        assessment = self.risk.assess()
        reduced = False
        for decision in assessment.decisions:
            self.summary.risk_decisions += 1
            await self._bus.publish(decision)
            if decision.RiskAction == RiskAction.REDUCE:
                reduced |= not final and self._reduce(decision)
            else:
                self._apply_risk(decision)
        if reduced:     # the host orders out now, as the packet's orders go
            await self._pump(now, [])
        for report in tca_reports:
            await self._bus.publish(report)
        if self.config.feedback:
            for update in self._feedback(now, figures):
                await self._bus.publish(update)

    def _apply_risk(self, decision) -> None:
        if decision.RiskAction == RiskAction.HALT:
            self.desk.halt(RISK_ENGINE)
        elif decision.RiskAction == RiskAction.REDUCE_ONLY and decision.Symbol:
            self.desk.enter_reduce_only(RISK_ENGINE, decision.Symbol)
        elif decision.RiskAction == RiskAction.RELEASE and decision.Symbol:
            self.desk.leave_reduce_only(RISK_ENGINE, decision.Symbol)

    def _reduce(self, decision: RiskDecision) -> bool:
        """Cut a position as portfolio risk decided: an IOC at the touch (the bid for a sell,
        the ask for a buy) by the card's host order port, through the same gate as every
        order, audited by the desk, no larger than the symbol's per-order limits. False when
        nothing could be sent."""
        symbol, side = decision.Symbol, "S" if decision.Side == Side.SELL else "B"
        book = self.market.book
        locate = self.locates.get(symbol)
        bid, _, ask, _ = (book.books[locate].published if locate in book.books
                          else (0, 0, 0, 0))
        price = bid if side == "S" else ask
        if not price:
            log.warning("no %s price to reduce %s at: nothing sent", "bid" if bid else "ask",
                        symbol)
            return False
        # Worked in slices the gate's per-order limits allow (a larger one would only come
        # back refused): one slice per cadence while the breach lasts.
        limits = self.desk.effective_limits()[symbol]
        qty = min(decision.OrderQty, limits.max_order_qty,
                  notional_units(limits.max_order_notional) // price)
        if qty <= 0:
            log.warning("%s's per-order limits allow no reduction at %d: nothing sent",
                        symbol, price)
            return False
        try:
            self.desk.reduce_position(RISK_ENGINE, symbol, side, qty, price,
                                      why=f"{decision.Text}; this order {qty}")
        except DeskError as exc:      # e.g. the position moved since the decision
            log.warning("reduction of %s not sent: %s", symbol, exc)
            return False
        self.summary.reductions += 1
        return True

    def _feedback(self, now: int, figures: dict) -> list[ParameterUpdate]:
        """Apply the policy's changes through the desk; returns them as bus events."""
        published = []
        current = self.desk.effective_strategy()
        base = self.config.strategy
        limits = self.desk.effective_limits()
        for symbol, row in figures.items():
            if symbol not in current:
                continue
            params = current[symbol].model_dump()
            position = self.oms.positions.by_symbol.get(symbol)
            changes = self.policy.propose(
                symbol, row, params, base.for_symbol(symbol).model_dump(),
                position.qty if position else 0, limits[symbol].max_long, now)
            if not changes:
                continue
            update = StrategyParamsUpdate(**{c.parameter: c.new for c in changes})
            self.desk.update_strategy(POLICY, StrategyUpdate(symbols={symbol: update}),
                                      why={c.parameter: {"old": c.old, "new": c.new,
                                                            "why": c.reason,
                                                            "figures": c.figures}
                                              for c in changes})
            self.summary.parameter_changes += len(changes)
            published += [ParameterUpdate(Symbol=symbol, Parameter=c.parameter, Value=c.new,
                                          Source=POLICY.name, TransactTime=now)
                          for c in changes]
        return published

    # --- time ------------------------------------------------------------------------------

    def _ns_of(self, cycle: int) -> int:
        """Feed time as the bus carries it: ns since the Unix epoch."""
        return self._midnight_ns + cycles_to_ns(cycle)

    def _day_ns(self, cycle: int) -> int:
        return cycles_to_ns(cycle) % NS_PER_DAY

    def _feed_ns(self) -> int:
        return self._ns_of(self.frames[-1][0]) if self.frames else 0

    # --- outputs ---------------------------------------------------------------------------

    def _finish(self) -> None:
        out = self.config.out
        with open(out / "fills.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["exec_id", "clordid", "venue", "symbol", "side", "last_qty", "last_px",
                        "fee", "transact_time"])
            for fill in self._fills():
                w.writerow(fill)
        with open(out / "positions.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["symbol", "qty", "avg_px", "realized_pnl", "unrealized_pnl", "fees"])
            for symbol, p in sorted(self.oms.positions.by_symbol.items()):
                unrealised = self.oms.positions.unrealised(symbol)
                w.writerow([symbol, p.qty, f"{p.avg_price / PRICE_SCALE:.4f}",
                            f"{p.realised_pnl / PRICE_SCALE:.4f}",
                            "" if unrealised is None else f"{unrealised / PRICE_SCALE:.4f}",
                            f"{p.fees / PRICE_SCALE:.4f}"])
        totals = self.oms.positions.totals()
        self.summary.totals = {k: (None if v is None else v / PRICE_SCALE)
                               for k, v in totals.items()}
        self.summary.open_orders_oms = len(self.oms.orders.open_orders())
        chains = self.device.read("trader_open_chains")
        self.summary.open_chains_card = chains
        self.summary.exposure_leak = chains != self.summary.open_orders_oms
        # Every feed message the card was given, with its index and ingress stamps: one batch
        # into the store (never over the bus), from the frames the run got through.
        self.events.add_feed(feed_rows(self.frames[:self.summary.frames], self.config.dst,
                                       self._midnight_ns))
        self.events.export_parquet(out / "parquet")
        self.events.close()
        # The last cadence measured after the last report: the same figures, not measured again.
        self.summary.tca = self._measured or self.tca.measure()
        (out / "tca.json").write_text(json.dumps(self.summary.tca, indent=2) + "\n")
        summary = {k: v for k, v in vars(self.summary).items() if k != "tca"}
        (out / "summary.json").write_text(json.dumps(summary | {"backend": self.backend.name},
                                                     indent=2) + "\n")
        self.oms.close()
        self.backend.close()
        self.report = write_report(out)

    def _fills(self):
        for fill in self.oms.fills:
            yield [fill.exec_id, fill.clordid, fill.venue, fill.symbol,
                   "buy" if fill.side == "1" else "sell", fill.qty,
                   f"{fill.price / PRICE_SCALE:.4f}", f"{fill.fee / PRICE_SCALE:.4f}",
                   fill.transact_ns]

