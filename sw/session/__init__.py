"""The FIX session to a venue: framing.py cuts and builds messages, session.py runs the
session layer over the card's MsgSeqNum counter, edge.py turns the venue's messages into bus
events."""
