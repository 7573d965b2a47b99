"""Golden model of the per-symbol strategy: quote around the mid, or take when the price is right.

Data flow: BookBuilder (BBO change or trading-state change of a symbol) -> Strategy -> RiskGate.
The strategy sees market data, its own parameters and one `permitted` signal: the symbol is
trading (ITCH H state T), the feed is not stale and the kill switch is off. It knows nothing of
the limits; the risk gate checks everything again, independently, on every order.

Quote mode, for one symbol with BBO (bid, ask) and host-confirmed position q:
    units   = sign(q) * (|q| >> inventory_unit_shift)
    r       = (bid + ask) // 2 - units * skew_ticks * tick            (reservation price)
    bid_q   = floor_tick(r - half_spread_ticks * tick), at most ask - tick
    ask_q   = ceil_tick(r + half_spread_ticks * tick),  at least bid + tick
A side with no live quote gets a D; a live quote whose price is off by requote_ticks * tick or
more (or whose size differs) gets a G; quotes are cancelled (F) when trading is not permitted,
a side of the book is empty, or bid_q would not be positive (that side only).
Take mode: an IOC buy of min(size, ask qty) at the ask when ask <= take_buy_at_or_below, and an
IOC sell at the bid when bid >= take_sell_at_or_above (0 disables each), on every BBO change.
"""

from __future__ import annotations

from sw.model.config import StrategyParams
from sw.model.orders import BUY, SELL, LiveOrder, OrderRequest, OrderState


class SymbolStrategy:
    __slots__ = ("params", "quotes")

    def __init__(self, params: StrategyParams) -> None:
        self.params = params
        self.quotes: list[LiveOrder | None] = [None, None]   # per side

    def live_quote(self, side: int) -> LiveOrder | None:
        quote = self.quotes[side]
        if quote is not None and quote.state is not OrderState.LIVE:
            self.quotes[side] = quote = None
        return quote


def quote_prices(p: StrategyParams, bbo: tuple[int, int, int, int],
                 position: int) -> tuple[int, int]:
    """(bid quote, ask quote) for a two-sided book; a non-positive bid means no bid."""
    bid, _, ask, _ = bbo
    tick = p.tick
    units = (abs(position) >> p.inventory_unit_shift) * (1 if position >= 0 else -1)
    reservation = ((bid + ask) >> 1) - units * p.skew_ticks * tick
    low = reservation - p.half_spread_ticks * tick
    high = reservation + p.half_spread_ticks * tick
    bid_q = low - low % tick                    # floor to the grid (Python % is non-negative)
    ask_q = high + (-high) % tick               # ceil to the grid
    return min(bid_q, ask - tick), max(ask_q, bid + tick)


class Strategy:
    def __init__(self) -> None:
        self.symbols: dict[int, SymbolStrategy] = {}

    def bind(self, locate: int, params: StrategyParams) -> None:
        current = self.symbols.get(locate)
        if current is None:
            self.symbols[locate] = SymbolStrategy(params)
        else:
            current.params = params

    def evaluate(self, locate: int, bbo: tuple[int, int, int, int], permitted: bool,
                 position: int) -> list[OrderRequest]:
        state = self.symbols.get(locate)
        if state is None:
            return []
        p = state.params
        if p.mode == "take":
            return self._take(locate, p, bbo) if permitted else []
        bid, _, ask, _ = bbo
        if p.mode == "off" or not permitted or bid == 0 or ask == 0:
            return self._pull(locate, state)
        wanted = quote_prices(p, bbo, position)
        out = []
        for side in (BUY, SELL):
            price = wanted[side]
            quote = state.live_quote(side)
            if price <= 0:
                if quote is not None:
                    out.append(OrderRequest("F", locate, side, quote.price, quote.qty,
                                            order=quote))
            elif quote is None:
                out.append(OrderRequest("D", locate, side, price, p.size))
            elif abs(price - quote.price) >= p.requote_ticks * p.tick or quote.qty != p.size:
                out.append(OrderRequest("G", locate, side, price, p.size, order=quote))
        return out

    @staticmethod
    def _pull(locate: int, state: SymbolStrategy) -> list[OrderRequest]:
        out = []
        for side in (BUY, SELL):
            quote = state.live_quote(side)
            if quote is not None:
                out.append(OrderRequest("F", locate, side, quote.price, quote.qty, order=quote))
        return out

    @staticmethod
    def _take(locate: int, p: StrategyParams,
              bbo: tuple[int, int, int, int]) -> list[OrderRequest]:
        bid, bid_qty, ask, ask_qty = bbo
        out = []
        if p.take_buy_at_or_below and ask and ask <= p.take_buy_at_or_below:
            out.append(OrderRequest("D", locate, BUY, ask, min(p.size, ask_qty), tif="3"))
        if p.take_sell_at_or_above and bid and bid >= p.take_sell_at_or_above:
            out.append(OrderRequest("D", locate, SELL, bid, min(p.size, bid_qty), tif="3"))
        return out

    def placed(self, req: OrderRequest, order: LiveOrder) -> None:
        """Note an accepted day order (D or G) as the symbol's live quote on its side."""
        if req.tif == "0" and req.msg_type in ("D", "G"):
            self.symbols[req.locate].quotes[req.side] = order
