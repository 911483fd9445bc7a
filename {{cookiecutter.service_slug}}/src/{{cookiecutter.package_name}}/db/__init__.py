"""Database access: targets, sessions, the migration runner and seeds."""
