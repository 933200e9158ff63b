"""Connections and transactions on the governance store (SQLite, ``governance.db``).

Every change takes the write lock up front (``BEGIN IMMEDIATE``), so two processes never read the same
state and both act on it; the change and its audit entries commit together or not at all. Opening the
store applies any migrations it lacks (``bold.store.schema``), inside a transaction of their own.

As a transaction commits, its last audit entry seals the governance state it leaves (``bold.store.state``,
from the rows it changed, watched by temporary triggers), so every stage gets that for free; a change to the
governed tables without an audit entry is a bug and is rolled back. The head is then sealed in
``audit.head`` and appended to the workspace's witness file, if ``bold.toml`` names one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bold.errors import Conflict
from bold.security.private import owner_only
from bold.store import schema, state

if TYPE_CHECKING:
    from bold.workspace import Workspace

BUSY_SECONDS = 60  # how long a writer waits for another to finish before giving up


def _open(ws: Workspace) -> sqlite3.Connection:
    db = sqlite3.connect(ws.governance_path, timeout=BUSY_SECONDS, isolation_level=None)
    db.row_factory = sqlite3.Row
    return db


def migrate(db: sqlite3.Connection) -> int:
    """Bring the store to the current schema version; returns the version it was at."""
    found = db.execute("pragma user_version").fetchone()[0]
    if found > schema.VERSION:
        raise Conflict(
            f"this workspace's store is at version {found}, newer than this BOLD knows ({schema.VERSION}); upgrade BOLD"
        )
    if found == schema.VERSION:
        return found
    db.execute("begin immediate")
    try:
        version = db.execute("pragma user_version").fetchone()[0]  # another process may have migrated meanwhile
        for number, (_, statements) in enumerate(schema.MIGRATIONS[version:], start=version + 1):
            for statement in statements:
                try:
                    db.execute(statement)
                except sqlite3.DatabaseError as exc:
                    raise Conflict(
                        f"cannot upgrade the governance store to version {number}: {exc}; nothing was changed"
                    ) from exc
            db.execute(f"pragma user_version = {number}")
        db.execute("commit")
    except BaseException:
        db.execute("rollback")
        raise
    return found


@contextmanager
def connect(ws: Workspace) -> Iterator[sqlite3.Connection]:
    """A connection for reading (each statement sees the latest committed state)."""
    with owner_only():
        db = _open(ws)
        try:
            migrate(db)
            yield db
        finally:
            db.close()


def version(ws: Workspace) -> int:
    """The schema version the store is at (after opening it has migrated it)."""
    with connect(ws) as db:
        return db.execute("pragma user_version").fetchone()[0]


class Transaction:
    """One change to the store and the audit entries that record it, committed together."""

    def __init__(self, ws: Workspace, db: sqlite3.Connection):
        self.ws = ws
        self.db = db
        self.head: tuple[int, str] | None = None  # the last audit entry written in this transaction

    def execute(self, sql: str, params=()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    def executemany(self, sql: str, rows) -> sqlite3.Cursor:
        return self.db.executemany(sql, rows)

    def audit(self, by: str, action: str, obj: str, details: dict | None = None) -> int:
        """Append an audit entry in this transaction; returns its sequence number."""
        from bold.store import audit

        self.head = audit.append(self, by, action, obj, details)
        return self.head[0]


@contextmanager
def transaction(ws: Workspace) -> Iterator[Transaction]:
    """Take the write lock, yield the transaction, commit (and seal the audit head) or roll back."""
    from bold.store import audit

    with owner_only():  # the store's file and its journal are created owner-only
        db = _open(ws)
        try:
            migrate(db)
            db.execute("begin immediate")
            state.watch(db)
            tx = Transaction(ws, db)
            try:
                yield tx
                if tx.head is not None:
                    tx.head = audit.seal_state(tx)  # the last entry seals the state the change leaves
                elif state.changed(db):
                    raise RuntimeError("a change to the governance tables needs an audit entry in its transaction")
            except BaseException:
                db.execute("rollback")
                raise
            if tx.head is None:
                db.execute("commit")
            else:
                with audit.head_lock(ws, exclusive=True):  # readers of the chain see rows and head move together
                    db.execute("commit")
                    audit.write_head(ws, *tx.head)
                    audit.witness_commit(ws, *tx.head)
        finally:
            db.close()
