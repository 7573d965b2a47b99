"""What the control plane shows of trading: positions with P&L, orders, fills, TCA.

Where it sits: between the routes (and the telemetry) and whatever runs the trading loop. The
control plane knows only this interface; `nerve run` gives it the OMS and TCA behind a lock
(sw/run/book.py). `nerve serve` alone runs no OMS: `NO_TRADING` answers that positions' P&L,
orders, fills and TCA are unknown (None), never zero or empty as if nothing had traded.

Prices are dollars here (the API's edge); quantities shares.
"""

from __future__ import annotations

from typing import Protocol


class TradingView(Protocol):
    def positions(self) -> dict[str, dict] | None:
        """symbol -> {qty, avg_px, realised_pnl, unrealised_pnl, fees}; None: no OMS."""

    def totals(self) -> dict | None:
        """{realised_pnl, unrealised_pnl, fees, net_pnl} (a part None: unknown); None: no OMS."""

    def exposure(self) -> dict[str, dict] | None:
        """symbol -> {open_orders, open_buy, open_sell}: the live orders and their quantities
        as the card's gate counts them (an order's whole quantity until it ends)."""

    def orders(self, *, open_only: bool, limit: int) -> list[dict] | None:
        """The newest orders first."""

    def order(self, clordid: str) -> dict | None:
        """One order chain, found by any of its ClOrdIDs."""

    def fills(self, limit: int) -> list[dict] | None:
        """The newest fills first."""

    def tca(self) -> dict | None:
        """TCA's aggregates (sw/tca/analysis.py `measure()`)."""


class _NoTrading:
    """No trading loop attached: everything it would say is unknown."""

    def positions(self) -> None:
        return None

    def totals(self) -> None:
        return None

    def exposure(self) -> None:
        return None

    def orders(self, *, open_only: bool, limit: int) -> None:
        return None

    def order(self, clordid: str) -> None:
        return None

    def fills(self, limit: int) -> None:
        return None

    def tca(self) -> None:
        return None


NO_TRADING: TradingView = _NoTrading()
