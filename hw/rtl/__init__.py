"""Amaranth components of the fast path. Today: the shared record types only (`records`)."""
