"""FastAPI control plane and dashboard. Not built yet."""
