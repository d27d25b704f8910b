"""Tables that live in the catalogue's SQLite file but belong to another store module
(conversations, password failures): their DDL runs once per process, on first use."""

from __future__ import annotations

import threading

from backend.store.catalog import Catalog


class LazySchema:
    def __init__(self, catalog: Catalog, ddl: str) -> None:
        self.catalog = catalog
        self._ddl = ddl
        self._lock = threading.Lock()
        self._ready = False

    def ensure(self) -> None:
        if self._ready:
            return
        with self._lock, self.catalog.connect() as conn:
            conn.executescript(self._ddl)
            self._ready = True
