"""Sample events for the bus tests: one of every type with every field set, and fills."""

from __future__ import annotations

from spec.codes import Reason
from sw.bus.events import (
    GATE_REJECT_REASON,
    CxlRejReason,
    CxlRejResponseTo,
    Event,
    ExecType,
    ExecutionReport,
    FeedHealth,
    FeedState,
    LastLiquidityInd,
    MsgType,
    OrderAcknowledged,
    OrderCancelReject,
    OrderRejected,
    OrderSent,
    OrdRejReason,
    OrdStatus,
    OrdType,
    ParameterUpdate,
    PositionReport,
    Quote,
    RiskAction,
    RiskDecision,
    SecurityTradingStatus,
    Side,
    TcaMetric,
    TcaReport,
    TimeInForce,
    TradingStatus,
)

T0 = 1_764_929_000_000_000_000  # 2025-12-05 10:03:20 UTC, in ns

SAMPLES: list[Event] = [
    Quote(Symbol="AAPL", BidPx=1_899_900, BidSize=300, OfferPx=1_900_100, OfferSize=200,
          TransactTime=T0),
    TradingStatus(Symbol="AAPL", SecurityTradingStatus=SecurityTradingStatus.TRADING_HALT,
                  TransactTime=T0 + 1, Text="ITCH H: halted"),
    FeedHealth(Session="0000012345", FeedState=FeedState.GAP, Symbol="BRK.A",
               TransactTime=T0 + 2, Text="expected 1001, got 1005"),
    OrderSent(MsgType=MsgType.ORDER_CANCEL_REPLACE_REQUEST, ClOrdID="NRV00000002",
              OrigClOrdID="NRV00000001", Symbol="AAPL", Side=Side.BUY, OrderQty=100,
              Price=1_899_900, OrdType=OrdType.LIMIT, TimeInForce=TimeInForce.IMMEDIATE_OR_CANCEL,
              MsgSeqNum=7, IngressCycle=1_000, EgressCycle=1_020, TransactTime=T0 + 3),
    OrderRejected(MsgType=MsgType.NEW_ORDER_SINGLE, ClOrdID="NRV00000003",
                  OrigClOrdID="NRV00000002", Symbol="MSFT", Side=Side.SELL, OrderQty=5_000,
                  Price=4_100_000, OrdRejReason=GATE_REJECT_REASON[Reason.POSITION_LIMIT],
                  GateReason=Reason.POSITION_LIMIT, Text="position limit", IngressCycle=2_000,
                  TransactTime=T0 + 4),
    OrderAcknowledged(ClOrdID="NRV00000002", OrigClOrdID="NRV00000001", OrderID="V-1",
                      OrdStatus=OrdStatus.NEW, Symbol="AAPL", Side=Side.BUY,
                      TransactTime=T0 + 5),
    ExecutionReport(ExecID="X-1", OrderID="V-1", ClOrdID="NRV00000002",
                    OrigClOrdID="NRV00000001", ExecType=ExecType.TRADE,
                    OrdStatus=OrdStatus.PARTIALLY_FILLED, Symbol="AAPL", Side=Side.BUY,
                    OrderQty=100, Price=1_899_900, LastQty=40, LastPx=1_899_800, CumQty=40,
                    LeavesQty=60, LastMkt="XNAS",
                    LastLiquidityInd=LastLiquidityInd.ADDED_LIQUIDITY, Commission=-800,
                    OrdRejReason=OrdRejReason.OTHER, Text="fill", TransactTime=T0 + 6),
    OrderCancelReject(OrderID="V-1", ClOrdID="NRV00000004", OrigClOrdID="NRV00000002",
                      OrdStatus=OrdStatus.FILLED,
                      CxlRejResponseTo=CxlRejResponseTo.ORDER_CANCEL_REQUEST,
                      CxlRejReason=CxlRejReason.TOO_LATE_TO_CANCEL, Symbol="AAPL",
                      Text="order is filled", TransactTime=T0 + 6),
    PositionReport(Symbol="AAPL", LongQty=40, ShortQty=0, NetQty=40, CostBasis=75_992_000,
                   RealisedPnl=-1_200, UnrealisedPnl=4_000, TransactTime=T0 + 7),
    RiskDecision(RiskAction=RiskAction.REDUCE_ONLY, Symbol="AAPL", Text="VaR", TransactTime=T0 + 8),
    ParameterUpdate(Symbol="AAPL", Parameter="half_spread", Value=300, Source="tca",
                    TransactTime=T0 + 9),
    TcaReport(Symbol="AAPL", TcaMetric=TcaMetric.MARKOUT, Value=-150, ClOrdID="NRV00000002",
              HorizonNs=1_000_000_000, TransactTime=T0 + 10),
]


def fill(n: int, symbol: str = "AAPL") -> ExecutionReport:
    """The n-th fill of a test (ExecID "X-<n>")."""
    return ExecutionReport(ExecID=f"X-{n}", OrderID=f"V-{n}", ClOrdID="NRV%08d" % n,
                           ExecType=ExecType.TRADE, OrdStatus=OrdStatus.FILLED, Symbol=symbol,
                           Side=Side.SELL, OrderQty=100, Price=1_000_000, LastQty=100,
                           LastPx=1_000_000, CumQty=100, LeavesQty=0, TransactTime=T0 + n)


def quote(n: int, symbol: str = "AAPL") -> Quote:
    """The n-th quote of a test (TransactTime T0 + n)."""
    return Quote(Symbol=symbol, BidPx=1_000_000 + n, BidSize=100, OfferPx=1_000_100 + n,
                 OfferSize=100, TransactTime=T0 + n)
