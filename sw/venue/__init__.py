"""The venue simulator: a FIX 4.4 acceptor in front of a matching engine that trades our orders
against the replayed market at feed time (market.py: the public book; matching.py: our orders,
queue positions and fills)."""
