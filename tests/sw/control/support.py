"""Helpers of the control plane's tests: model-backed cards and a synthetic feed for them."""

from __future__ import annotations

from drivers import open_device
from drivers.card import Card
from sw.control.auth import Role, User
from sw.feed.generator import MarketConfig, MarketGenerator, PcapOptions, pcap_frames, ticker
from sw.model.clock import ns_to_cycles

SYMBOLS = [ticker(i) for i in range(4)]          # AAPL, MSFT, NVDA, AMZN: the feed's first four
#: Their stock locates (the generator's), as the desk's configuration gives them.
LOCATES = {symbol: n + 1 for n, symbol in enumerate(SYMBOLS)}
ROLES = tuple(Role)
RISK = User("rita", Role.RISK)           # a risk officer, for the desk without HTTP


def model_card(symbols=LOCATES) -> Card:
    return Card(open_device("model"), symbols)


def model_of(card: Card):
    """The ModelCard behind a model-backed card (the hardware's state, for checking)."""
    return card.device.transport.card


def feed(card: Card, messages: int = 1000, seed: int = 3, gaps: int = 0) -> int:
    """Drive the model card with a synthetic session over SYMBOLS; returns frames sent.
    1000 messages make about 430 events: the card queues 512 before it loses any."""
    config = MarketConfig(symbols=len(SYMBOLS), messages=messages, seed=seed)
    frames = list(pcap_frames(list(MarketGenerator(config)), PcapOptions(gaps=gaps), seed))
    first = frames[0][0]
    for at, frame in frames:
        model_of(card).frame(frame, ns_to_cycles(at - first) + 1000)
    return len(frames)


# --- a trading loop's view, for the routes and telemetry that show it ---------------------

ORDER = {"clordid": "NRV00000002", "first_clordid": "NRV00000001", "order_id": "SIM-1",
         "symbol": "AAPL", "side": "buy", "qty": 100, "price": 150.25,
         "status": "partially_filled", "cum_qty": 40, "leaves_qty": 60, "avg_px": 150.25,
         "venue": "SIM", "flags": [], "sent_ns": 1, "ended_ns": None}
FILL = {"exec_id": "SIM-E1", "clordid": "NRV00000002", "venue": "SIM", "symbol": "AAPL",
        "side": "buy", "qty": 40, "price": 150.25, "fee": 0.12, "transact_ns": 2}


class Booked:
    """A trading view with one order chain and one fill."""

    TOTALS = {"realised_pnl": 12.5, "unrealised_pnl": None, "fees": 0.12, "net_pnl": None}

    def positions(self):
        return {"AAPL": {"qty": 100, "avg_px": 150.25, "realised_pnl": 12.5,
                         "unrealised_pnl": None, "fees": 0.12}}

    def totals(self):
        return self.TOTALS

    def exposure(self):
        return {"AAPL": {"open_orders": 1, "open_buy": 100, "open_sell": 0}}

    def orders(self, *, open_only, limit):
        return [ORDER][:limit]

    def order(self, clordid):
        return ORDER if clordid in ("NRV00000001", "NRV00000002") else None

    def fills(self, limit):
        return [FILL][:limit]

    def tca(self):
        return {"fills": 1, "all": {"markout_bps": {1_000_000_000: None}}}
