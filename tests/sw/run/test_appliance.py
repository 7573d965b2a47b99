"""The main job end to end (sw/run/appliance.py, `nerve run`): a generated feed through the
model card, over a real FIX session to the venue process, into the OMS, TCA and back.

One short session is run twice (module fixture); the tests read its outputs."""

from __future__ import annotations

import csv
import json
import sqlite3

import duckdb
import pytest

from sw.cli.main import main
from sw.feed.generator import MarketConfig, PcapOptions, generate

FEED = MarketConfig(symbols=6, messages=12_000, seed=3, rate=20_000.0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    feed = root / "feed.pcap"
    generate(FEED, feed, pcap=PcapOptions())
    for name in ("first", "second"):
        assert main(["run", "--feed", str(feed), "--out", str(root / name),
                     "--limits", "docs/examples/limits.json",
                     "--strategy", "docs/examples/strategy.json", "--cadence-ms", "100",
                     "--venue", "FAST:latency_in_ns=20000,taker_fee=30",
                     "--venue", "SLOW:latency_in_ns=250000,latency_out_ns=250000,taker_fee=10,"
                     "fill_probability=0.8,queue_model=prob:2,seed=3"]) == 0
    return root


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_run_trades_and_writes_its_outputs(runs):
    summary = json.loads((runs / "first" / "summary.json").read_text())
    assert summary["orders_sent"] > 20 and summary["fills"] > 10
    assert summary["frames"] > 0 and not summary["stopped_early"]
    fills = rows(runs / "first" / "fills.csv")
    assert list(fills[0]) == ["exec_id", "clordid", "venue", "symbol", "side", "last_qty",
                              "last_px", "fee", "transact_time"]
    assert len(fills) == summary["fills"]
    positions = rows(runs / "first" / "positions.csv")
    assert list(positions[0]) == ["symbol", "qty", "avg_px", "realized_pnl", "unrealized_pnl",
                                  "fees"]


def test_two_venues_each_trade_their_symbols_over_their_own_session(runs):
    fills = rows(runs / "first" / "fills.csv")
    summary = json.loads((runs / "first" / "summary.json").read_text())
    assert set(summary["venues"]) == {"FAST", "SLOW"} and all(summary["venues"].values())
    venue_of: dict[str, set] = {}
    for fill in fills:
        venue_of.setdefault(fill["clordid"], set()).add(fill["venue"])
    assert {v for venues in venue_of.values() for v in venues} == {"FAST", "SLOW"}
    assert all(len(venues) == 1 for venues in venue_of.values())    # a chain, one venue
    # Each venue charges its own fees: dollars per share, taker or maker (a rebate).
    rates = {v: {round(float(f["fee"]) / int(f["last_qty"]), 6) for f in fills
                 if f["venue"] == v} for v in ("FAST", "SLOW")}
    assert rates["FAST"] and rates["FAST"] <= {0.003, -0.002}
    assert rates["SLOW"] and rates["SLOW"] <= {0.001, -0.002}


def test_a_run_is_reproducible(runs):
    for name in ("fills.csv", "positions.csv"):
        assert (runs / "first" / name).read_bytes() == (runs / "second" / name).read_bytes()


def test_a_paced_run_takes_the_feed_s_time_and_trades_the_same(runs, tmp_path):
    """--speed 1 replays in real time (no packet before its time: a lower bound, not a
    performance figure) and, lock-stepped, fills exactly as the unpaced run did."""
    import time

    started = time.perf_counter()
    assert main(["run", "--feed", str(runs / "feed.pcap"), "--out", str(tmp_path / "paced"),
                 "--limits", "docs/examples/limits.json",
                 "--strategy", "docs/examples/strategy.json", "--cadence-ms", "100",
                 "--speed", "1",
                 "--venue", "FAST:latency_in_ns=20000,taker_fee=30",
                 "--venue", "SLOW:latency_in_ns=250000,latency_out_ns=250000,taker_fee=10,"
                 "fill_probability=0.8,queue_model=prob:2,seed=3"]) == 0
    elapsed = time.perf_counter() - started
    summary = json.loads((tmp_path / "paced" / "summary.json").read_text())
    assert elapsed >= summary["feed_seconds"]
    assert (tmp_path / "paced" / "fills.csv").read_bytes() == \
        (runs / "first" / "fills.csv").read_bytes()


def test_positions_follow_from_the_fills(runs):
    net: dict[str, int] = {}
    for fill in rows(runs / "first" / "fills.csv"):
        sign = 1 if fill["side"] == "buy" else -1
        net[fill["symbol"]] = net.get(fill["symbol"], 0) + sign * int(fill["last_qty"])
    assert {p["symbol"]: int(p["qty"]) for p in rows(runs / "first" / "positions.csv")} == net


def test_no_exposure_leaks_between_the_card_and_the_oms(runs):
    summary = json.loads((runs / "first" / "summary.json").read_text())
    assert summary["exposure_leak"] is False
    assert summary["open_chains_card"] == summary["open_orders_oms"]


def test_every_event_reached_the_store_and_the_audit_names_the_policy(runs):
    summary = json.loads((runs / "first" / "summary.json").read_text())
    store = duckdb.connect(str(runs / "first" / "events.duckdb"), read_only=True)
    sent = store.execute("SELECT count(*) FROM order_sent").fetchone()[0]
    fills = store.execute("SELECT count(*) FROM execution_report WHERE ExecType = 'F'")
    assert sent == summary["orders_sent"] and fills.fetchone()[0] == summary["fills"]
    audit = sqlite3.connect(runs / "first" / "control.db")
    policy = audit.execute("SELECT action, new FROM audit WHERE who = 'feedback-policy'")
    entries = policy.fetchall()
    assert len([a for a, _ in entries if a == "strategy.update"]) <= summary["parameter_changes"]
    for action, new in entries:
        if action == "strategy.reason":
            for change in json.loads(new).values():
                assert {"old", "new", "why", "figures"} <= set(change)


def test_tca_measured_the_fills(runs):
    tca = json.loads((runs / "first" / "tca.json").read_text())
    summary = json.loads((runs / "first" / "summary.json").read_text())
    assert tca["fills"] == summary["fills"]
    assert tca["all"]["slippage_bps"] is not None
    # A venue's inbound latency (FAST 20 us, SLOW 250 us); its reports carry microseconds.
    median = tca["latency"]["order_to_ack_ns"]["median"]
    assert min(abs(median - 20_000), abs(median - 250_000)) < 1_000


def test_the_control_plane_shows_the_run_while_it_lasts(runs, tmp_path):
    """nerve run --api: positions, P&L, orders, fills and TCA through the API, and the
    feedback policy's changes in the dashboard's snapshot, equal to the run's own outputs."""
    import asyncio
    import threading
    import urllib.request

    from sw.control.auth import SYSTEM, Role
    from sw.model.config import load_limits, load_strategy
    from sw.risk.portfolio import RiskLimits
    from sw.run.appliance import Appliance, RunConfig
    from sw.venue.matching import VenueSettings
    from sw.venue.process import VenueLaunch

    said: list[str] = []
    lingering = threading.Event()

    def say(text: str) -> None:
        said.append(text)
        if text.startswith("serving for"):
            lingering.set()

    config = RunConfig(runs / "feed.pcap", tmp_path / "api",
                       load_limits("docs/examples/limits.json"),
                       load_strategy("docs/examples/strategy.json"),
                       [VenueLaunch(VenueSettings())], cadence_ns=100_000_000,
                       risk=RiskLimits(max_gross_exposure=10_000, reduce_gross_exposure=15_000),
                       api=("127.0.0.1", 0), api_linger_s=3.0)
    appliance = Appliance(config, say=say)
    token = appliance.store.add_token("tester", Role.VIEWER, SYSTEM)
    worker = threading.Thread(target=lambda: asyncio.run(appliance.run()))
    worker.start()
    assert lingering.wait(120), said
    url = next(s.split()[3] for s in said if s.startswith("control plane at")).rstrip("/")

    def get(path: str):
        request = urllib.request.Request(f"{url}/api/v1/{path}",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    positions = get("positions")
    fills = get("fills?limit=10000")
    orders = get("orders?limit=10000")
    tca = get("tca")
    first = orders[-1]                          # the oldest: found by its first ClOrdID
    again = get(f"orders/{first['first_clordid']}")
    worker.join(30)
    assert not worker.is_alive()
    summary = appliance.summary
    assert len(fills) == summary.fills and fills
    assert positions["totals"]["realised_pnl"] == pytest.approx(summary.totals["realised_pnl"])
    assert {p["symbol"]: p["position"] for p in positions["positions"] if p["position"]} == {
        row["symbol"]: int(row["qty"]) for row in rows(tmp_path / "api" / "positions.csv")
        if int(row["qty"])}
    assert again == first
    assert tca["fills"] == summary.fills
    snapshot = appliance.app.state.telemetry.snapshot
    assert snapshot["trading"]["totals"]["realised_pnl"] == pytest.approx(
        summary.totals["realised_pnl"])
    # Portfolio risk's own actions, as the dashboard lists them: reduce-only and the cuts.
    actions = snapshot["trading"]["actions"]
    assert summary.reductions and {a["who"] for a in actions} <= {"portfolio-risk", "router"}
    cuts = [a for a in actions if a["action"] == "position.reduce"]
    assert cuts and all("second threshold" in a["what"] for a in cuts)


def test_a_run_reaches_any_acceptor_named_by_a_quickfix_settings_file(runs, tmp_path):
    """--fix-config: no venue simulator, no lock-step; the card's encoder takes the file's
    CompIDs (the acceptor knows only that session) and the acceptor's fills are booked."""
    import subprocess
    import sys

    from sw.venue.process import free_port

    port = free_port()
    dictionary = f"{sys.prefix}/share/quickfix/FIX44.xml"
    common = ("StartTime=00:00:00\nEndTime=00:00:00\nUseDataDictionary=Y\n"
              f"DataDictionary={dictionary}\nCheckLatency=N\n")
    acceptor_cfg = tmp_path / "acceptor.cfg"
    acceptor_cfg.write_text(f"[DEFAULT]\nConnectionType=acceptor\n{common}"
                            f"SocketAcceptHost=127.0.0.1\nSocketAcceptPort={port}\n"
                            "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=XNAS\n"
                            "TargetCompID=DESK1\n")
    initiator_cfg = tmp_path / "initiator.cfg"
    initiator_cfg.write_text(f"[DEFAULT]\nConnectionType=initiator\n{common}HeartBtInt=30\n"
                             f"ReconnectInterval=1\nFileStorePath={tmp_path / 'store'}\n"
                             "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=DESK1\n"
                             f"TargetCompID=XNAS\nSocketConnectHost=127.0.0.1\n"
                             f"SocketConnectPort={port}\n")
    venue = subprocess.Popen([sys.executable, "tests/sw/run/acceptor.py", str(acceptor_cfg)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert venue.stdout.readline().strip() == "ready"
        assert main(["run", "--feed", str(runs / "feed.pcap"), "--out", str(tmp_path / "out"),
                     "--limits", "docs/examples/limits.json", "--strategy",
                     "docs/examples/strategy.json", "--fix-config", str(initiator_cfg)]) == 0
    finally:
        venue.stdin.close()
        venue.wait(10)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    fills = rows(tmp_path / "out" / "fills.csv")
    assert summary["orders_sent"] > 0 and summary["fills"] > 0
    assert {f["venue"] for f in fills} == {"XNAS"}
    assert list(json.loads((tmp_path / "out" / "tca.json").read_text())["venue"]) == ["XNAS"]


def test_a_previous_run_is_never_replaced_silently(runs, capsys):
    before = (runs / "first" / "fills.csv").read_bytes()
    assert main(["run", "--feed", str(runs / "feed.pcap"), "--out", str(runs / "first")]) == 2
    err = capsys.readouterr().err
    assert "holds a previous run" in err and "--overwrite" in err and "Traceback" not in err
    assert (runs / "first" / "fills.csv").read_bytes() == before


def test_the_limits_document_follows_the_oms_positions(runs):
    """A reload of the documents during a run must not load stale positions: the OMS's
    confirmed positions reach the limits document each cadence, audited."""
    store = sqlite3.connect(runs / "first" / "control.db")
    limits = json.loads(store.execute(
        "SELECT body FROM documents WHERE kind = 'limits'").fetchone()[0])
    booked = {row["symbol"]: int(row["qty"]) for row in rows(runs / "first" / "positions.csv")}
    assert {s: q for s, q in limits["positions"].items() if q or s in booked} == booked
    audited = store.execute("SELECT count(*) FROM audit WHERE who = 'oms' AND "
                            "action = 'positions.confirm'").fetchone()[0]
    assert audited >= 1


def test_portfolio_limits_act_through_the_audited_desk(runs, tmp_path):
    """--max-gross: once the book's gross exposure passes it, every held symbol goes
    reduce-only through the desk, audited under the risk engine's name."""
    assert main(["run", "--feed", str(runs / "feed.pcap"), "--out", str(tmp_path / "risk"),
                 "--limits", "docs/examples/limits.json",
                 "--strategy", "docs/examples/strategy.json", "--cadence-ms", "100",
                 "--max-gross", "20000"]) == 0
    summary = json.loads((tmp_path / "risk" / "summary.json").read_text())
    assert summary["risk_decisions"] >= 1
    audit = sqlite3.connect(tmp_path / "risk" / "control.db")
    actions = [a for (a,) in audit.execute(
        "SELECT action FROM audit WHERE who = 'portfolio-risk'")]
    assert actions and all("reduce_only" in a for a in actions)


def test_beyond_the_second_threshold_positions_are_cut_by_host_orders(runs, tmp_path):
    """--reduce-gross: beyond it, portfolio risk cuts every position back toward --max-gross
    with IOC orders by the card's host order port: audited under the risk engine's name, sent
    through the gate like any order, and the card and the OMS still agree."""
    out = tmp_path / "cut"
    assert main(["run", "--feed", str(runs / "feed.pcap"), "--out", str(out),
                 "--limits", "docs/examples/limits.json",
                 "--strategy", "docs/examples/strategy.json", "--cadence-ms", "100",
                 "--max-gross", "10000", "--reduce-gross", "15000"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reductions"] >= 1 and summary["exposure_leak"] is False
    audit = sqlite3.connect(out / "control.db")
    cuts = [json.loads(new) for (new,) in audit.execute(
        "SELECT new FROM audit WHERE who = 'portfolio-risk' AND action = 'position.reduce'")]
    assert len(cuts) == summary["reductions"]
    assert all(c["side"] in ("B", "S") and c["qty"] > 0 and "second threshold" in c["why"]
               for c in cuts)
    store = duckdb.connect(str(out / "events.duckdb"), read_only=True)
    (host,) = store.execute("SELECT count(*) FROM decision WHERE Cause = 'host'").fetchone()
    assert host == len(cuts)
    # The report lists them among the automatic actions, each with what it did and why.
    page = (out / "report.html").read_text()
    assert page.count("<td style='text-align:left'>position.reduce</td>") == len(cuts)


def test_the_report_shows_the_run_and_checks_the_book_against_the_store(runs):
    """report.html: its plots exist, and the book agrees with the event store: positions equal
    the sum of the fills, and P&L equals the fills' cash flows plus the marked inventory."""
    import duckdb

    from sw.run.report import book_checks

    page = (runs / "first" / "report.html").read_text()
    for image in ("pnl_inventory.png", "markouts.png", "tick_to_trade.png",
                  "parameter_changes.png", "venues.png"):
        assert f"src='{image}'" in page and (runs / "first" / image).stat().st_size > 1000
    assert "consistent" in page and "INCONSISTENT" not in page and "MISMATCH" not in page
    con = duckdb.connect(str(runs / "first" / "events.duckdb"), read_only=True)
    checks = book_checks(con)
    assert checks["ok"] and checks["rows"]
    held = {r["symbol"]: r["position"] for r in checks["rows"]}
    booked = rows(runs / "first" / "positions.csv")
    assert held == {row["symbol"]: int(row["qty"]) for row in booked}


def test_the_demo_runs_headless_for_a_bounded_time_and_reports_real_figures(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--messages", "6000", "--rate", "20000",
                 "--no-api", "--duration", "60"]) == 0
    run = tmp_path            # DIR itself holds the run's outputs, beside the feed
    assert (run / "feed.pcap").exists()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["fills"] > 0 and set(summary["venues"]) == {"FAST", "SLOW"}
    assert "consistent" in (run / "report.html").read_text()
    for name in ("report.html", "fills.csv", "positions.csv", "events.duckdb"):
        assert (run / name).exists()


def test_new_chains_follow_the_venue_per_venue_tca_favours(tmp_path):
    """Two venues, one much dearer to take at (fees) and slower: once both are measured, each
    routing change sends the symbol's new chains to the venue it names, all but the
    exploration share (every tenth chain); every chain's reports come from one venue."""
    feed = tmp_path / "feed.pcap"
    generate(MarketConfig(symbols=4, messages=30_000, seed=5, rate=5_000.0), feed,
             pcap=PcapOptions())
    out = tmp_path / "route"
    assert main(["run", "--feed", str(feed), "--out", str(out),
                 "--limits", "docs/examples/limits.json",
                 "--strategy", "docs/examples/strategy.json", "--cadence-ms", "250",
                 "--venue", "CHEAP:latency_in_ns=20000,taker_fee=5,maker_fee=-30",
                 "--venue", "DEAR:latency_in_ns=200000,taker_fee=60,maker_fee=10"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    changes = summary["routing_changes"]
    assert changes, "the router never left exploring"
    store = duckdb.connect(str(out / "events.duckdb"), read_only=True)
    # The venue of each new chain: the venue of its reports (each venue knows only its own).
    chains = store.execute("""
        SELECT o.Symbol, o.TransactTime, min(r.LastMkt), count(DISTINCT r.LastMkt)
        FROM order_sent o JOIN execution_report r USING (ClOrdID)
        WHERE o.MsgType = 'D' GROUP BY o.ClOrdID, o.Symbol, o.TransactTime""").fetchall()
    assert chains and all(venues == 1 for *_, venues in chains)
    audit = sqlite3.connect(out / "control.db")
    assert len(audit.execute("SELECT id FROM audit WHERE who = 'router'").fetchall()) == len(
        changes)
    checked = 0
    for change in (c for c in changes if c["sizes"] == "all"):
        later = [c for c in changes if c["symbol"] == change["symbol"] and c["sizes"] == "all"
                 and c["transact_ns"] > change["transact_ns"]]
        until = min((c["transact_ns"] for c in later), default=None)
        routed = [venue for symbol, at, venue, _ in chains if symbol == change["symbol"]
                  and at > change["transact_ns"] and (until is None or at <= until)]
        if len(routed) >= 20:
            share = routed.count(change["new"]) / len(routed)
            assert share >= 0.85, (change["symbol"], change["new"], share)
            checked += 1
    assert checked >= 1
