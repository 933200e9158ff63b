"""Governance actions on the audit chain: verify it (with the state, the outputs and heads kept elsewhere),
witness its head outside the workspace, read it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bold.actions.access import require
from bold.disclosure import check, release
from bold.governance.people import User
from bold.governance.permissions import Permission
from bold.store import audit
from bold.store.audit import Verification
from bold.studies import outputs
from bold.workspace import Workspace


def verify(ws: Workspace, user: User, published: Sequence[Path] = ()) -> Verification:
    """The chain, its head and the governance state it seals; each head in ``published`` (register.json,
    head or witness files kept elsewhere) and the workspace's witness; every output's files against its
    manifest, and the manifest against the checksum in the store; every checked folder against its checked
    manifest (and that against the store); every release folder against its checksums."""
    require(ws, user, Permission.AUDIT_VERIFY)
    result = audit.verify(ws, published)
    for output in outputs.all_outputs(ws):
        result.outputs_checked += 1
        damaged = outputs.verify_files(output)
        if damaged:
            result.damaged_outputs[output.id] = damaged
            result.fail(f"output {output.id} of {output.project} differs from what was made: {', '.join(damaged)}")
        if output.check_sha256:
            try:
                check.checked_files(output)
            except check.CheckError as exc:
                result.damaged_outputs.setdefault(output.id, []).append("checked/")
                result.fail(str(exc))
    for found in release.list_releases(ws):
        result.releases_checked += 1
        problems = release.verify(found)
        if problems:
            result.fail(f"release {found.id} of {found.project}: {', '.join(problems)}")
    return result


def witness(ws: Workspace, user: User, out: Path) -> tuple[int, str]:
    """Append the chain's head, sealed, to a witness file outside the workspace; the head written."""
    require(ws, user, Permission.AUDIT_VERIFY)
    return audit.witness(ws, out, by=user.name)


def describe(details: str | None) -> str:
    """An entry's details as people read them (``key=value``, long hashes cut)."""
    return audit.describe(details)


def show(
    ws: Workspace,
    user: User,
    *,
    action: str | None = None,
    actor: str | None = None,
    obj: str | None = None,
    since: str | None = None,
    limit: int = 50,
) -> list[dict]:
    """Entries, newest first; ``*`` is a wildcard in action, actor and object."""
    require(ws, user, Permission.AUDIT_SHOW)
    return audit.entries(ws, action, actor, since, obj, limit)
