"""The OMS (sw/oms): the order state machine, fills into positions, the journal, and recovery.

Events are the bus's own types (sw/bus/events.py), built as the session manager and the card's
edge would publish them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from sw.bus import wire
from sw.bus.events import (
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    ExecutionReport,
    MsgType,
    OrderCancelReject,
    OrderSent,
    OrdStatus,
    Quote,
    Side,
)
from sw.oms.journal import JournalError
from sw.oms.oms import Oms

T = 1_763_630_000_000_000_000


class Venue:
    """Execution reports for one order at a time, numbered like a venue numbers them."""

    def __init__(self) -> None:
        self.n = 0

    def report(self, clordid: str, exec_type: ExecType, status: OrdStatus, *, qty=100,
               cum=0, last_qty=0, last_px=0, price=1_000_000, orig=None, symbol="AAPL",
               side="1", commission=0) -> ExecutionReport:
        self.n += 1
        fields = dict(ExecID=f"E{self.n}", OrderID=f"O-{clordid}", ClOrdID=clordid,
                      OrigClOrdID=orig, ExecType=exec_type, OrdStatus=status, Symbol=symbol,
                      Side=Side(side), OrderQty=qty, Price=price, LastQty=last_qty, LastPx=last_px,
                      CumQty=cum, LeavesQty=max(qty - cum, 0), LastMkt="SIM",
                      TransactTime=T + self.n)
        if commission:
            fields["Commission"] = commission
        return ExecutionReport(**fields)


def sent(msg_type: str, clordid: str, *, orig=None, qty=100, price=1_000_000, side="1",
         symbol="AAPL") -> OrderSent:
    return OrderSent(MsgType=MsgType(msg_type), ClOrdID=clordid, OrigClOrdID=orig,
                     Symbol=symbol, Side=Side(side), OrderQty=qty, Price=price, TransactTime=T)


@pytest.fixture
def oms(tmp_path):
    ended, confirmed = [], []
    book = Oms(tmp_path / "journal.jsonl", on_position=lambda s, q: confirmed.append((s, q)),
               on_ended=lambda o: ended.append(o.first_clordid))
    book.ended, book.confirmed = ended, confirmed
    yield book
    book.close()


def test_an_order_goes_new_partly_filled_filled_and_its_end_is_released(oms):
    v = Venue()
    oms.handle([sent("D", "C1")])
    assert oms.orders.get("C1").reported_status is OrdStatus.PENDING_NEW
    oms.handle([v.report("C1", ExecType.NEW, OrdStatus.NEW)])
    assert oms.orders.get("C1").reported_status is OrdStatus.NEW
    reports = oms.handle([v.report("C1", ExecType.TRADE, OrdStatus.PARTIALLY_FILLED, cum=40,
                                   last_qty=40, last_px=1_000_000)])
    assert [(r.Symbol, r.NetQty, r.CostBasis) for r in reports] == [("AAPL", 40, 40_000_000)]
    assert oms.confirmed == [("AAPL", 40)] and oms.ended == []
    oms.handle([v.report("C1", ExecType.TRADE, OrdStatus.FILLED, cum=100, last_qty=60,
                         last_px=1_000_100)])
    order = oms.orders.get("C1")
    assert (order.reported_status, order.cum_qty, order.leaves_qty) == (OrdStatus.FILLED, 100, 0)
    assert order.avg_px == pytest.approx((40 * 1_000_000 + 60 * 1_000_100) / 100)
    assert oms.ended == ["C1"] and oms.confirmed[-1] == ("AAPL", 100)


def test_cancel_and_replace_chains_follow_every_clordid(oms):
    v = Venue()
    oms.handle([sent("D", "C1"), v.report("C1", ExecType.NEW, OrdStatus.NEW)])
    oms.handle([sent("G", "C2", orig="C1", qty=80, price=1_000_200)])
    assert oms.orders.get("C1").reported_status is OrdStatus.PENDING_REPLACE
    oms.handle([v.report("C2", ExecType.REPLACED, OrdStatus.NEW, qty=80, price=1_000_200,
                         orig="C1")])
    order = oms.orders.get("C2")
    assert order is oms.orders.get("C1")
    assert (order.clordid, order.qty, order.price, order.reported_status) == (
        "C2", 80, 1_000_200, OrdStatus.NEW)
    oms.handle([sent("F", "C3", orig="C2", qty=80)])
    assert order.reported_status is OrdStatus.PENDING_CANCEL
    oms.handle([v.report("C3", ExecType.CANCELED, OrdStatus.CANCELED, qty=80, orig="C2")])
    assert order.reported_status is OrdStatus.CANCELED and oms.ended == ["C1"]


def test_a_fill_racing_a_cancel_is_booked_and_the_late_fill_after_cancel_is_flagged(oms):
    v = Venue()
    oms.handle([sent("D", "C1"), v.report("C1", ExecType.NEW, OrdStatus.NEW)])
    oms.handle([sent("F", "C2", orig="C1")])
    oms.handle([v.report("C1", ExecType.TRADE, OrdStatus.PARTIALLY_FILLED, cum=30, last_qty=30,
                         last_px=1_000_000)])
    order = oms.orders.get("C1")
    assert order.reported_status is OrdStatus.PENDING_CANCEL and order.cum_qty == 30
    oms.handle([v.report("C2", ExecType.CANCELED, OrdStatus.CANCELED, cum=30, orig="C1")])
    assert order.reported_status is OrdStatus.CANCELED and order.leaves_qty == 0
    # The venue reports a fill it made before the cancel, after the cancel's confirmation.
    oms.handle([v.report("C1", ExecType.TRADE, OrdStatus.CANCELED, cum=50, last_qty=20,
                         last_px=1_000_000)])
    assert order.cum_qty == 50 and order.reported_status is OrdStatus.CANCELED
    assert oms.positions.by_symbol["AAPL"].qty == 50
    assert any("after the order was canceled" in f for f in oms.orders.flags)
    assert oms.ended == ["C1"]                      # released once


def test_rejects_expiries_and_unknown_reports(oms):
    v = Venue()
    oms.handle([sent("D", "C1"), v.report("C1", ExecType.REJECTED, OrdStatus.REJECTED)])
    assert oms.orders.get("C1").reported_status is OrdStatus.REJECTED and oms.ended == ["C1"]
    oms.handle([sent("D", "C2"), v.report("C2", ExecType.NEW, OrdStatus.NEW),
                v.report("C2", ExecType.TRADE, OrdStatus.PARTIALLY_FILLED, cum=10,
                         last_qty=10, last_px=1_000_000),
                v.report("C2", ExecType.EXPIRED, OrdStatus.EXPIRED, cum=10)])
    assert oms.orders.get("C2").reported_status is OrdStatus.EXPIRED
    # A fill for an order nobody sent: kept, flagged, and the shares count.
    reports = oms.handle([v.report("GHOST", ExecType.TRADE, OrdStatus.FILLED, cum=5,
                                   last_qty=5, last_px=1_000_000, side="2")])
    assert oms.orders.unknown_reports and "unknown ClOrdID GHOST" in oms.orders.flags[-1]
    assert [r.NetQty for r in reports] == [10 - 5]


def test_a_redelivered_report_or_order_changes_nothing(oms):
    v = Venue()
    fill = v.report("C1", ExecType.TRADE, OrdStatus.FILLED, cum=100, last_qty=100,
                    last_px=1_000_000)
    oms.handle([sent("D", "C1"), fill])
    before = oms.state()
    oms.handle([sent("D", "C1"), fill])
    assert oms.state() == before and oms.duplicates == 2
    assert not oms.orders.flags


def test_unrealised_pnl_marks_to_the_mid_and_fees_come_from_commission(oms):
    v = Venue()
    oms.handle([sent("D", "C1"), v.report("C1", ExecType.TRADE, OrdStatus.FILLED, cum=100,
                                          last_qty=100, last_px=1_000_000, commission=3_000)])
    (report,) = oms.handle([Quote(Symbol="AAPL", BidPx=1_000_400, BidSize=1, OfferPx=1_000_600,
                                  OfferSize=1, TransactTime=T + 99)])
    assert report.UnrealisedPnl == 100 * 500
    assert oms.positions.by_symbol["AAPL"].fees == 3_000
    assert all(e.type != "Quote" for e in oms.journal.events)
    # A caller that reports at its own cadence: the mark moves, no report is built.
    assert oms.handle([Quote(Symbol="AAPL", BidPx=1_000_800, BidSize=1, OfferPx=1_001_000,
                             OfferSize=1, TransactTime=T + 100)], report=False) == []
    assert oms.position_report("AAPL", T + 100).UnrealisedPnl == 100 * 900


def _script(venue_count: int) -> list:
    """A deterministic stream of orders and reports over several symbols and venues."""
    v, events = Venue(), []
    for i in range(venue_count):
        symbol, side = ("AAPL", "MSFT", "NVDA")[i % 3], "12"[i % 2]
        c = f"C{i}"
        events += [sent("D", c, symbol=symbol, side=side, qty=100),
                   v.report(c, ExecType.NEW, OrdStatus.NEW, symbol=symbol, side=side)]
        events.append(v.report(c, ExecType.TRADE, OrdStatus.PARTIALLY_FILLED, cum=60,
                               last_qty=60, last_px=1_000_000 + 100 * (i % 7), symbol=symbol,
                               side=side, commission=60 * 30))
        if i % 3 == 0:
            events += [sent("F", f"{c}x", orig=c, symbol=symbol, side=side),
                       v.report(f"{c}x", ExecType.CANCELED, OrdStatus.CANCELED, cum=60,
                                orig=c, symbol=symbol, side=side)]
        else:
            events.append(v.report(c, ExecType.TRADE, OrdStatus.FILLED, cum=100, last_qty=40,
                                   last_px=1_000_050, symbol=symbol, side=side))
    return events


def test_replaying_the_journal_rebuilds_the_same_book(tmp_path):
    events = _script(60)
    first = Oms(tmp_path / "j.jsonl")
    for k in range(0, len(events), 7):
        first.handle(events[k:k + 7])
    first.close()
    again = Oms(tmp_path / "j.jsonl")
    assert again.replayed == len(events) and again.state() == first.state()


def test_a_torn_last_line_is_dropped_and_corruption_refused(tmp_path):
    path = tmp_path / "j.jsonl"
    events = _script(3)
    book = Oms(path)
    book.handle(events)
    book.close()
    whole = path.read_bytes()
    path.write_bytes(whole + wire.encode(events[0])[:25])      # a crash mid-append
    reopened = Oms(path)
    assert reopened.journal.torn_bytes == 25 and path.read_bytes() == whole
    reopened.close()
    lines = whole.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2]) + b'{"v":1,"e":{"type":"Nope"}}\n' + b"".join(lines[2:]))
    with pytest.raises(JournalError, match="line 3 is not a bus event"):
        Oms(path)


CHILD = textwrap.dedent("""
    import json, sys, time
    from sw.bus import wire
    from sw.oms.oms import Oms
    events = [wire.decode(line) for line in open(sys.argv[2], "rb")]
    oms = Oms(sys.argv[1])
    print("ready", flush=True)
    for k in range(0, len(events), 5):
        oms.handle(events[k:k + 5])
        time.sleep(0.002)
    print(json.dumps(oms.state(), sort_keys=True), flush=True)
""")


def test_sigkill_mid_run_then_redelivery_equals_an_uninterrupted_run(tmp_path):
    """The OMS process is killed mid-stream; a new one replays its journal, the bus redelivers
    every event (as a durable consumer re-sends what was not acknowledged) and the book equals
    the book of a run that was never interrupted."""
    events = _script(120)
    stream = tmp_path / "events.jsonl"
    stream.write_bytes(b"".join(wire.encode(e) + b"\n" for e in events))
    clean = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "clean.jsonl"),
                            str(stream)], capture_output=True, text=True, check=True)
    expected = json.loads(clean.stdout.splitlines()[-1])
    journal = tmp_path / "killed.jsonl"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(journal), str(stream)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    while not journal.exists() or journal.stat().st_size < 20_000:
        assert child.poll() is None, "the run ended before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    survived = len(journal.read_bytes().splitlines())
    assert 0 < survived < len(events)
    restarted = Oms(journal)
    restarted.handle(events)                     # everything, again
    assert json.loads(json.dumps(restarted.state(), sort_keys=True)) == expected
    assert restarted.duplicates >= survived - 1


def test_a_cancel_reject_ends_the_request_in_flight_not_the_order(oms):
    v = Venue()
    oms.handle([sent("D", "C1"), v.report("C1", ExecType.NEW, OrdStatus.NEW),
                sent("F", "C2", orig="C1")])
    order = oms.orders.get("C1")
    assert order.reported_status is OrdStatus.PENDING_CANCEL
    oms.handle([OrderCancelReject(OrderID="O-C1", ClOrdID="C2", OrigClOrdID="C1",
                                  OrdStatus=OrdStatus.NEW,
                                  CxlRejResponseTo=CxlRejResponseTo.ORDER_CANCEL_REQUEST,
                                  CxlRejReason=CxlRejReason.TOO_LATE_TO_CANCEL,
                                  TransactTime=T + 50)])
    assert order.reported_status is OrdStatus.NEW and order.pending is None
    assert oms.ended == []
    reopened = Oms(oms.journal.path)
    assert reopened.journal.events[-1].type == "OrderCancelReject"
    reopened.close()
