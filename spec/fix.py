"""The FIX fields the card fills: fixed-width numbers, so the encoder fills a template."""

# The fixed-width fields' capacity: 8 digits each.
MAX_SEQ = 99_999_999        # MsgSeqNum (34)
MAX_CLORDID = 99_999_999    # the number in ClOrdID (11) and OrigClOrdID (41)
MAX_QTY = 99_999_999        # OrderQty (38)
