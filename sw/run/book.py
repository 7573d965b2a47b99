"""The run's trading view for the control plane: the OMS and TCA, read under the run's lock.

Where it sits: `nerve run --api` hands it to the control plane (sw/control/trading.py), whose
routes and telemetry read it from their own thread while the run's loop writes the OMS and TCA;
the lock keeps every answer a consistent snapshot. Prices and money are dollars here, the API's
edge. TCA's figures are the ones the run measured at its last cadence (`measured`): measuring
costs time in the number of fills, and the dashboard polls far more often than the run measures.
"""

from __future__ import annotations

import threading

from spec.itch import PRICE_SCALE
from sw.oms.oms import Oms
from sw.oms.orders import Order
from sw.tca.analysis import TcaAnalysis


def _dollars(units: float | int | None) -> float | None:
    return None if units is None else units / PRICE_SCALE


class RunBook:
    def __init__(self, oms: Oms, tca: TcaAnalysis, lock: threading.Lock) -> None:
        self.oms, self.analysis, self.lock = oms, tca, lock
        self.measured: dict | None = None       # the run's last TCA measure (under the lock)

    def positions(self) -> dict[str, dict]:
        with self.lock:
            book = self.oms.positions
            return {symbol: {"qty": p.qty, "avg_px": _dollars(p.avg_price),
                             "realised_pnl": _dollars(p.realised_pnl),
                             "unrealised_pnl": _dollars(book.unrealised(symbol)),
                             "fees": _dollars(p.fees)}
                    for symbol, p in book.by_symbol.items()}

    def totals(self) -> dict:
        with self.lock:
            return {k: _dollars(v) for k, v in self.oms.positions.totals().items()}

    def exposure(self) -> dict[str, dict]:
        with self.lock:
            out: dict[str, dict] = {}
            for order in self.oms.orders.open_orders():
                row = out.setdefault(order.symbol, {"open_orders": 0, "open_buy": 0,
                                                    "open_sell": 0})
                row["open_orders"] += 1
                row["open_buy" if order.side == "1" else "open_sell"] += order.qty
            return out

    def orders(self, *, open_only: bool, limit: int) -> list[dict]:
        with self.lock:
            chains = list(self.oms.orders.chains.values())
            if open_only:
                chains = [o for o in chains if not o.ended]
            return [_order(o) for o in reversed(chains[-limit:])]

    def order(self, clordid: str) -> dict | None:
        with self.lock:
            found = self.oms.orders.get(clordid)
            return None if found is None else _order(found)

    def fills(self, limit: int) -> list[dict]:
        with self.lock:
            return [{"exec_id": f.exec_id, "clordid": f.clordid, "venue": f.venue,
                     "symbol": f.symbol, "side": "buy" if f.side == "1" else "sell",
                     "qty": f.qty, "price": _dollars(f.price), "fee": _dollars(f.fee),
                     "transact_ns": f.transact_ns}
                    for f in reversed(self.oms.fills[-limit:])]

    def tca(self) -> dict:
        with self.lock:
            if self.measured is None:           # before the run's first cadence
                self.measured = self.analysis.measure()
            return self.measured


def _order(o: Order) -> dict:
    return {"clordid": o.clordid, "first_clordid": o.first_clordid, "order_id": o.order_id,
            "symbol": o.symbol, "side": "buy" if o.side == "1" else "sell", "qty": o.qty,
            "price": _dollars(o.price), "status": o.reported_status.name.lower(),
            "cum_qty": o.cum_qty, "leaves_qty": o.leaves_qty,
            "avg_px": _dollars(o.avg_px) if o.cum_qty else None, "venue": o.venue,
            "flags": list(o.flags), "sent_ns": o.sent_ns, "ended_ns": o.ended_ns}
