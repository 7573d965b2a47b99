"""TCA: every fill measured against the market, aggregated, and published on the bus.

Where it sits: a bus subscriber beside the OMS. It keeps the quotes (mids in feed time), the
orders sent (their arrival time and the card's cycle stamps) and the venue's reports, and on
`measure()` computes, over whole arrays (sw/tca/measures.py):

- per fill: arrival slippage, effective spread, markouts and realised spreads at each horizon;
- per order: fill ratio and implementation shortfall (with the unfilled part's opportunity
  cost, marked at the mid when the order ended, or now if it is open);
- aggregates per symbol, side, venue, liquidity (maker / taker) and strategy mode (quote: Day
  orders; take: IOC orders): shares, fills, and share-weighted means; adverse selection is the
  mean markout of passive fills; per mode also its P&L, a risk charge from the volatility of that
  P&L (sampled once per cadence by `sample_pnl`) and the risk-adjusted P&L;
- latency: tick-to-trade from the card's cycle stamps (histogram), and order -> acknowledgement
  in feed time.

Arrival is the time of the instruction a fill names (the D, or the G that set its price): the
card stamps an order with the ingress time of the feed message that caused it, so the mid at
arrival is the mid the strategy acted on. Markouts need the feed to have reached t + h; until it
has they are unknown (NaN), never zero.

`reports()` turns the aggregates per symbol into `TcaReport` events (Value in parts per million
of the reference: 100 ppm = 1 bp).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from spec.itch import PRICE_SCALE
from sw.bus.events import (
    Event,
    ExecType,
    ExecutionReport,
    OrderSent,
    Quote,
    TcaMetric,
    TcaReport,
    TimeInForce,
)
from sw.oms.positions import PositionBook
from sw.tca import measures

#: The risk charge's quantile (99%, one-sided) and the fewest P&L samples it is measured on.
Z_99 = NormalDist().inv_cdf(0.99)
MIN_PNL_SAMPLES = 10
#: Markout horizons, ns of feed time: 100 ms, 1 s, 10 s, 60 s.
HORIZONS_NS = (100_000_000, 1_000_000_000, 10_000_000_000, 60_000_000_000)
CYCLE_NS = 6.4          # the card's clock, 156.25 MHz


@dataclass
class _Order:
    symbol: str
    sign: int
    qty: int
    sent_ns: int
    first: str                  # the chain's first ClOrdID
    acked_ns: int | None = None
    ended_ns: int | None = None
    tick_to_trade: int | None = None
    mode: str = "quote"


@dataclass
class FillTable:
    """One row per fill, as numpy columns (see the module doc for each)."""

    symbol: np.ndarray
    venue: np.ndarray
    mode: np.ndarray            # the strategy mode that sent the order: quote or take
    side: np.ndarray            # +1 buy, -1 sell
    maker: np.ndarray           # bool
    qty: np.ndarray
    price: np.ndarray
    fee: np.ndarray
    fill_ns: np.ndarray
    arrival_mid: np.ndarray
    slippage_bps: np.ndarray
    effective_spread: np.ndarray
    markout_bps: dict[int, np.ndarray] = field(default_factory=dict)
    realised_spread: dict[int, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.qty)


class TcaAnalysis:
    """See the module doc. Feed it bus events with `add`; read `measure()`."""

    def __init__(self, horizons_ns: tuple[int, ...] = HORIZONS_NS) -> None:
        self.horizons_ns = horizons_ns
        self._quotes: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        self._orders: dict[str, _Order] = {}               # every ClOrdID -> its instruction
        self._fills: list[tuple] = []
        self._seen: set[str] = set()
        self._mode_books: dict[str, PositionBook] = {}
        self._pnl_samples: dict[str, list[float]] = {}
        self.feed_ns = 0

    # --- input -------------------------------------------------------------------------------

    def add(self, event: Event) -> None:
        self.feed_ns = max(self.feed_ns, event.TransactTime)
        if isinstance(event, Quote):
            if event.BidPx and event.OfferPx:
                times, mids = self._quotes[event.Symbol]
                times.append(event.TransactTime)
                mids.append((event.BidPx + event.OfferPx) / 2)
        elif isinstance(event, OrderSent):
            chain = self._orders.get(event.OrigClOrdID or "")
            first = chain.first if chain else event.ClOrdID
            ticks = (event.EgressCycle - event.IngressCycle
                     if event.EgressCycle is not None and event.IngressCycle is not None
                     else None)
            # The card's strategy quotes with Day orders and takes with IOC ones; a G or F
            # belongs to the mode of the chain it changes.
            mode = chain.mode if chain else (
                "take" if event.TimeInForce == TimeInForce.IMMEDIATE_OR_CANCEL else "quote")
            self._orders[event.ClOrdID] = _Order(event.Symbol, 1 if event.Side == "1" else -1,
                                                 event.OrderQty, event.TransactTime, first,
                                                 tick_to_trade=ticks, mode=mode)
        elif isinstance(event, ExecutionReport) and event.ExecID not in self._seen:
            self._seen.add(event.ExecID)
            order = self._orders.get(event.ClOrdID)
            if order is None:
                return                      # not ours to measure (the OMS flags it)
            if event.ExecType == ExecType.NEW and order.acked_ns is None:
                order.acked_ns = event.TransactTime
            if event.OrdStatus in ("2", "4", "8", "C"):
                order.ended_ns = event.TransactTime
            if event.ExecType == ExecType.TRADE and event.LastQty:
                self._fills.append((event.ClOrdID, event.LastMkt or "", event.LastQty,
                                    event.LastPx, event.Commission,
                                    event.LastLiquidityInd == 1, event.TransactTime))
                self._mode_books.setdefault(order.mode, PositionBook()).fill(
                    order.symbol, event.LastMkt or "", order.sign, event.LastQty, event.LastPx,
                    event.Commission)

    # --- measures ----------------------------------------------------------------------------

    def _mids(self, symbol: str) -> tuple[np.ndarray, np.ndarray]:
        times, mids = self._quotes.get(symbol, ([], []))
        return np.asarray(times, dtype=np.int64), np.asarray(mids, dtype=float)

    def fills(self) -> FillTable:
        n = len(self._fills)
        orders = [self._orders[f[0]] for f in self._fills]
        table = FillTable(
            symbol=np.array([o.symbol for o in orders], dtype=object),
            venue=np.array([f[1] for f in self._fills], dtype=object),
            mode=np.array([o.mode for o in orders], dtype=object),
            side=np.array([o.sign for o in orders], dtype=np.int64),
            maker=np.array([f[5] for f in self._fills], dtype=bool),
            qty=np.array([f[2] for f in self._fills], dtype=np.int64),
            price=np.array([f[3] for f in self._fills], dtype=float),
            fee=np.array([f[4] for f in self._fills], dtype=np.int64),
            fill_ns=np.array([f[6] for f in self._fills], dtype=np.int64),
            arrival_mid=np.full(n, np.nan), slippage_bps=np.full(n, np.nan),
            effective_spread=np.full(n, np.nan))
        arrival_ns = np.array([o.sent_ns for o in orders], dtype=np.int64)
        for h in self.horizons_ns:
            table.markout_bps[h] = np.full(n, np.nan)
            table.realised_spread[h] = np.full(n, np.nan)
        for symbol in set(table.symbol.tolist()):
            rows = table.symbol == symbol
            times, mids = self._mids(symbol)
            sign, price = table.side[rows], table.price[rows]
            table.arrival_mid[rows] = measures.mid_at(times, mids, arrival_ns[rows])
            mid_now = measures.mid_at(times, mids, table.fill_ns[rows])
            table.slippage_bps[rows] = measures.arrival_slippage_bps(
                sign, price, table.arrival_mid[rows])
            table.effective_spread[rows] = measures.effective_spread(sign, price, mid_now)
            for h in self.horizons_ns:
                later = measures.future_mid(times, mids, table.fill_ns[rows], h, self.feed_ns)
                table.markout_bps[h][rows] = measures.markout_bps(sign, price, later)
                table.realised_spread[h][rows] = measures.realised_spread(sign, price, later)
        return table

    def orders(self) -> dict[str, dict]:
        """Per order chain: submitted and filled shares, fill ratio, implementation shortfall."""
        chains: dict[str, _Order] = {}
        for order in self._orders.values():
            chains.setdefault(order.first, self._orders[order.first])
        filled = defaultdict(int)
        notional = defaultdict(float)
        fees = defaultdict(int)
        for clordid, _, qty, px, fee, _, _ in self._fills:
            first = self._orders[clordid].first
            filled[first] += qty
            notional[first] += qty * px
            fees[first] += fee
        keys = list(chains)
        if not keys:
            return {}
        sign = np.array([chains[k].sign for k in keys], dtype=float)
        ordered = np.array([chains[k].qty for k in keys], dtype=float)
        got = np.array([filled[k] for k in keys], dtype=float)
        arrival, end = np.full(len(keys), np.nan), np.full(len(keys), np.nan)
        symbols = np.array([chains[k].symbol for k in keys], dtype=object)
        sent = np.array([chains[k].sent_ns for k in keys], dtype=np.int64)
        ended = np.array([chains[k].ended_ns if chains[k].ended_ns is not None
                          else self.feed_ns for k in keys], dtype=np.int64)
        for symbol in set(symbols.tolist()):          # one lookup per symbol, all its chains
            rows = symbols == symbol
            times, mids = self._mids(symbol)
            arrival[rows] = measures.mid_at(times, mids, sent[rows])
            end[rows] = measures.mid_at(times, mids, ended[rows])
        shortfall = measures.implementation_shortfall(
            sign, arrival, ordered, got, np.array([notional[k] for k in keys]), end,
            np.array([fees[k] for k in keys], dtype=float))
        return {key: {"symbol": chains[key].symbol, "ordered": int(ordered[i]),
                      "filled": int(got[i]), "fill_ratio": got[i] / ordered[i],
                      "shortfall": float(shortfall["total"][i]),
                      "shortfall_bps": float(shortfall["bps"][i]),
                      "opportunity": float(shortfall["opportunity"][i])}
                for i, key in enumerate(keys)}

    def measure(self, table: FillTable | None = None) -> dict:
        """Every aggregate (see the module doc), as plain data for the API, the dashboard and
        tca.json: Python numbers (None for unknown), never numpy scalars, so it goes to JSON as
        it is (horizon keys, ints, become strings there). `table`: `fills()` already made for
        the same moment (a caller that needs both builds it once)."""
        table = self.fills() if table is None else table
        orders = self.orders()
        by = {"symbol": table.symbol, "side": np.where(table.side > 0, "buy", "sell"),
              "venue": table.venue, "liquidity": np.where(table.maker, "maker", "taker"),
              "mode": table.mode}
        groups = {name: {str(key): _aggregate(table, keys == key, self.horizons_ns)
                         for key in sorted(set(keys.tolist()))}
                  for name, keys in by.items()}
        for symbol, row in groups["symbol"].items():
            taker = (table.symbol == symbol) & ~table.maker
            row["taker_slippage_bps"] = _weighted(table.slippage_bps[taker], table.qty[taker])
            mine = [o for o in orders.values() if o["symbol"] == symbol]
            ordered = sum(o["ordered"] for o in mine)
            row["fill_ratio"] = sum(o["filled"] for o in mine) / ordered if ordered else None
            row["shortfall_bps"] = _nanmean([o["shortfall_bps"] for o in mine])
        ticks = [o.tick_to_trade for o in self._orders.values() if o.tick_to_trade is not None]
        acks = [o.acked_ns - o.sent_ns for o in self._orders.values() if o.acked_ns is not None]
        for mode, row in groups["mode"].items():
            row.update(self._mode_risk(mode))
        return {"fills": len(table), "orders": len(orders),
                "all": _aggregate(table, np.ones(len(table), dtype=bool), self.horizons_ns),
                **groups, "latency": _latency(ticks, acks)}

    # --- P&L per strategy mode, and its risk charge --------------------------------------------

    def _mode_pnl(self, mode: str) -> float | None:
        """A mode's P&L now (realised + unrealised - fees, price units x shares); None while a
        symbol it holds has no mid yet."""
        book = self._mode_books.get(mode)
        if book is None:
            return 0.0
        for symbol in book.by_symbol:
            times, mids = self._quotes.get(symbol, ([], []))
            book.mark(symbol, int(mids[-1]) if mids else None)
        return book.totals()["net_pnl"]

    def sample_pnl(self) -> None:
        """Record each mode's P&L once per cadence (the run calls it): the series the risk
        charge is measured on."""
        for mode in self._mode_books:
            pnl = self._mode_pnl(mode)
            if pnl is not None:
                self._pnl_samples.setdefault(mode, []).append(pnl)

    def _mode_risk(self, mode: str) -> dict:
        """P&L in dollars, and a risk charge: z_99% x the standard deviation of the P&L's change
        from one sample to the next (a one-interval 99% VaR of the mode's P&L, zero mean;
        unknown with fewer than `MIN_PNL_SAMPLES` samples); risk-adjusted P&L = P&L - charge."""
        pnl = self._mode_pnl(mode)
        samples = np.asarray(self._pnl_samples.get(mode, []), dtype=float)
        charge = None
        if samples.size > MIN_PNL_SAMPLES:
            charge = Z_99 * float(np.diff(samples).std(ddof=1)) / PRICE_SCALE
        dollars = None if pnl is None else pnl / PRICE_SCALE
        return {"pnl": dollars, "risk_charge": charge,
                "risk_adjusted_pnl": (None if dollars is None or charge is None
                                      else dollars - charge),
                "pnl_samples": int(samples.size)}

    def reports(self, now_ns: int, measured: dict | None = None) -> list[TcaReport]:
        """The per-symbol aggregates as TcaReport events (parts per million); `measured`: a
        `measure()` result already at hand (it is not computed again)."""
        out = []
        for symbol, row in (measured or self.measure())["symbol"].items():
            values = [(TcaMetric.ARRIVAL_SLIPPAGE, row["slippage_bps"], None),
                      (TcaMetric.IMPLEMENTATION_SHORTFALL, row["shortfall_bps"], None),
                      (TcaMetric.FILL_RATIO, None if row["fill_ratio"] is None
                       else row["fill_ratio"] * 1e4, None),
                      *((TcaMetric.MARKOUT, row["markout_bps"][h], h)
                        for h in self.horizons_ns)]
            for metric, bps, horizon in values:
                if bps is None or np.isnan(bps):
                    continue                       # unknown is not published as a number
                out.append(TcaReport(Symbol=symbol, TcaMetric=metric, Value=round(bps * 100),
                                     HorizonNs=horizon, TransactTime=now_ns))
        return out


def _nanmean(values) -> float | None:
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    return float(array.mean()) if array.size else None


def _weighted(values: np.ndarray, weights: np.ndarray) -> float | None:
    known = ~np.isnan(values)
    if not known.any():
        return None
    return float(np.average(values[known], weights=weights[known]))


def _aggregate(table: FillTable, rows: np.ndarray, horizons: tuple[int, ...]) -> dict:
    qty = table.qty[rows]
    maker = rows & table.maker
    return {
        "fills": int(rows.sum()), "shares": int(qty.sum()),
        "fees": int(table.fee[rows].sum()),
        "slippage_bps": _weighted(table.slippage_bps[rows], qty),
        "effective_spread": _weighted(table.effective_spread[rows], qty),
        "markout_bps": {h: _weighted(table.markout_bps[h][rows], qty) for h in horizons},
        "realised_spread": {h: _weighted(table.realised_spread[h][rows], qty) for h in horizons},
        "adverse_selection_bps": {h: _weighted(table.markout_bps[h][maker], table.qty[maker])
                                  for h in horizons},
    }


def _latency(ticks: list[int], acks: list[int]) -> dict:
    out: dict = {"tick_to_trade_cycles": None, "order_to_ack_ns": None}
    if ticks:
        array = np.asarray(ticks)
        edges = np.arange(array.min(), array.max() + 2)
        counts, _ = np.histogram(array, bins=edges)
        out["tick_to_trade_cycles"] = {
            "count": int(array.size), "min": int(array.min()),
            "median": float(np.median(array)), "p99": float(np.percentile(array, 99)),
            "max": int(array.max()), "median_ns": float(np.median(array)) * CYCLE_NS,
            "histogram": {int(e): int(c) for e, c in zip(edges[:-1], counts, strict=True)
                          if c}}
    if acks:
        array = np.asarray(acks)
        out["order_to_ack_ns"] = {"count": int(array.size), "median": float(np.median(array)),
                                  "p99": float(np.percentile(array, 99))}
    return out
