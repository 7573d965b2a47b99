"""Card -> host events: an `OrderEvent` (hw/rtl/records.py) as the host reads it.

Every order the card sends and every reject its risk gate makes is one event, popped by
`Device.events()` whatever the transport. This module turns the packed bits into a record with
trading names (FIX message type, side letter, reject reason) and back (the model card builds
events from the golden model's rows with `encode`).
"""

from __future__ import annotations

from dataclasses import dataclass

from hw.rtl.records import OrderCause, OrderEvent, OrderKind, OrderRecord, Side, pack, unpack
from sw.model.risk import Reason

MSG_TYPE = {OrderKind.NEW: "D", OrderKind.REPLACE: "G", OrderKind.CANCEL: "F"}
KIND_OF = {v: k for k, v in MSG_TYPE.items()}
CAUSES = tuple(cause.text for cause in OrderCause)
REASONS = tuple(Reason)


@dataclass(frozen=True)
class CardEvent:
    """One order sent (`rejected` False) or one order refused by the gate (True)."""

    rejected: bool
    msg_type: str            # D, G or F
    symbol: str
    slot: int
    side: str                # B or S
    price: int               # ITCH units
    qty: int                 # shares
    clordid: int             # 0 for a reject
    orig_clordid: int
    ioc: bool
    cause: str
    reason: str              # first failing check of a reject, "" for an order
    failed: tuple[str, ...]  # every failing check of a reject
    handle: int              # order-table entry of the chain (order ends name it)
    msg_index: int
    seq: int                 # MsgSeqNum (0 for a reject)
    ingress_cycle: int
    egress_cycle: int

    @property
    def tick_to_trade_cycles(self) -> int | None:
        """Cycles from the feed packet's ingress stamp to the order's first egress byte."""
        if self.rejected:
            return None
        return self.egress_cycle - self.ingress_cycle


def decode(word: int) -> CardEvent:
    fields = unpack(OrderEvent, word)
    order = unpack(OrderRecord, fields["order"])
    rejected = bool(order["rejected"])
    return CardEvent(
        rejected=rejected,
        msg_type=MSG_TYPE[OrderKind(order["kind"])],
        symbol=fields["symbol"].to_bytes(8, "big").decode("latin-1").rstrip(" \0"),
        slot=order["slot"],
        side="B" if order["side"] == Side.BUY else "S",
        price=order["price"],
        qty=order["qty"],
        clordid=order["clordid"],
        orig_clordid=order["orig_clordid"],
        ioc=bool(order["ioc"]),
        cause=CAUSES[order["cause"]],
        reason=REASONS[order["reason"] - 1].value if rejected and order["reason"] else "",
        failed=tuple(r.value for n, r in enumerate(REASONS) if order["failed"] >> n & 1),
        handle=order["handle"],
        msg_index=order["index"],
        seq=fields["seq"],
        ingress_cycle=order["ingress_cycle"],
        egress_cycle=fields["egress_cycle"],
    )


def encode(event: CardEvent) -> int:
    """The packed OrderEvent of `event` (inverse of `decode`)."""
    failed = sum(1 << REASONS.index(Reason(r)) for r in event.failed)
    reason = Reason(event.reason).code if event.reason else 0
    record = pack(OrderRecord, (
        int(event.rejected), KIND_OF[event.msg_type], event.clordid, event.orig_clordid,
        event.slot, Side.BUY if event.side == "B" else Side.SELL, event.price, event.qty,
        int(event.ioc), OrderCause(CAUSES.index(event.cause)), reason, failed, event.handle,
        event.msg_index, event.ingress_cycle))
    symbol = int.from_bytes(event.symbol.encode("latin-1").ljust(8, b" "), "big")
    return pack(OrderEvent, (record, symbol, event.seq, event.egress_cycle))
