"""The audit chain: every action, appended with who, when and on what, each entry hashed with the one before.

Each entry's hash is an HMAC-SHA256, under the workspace's audit key, of its own fields and the hash of
the entry before it. Editing an entry breaks its hash; deleting or inserting one breaks the link of
the entry after it; deleting entries from the end is caught by the head (the last sequence number and
hash), which is kept in its own keyed file. Without the audit key nobody can rebuild a consistent chain
after tampering, so ``bold audit verify`` names the first broken link.

The chain lives beside the workspace's other records in ``governance.db``. It sits at the base of the
package (beside ``workspace.py``) rather than in ``governance/`` because every stage writes to it and a
stage may only import the ones before it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from bold.security.private import write_private
from bold.workspace import Workspace, actor, now

GENESIS = "0" * 64
SCHEMA = """
create table if not exists audit (
    seq integer primary key,
    at text not null,
    actor text not null,
    action text not null,
    object text not null,
    details text not null,
    prev_hash text not null,
    hash text not null
);
"""


def _digest(key: str, seq: int, at: str, who: str, action: str, obj: str, details: str, prev: str) -> str:
    message = json.dumps([seq, at, who, action, obj, details, prev], ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def _head_path(ws: Workspace):
    return ws.root / "audit.head"


def _write_head(ws: Workspace, key: str, seq: int, last_hash: str) -> None:
    seal = hmac.new(key.encode(), f"head:{seq}:{last_hash}".encode(), hashlib.sha256).hexdigest()
    write_private(_head_path(ws), json.dumps({"seq": seq, "hash": last_hash, "seal": seal}))


def record(ws: Workspace, action: str, obj: str, details: dict | None = None, who: str | None = None) -> int:
    """Append one entry; returns its sequence number."""
    key = ws.key("audit")
    text = json.dumps(details or {}, sort_keys=True, default=str)
    with ws.governance() as db:
        db.executescript(SCHEMA)
        last = db.execute("select seq, hash from audit order by seq desc limit 1").fetchone()
        seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS)
        at, who = now(), who or actor()
        digest = _digest(key, seq, at, who, action, obj, text, prev)
        db.execute(
            "insert into audit (seq, at, actor, action, object, details, prev_hash, hash) "
            "values (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at, who, action, obj, text, prev, digest),
        )
        _write_head(ws, key, seq, digest)
    return seq


@dataclass
class Verification:
    ok: bool
    entries: int
    problem: str | None = None
    first_bad: int | None = None


def verify(ws: Workspace) -> Verification:
    """Walk the chain; report the first entry that was edited, inserted or deleted."""
    key = ws.key("audit")
    with ws.governance() as db:
        db.executescript(SCHEMA)
        rows = db.execute("select * from audit order by seq").fetchall()
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
    head = _read_head(ws, key)
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
    with ws.governance() as db:
        db.executescript(SCHEMA)
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
