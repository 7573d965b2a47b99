"""Order management: orders, fills, positions, P&L, journal. Not built yet."""
