"""The `nerve` command line."""
