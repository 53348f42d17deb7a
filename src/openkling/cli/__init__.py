"""The `openkling` command line."""
