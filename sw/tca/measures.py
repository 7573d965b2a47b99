"""Transaction-cost measures, vectorised over every fill at once (numpy).

Where it sits: under the TCA service (sw/tca/analysis.py), which gathers quotes, orders and fills
from the bus and calls these on whole arrays. Definitions (docs/tca.md has them with sources);
s is +1 for a buy and -1 for a sell, prices in ITCH units, times in ns of feed time:

- mid at time t: the mid of the last quote at or before t with both sides present (NaN before
  the first such quote);
- arrival slippage, bps: s x (P_exec - mid_arrival) / mid_arrival x 1e4 (positive is a cost);
- markout at horizon h, bps: s x (mid(t + h) - P_exec) / P_exec x 1e4 (negative on a passive fill
  is adverse selection); NaN while the feed has not reached t + h;
- effective spread: 2 x s x (P_exec - mid_t), price units (positive is a cost);
- realised spread at h: 2 x s x (P_exec - mid(t + h)), price units;
- implementation shortfall (Perold), per order, price units x shares: execution cost
  s x (avg fill price - mid_arrival) x filled + opportunity cost s x (mid_end - mid_arrival) x
  unfilled + fees.
"""

from __future__ import annotations

import numpy as np


def mid_at(quote_ns: np.ndarray, quote_mid: np.ndarray, at_ns: np.ndarray) -> np.ndarray:
    """The mid in force at each of `at_ns` (quotes sorted by time; NaN before the first)."""
    index = np.searchsorted(quote_ns, at_ns, side="right") - 1
    mids = np.full(np.shape(at_ns), np.nan)
    known = index >= 0
    mids[known] = quote_mid[index[known]]
    return mids


def future_mid(quote_ns: np.ndarray, quote_mid: np.ndarray, at_ns: np.ndarray,
               horizon_ns: int, feed_ns: int) -> np.ndarray:
    """mid(t + h), NaN where t + h is beyond the feed time reached (`feed_ns`): not yet known."""
    target = at_ns + horizon_ns
    mids = mid_at(quote_ns, quote_mid, target)
    mids[target > feed_ns] = np.nan
    return mids


def arrival_slippage_bps(sign: np.ndarray, price: np.ndarray,
                         arrival_mid: np.ndarray) -> np.ndarray:
    return sign * (price - arrival_mid) / arrival_mid * 1e4


def markout_bps(sign: np.ndarray, price: np.ndarray, later_mid: np.ndarray) -> np.ndarray:
    return sign * (later_mid - price) / price * 1e4


def effective_spread(sign: np.ndarray, price: np.ndarray, mid: np.ndarray) -> np.ndarray:
    return 2 * sign * (price - mid)


def realised_spread(sign: np.ndarray, price: np.ndarray, later_mid: np.ndarray) -> np.ndarray:
    return 2 * sign * (price - later_mid)


def implementation_shortfall(sign: np.ndarray, arrival_mid: np.ndarray, ordered: np.ndarray,
                             filled: np.ndarray, fill_notional: np.ndarray,
                             end_mid: np.ndarray, fees: np.ndarray) -> dict[str, np.ndarray]:
    """Perold's shortfall per order, and its parts (price units x shares; see the module doc).
    `fill_notional` is the sum of fill price x shares; an order with no fill has no execution
    cost, and an order with no end mid an unknown (NaN) opportunity cost."""
    execution = sign * (fill_notional - arrival_mid * filled)
    opportunity = sign * (end_mid - arrival_mid) * (ordered - filled)
    total = execution + opportunity + fees
    with np.errstate(invalid="ignore", divide="ignore"):
        bps = total / (arrival_mid * ordered) * 1e4
    return {"execution": execution, "opportunity": opportunity, "fees": fees.astype(float),
            "total": total, "bps": bps}
