"""Record types shared by the RTL blocks, the golden model and the testbenches.

Each payload that crosses a block boundary on the fast path is defined here once, as an Amaranth
`data.Struct`. The golden model does not build Amaranth values on its hot path; it uses
`as_tuple_type()` to get a plain Python tuple type with the same field names, and `pack()` turns
such a tuple into the exact bit pattern the RTL carries, for bit-for-bit scoreboards.

(No `from __future__ import annotations` here: Amaranth reads the Struct annotations as
shapes, not strings.)
"""

from collections import namedtuple

from amaranth.hdl import Cat, signed, unsigned
from amaranth.lib import data, enum

# The codes are the card's contract (spec/codes.py); the blocks take them from here, with the
# records that carry them.
from spec.codes import (  # noqa: F401
    REASON_BITS,
    BookEventKind,
    OrderCause,
    OrderKind,
    Reason,
    Side,
    StrategyMode,
)
from spec.fix import MAX_CLORDID, MAX_SEQ
from spec.itch import BOOK_EVENT_FIELDS, ITCH_HEADER_BYTES


class BookEvent(data.Struct):
    """A decoded ITCH message, normalised for the book builder (one per book-relevant message).

    `stock` holds the 8 ASCII bytes of the symbol as a big-endian integer (first character in
    the most significant byte, space padded), exactly as they appear on the wire.
    """

    kind: BookEventKind
    locate: unsigned(16)
    ref: unsigned(64)
    new_ref: unsigned(64)
    side: Side
    shares: unsigned(32)
    price: unsigned(32)
    stock: unsigned(64)
    code: unsigned(8)


def big_endian(byte_values) -> Cat:
    """Bytes in wire order (network protocols are big-endian: first byte most significant),
    as one value."""
    return Cat(*reversed(list(byte_values)))


def field_names(struct: type[data.Struct]) -> tuple[str, ...]:
    return tuple(name for name, _ in struct.as_shape())


if field_names(BookEvent) != BOOK_EVENT_FIELDS:
    # The golden model builds its events from spec.itch.BOOK_EVENT_FIELDS, not from this Struct.
    raise TypeError(f"BookEvent's fields {field_names(BookEvent)} are not those of "
                    f"spec.itch.BOOK_EVENT_FIELDS {BOOK_EVENT_FIELDS}")


def as_tuple_type(struct: type[data.Struct]) -> type:
    """A namedtuple with the struct's field names, in declaration order."""
    return namedtuple(struct.__name__, field_names(struct))


def pack(struct: type[data.Struct], values) -> int:
    """The integer bit pattern of `values` (a tuple of the struct's fields) under its layout."""
    layout = struct.as_shape()
    word = 0
    for (name, field), value in zip(layout, values, strict=True):
        width = field.width
        raw = value.value if isinstance(value, enum.Enum) else int(value)
        if not 0 <= raw < 1 << width:
            raise ValueError(f"{struct.__name__}.{name} = {value!r} does not fit {width} bits")
        word |= raw << field.offset
    return word


class FrameBeat(data.Struct):
    """One 64-bit beat of an Ethernet frame from the MAC (no FCS).

    Byte lane i is data[8i+7:8i] and holds frame byte 8*beat+i. Every beat but the last is
    full; `keep` is read on the last beat only (its set bits are contiguous from lane 0).
    """

    data: unsigned(64)
    keep: unsigned(8)
    first: unsigned(1)
    last: unsigned(1)


class MacByte(data.Struct):
    """One byte of an Ethernet frame on the byte-wide side of a MAC (the GMII clock, 125 MHz
    at 1 Gb/s), preamble, SFD and FCS excluded.

    `first` and `last` mark the frame's first and last byte. On receive, `error` on the last
    byte carries the MAC's verdict: the frame failed a check (`RxVerdict`) and is to be
    dropped. On transmit, `error` on any byte aborts the frame: the MAC ends it with TX_ER and
    a wrong FCS, so no receiver takes it.
    """

    data: unsigned(8)
    first: unsigned(1)
    last: unsigned(1)
    error: unsigned(1)


class RxVerdict(data.Struct):
    """Why a received frame is dropped (any bit set), carried on its last byte / beat."""

    crc: unsigned(1)        # FCS does not match (a frame cut short lands here too)
    runt: unsigned(1)       # under 64 bytes with its FCS
    giant: unsigned(1)      # over MAX_FRAME bytes with its FCS; the rest was not kept
    phy: unsigned(1)        # RX_ER from the PHY during the frame


class CheckedBeat(data.Struct):
    """A received frame beat with the MAC's verdict, before the frame is known good: on the
    last beat, a non-zero `verdict` means drop the whole frame."""

    beat: FrameBeat
    verdict: RxVerdict


class UdpEndpoints(data.Struct):
    """The card's and the session host's addresses, for the UDP datagrams that carry each
    order's FIX bytes from the card to the session host (registers `eth_*`)."""

    src_mac: unsigned(48)
    src_ip: unsigned(32)
    src_port: unsigned(16)
    dst_mac: unsigned(48)
    dst_ip: unsigned(32)
    dst_port: unsigned(16)


class MacStats(data.Struct):
    """One cycle's events of a card's Ethernet port, as one-cycle strobes in the fast path's
    clock (the `eth_*` counters count them)."""

    rx_good: unsigned(1)        # a frame passed to the fast path
    rx_crc: unsigned(1)         # a frame dropped for its FCS
    rx_runt: unsigned(1)        # a frame dropped as too short
    rx_giant: unsigned(1)       # a frame dropped as too long
    rx_phy: unsigned(1)         # a frame dropped for RX_ER
    rx_overflow: unsigned(1)    # a good frame dropped because the receive buffer was full
    rx_fragment: unsigned(1)    # a burst of 4 bytes or fewer after its SFD (no frame at all)
    tx_frame: unsigned(1)       # a datagram (one order's FIX bytes) sent
    tx_underrun: unsigned(1)    # a frame aborted because its bytes did not arrive in time


class PayloadBeat(data.Struct):
    """One beat of a UDP payload, left where it lay in the frame (not realigned).

    `keep` marks the payload's bytes in this beat (contiguous). A packet runs from a beat with
    `first` to one with `last`; `truncated` on the last beat says the frame ended (or was
    aborted) before the length the UDP header claims. A beat may carry no bytes (keep 0), e.g.
    the end marker of an aborted frame or an empty payload.
    """

    data: unsigned(64)
    keep: unsigned(8)
    first: unsigned(1)
    last: unsigned(1)
    truncated: unsigned(1)


def unpack(layout, word: int) -> dict[str, int]:
    """Split an integer bit pattern into the fields of a Struct or StructLayout."""
    shape = layout.as_shape() if isinstance(layout, type) else layout
    return {name: (word >> field.offset) & ((1 << field.width) - 1) for name, field in shape}


# No decoded field comes from the header's bytes 3-10 (spec.itch.ITCH_HEADER_BYTES), so the
# MoldUDP64 stage does not carry them (see ItchMessage).
ITCH_BODY_START = ITCH_HEADER_BYTES
ITCH_BODY_BYTES = 25   # bytes 11..35: every field a BookEvent takes lies before byte 36


class ItchMessage(data.Struct):
    """One ITCH message cut out of a MoldUDP64 packet and realigned to its first byte.

    `body` holds message bytes 11..35 (byte 11 in bits 7..0); bytes past `length` are
    undefined. `index` counts every message the sequencer delivers from reset (the golden
    model's msg_index); `ingress_cycle` is the cycle the packet's frame entered the NIC.
    """

    type: unsigned(8)
    locate: unsigned(16)
    body: unsigned(8 * ITCH_BODY_BYTES)
    length: unsigned(16)
    index: unsigned(48)
    ingress_cycle: unsigned(64)


class FeedEvent(data.Struct):
    """A book event leaving the ingress, with the message index and ingress cycle of its
    message (every later decision carries them, so tick-to-trade is counted per order)."""

    event: BookEvent
    index: unsigned(48)
    ingress_cycle: unsigned(64)


class BookUpdate(data.Struct):
    """The book builder's output: a symbol's best bid and offer changed, or its trading state.

    Prices are ITCH units; an empty side is price 0, shares 0. `stock` is the slot's name from
    its latest R message (`named` is 0 before one), `state` its trading state from its latest H
    (0 before one; only ord("T") trades), `unreliable` whether the slot has left the book's
    capacity (its book may be wrong: nothing may trade on it) as of this update. `index` and
    `ingress_cycle` are those of the message that caused the update.
    """

    locate: unsigned(16)
    slot: unsigned(8)
    bid_price: unsigned(32)
    bid_shares: unsigned(32)
    ask_price: unsigned(32)
    ask_shares: unsigned(32)
    stock: unsigned(64)
    named: unsigned(1)
    state: unsigned(8)
    unreliable: unsigned(1)
    bbo_changed: unsigned(1)
    state_changed: unsigned(1)
    index: unsigned(48)
    ingress_cycle: unsigned(64)


class OrderRequest(data.Struct):
    """An order the strategy (or the kill switch, or the host) asks the risk gate to pass.

    `exposure` and `live` describe the order chain a G, F or END acts on (the order table's
    record: shares counted against the position limits, and whether no cancel was sent yet);
    both are 0 for a D. The book the decision was made on travels with it (`bid_price`,
    `ask_price`, `trading`, `stale`: the feed is stale or the slot's book unreliable), so the
    gate checks the order against the prices that caused it. `chain` is the order table's
    handle, passed through. `ioc`: FIX TimeInForce 3 rather than 0.
    """

    kind: OrderKind
    slot: unsigned(8)
    side: Side
    price: unsigned(32)
    qty: unsigned(32)
    exposure: unsigned(32)
    live: unsigned(1)
    ioc: unsigned(1)
    bid_price: unsigned(32)
    ask_price: unsigned(32)
    trading: unsigned(1)
    stale: unsigned(1)
    chain: unsigned(32)
    index: unsigned(48)
    ingress_cycle: unsigned(64)


class GateVerdict(data.Struct):
    """The risk gate's answer to a D, G or F: `reason` is the first failing check's code
    (`spec.codes.Reason.code`, 0 when accepted) and bit n-1 of `failed` is check n."""

    request: OrderRequest
    accepted: unsigned(1)
    reason: unsigned(REASON_BITS)
    failed: unsigned(len(Reason))


# --- strategy, order table and encoder (tick-to-trade) -------------------------------------

class Quote(data.Struct):
    """A slot's live quote on one side, as the order table holds it (`live` 0: none)."""

    live: unsigned(1)
    price: unsigned(32)
    qty: unsigned(32)


class Decision(data.Struct):
    """What the strategy decides on: a slot's BBO (0 = empty side), whether trading is
    permitted (symbol trading, feed not stale, kill switch off), the host-confirmed position
    and the slot's live quotes (index 0 buy, 1 sell)."""

    slot: unsigned(8)
    bid_price: unsigned(32)
    bid_shares: unsigned(32)
    ask_price: unsigned(32)
    ask_shares: unsigned(32)
    permitted: unsigned(1)
    position: signed(32)    # shares, negative = short
    quotes: data.ArrayLayout(Quote, 2)


class Intent(data.Struct):
    """One side's order the strategy wants (`valid` 0: nothing on that side): a D, a G of the
    live quote, or an F of it (price and qty then the quote's own)."""

    valid: unsigned(1)
    kind: OrderKind
    price: unsigned(32)
    qty: unsigned(32)
    ioc: unsigned(1)


class Intents(data.Struct):
    """The strategy's answer to one Decision: index 0 is the buy side, 1 the sell side; the
    order table sends the buy side's first, as the golden model does."""

    sides: data.ArrayLayout(Intent, 2)


class HostOrder(data.Struct):
    """A new order the host makes (reducing a position, a hedge), by the host order port: the
    slot the card's symbol map gives its symbol, and the order's terms. It passes the same
    risk gate and encoder as every other order."""

    slot: unsigned(8)
    side: Side
    ioc: unsigned(1)
    price: unsigned(32)
    qty: unsigned(32)


#: ClOrdID and MsgSeqNum numbers: the fixed-width 8-digit fields (at most 99,999,999): 27 bits.
NUMBER_BITS = max(MAX_CLORDID, MAX_SEQ).bit_length()


class OrderRecord(data.Struct):
    """An order the card sends, or a reject, as the order table decided it.

    `rejected` 1: the risk gate refused a D or G (`reason`, `failed` as in GateVerdict;
    `clordid` and `orig_clordid` 0). Otherwise an order: `clordid` its ClOrdID number,
    `orig_clordid` the one it replaces or cancels (0 for a D). `handle` is the order-table entry
    of its chain (the host names it to end the order). `index` and `ingress_cycle` are those of
    the feed message that caused it.
    """

    rejected: unsigned(1)
    kind: OrderKind
    clordid: unsigned(NUMBER_BITS)
    orig_clordid: unsigned(NUMBER_BITS)
    slot: unsigned(8)
    side: Side
    price: unsigned(32)
    qty: unsigned(32)
    ioc: unsigned(1)
    cause: OrderCause
    reason: unsigned(REASON_BITS)
    failed: unsigned(len(Reason))
    handle: unsigned(16)
    index: unsigned(48)
    ingress_cycle: unsigned(64)


class EncodeCommand(data.Struct):
    """Order table -> encoder: an order to put on the wire (or a reject to report only).
    `symbol` is the slot's stock as in BookUpdate (8 bytes, first character most significant,
    space padded)."""

    order: OrderRecord
    symbol: unsigned(64)


class OrderEvent(data.Struct):
    """Encoder -> host: every order sent and every reject, in decision order. For an order,
    `seq` is its MsgSeqNum and `egress_cycle` the time of the beat carrying its first byte;
    for a reject `seq` is 0 and `egress_cycle` the time it was reported."""

    order: OrderRecord
    symbol: unsigned(64)
    seq: unsigned(NUMBER_BITS)
    egress_cycle: unsigned(64)
