"""Portfolio risk: exposure, VaR and ES across symbols, with authority to halt or put symbols
into reduce-only (portfolio.py)."""
