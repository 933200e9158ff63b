"""The transparency register: publishing it as files, and what anyone may read without signing in."""

from __future__ import annotations

from pathlib import Path

from bold.actions import sources
from bold.actions.access import require
from bold.disclosure import release
from bold.errors import Kind, NotFound
from bold.governance import register
from bold.governance.people import User
from bold.governance.permissions import Permission
from bold.reports import released
from bold.security.paths import PathError, check_name
from bold.workspace import Workspace


def build(ws: Workspace, user: User, out: Path | None = None) -> Path:
    require(ws, user, Permission.REGISTER_BUILD)
    return register.build(
        ws,
        out,
        by=user.name,
        released=lambda project_id: release.register_entries(ws, project_id),
        data_held=lambda: sources.data_held(ws),
    )


# --- public: no sign-in, nothing that is not published -------------------------------------------------


def public_register(ws: Workspace) -> dict:
    """Every project with its purpose, data and reasons, status and history, its released outputs, the data held,
    and the audit head: what the published register says, as the store is now."""
    return register.contents(
        ws, lambda project_id: release.register_entries(ws, project_id), lambda: sources.public_data_held(ws)
    )


def public_project(ws: Workspace, project_id: str) -> tuple[dict, list[dict], list[str]]:
    """One project's register entry and its released outputs whose files are intact (charts, tables), with the
    releases left out because their files changed."""
    entry = next((p for p in public_register(ws)["projects"] if p["id"] == project_id), None)
    if entry is None:
        raise NotFound(f"no project {project_id!r} on the register")
    sections, left_out = released.sections(ws, project_id)
    return entry, sections, left_out


def public_release_file(ws: Workspace, project_id: str, release_id: str, name: str) -> Path:
    """A released file, after its checksum is verified; only files the release lists."""
    for part, what in ((project_id, "project id"), (release_id, "release id"), (name, "file name")):
        try:
            check_name(part, what)
        except PathError as exc:
            raise NotFound(str(exc)) from None
    found = next((r for r in release.list_releases(ws, project_id) if r.id == release_id), None)
    if found is None or name not in found.checksums:
        raise NotFound(f"no released file {name!r} in release {release_id!r} of {project_id!r}")
    if release.verify(found):
        raise NotFound(f"release {release_id} of {project_id} changed since it was made: not shown", kind=Kind.CONFLICT)
    return found.folder / name


def promises() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What the platform will and won't do."""
    return register.PROMISES_WILL, register.PROMISES_WONT


def data_held(ws: Workspace) -> dict:
    """The data asset register: each source, its custodian, coverage, counts, fields, quality and updates
    (``bold.actions.sources``), as anyone may read it."""
    return sources.public_data_held(ws)
