"""Connections and transactions on the governance store (SQLite, ``governance.db``).

Every change takes the write lock up front (``BEGIN IMMEDIATE``), so two processes never read the same
state and both act on it; the change and its audit entries commit together or not at all. Opening the
store applies any migrations it lacks (``bold.store.schema``), inside a transaction of their own.

A writer waits for another to finish for ``BUSY_SECONDS`` (60), or for ``BOLD_BUSY_SECONDS`` if the operator
sets it (read at each connection), then gives up with a ``Conflict``: the workspace is busy. A
``governance.db`` that is not a SQLite database (damaged, or replaced by another file) is an ``Invalid``
naming the file. Both are mapped in one place, ``_store_errors``, so no caller sees a bare ``sqlite3`` error.
As a transaction commits, its last audit entry seals the governance state it leaves (``bold.store.state``,
from the rows it changed, watched by temporary triggers), so every stage gets that for free; a change to the
governed tables without an audit entry is a bug and is rolled back. The new head is written (to a file beside
``audit/audit.head``) before the commit and renamed into place after it, so a head that cannot be written (a
folder this account may not write) rolls the change back instead of leaving an entry the head does not seal;
it is then appended to the workspace's witness file, if ``bold.toml`` names one.

In a workspace run by one user per service the store keeps its rollback journal (``journal_mode=persist``):
each service writes the same ``governance.db-journal`` (0660, the audit group) rather than making and deleting
its own, which a service killed mid-transaction would leave where the others (in the sticky root) could not
remove it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bold.errors import Conflict, Invalid
from bold.security.private import owner_only
from bold.store import schema, state

if TYPE_CHECKING:
    from bold.workspace import Workspace

BUSY_SECONDS = 60  # how long a writer waits for another to finish before giving up (or BOLD_BUSY_SECONDS)
BUSY = "the workspace is busy: another BOLD command is writing to it; try again"


def busy_seconds() -> float:
    """How long to wait for another writer: ``BOLD_BUSY_SECONDS`` if set (an operator setting), else 60."""
    value = os.environ.get("BOLD_BUSY_SECONDS", "").strip()
    if not value:
        return BUSY_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise Invalid(f"BOLD_BUSY_SECONDS={value!r}: expected a number of seconds (0 or more)")
    return seconds


@contextmanager
def _store_errors(ws: Workspace) -> Iterator[None]:
    """``sqlite3`` errors a person can act on, as one-line ``BoldError``s; any other is a bug and passes."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise Conflict(BUSY) from None
        raise
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "malformed" in str(exc):
            raise Invalid(
                f"{ws.governance_path}: not a BOLD governance store ({exc}); restore the workspace from a backup"
            ) from None
        raise


def _open(ws: Workspace) -> sqlite3.Connection:
    db = sqlite3.connect(ws.governance_path, timeout=busy_seconds(), isolation_level=None)
    db.row_factory = sqlite3.Row
    if ws.services_prefix:
        db.execute("pragma journal_mode = persist")
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
    with owner_only(ws.umask), _store_errors(ws):
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

    with owner_only(ws.umask), _store_errors(ws):  # the store's file and its journal: owner-only (or the group's)
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
                    try:
                        staged = audit.stage_head(ws, *tx.head)  # cannot be written: nothing is committed
                    except BaseException:
                        db.execute("rollback")
                        raise
                    try:
                        db.execute("commit")
                    except BaseException:
                        staged.unlink(missing_ok=True)
                        raise
                    audit.place_head(ws, staged, tx.head[0])
                    audit.witness_commit(ws, *tx.head)
        finally:
            db.close()
