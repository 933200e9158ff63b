"""Outputs: list a project's outputs, read one (audited, refusals too), and the two-checker release workflow."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bold import store
from bold.actions.access import require
from bold.disclosure import check as disclosure_check
from bold.disclosure import release
from bold.errors import Kind
from bold.governance import projects
from bold.governance.people import User
from bold.governance.permissions import Permission
from bold.studies import outputs
from bold.studies.language import StudyError
from bold.studies.outputs import PendingOutput
from bold.workspace import Workspace


def list_outputs(ws: Workspace, user: User, project_id: str) -> list[PendingOutput]:
    """A project's outputs and their states (never their contents)."""
    require(ws, user, Permission.OUTPUTS_LIST)
    projects.get(ws, project_id)  # a clear error for a project that does not exist
    return outputs.list_outputs(ws, project_id)


@dataclass
class OutputView:
    output: PendingOutput
    manifest: dict
    tables: dict[str, pd.DataFrame]
    damaged: list[str]  # files whose checksum no longer matches the manifest


def show(ws: Workspace, user: User, project_id: str, output_id: str, table: str | None = None) -> OutputView:
    """An output for one of the project's named output checkers who did not run it; every viewing is audited."""
    require(ws, user, Permission.OUTPUTS_SHOW)
    try:
        project = projects.get(ws, project_id)  # no such project is said as such, not as a missing output
        output = outputs.get(ws, project_id, output_id)
        outputs.check_reader(project, output, user.name)
    except (StudyError, projects.ProjectError) as exc:
        store.audit.record(ws, "refused", "outputs show", {"output": output_id, "reason": str(exc)}, by=user.name)
        raise
    manifest = output.manifest()
    available = [*manifest["tables"], *manifest.get("reference", {})]
    if table is not None and table not in available:
        raise StudyError(
            f"output {output_id} has no table {table!r}; tables: {', '.join(available)}", kind=Kind.NOT_FOUND
        )
    store.audit.record(ws, "output viewed", project_id, {"output": output_id}, by=user.name)
    names = [table] if table else available
    return OutputView(output, manifest, {n: output.table(n) for n in names}, outputs.verify_files(output))


CHECKED_KINDS = (".csv", ".svg")  # of the checked files, what a page shows: protected tables and charts


def checked_file(ws: Workspace, user: User, project_id: str, output_id: str, name: str) -> bytes:
    """One protected table or chart the disclosure check wrote, for the checkers who may read the output (the
    same rule as ``show``), its checksum verified against the checked manifest; every reading is audited."""
    require(ws, user, Permission.OUTPUTS_SHOW)
    try:
        project = projects.get(ws, project_id)
        output = outputs.get(ws, project_id, output_id)
        outputs.check_reader(project, output, user.name)
    except (StudyError, projects.ProjectError) as exc:
        store.audit.record(ws, "refused", "outputs show", {"output": output_id, "reason": str(exc)}, by=user.name)
        raise
    files = disclosure_check.checked_files(output)
    if not name.endswith(CHECKED_KINDS) or name not in files:
        raise StudyError(f"output {output_id} has no checked file {name!r}", kind=Kind.NOT_FOUND)
    data = (disclosure_check.checked_folder(output) / name).read_bytes()
    if hashlib.sha256(data).hexdigest() != files[name]:
        raise StudyError(f"output {output_id}: its checked file {name} was changed after the check", kind=Kind.CONFLICT)
    store.audit.record(ws, "output file viewed", project_id, {"output": output_id, "file": name}, by=user.name)
    return data


# --- the release workflow (bold.disclosure.release keeps the rules that depend on the record) ----------


def check(ws: Workspace, user: User, project_id: str, output_id: str):
    """Run the disclosure check on an output again (the analyst who ran it, or the agreement's checkers)."""
    require(ws, user, Permission.OUTPUTS_CHECK)
    return release.recheck(ws, project_id, output_id, by=user.name)


def report(ws: Workspace, user: User, project_id: str, output_id: str) -> dict:
    """The check report of an output (which rule flagged which cell, never a suppressed value): for the analyst
    who ran it and the agreement's checkers; audited."""
    require(ws, user, Permission.OUTPUTS_REPORT)
    return release.read_report(ws, project_id, output_id, by=user.name)


def request(
    ws: Workspace,
    user: User,
    project_id: str,
    output_ids: list[str],
    context: str,
    controls: str,
    summary: str | None = None,
) -> release.Request:
    """Ask two output checkers to release checked outputs the analyst ran (``summary``: a plain-language
    account for the public register, which the checkers review with the outputs)."""
    require(ws, user, Permission.OUTPUTS_REQUEST)
    return release.request(ws, project_id, output_ids, context, controls, summary, by=user.name)


def resubmit(
    ws: Workspace,
    user: User,
    project_id: str,
    request_id: str,
    context: str | None = None,
    summary: str | None = None,
) -> release.Request:
    """Send a returned request back for review (each returned output gets a new version and fresh votes)."""
    require(ws, user, Permission.OUTPUTS_REQUEST)
    return release.resubmit(ws, project_id, request_id, context, summary, by=user.name)


def add_impact_note(ws: Workspace, user: User, project_id: str, release_id: str, note: str):
    """Governance records what a released output changed; published on the register, audited."""
    require(ws, user, Permission.RELEASES_IMPACT)
    return release.add_impact_note(ws, project_id, release_id, note, by=user.name)


def withdraw(ws: Workspace, user: User, project_id: str, output_id: str):
    require(ws, user, Permission.OUTPUTS_WITHDRAW)
    return release.withdraw(ws, project_id, output_id, by=user.name)


def review(ws: Workspace, user: User, project_id: str, output_id: str, vote: str, comment: str) -> release.Vote:
    require(ws, user, Permission.OUTPUTS_REVIEW)
    return release.review(ws, project_id, output_id, vote, comment, by=user.name)


def show_request(ws: Workspace, user: User, project_id: str, request_id: str) -> release.Request:
    """A request with the votes its viewer may see (a checker sees the other's only after voting); audited."""
    require(ws, user, Permission.OUTPUTS_LIST)
    return release.show_request(ws, project_id, request_id, by=user.name)


def review_queue(ws: Workspace, user: User) -> dict[str, list[release.Request]]:
    """The release requests of every project whose agreement names the checker, by whose move it is: ``you``
    (an output lacks their vote), ``others`` (the other checker's vote or the decision), ``nobody`` (decided);
    the oldest waiting first, the latest decided first; each with only the votes the checker may see."""
    require(ws, user, Permission.OUTPUTS_REVIEW)
    queue: dict[str, list[release.Request]] = {"you": [], "others": [], "nobody": []}
    for found in sorted(release.checker_requests(ws, by=user.name), key=lambda r: (r.requested_at, r.id)):
        queue[release.waiting_on(found, user.name)].append(found)
    queue["nobody"].reverse()
    return queue


def request_of(ws: Workspace, user: User, project_id: str, output_id: str) -> str | None:
    """The id of the release request an output is in, if it is in one."""
    require(ws, user, Permission.OUTPUTS_LIST)
    projects.get(ws, project_id)
    return release.request_of(ws, project_id, output_id)


def decide(ws: Workspace, user: User, project_id: str, request_id: str):
    require(ws, user, Permission.OUTPUTS_DECIDE)
    return release.decide(ws, project_id, request_id, by=user.name)


def release_output(ws: Workspace, user: User, project_id: str, output_id: str) -> release.Release:
    require(ws, user, Permission.OUTPUTS_RELEASE)
    return release.release(ws, project_id, output_id, by=user.name)


def list_releases(ws: Workspace, user: User, project_id: str) -> list[release.Release]:
    require(ws, user, Permission.RELEASES_LIST)
    projects.get(ws, project_id)
    return release.list_releases(ws, project_id)


def show_release(
    ws: Workspace, user: User, project_id: str, release_id: str, out: Path | None = None
) -> release.Release:
    """A release for the agreement's team; with ``out`` its files are downloaded there. Both audited."""
    require(ws, user, Permission.RELEASES_SHOW)
    return release.show_release(ws, project_id, release_id, out, by=user.name)


def verify_release(ws: Workspace, user: User, project_id: str, release_id: str) -> list[str]:
    """Files of a release that changed or went missing since it was made (empty when intact); audited."""
    require(ws, user, Permission.RELEASES_VERIFY)
    return release.verify_release(ws, project_id, release_id, by=user.name)


def release_report(ws: Workspace, user: User, project_id: str, out: Path) -> tuple[Path, list[str], list[str]]:
    """One HTML page of a project's released outputs (verified against their checksums), for anyone who may
    list its releases; the page, the releases shown and those left out because their files changed."""
    from bold.reports import released

    require(ws, user, Permission.RELEASES_LIST)
    projects.get(ws, project_id)
    return released.write(ws, project_id, out, by=user.name)


def list_requests(ws: Workspace, user: User, project_id: str) -> list[release.Request]:
    """The project's release requests the person may see (their own; every one for the agreement's checkers)
    and their states: what the outputs page needs to offer a resubmit."""
    require(ws, user, Permission.OUTPUTS_LIST)
    return release.requests_for(ws, project_id, by=user.name)


@dataclass
class ReleaseView:
    release: release.Release
    manifest: dict  # release.json: the study, profile, disclosure summary and checksums
    definition: str  # the study's definition, as the register publishes it
    tables: dict[str, pd.DataFrame]  # the released CSVs
    charts: list[str]  # the released SVGs' names
    damaged: list[str]  # what changed since the release was made (then nothing else is read)


def release_view(ws: Workspace, user: User, project_id: str, release_id: str) -> ReleaseView:
    """A release for the agreement's team, as a page shows it: its tables read from the released files, each
    verified against its checksum first; audited as a viewing."""
    require(ws, user, Permission.RELEASES_SHOW)
    found = release.show_release(ws, project_id, release_id, by=user.name)
    damaged = release.verify(found)
    if damaged:
        return ReleaseView(found, {}, "", {}, [], damaged)
    manifest = json.loads(release.read_verified(found, "release.json"))
    entry = next((e for e in release.register_entries(ws, project_id) if e["release"] == release_id), {})
    names = sorted(found.checksums)
    tables = {
        n.removesuffix(".csv"): pd.read_csv(io.BytesIO(release.read_verified(found, n)))
        for n in names
        if n.endswith(".csv")
    }
    charts = [n for n in names if n.endswith(".svg")]
    return ReleaseView(found, manifest, entry.get("definition", ""), tables, charts, [])


def release_file(ws: Workspace, user: User, project_id: str, release_id: str, name: str) -> bytes:
    """One released file's bytes after its checksum is verified (a download, or a chart on a page); audited."""
    require(ws, user, Permission.RELEASES_SHOW)
    return release.release_file(ws, project_id, release_id, name, by=user.name)
