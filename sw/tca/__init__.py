"""Transaction-cost analysis: every fill measured against the market (measures.py: the
vectorised definitions; analysis.py: gathering quotes, orders and fills from the bus,
aggregating, publishing TcaReport events)."""
