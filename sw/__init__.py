"""Nerve's Python side: feed toolkit, golden model, and (later) the services."""
