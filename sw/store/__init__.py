"""The event store: every bus event in DuckDB, exported to Parquet (store.py)."""
