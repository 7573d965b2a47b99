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
