"""yoyo's sqlite3 backend, running on a connection a SQLite session already holds."""

from __future__ import annotations

import sqlite3
from typing import Any

from yoyo.backends.base import DatabaseBackend
from yoyo.backends.core.sqlite3 import SQLiteBackend
from yoyo.connections import parse_uri

from ...database.sqlite import SqliteSession

URI = parse_uri("sqlite:///")


class AdoptedConnectionBackend(SQLiteBackend):  # type: ignore[misc]
    """One class, made once (a class per backend would grow yoyo's
    module-level list of driver errors with every session). SQLite's
    savepoints cost no round trip, so yoyo keeps all of them here."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._adopted = connection
        super().__init__(URI, "_yoyo_migration")

    def connect(self, dburi: Any) -> sqlite3.Connection:
        return self._adopted


def adopt(session: SqliteSession) -> DatabaseBackend:
    return AdoptedConnectionBackend(session.connection)
