"""The audit chain: every action, appended with who, when and on what, each entry hashed with the one before.

Each entry's hash is an HMAC-SHA256, under the workspace's audit key, of its own fields and the hash of
the entry before it. Editing an entry breaks its hash; deleting or inserting one breaks the link of
the entry after it; deleting entries from the end is caught by the head (the last sequence number and
hash), which is kept in its own keyed file. Without the audit key nobody can rebuild a consistent chain
after tampering, so ``bold audit verify`` names the first broken link.

Entries are appended inside the transaction of the change they record (``bold.store.transaction``), which
holds the write lock, so two processes never take the same sequence number; the head is written under a
file lock as the transaction commits, and ``verify`` reads the chain and the head under the same lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bold.security.private import write_private
from bold.store.db import connect, transaction
from bold.workspace import Workspace, now

if TYPE_CHECKING:
    from bold.store.db import Transaction

GENESIS = "0" * 64


def _digest(key: str, seq: int, at: str, who: str, action: str, obj: str, details: str, prev: str) -> str:
    message = json.dumps([seq, at, who, action, obj, details, prev], ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def _head_path(ws: Workspace) -> Path:
    return ws.root / "audit.head"


@contextmanager
def head_lock(ws: Workspace, exclusive: bool) -> Iterator[None]:
    fd = os.open(ws.root / "audit.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_head(ws: Workspace, seq: int, last_hash: str) -> None:
    """Seal the chain's last entry in ``audit.head`` (written whole, then renamed into place)."""
    key = ws.key("audit")
    seal = hmac.new(key.encode(), f"head:{seq}:{last_hash}".encode(), hashlib.sha256).hexdigest()
    write_private(_head_path(ws), json.dumps({"seq": seq, "hash": last_hash, "seal": seal}))


def append(tx: Transaction, by: str, action: str, obj: str, details: dict | None = None) -> tuple[int, str]:
    """Append one entry inside ``tx`` (which holds the write lock); returns its sequence number and hash."""
    if not by:
        raise ValueError("an audit entry needs the person who acted")
    key = tx.ws.key("audit")
    text = json.dumps(details or {}, sort_keys=True, default=str)
    last = tx.execute("select seq, hash from audit order by seq desc limit 1").fetchone()
    seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS)
    at = now()
    digest = _digest(key, seq, at, by, action, obj, text, prev)
    tx.execute(
        "insert into audit (seq, at, actor, action, object, details, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, by, action, obj, text, prev, digest),
    )
    return seq, digest


def record(ws: Workspace, action: str, obj: str, details: dict | None = None, *, by: str) -> int:
    """Append one entry in a transaction of its own (for events that change nothing else)."""
    with transaction(ws) as tx:
        return tx.audit(by, action, obj, details)


@dataclass
class Verification:
    ok: bool
    entries: int
    problem: str | None = None
    first_bad: int | None = None


def verify(ws: Workspace) -> Verification:
    """Walk the chain; report the first entry that was edited, inserted or deleted."""
    key = ws.key("audit")
    with head_lock(ws, exclusive=False), connect(ws) as db:
        rows = db.execute("select * from audit order by seq").fetchall()
        head = _read_head(ws, key)
    prev, expected_seq = GENESIS, 1
    for row in rows:
        if row["seq"] != expected_seq:
            return Verification(False, len(rows), f"entry {expected_seq} is missing (deleted)", expected_seq)
        if row["prev_hash"] != prev:
            return Verification(
                False,
                len(rows),
                f"entry {row['seq']} does not follow the entry before it (an entry was inserted or replaced)",
                row["seq"],
            )
        digest = _digest(
            key, row["seq"], row["at"], row["actor"], row["action"], row["object"], row["details"], row["prev_hash"]
        )
        if not hmac.compare_digest(digest, row["hash"]):
            return Verification(False, len(rows), f"entry {row['seq']} does not match its hash (edited)", row["seq"])
        prev, expected_seq = row["hash"], expected_seq + 1
    if head is None:
        return Verification(False, len(rows), "the head file is missing or its seal is broken", None)
    if head["seq"] != len(rows) or head["hash"] != prev:
        return Verification(
            False,
            len(rows),
            f"the chain ends at entry {len(rows)} but the head records entry "
            f"{head['seq']} (entries were deleted from the end, or added without the key)",
            min(head["seq"], len(rows)) + 1,
        )
    return Verification(True, len(rows))


def _read_head(ws: Workspace, key: str) -> dict | None:
    try:
        head = json.loads(_head_path(ws).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    seal = hmac.new(key.encode(), f"head:{head.get('seq')}:{head.get('hash')}".encode(), hashlib.sha256).hexdigest()
    return head if hmac.compare_digest(seal, str(head.get("seal"))) else None


def entries(
    ws: Workspace,
    action: str | None = None,
    who: str | None = None,
    since: str | None = None,
    obj: str | None = None,
    limit: int = 200,
) -> list[dict]:
    """Entries, newest first, filtered."""
    clauses, params = [], []
    for column, value in (("action", action), ("actor", who), ("object", obj)):
        if value:
            clauses.append(f"{column} like ?")
            params.append(value.replace("*", "%"))
    if since:
        clauses.append("at >= ?")
        params.append(since)
    where = f"where {' and '.join(clauses)}" if clauses else ""
    with connect(ws) as db:
        rows = db.execute(f"select * from audit {where} order by seq desc limit ?", (*params, limit)).fetchall()
    return [dict(r) for r in rows]


def describe(details: str) -> str:
    """Details as short ``key=value`` text for people (hashes cut to 12 characters)."""
    data = json.loads(details)
    parts = []
    for k, v in data.items():
        if isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v):
            v = v[:12] + "..."
        parts.append(f"{k}={v}")
    return ", ".join(parts)
