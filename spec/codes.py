"""The codes the card and the host exchange, with their widths: one definition for both sides.

Amaranth enums (`shape=`), so the RTL uses them as field shapes in hw/rtl/records.py; they are
also plain `IntEnum`s, so the golden model carries them as integers on its hot paths.
"""

from enum import StrEnum

from amaranth.lib import enum


class BookEventKind(enum.IntEnum, shape=4):
    """What a normalised book event asks the book builder to do.

    IntEnum, like `Side`, so that the model's vectorised paths can carry plain integers that
    compare equal to the members. 0 and 15 are never kinds (the model uses them for "no event"
    and "malformed").
    """

    ADD = 1            # ITCH A and F: new order (ref, side, shares, price, stock)
    EXECUTE = 2        # ITCH E and C: reduce the order by `shares`
    CANCEL = 3         # ITCH X: reduce the order by `shares`
    DELETE = 4         # ITCH D: remove the order
    REPLACE = 5        # ITCH U: remove `ref`, add `new_ref` with same side/stock, new shares/price
    TRADING_STATE = 6  # ITCH H: `code` is the trading state (H, P, Q, T)
    DIRECTORY = 7      # ITCH R: `stock` names the locate
    SYSTEM = 8         # ITCH S: `code` is the event code


class Side(enum.IntEnum, shape=1):
    BUY = 0
    SELL = 1


class OrderKind(enum.IntEnum, shape=2):
    """What a request asks of the risk gate (FIX D/G/F, or the host ending an order)."""

    NEW = 0        # FIX 35=D: checked
    REPLACE = 1    # FIX 35=G: checked; exposure only grows
    CANCEL = 2     # FIX 35=F: never blocked, uses no rate token
    END = 3        # the host confirmed the order ended at the venue: release its exposure


class StrategyMode(enum.IntEnum, shape=2):
    """A slot's strategy mode (sw/model/config.py StrategyParams.mode)."""

    OFF = 0        # pull any live quotes, send nothing new
    QUOTE = 1      # one bid and one ask around the reservation price
    TAKE = 2       # IOC orders when the opposite best crosses a threshold


class OrderCause(enum.IntEnum, shape=3):
    """Why an order was sent (sw/model/fastpath.py CAUSE_*: the member's name in lower case)."""

    STRATEGY = 0
    REJECTED_REPLACE = 1   # a G was refused: its quote is pulled with an F
    KILL_SWITCH = 2
    FEED_STALE = 3
    HOST = 4               # the host's own order (reducing a position), by the host order port

    @property
    def text(self) -> str:
        return self.name.lower()


class Reason(StrEnum):
    """The risk gate's reject reasons, in priority order (the first failing one is reported)."""

    KILL_SWITCH = "KILL_SWITCH"
    SYMBOL_DISABLED = "SYMBOL_DISABLED"
    SYMBOL_HALTED = "SYMBOL_HALTED"
    BOOK_STALE = "BOOK_STALE"
    QTY_EXCEEDS_MAX = "QTY_EXCEEDS_MAX"
    NOTIONAL_EXCEEDS_MAX = "NOTIONAL_EXCEEDS_MAX"
    NO_REFERENCE_PRICE = "NO_REFERENCE_PRICE"
    PRICE_OUTSIDE_COLLAR = "PRICE_OUTSIDE_COLLAR"
    POSITION_LIMIT = "POSITION_LIMIT"
    OPEN_ORDERS_LIMIT = "OPEN_ORDERS_LIMIT"
    RATE_LIMITED = "RATE_LIMITED"

    @property
    def code(self) -> int:
        """Numeric reject code carried in hardware events (1-based priority)."""
        return list(Reason).index(self) + 1


#: Bits of a reject code (`Reason.code`, 0 = accepted) in the card's verdicts and events.
REASON_BITS = 4
