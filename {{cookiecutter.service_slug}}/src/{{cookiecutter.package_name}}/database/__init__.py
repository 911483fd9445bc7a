"""Connections: where the database is (targets), one session interface for
every dialect, and opening sessions and pools. Nothing here knows migrations."""
