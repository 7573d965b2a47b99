"""The session manager against the real venue (a QuickFIX acceptor in its own process), with its
reports turned into bus events (sw/session/edge.py) and booked by the OMS.

The card is stood in for by its MsgSeqNum counter and by order bytes framed as the card's
encoder frames them; the venue trades them against a small ITCH feed in lock-step."""

from __future__ import annotations

import asyncio
import datetime as dt

from sw.bus.events import ExecType, ExecutionReport, OrdStatus
from sw.feed import itch
from sw.oms.oms import Oms
from sw.session import framing
from sw.session.edge import event_of
from sw.session.session import FixSession, SessionConfig
from sw.venue.matching import VenueSettings
from sw.venue.process import VenueLaunch, VenueProcess

DATE = dt.date(2026, 11, 20)
T0 = 34_200 * 10**9                                  # 09:30:00


def stamp(ns: int) -> str:
    s, frac = divmod(ns, 10**9)
    return f"{DATE:%Y%m%d}-{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{frac // 10**6:03d}"


class Card:
    """The card's counter, and D/F bytes as its encoder frames them."""

    def __init__(self) -> None:
        self.value = 1

    def reserve(self) -> int:
        self.value += 1
        return self.value - 1

    def next(self) -> int:
        return self.value

    def order(self, clordid: str, side: int, qty: int, price: str, tif: int, at: int) -> bytes:
        return framing.build("D", "NERVE", "VENUE", self.reserve(), stamp(at), [
            (11, clordid), (55, "AAPL"), (54, side), (60, stamp(at)), (38, qty), (40, 2),
            (44, price), (59, tif)])


def feed(path):
    path.write_bytes(itch.write_file([
        itch.StockDirectory(1, 0, T0, "AAPL", "Q", "N", 100, "N", "C", "Z ", "P", "N", "N",
                            "1", "N", 0, "N"),
        itch.StockTradingAction(1, 0, T0, "AAPL", "T", " ", "    "),
        itch.AddOrder(1, 0, T0 + 1_000, 1, "S", 500, "AAPL", 1_501_000),
        itch.AddOrder(1, 0, T0 + 2_000, 2, "B", 300, "AAPL", 1_500_000),
        itch.OrderExecuted(1, 0, T0 + 9_000_000, 2, 300, 11),       # our bid's queue trades
        itch.Trade(1, 0, T0 + 9_000_001, 0, "B", 100, "AAPL", 1_500_000, 12),
    ]))
    return path


def test_orders_fill_over_a_real_fix_session_into_the_oms_and_survive_a_dropped_connection(
        tmp_path):
    venue = VenueProcess(feed(tmp_path / "f.itch"), VenueLaunch(
        VenueSettings(latency_in_ns=0, latency_out_ns=0), wait_seconds=5), tmp_path / "venue")
    card = Card()
    oms = Oms(tmp_path / "oms.jsonl")
    received: list = []

    def on_message(message) -> None:
        event = event_of(message, "SIM")
        received.append(event)
        oms.handle([event])

    async def scenario():
        session = FixSession(SessionConfig("127.0.0.1", venue.port, "NERVE", "VENUE", 30, 0.1,
                                           tmp_path / "session"), card, on_message)
        session.start()
        await asyncio.wait_for(session.logged_on.wait(), 10)
        t = T0 + 3_000_000
        from sw.bus.events import MsgType, OrderSent, Side
        for clordid, side, qty, px, tif in (("NRV1", 1, 200, "150.10", 3),
                                            ("NRV2", 1, 100, "150.00", 0)):
            oms.handle([OrderSent(MsgType=MsgType.NEW_ORDER_SINGLE, ClOrdID=clordid,
                                  Symbol="AAPL", Side=Side(str(side)), OrderQty=qty,
                                  Price=int(float(px) * 10_000), TransactTime=t)])
            assert session.send_order(card.order(clordid, side, qty, px, tif, t))
        assert await venue.advance(t, 2) == 3
        # The connection drops; the venue fills NRV2 while we are away; we come back.
        assert await asyncio.to_thread(venue.command, "drop") == ["dropped"]
        for _ in range(100):
            if not session.logged_on.is_set():
                break
            await asyncio.sleep(0.02)
        later = T0 + 10_000_000
        assert await venue.advance(later, 2) == 4
        for _ in range(300):
            if any(isinstance(e, ExecutionReport) and e.ClOrdID == "NRV2"
                   and e.ExecType == ExecType.TRADE for e in received):
                break
            await asyncio.sleep(0.05)
        counters = session.counters
        assert await venue.end(2) >= 4
        await session.stop()
        return counters

    try:
        counters = asyncio.run(asyncio.wait_for(scenario(), 60))
    finally:
        venue.close()
    kinds = [(e.ClOrdID, e.ExecType) for e in received]
    assert kinds[:3] == [("NRV1", ExecType.NEW), ("NRV1", ExecType.TRADE),
                         ("NRV2", ExecType.NEW)]
    assert ("NRV2", ExecType.TRADE) in kinds                  # sent while we were away
    assert counters.logons == 2 and counters.resend_requests_sent >= 1
    assert len({e.ExecID for e in received}) == len([e for e in received
                                                     if isinstance(e, ExecutionReport)])
    fill = next(e for e in received if e.ClOrdID == "NRV2" and e.ExecType == ExecType.TRADE)
    assert (fill.LastQty, fill.LastPx, fill.Commission, fill.OrdStatus) == (
        100, 1_500_000, 100 * -20, OrdStatus.FILLED)
    position = oms.positions.by_symbol["AAPL"]
    assert (position.qty, position.cost) == (300, 200 * 1_501_000 + 100 * 1_500_000)
    assert oms.orders.get("NRV2").reported_status is OrdStatus.FILLED
