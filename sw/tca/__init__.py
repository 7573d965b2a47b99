"""Transaction cost analysis and strategy feedback. Not built yet."""
