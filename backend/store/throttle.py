"""Failed password attempts, in the catalogue's SQLite file: the throttle of the password check
is per process and survives restarts (a new browser session or a restarted server does not reset
it). Policy lives in :mod:`backend.app.auth`; this module only stores."""

from __future__ import annotations

from dataclasses import dataclass

from backend.store.catalog import Catalog
from backend.store.schema import LazySchema

_DDL = """
CREATE TABLE IF NOT EXISTS auth_failures (
    scope TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,      -- wrong passwords in a row
    last_failure REAL NOT NULL      -- unix time of the latest
);
"""


@dataclass(frozen=True)
class Failures:
    count: int = 0
    last: float = 0.0


class AttemptLog:
    """Consecutive failures per ``scope`` (e.g. 'admin')."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._schema = LazySchema(catalog, _DDL).ensure

    def get(self, scope: str) -> Failures:
        self._schema()
        with self.catalog.connect() as conn:
            row = conn.execute(
                "SELECT failures, last_failure FROM auth_failures WHERE scope = ?", (scope,)
            ).fetchone()
        return Failures(int(row[0]), float(row[1])) if row else Failures()

    def fail(self, scope: str, at: float) -> Failures:
        """Count one more failure; returns the new state."""
        self._schema()
        with self.catalog.transaction() as conn:
            conn.execute(
                "INSERT INTO auth_failures (scope, failures, last_failure) VALUES (?, 1, ?) "
                "ON CONFLICT (scope) DO UPDATE SET failures = failures + 1, "
                "last_failure = excluded.last_failure",
                (scope, at),
            )
            row = conn.execute(
                "SELECT failures, last_failure FROM auth_failures WHERE scope = ?", (scope,)
            ).fetchone()
        return Failures(int(row[0]), float(row[1]))

    def reset(self, scope: str) -> None:
        self._schema()
        with self.catalog.transaction() as conn:
            conn.execute("DELETE FROM auth_failures WHERE scope = ?", (scope,))
