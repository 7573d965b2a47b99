"""What the card takes from the ITCH 5.0 feed: the header it skips, the event it makes of a
message, and the unit of its prices."""

#: The ITCH 5.0 common header: type (0), locate (1-2), tracking number (3-4), timestamp (5-10).
#: No message is shorter.
ITCH_HEADER_BYTES = 11

#: ITCH price units per dollar: prices are integers of 1/10000 $ end to end.
PRICE_SCALE = 10_000

#: The fields of a normalised book event, in order: the RTL's `hw.rtl.records.BookEvent` and the
#: golden model's event tuple (sw/model/decoder.py) both have exactly these.
BOOK_EVENT_FIELDS = ("kind", "locate", "ref", "new_ref", "side", "shares", "price", "stock",
                     "code")


def stock_field(symbol: str) -> int:
    """A symbol as an R message's stock field (8 bytes, space padded) read as an integer: how
    the card's book keeps it and its `book_map_stock` register shows it."""
    return int.from_bytes(symbol.ljust(8).encode("latin-1"), "big")


def stock_text(stock: int) -> str:
    """An R message's stock field as the symbol ("" for none: 0)."""
    return stock.to_bytes(8, "big").decode("latin-1").rstrip(" ") if stock else ""
