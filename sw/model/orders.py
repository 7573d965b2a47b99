"""Orders the fast path owns: the request the strategy makes and the live-order record.

Shared by the strategy (which quotes through live orders), the risk gate (which counts their
exposure) and the encoder (which names them by ClOrdID).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

BUY, SELL = 0, 1
SIDE_CHAR = ("B", "S")


class OrderState(Enum):
    LIVE = "live"                  # sent, not cancelled by us, not ended by the host
    CANCEL_SENT = "cancel_sent"    # we sent F; exposure held until the host confirms the end
    ENDED = "ended"                # the host confirmed it done (filled, cancelled, expired)


@dataclass(slots=True, eq=False)
class LiveOrder:
    """One order chain (D, then any G, then F), as the hardware's order table holds it."""

    chain: int          # ClOrdID number of the D that opened it: order-table order
    clordid: int        # ClOrdID number of the latest message in the chain (OrigClOrdID next)
    locate: int
    side: int
    price: int
    qty: int
    exposure: int       # shares counted against position limits (max of qty in flight)
    tif: str            # FIX TimeInForce: "0" day, "3" IOC
    state: OrderState = OrderState.LIVE


@dataclass(slots=True)
class OrderRequest:
    """What the strategy (or the kill switch) asks the gate to send."""

    msg_type: str               # "D" new, "G" replace, "F" cancel
    locate: int
    side: int
    price: int
    qty: int
    tif: str = "0"
    order: LiveOrder | None = None  # for G and F: the chain being replaced / cancelled
