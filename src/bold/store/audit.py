"""The audit chain: every action, appended with who, when and on what, each entry hashed with the one before.

Each entry's hash is an HMAC-SHA256, under the workspace's audit key, of its own fields and the hash of
the entry before it. Editing an entry breaks its hash; deleting or inserting one breaks the link of
the entry after it; deleting entries from the end is caught by the head (the last sequence number and
hash), which is kept in its own keyed file. Without the audit key nobody can rebuild a consistent chain
after tampering, so ``bold audit verify`` names the first broken link.

Entries are appended inside the transaction of the change they record (``bold.store.transaction``), which
holds the write lock, so two processes never take the same sequence number; the head is written under a
file lock as the transaction commits, and ``verify`` reads the chain and the head under the same lock.

The chain also proves the state: the last entry of each transaction carries keyed digests of the governed
tables (``bold.store.state``), covered by its hash, and ``verify`` recomputes them, so a table edited outside
BOLD is named. What the workspace holds cannot prove it was not cut, rolled back to an older copy or wiped
together with its head, by someone with file access; a head kept elsewhere can: a published register
(``register.json``), a copy of ``audit.head``, or the witness file that every commit appends its head to
(``[audit] witness`` in ``bold.toml``, or ``bold audit witness``). ``verify`` checks that each such head is
still in the chain (the entry with that number has that hash).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bold.errors import Conflict, Invalid, NotFound
from bold.security.private import open_shared, private_dir, write_private
from bold.store import state
from bold.store.db import connect, transaction
from bold.workspace import Workspace, now

if TYPE_CHECKING:
    from bold.store.db import Transaction

GENESIS = "0" * 64


def _digest(
    key: str, seq: int, at: str, who: str, action: str, obj: str, details: str, prev: str, sealed: str | None = None
) -> str:
    """An entry's hash; an entry that seals the governance state covers it too (entries made before states
    were sealed have none, and keep their hash)."""
    fields = [seq, at, who, action, obj, details, prev] + ([] if sealed is None else [sealed])
    message = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def _seal(key: str, seq: int, last_hash: str) -> str:
    return hmac.new(key.encode(), f"head:{seq}:{last_hash}".encode(), hashlib.sha256).hexdigest()


def head_path(ws: Workspace) -> Path:
    """``audit/audit.head``: in a folder of its own, which every service may write in a set-up workspace."""
    return ws.audit_dir / "audit.head"


def _cannot_write(ws: Workspace, exc: OSError, what: str) -> Conflict:
    fix = f"; run (as root): bold service setup {ws.root} --prefix {ws.services_prefix}" if ws.services_prefix else ""
    return Conflict(f"cannot write the audit {what} in {ws.audit_dir} ({exc.strerror or exc}){fix}")


@contextmanager
def head_lock(ws: Workspace, exclusive: bool) -> Iterator[None]:
    if not ws.audit_dir.is_dir() and not ws.services_prefix:
        private_dir(ws.audit_dir)  # a workspace opened without Workspace.open, which makes or moves it
    try:
        fd = open_shared(ws.audit_dir / "audit.lock")  # 0660 for the audit group in a set-up workspace
    except OSError as exc:
        raise _cannot_write(ws, exc, "lock") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _head_text(ws: Workspace, seq: int, last_hash: str) -> str:
    return json.dumps({"seq": seq, "hash": last_hash, "seal": _seal(ws.key("audit"), seq, last_hash)})


def write_head(ws: Workspace, seq: int, last_hash: str) -> None:
    """Seal the chain's last entry in ``audit.head`` (written whole, then renamed into place)."""
    write_private(head_path(ws), _head_text(ws, seq, last_hash))


def stage_head(ws: Workspace, seq: int, last_hash: str) -> Path:
    """Write the head a transaction is about to commit beside ``audit.head`` (called under the head lock, before
    the commit, so a head this account cannot write stops the commit: a ``Conflict``, nothing changed)."""
    staged = ws.audit_dir / f".audit.head.{os.getpid()}.{seq}.staged"
    try:
        write_private(staged, _head_text(ws, seq, last_hash))
    except OSError as exc:
        raise _cannot_write(ws, exc, "head") from exc
    return staged


def place_head(ws: Workspace, staged: Path, seq: int) -> None:
    """Rename the staged head into place, just after the commit. If even that fails the entry is committed but
    the head is behind: the next action's head covers it (the chain verifies again); say so."""
    try:
        os.replace(staged, head_path(ws))
    except OSError as exc:
        staged.unlink(missing_ok=True)
        raise Conflict(
            f"the change was made and recorded (entry {seq}), but the audit head could not be replaced "
            f"({exc.strerror or exc}); the next action writes it, or run: bold audit verify"
        ) from exc


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


def seal_state(tx: Transaction) -> tuple[int, str]:
    """As ``tx`` commits: write the governance state it leaves into its last audit entry (the state the
    chain recorded before, moved on by the rows ``tx`` changed) and rehash that entry; its new head."""
    key = tx.ws.key("audit")
    seq = tx.head[0]
    before = tx.execute("select state from audit where state is not null order by seq desc limit 1").fetchone()
    text = state.dumps(state.advance(tx.db, key, json.loads(before["state"]) if before else None))
    row = tx.execute("select * from audit where seq = ?", (seq,)).fetchone()
    digest = _digest(
        key, seq, row["at"], row["actor"], row["action"], row["object"], row["details"], row["prev_hash"], text
    )
    tx.execute("update audit set state = ?, hash = ? where seq = ?", (text, digest, seq))
    return seq, digest


# --- witnesses: heads kept outside the workspace ----------------------------------------------------------


def witness_path(ws: Workspace) -> Path | None:
    """The witness file named in ``bold.toml`` (``[audit] witness``), which every commit appends its head to."""
    value = ws.settings.get("audit", {}).get("witness")
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else ws.root / path


def _append_witness(ws: Workspace, path: Path, seq: int, last_hash: str) -> None:
    line = {
        "workspace": ws.settings["workspace"]["name"],
        "seq": seq,
        "hash": last_hash,
        "at": now(),
        "seal": _seal(ws.key("audit"), seq, last_hash),
    }
    fd = open_shared(path, os.O_WRONLY | os.O_APPEND, group=_audit_gid(ws))
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _audit_gid(ws: Workspace) -> int | None:
    """The audit group's id in a workspace run by one user per service (every service appends to the witness),
    else ``None`` (the witness is the owner's alone)."""
    prefix = ws.services_prefix
    if prefix is None:
        return None
    import grp

    from bold.security import services

    try:
        return grp.getgrnam(services.group_name("audit", prefix)).gr_gid
    except KeyError:
        return None


def witness_commit(ws: Workspace, seq: int, last_hash: str) -> None:
    """Append the head just committed to the workspace's witness file, if it names one."""
    path = witness_path(ws)
    if path is None:
        return
    try:
        _append_witness(ws, path, seq, last_hash)
    except OSError as exc:
        raise Conflict(
            f"the change was made and recorded (entry {seq}), but the witness file {path} could not be written "
            f"({exc.strerror or exc}); fix it, then run: bold audit witness --out {path}"
        ) from exc


def witness(ws: Workspace, out: Path, *, by: str) -> tuple[int, str]:
    """Record that the chain was witnessed, then append its head (sealed) to ``out``, a file outside the
    workspace (a copy inside would be deleted with it); the head written."""
    if out.resolve().is_relative_to(ws.root.resolve()):
        raise Invalid(f"{out} is inside the workspace; a witness must be kept outside it (it is deleted with it)")
    if not out.parent.is_dir():
        raise NotFound(f"{out.parent} is not a folder; cannot write the witness {out}")
    if out.is_dir():
        raise Invalid(f"{out} is a folder; give the witness file's path")
    if out.exists() and out.stat().st_size and any(h.seal is None for h in read_heads(out)):  # never into another file
        raise Invalid(f"{out} is not a witness file; give a new file, or one bold audit witness wrote")
    with transaction(ws) as tx:
        tx.audit(by, "audit witnessed", str(out))
    try:
        _append_witness(ws, out, *tx.head)
    except OSError as exc:
        raise Conflict(f"cannot write the witness {out}: {exc.strerror or exc}") from exc
    return tx.head


@dataclass(frozen=True)
class Head:
    """A head kept outside the chain: entry ``seq`` had hash ``hash``; ``seal`` when a witness sealed it."""

    seq: int
    hash: str
    source: str
    seal: str | None = None


def read_heads(path: Path) -> list[Head]:
    """The heads in a published ``register.json``, a copy of ``audit.head`` or a witness file (one head a
    line); a file that is none of these is refused."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file (a published register.json, head or witness file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        items = [json.loads(text)]
    except json.JSONDecodeError:
        try:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError:
            items = []
    heads, registers = [], 0
    for item in items:
        if isinstance(item, dict) and "audit_head" in item:  # a register.json
            registers += 1
            item = item["audit_head"]
            if item is None:  # published before any action
                continue
        seq = item.get("seq", item.get("entry")) if isinstance(item, dict) else None
        digest = item.get("hash") if isinstance(item, dict) else None
        if not (isinstance(seq, int) and seq > 0 and isinstance(digest, str) and len(digest) == 64):
            raise Invalid(f"{path} is not a register.json, an audit head or a witness file")
        heads.append(Head(seq, digest, str(path), item.get("seal")))
    if not heads and not registers:
        raise Invalid(f"{path} is not a register.json, an audit head or a witness file")
    return heads


def record(ws: Workspace, action: str, obj: str, details: dict | None = None, *, by: str) -> int:
    """Append one entry in a transaction of its own (for events that change nothing else)."""
    with transaction(ws) as tx:
        return tx.audit(by, action, obj, details)


@dataclass
class Verification:
    """What ``verify`` found: ``ok`` when the chain, its head, the governance state and every head kept
    elsewhere agree; ``problem`` is the first thing wrong, ``problems`` all of them."""

    ok: bool
    entries: int
    problem: str | None = None
    first_bad: int | None = None
    problems: list[str] = field(default_factory=list)
    changed_tables: list[str] = field(default_factory=list)  # governed tables edited outside BOLD
    state_from: int | None = None  # the first entry that sealed the governance state
    heads_checked: int = 0  # heads kept elsewhere (published, witnessed) found in the chain or not
    witness: str | None = None  # the witness file of bold.toml, checked by default
    damaged_outputs: dict[str, list[str]] = field(default_factory=dict)  # output id -> files that differ
    outputs_checked: int = 0
    releases_checked: int = 0  # release folders whose files were checked against their checksums
    notes: list[str] = field(default_factory=list)  # not wrong, worth knowing

    def fail(self, problem: str, first_bad: int | None = None) -> None:
        if self.ok:
            self.problem, self.first_bad = problem, first_bad
        self.ok = False
        self.problems.append(problem)


def verify(ws: Workspace, published: Sequence[Path] = ()) -> Verification:
    """Walk the chain and its head; check the governance tables against the state the chain last sealed;
    check each head in ``published`` and in the workspace's witness file is still in the chain."""
    key = ws.key("audit")
    kept = [head for path in published for head in read_heads(Path(path))]  # bad input refused before reading
    with head_lock(ws, exclusive=False), connect(ws) as db:
        db.execute("begin")  # one snapshot: the chain and the tables as of the same commit
        try:
            rows = db.execute("select * from audit order by seq").fetchall()
            head = _read_head(ws, key)
            now_state = state.current(db, key)
        finally:
            db.execute("commit")
    result = Verification(True, len(rows))
    _check_chain(result, key, rows, head)
    _check_state(result, rows, now_state)
    witness = witness_path(ws)
    if witness is not None:
        result.witness = str(witness)
        kept += _witness_heads(result, witness)
    _check_kept(result, key, rows, kept, witness)
    return result


def _check_chain(result: Verification, key: str, rows: list, head: dict | None) -> None:
    if not rows and head is None:
        result.fail(
            "the store has no audit entries and no head: governance.db and audit.head were deleted together "
            "(wiped), or this workspace never recorded an action"
        )
        return
    prev, expected_seq = GENESIS, 1
    for row in rows:
        if row["seq"] != expected_seq:
            result.fail(f"entry {expected_seq} is missing (deleted)", expected_seq)
            return
        if row["prev_hash"] != prev:
            result.fail(
                f"entry {row['seq']} does not follow the entry before it (an entry was inserted or replaced)",
                row["seq"],
            )
            return
        digest = _digest(
            key,
            row["seq"],
            row["at"],
            row["actor"],
            row["action"],
            row["object"],
            row["details"],
            row["prev_hash"],
            row["state"],
        )
        if not hmac.compare_digest(digest, row["hash"]):
            result.fail(f"entry {row['seq']} does not match its hash (edited)", row["seq"])
            return
        prev, expected_seq = row["hash"], expected_seq + 1
    if head is None:
        result.fail("the head file is missing or its seal is broken")
    elif head["seq"] != len(rows) or head["hash"] != prev:
        result.fail(
            f"the chain ends at entry {len(rows)} but the head records entry "
            f"{head['seq']} (entries were deleted from the end, or added without the key)",
            min(head["seq"], len(rows)) + 1,
        )


def _check_state(result: Verification, rows: list, now_state: dict) -> None:
    sealed = [r for r in rows if r["state"] is not None]
    if not sealed:
        if rows:
            result.notes.append(
                "the governance state is not sealed yet (every entry was written by an older BOLD); "
                "it is from the next action on"
            )
        return
    last = sealed[-1]
    result.state_from = sealed[0]["seq"]
    if last["seq"] != rows[-1]["seq"]:
        result.fail(f"entries after {last['seq']} do not seal the governance state (not written by BOLD)")
    try:
        recorded = json.loads(last["state"])
    except json.JSONDecodeError:
        result.fail(f"entry {last['seq']}'s governance state is not readable (edited)", last["seq"])
        return
    changed, lines, uncovered = state.differences(recorded, now_state)
    result.changed_tables = changed
    for line in lines:
        result.fail(line)
    if uncovered:
        result.notes.append(f"not sealed yet, from the next action on: {', '.join(uncovered)}")


def _witness_heads(result: Verification, path: Path) -> list[Head]:
    try:
        heads = read_heads(path)
    except NotFound:
        result.fail(f"the witness file {path} (bold.toml) is missing; write it with: bold audit witness --out {path}")
        return []
    except Invalid as exc:
        result.fail(f"the witness file {path} (bold.toml) is damaged: {exc}")
        return []
    return heads


def _check_kept(result: Verification, key: str, rows: list, kept: list[Head], witness: Path | None) -> None:
    """Each head kept elsewhere must be in today's chain: the entry with its number has its hash."""
    hashes = {r["seq"]: r["hash"] for r in rows}
    failing: dict[str, list[tuple[Head, str]]] = {}
    for h in kept:
        result.heads_checked += 1
        if h.seal is not None and not hmac.compare_digest(_seal(key, h.seq, h.hash), str(h.seal)):
            why = f"its head of entry {h.seq} has a broken seal (edited without the audit key)"
        elif h.seq not in hashes:
            why = (
                f"it records entry {h.seq}, but the chain has only {len(rows):,} entries: "
                "history was cut, rolled back or wiped"
            )
        elif not hmac.compare_digest(hashes[h.seq], h.hash):
            why = (
                f"its entry {h.seq} is not the chain's entry {h.seq}: history was rewritten "
                "(cut or rolled back, then added to)"
            )
        else:
            continue
        failing.setdefault(h.source, []).append((h, why))
    for source, bad in failing.items():
        h, why = max(bad, key=lambda b: b[0].seq)
        more = f" ({len(bad) - 1:,} earlier heads there fail too)" if len(bad) > 1 else ""
        result.fail(f"{source}: {why}{more}", min(h.seq, len(rows) + 1))
    if witness is not None and str(witness) not in failing:
        latest = max((h.seq for h in kept if h.source == str(witness)), default=0)
        if rows and latest < len(rows):
            result.notes.append(
                f"the witness {witness} records up to entry {latest}; the chain is at {len(rows)} "
                "(later actions were not witnessed)"
            )


def _read_head(ws: Workspace, key: str) -> dict | None:
    try:
        head = json.loads(head_path(ws).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    seal = _seal(key, head.get("seq"), head.get("hash"))
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


def describe(details: str | None) -> str:
    """Details as short ``key=value`` text for people (hashes cut to 12 characters); text that is not a JSON
    object (an entry written by hand, or damaged) is shown as it is."""
    try:
        data = json.loads(details) if details else {}
    except ValueError:
        return str(details)
    if not isinstance(data, dict):
        return str(data)
    parts = []
    for k, v in data.items():
        if isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v):
            v = v[:12] + "..."
        parts.append(f"{k}={v}")
    return ", ".join(parts)
