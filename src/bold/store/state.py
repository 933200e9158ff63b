"""The governance state as keyed digests, so the audit chain can say what the tables must hold.

The audit chain alone proves the history of actions, not the tables they changed: a direct SQL edit of
someone's roles, a project's approval or the opt-out register would go unnoticed. So the last audit entry of
every transaction also carries, for each governed table, its number of rows and a keyed digest of its rows:
the sum (mod 2**256) of an HMAC-SHA256, under the audit key, of each row's governed columns. A sum of
per-row HMACs is a keyed multiset hash: it can be kept up to date from the rows a transaction inserts,
updates and deletes (temporary triggers record them, ``watch``), so a commit costs what it changed, not the
size of the table, and an edit made outside BOLD is never folded into the next digest. ``bold audit
verify`` recomputes every table in full (``current``) and names the tables that differ.

Without the audit key nobody can compute a row's HMAC, so no edit can be balanced by another. The columns
covered are listed here; each table's entry carries a fingerprint of its list, so a table added here, or a
list changed, starts to be covered from the next action instead of being reported as changed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3

# The governed tables and the columns of each that the digests cover (every column BOLD writes).
TABLES: dict[str, tuple[str, ...]] = {
    "people": (
        "name",
        "roles",
        "password_hash",
        "active",
        "created_at",
        "created_by",
        "changed_at",
        "changed_by",
        "locked_at",
    ),
    "training": ("id", "name", "course", "completed_on", "expires_on", "recorded_by", "recorded_at"),
    "approvals": ("id", "name", "expires_on", "note", "approved_by", "approved_at"),
    "projects": (
        "id",
        "title",
        "agreement",
        "status",
        "assessment",
        "submitted_by",
        "submitted_at",
        "approved_by",
        "approved_at",
        "closed_by",
        "closed_at",
        "built_at",
        "decided_by",
        "decided_at",
        "decision_reason",
        "amendments",
        "built_batches",
        "build_notice",
        "expired_at",
    ),
    "batches": (
        "batch_id",
        "source",
        "name",
        "file_name",
        "file_sha256",
        "file_format",
        "contract_version",
        "rows_read",
        "rows_accepted",
        "rows_quarantined",
        "rows_opted_out",
        "quarantine_file",
        "actor",
        "started_at",
        "finished_at",
        "reasons",
        "warnings",
        "withdrawn_at",
        "withdrawn_by",
        "withdrawal",
        "rows_resolved",
        "rows_updated",
        "rows_unchanged",
        "rows_relink",
        "expired_at",
        "expiry",
    ),
    "outputs": (
        "id",
        "project",
        "study",
        "status",
        "created_by",
        "created_at",
        "manifest_sha256",
        "profile",
        "checked_at",
        "check_outcome",
        "check_sha256",
    ),
    "release_requests": (
        "id",
        "project",
        "context",
        "controls",
        "requested_by",
        "requested_at",
        "round",
        "resubmitted_at",
        "summary",
    ),
    "release_request_outputs": ("request", "output", "version", "check_sha256"),
    "release_votes": ("request", "output", "version", "checker", "vote", "comment", "voted_at"),
    "release_decisions": ("request", "round", "decided_by", "decided_at", "outcomes"),
    "releases": (
        "id",
        "project",
        "output",
        "request",
        "version",
        "released_by",
        "released_at",
        "checksums",
        "manifest_sha256",
    ),
    "optout_entries": ("kind", "digest", "added_at"),
    "optout_files": ("file_sha256", "entries", "added_at", "actor"),
    "optout_purges": ("source", "records", "purged_at"),
    "quarantined_rows": ("batch_id", "file_row", "record_digest", "reasons"),
    "quarantine_resolutions": ("batch_id", "file_row", "resolved_by"),
    "project_versions": (
        "project_id",
        "version",
        "agreement",
        "assessment",
        "submitted_by",
        "submitted_at",
        "outcome",
        "decided_by",
        "decided_at",
        "reason",
        "answers",
    ),
    "project_dpias": ("project_id", "version", "dpia", "recorded_by", "recorded_at"),
    "project_sign_offs": ("project_id", "version", "source", "signed_by", "signed_at", "conditions"),
    "impact_notes": ("id", "project", "release", "note", "written_by", "written_at"),
}
MODULUS = 2**256
CHANGES = "bold_state_changes"


def fingerprint(table: str) -> str:
    return hashlib.sha256(",".join(TABLES[table]).encode()).hexdigest()[:12]


def _row_sql(table: str, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return "json_array(" + ", ".join(prefix + c for c in TABLES[table]) + ")"


def _hasher(key: str, table: str):
    return hmac.new(key.encode(), f"state\x1f{table}\x1f".encode(), hashlib.sha256)


def _fold(key: str, table: str, rows, start: int = 0) -> int:
    """``start`` plus the signed HMAC of each ``(sign, row_text)``, mod 2**256."""
    base, total = _hasher(key, table), start
    for sign, text in rows:
        h = base.copy()
        h.update(text.encode())
        total += sign * int.from_bytes(h.digest(), "big")
    return total % MODULUS


def _entry(rows: int, digest: int, table: str) -> dict:
    return {"rows": rows, "digest": f"{digest:064x}", "columns": fingerprint(table)}


def table_state(db: sqlite3.Connection, key: str, table: str) -> dict:
    """One table's rows and digest, computed in full."""
    texts = db.execute(f"select {_row_sql(table)} from {table}").fetchall()
    return _entry(len(texts), _fold(key, table, ((1, t[0]) for t in texts)), table)


def current(db: sqlite3.Connection, key: str) -> dict:
    """Every governed table's rows and digest, computed in full from what the tables hold now."""
    return {table: table_state(db, key, table) for table in TABLES}


def watch(db: sqlite3.Connection) -> None:
    """Record every row the rest of this transaction inserts, deletes or updates in a governed table
    (temporary triggers on this connection only; ``insert or replace`` deletes are seen too)."""
    db.execute("pragma recursive_triggers = on")  # so the rows REPLACE deletes fire the delete triggers
    db.execute("pragma temp_store = memory")  # the changes never touch the disk (nor leave a temp file)
    db.execute(f"create temp table if not exists {CHANGES} (tbl text not null, sign integer not null, row text)")
    for table in TABLES:
        add = f"insert into {CHANGES} values ('{table}', 1, {_row_sql(table, 'new')});"
        remove = f"insert into {CHANGES} values ('{table}', -1, {_row_sql(table, 'old')});"
        for event, body in (("insert", add), ("delete", remove), ("update", remove + " " + add)):
            db.execute(
                f"create temp trigger if not exists {CHANGES}_{table}_{event} after {event} on main.{table} "
                f"begin {body} end"
            )


def changed(db: sqlite3.Connection) -> bool:
    return db.execute(f"select exists (select 1 from temp.{CHANGES})").fetchone()[0] == 1


def advance(db: sqlite3.Connection, key: str, before: dict | None) -> dict:
    """The state after this transaction: ``before`` (the chain's last recorded state) moved on by the rows
    the transaction changed. A table ``before`` does not cover (an old store, a table newly governed, a
    changed column list) is computed in full: its coverage starts here."""
    after = {}
    for table in TABLES:
        prior = (before or {}).get(table)
        if prior is None or prior.get("columns") != fingerprint(table):
            after[table] = table_state(db, key, table)
            continue
        rows = db.execute(f"select sign, row from temp.{CHANGES} where tbl = ? order by rowid", (table,)).fetchall()
        if not rows:
            after[table] = prior
            continue
        digest = _fold(key, table, ((r["sign"], r["row"]) for r in rows), int(prior["digest"], 16))
        after[table] = _entry(prior["rows"] + sum(r["sign"] for r in rows), digest, table)
    return after


def dumps(state: dict) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


def differences(recorded: dict, now: dict) -> tuple[list[str], list[str], list[str]]:
    """The tables whose rows differ from what the chain recorded, a line saying how for each, and the tables
    the recorded state does not cover yet."""
    changed_tables, lines, uncovered = [], [], []
    for table, state in now.items():
        was = recorded.get(table)
        if was is None or was.get("columns") != state["columns"]:
            uncovered.append(table)
            continue
        if was["digest"] != state["digest"]:
            changed_tables.append(table)
            rows = (
                f"{state['rows']:,} rows, the chain records {was['rows']:,}"
                if state["rows"] != was["rows"]
                else f"{state['rows']:,} rows, as the chain records, but their contents differ"
            )
            lines.append(f"{table} was changed outside BOLD ({rows})")
    return changed_tables, lines, uncovered
