"""The control plane: FastAPI app, dashboard and metrics in front of one card.

`main.create_app(card, store, settings)` makes the app; `server` runs it (`nerve serve`);
`desk` holds the rules (limits, strategy, symbols, kill switch: persisted, committed and
audited together); `store` is the SQLite file; `telemetry` polls the card; `routes/` are the
HTTP resources. See docs/control-plane.md.
"""
