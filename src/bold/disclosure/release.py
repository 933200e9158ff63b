"""The two-checker release workflow: request, independent votes, one decision, release with checksums.

An analyst asks for release of one or more of their checked outputs, saying why and which controls they applied.
Two different output checkers named in the agreement, neither the analyst, vote on each output (approve,
changes requested, reject, with a comment); neither sees the other's vote until both have voted, so each
judges alone. One decision then settles each output of the request by its two votes of its current version:
approved only when both approve, rejected when either rejects, otherwise returned. A returned request can be
resubmitted (each returned output gets a new version, so the old votes no longer count) or withdrawn. An
approved output is released by a checker of the agreement: its checked files are copied into
``releases/<project>/<release id>/`` with ``checksums.sha256`` and ``release.json``, and ``releases verify``
recomputes them. Release is a step of its own, not part of the decision, so that a checked file changed
after the votes (its checksum no longer what the request recorded) stops the release instead of the decision.

Each move of an output is one transaction with exactly one audit entry; every vote, view and download is
audited too. The rules that depend on the record (whose output, which checkers, which version) are kept here,
so no caller can skip them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bold import faults, store
from bold.disclosure import check, impact
from bold.errors import BoldError, Kind
from bold.governance import projects
from bold.governance.lifecycle import OUTPUT, OutputState
from bold.security.paths import check_name, output_folder
from bold.security.private import private_dir, write_private
from bold.studies import outputs
from bold.workspace import Workspace, now

VOTES = ("approve", "changes_requested", "reject")


class ReleaseError(BoldError):
    pass


@dataclass(frozen=True)
class RequestedOutput:
    output: str
    version: int
    check_sha256: str
    status: OutputState


@dataclass(frozen=True)
class Vote:
    output: str
    version: int
    checker: str
    vote: str
    comment: str
    voted_at: str


@dataclass
class Request:
    id: str
    project: str
    context: str
    controls: str
    requested_by: str
    requested_at: str
    round: int
    outputs: list[RequestedOutput]
    summary: str | None = None  # for the public register, approved with the outputs
    votes: list[Vote] = field(default_factory=list)  # only those the viewer may see
    hidden_votes: int = 0  # votes cast by others that the viewer may not see yet
    decisions: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Release:
    id: str
    project: str
    output: str
    request: str
    version: int
    released_by: str
    released_at: str
    checksums: dict[str, str]
    manifest_sha256: str
    folder: Path


# --- the checked files --------------------------------------------------------------------------------

# Of the checked files, those that stay with the checkers: the full report holds the attacker's intervals and how
# many people two differencing groups differ by, and the checked manifest lists it. release.json says instead
# what a reader of the release needs (the profile, the summary of cells suppressed and rounded, the checksums).
NOT_RELEASED = frozenset({"report.json", "manifest.json"})


def _pending(ws: Workspace, row) -> outputs.PendingOutput:
    return outputs.get(ws, row["project"], row["id"])


def checked_files(ws: Workspace, row) -> dict[str, str]:
    """The files to release (name -> SHA-256): the disclosure check's, each verified against its checked
    manifest and that manifest against the store's record, less those that stay with the checkers."""
    files = check.checked_files(_pending(ws, row))
    return {name: digest for name, digest in files.items() if name not in NOT_RELEASED}


def report(ws: Workspace, row, *, full: bool = True) -> dict:
    """The check report of an output (verified like the checked files); ``full=False`` is the analyst's view:
    which rule flagged which cell, never an interval nor how many people differencing groups differ by."""
    found = check.report(_pending(ws, row))
    return found if full else check.for_analyst(found)


def disclosure_summary(rep: dict) -> dict[str, int]:
    """Cells judged, suppressed (secondary suppressions included) and rounded, for the public register."""
    summary = rep.get("summary") or {}
    return {k: int(summary.get(k, 0)) for k in ("cells", "suppressed", "secondary", "rounded")}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- who may act --------------------------------------------------------------------------------------


def _project(ws: Workspace, project_id: str) -> projects.Project:
    return projects.get(ws, project_id)


def _checker(project: projects.Project, by: str, analysts: set[str]) -> None:
    """Only an output checker the agreement names, and never an analyst of the outputs at hand."""
    if by not in project.team("output_checker"):
        raise ReleaseError(f"{by} is not an output checker of project {project.id}", kind=Kind.REFUSED)
    if by in analysts:
        raise ReleaseError(f"{by} ran or requested these outputs and may not check them", kind=Kind.REFUSED)


def _owner(project: projects.Project, row, by: str) -> None:
    """An analyst named in the agreement who ran the output: requests, resubmits and withdraws are theirs."""
    if by not in project.team("analyst"):
        raise ReleaseError(f"{by} is not an analyst of project {project.id}", kind=Kind.REFUSED)
    if row["created_by"] != by:
        raise ReleaseError(f"output {row['id']} was run by {row['created_by']}, not {by}", kind=Kind.REFUSED)


def _output_row(tx, project_id: str, output_id: str):
    check_name(output_id, "output id")
    row = tx.execute("select * from outputs where project = ? and id = ?", (project_id, output_id)).fetchone()
    if row is None:
        raise ReleaseError(f"project {project_id} has no output {output_id!r}", kind=Kind.NOT_FOUND)
    return row


def _request_row(tx, project_id: str, request_id: str):
    check_name(request_id, "request id")
    row = tx.execute("select * from release_requests where project = ? and id = ?", (project_id, request_id)).fetchone()
    if row is None:
        raise ReleaseError(f"project {project_id} has no release request {request_id!r}", kind=Kind.NOT_FOUND)
    return row


def _move(tx, row, name: str, by: str, details: dict) -> OutputState:
    """One output's move: the lifecycle says whether it may be made; one audit entry records it."""
    target = OUTPUT.move(name, row["status"], row["id"], ReleaseError)
    tx.execute("update outputs set status = ? where id = ?", (target.value, row["id"]))
    tx.audit(by, f"output {OUTPUT.transitions[name].means}", row["project"], {"output": row["id"], **details})
    return target


def _refusal(ws: Workspace, action: str, obj: str, exc: BoldError, by: str) -> None:
    if exc.kind == Kind.REFUSED:
        store.audit.record(ws, "refused", action, {"object": obj, "reason": str(exc)}, by=by)


# --- the moves ----------------------------------------------------------------------------------------


def request(
    ws: Workspace,
    project_id: str,
    output_ids: list[str],
    context: str,
    controls: str,
    summary: str | None = None,
    *,
    by: str,
) -> Request:
    """Ask for release of checked outputs the analyst ran, with the context and the controls they applied, and
    optionally a plain-language summary for the public that the checkers review with them."""
    if not output_ids:
        raise ReleaseError("name at least one output to request release of")
    if len(set(output_ids)) != len(output_ids):
        raise ReleaseError("an output is named twice")
    if not context.strip() or not controls.strip():
        raise ReleaseError("a release request needs its context and the controls applied (--context, --controls)")
    summary = impact.plain_text(summary, "the summary")
    project = _project(ws, project_id)
    request_id = f"req-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    try:
        with store.transaction(ws) as tx:
            tx.execute(
                "insert into release_requests (id, project, context, controls, requested_by, requested_at, summary) "
                "values (?, ?, ?, ?, ?, ?, ?)",
                (request_id, project_id, context.strip(), controls.strip(), by, now(), summary),
            )
            for output_id in output_ids:
                row = _output_row(tx, project_id, output_id)
                _owner(project, row, by)
                OUTPUT.move("request", row["status"], output_id, ReleaseError)
                checked_files(ws, row)  # the files as checked, before anyone spends time reviewing them
                tx.execute(
                    "insert into release_request_outputs (request, output, version, check_sha256) values (?, ?, 1, ?)",
                    (request_id, output_id, row["check_sha256"]),
                )
                _move(tx, row, "request", by, {"request": request_id, "version": 1})
    except BoldError as exc:
        _refusal(ws, "outputs request", project_id, exc, by)
        raise
    return get_request(ws, project_id, request_id, viewer=by)


def resubmit(
    ws: Workspace,
    project_id: str,
    request_id: str,
    context: str | None = None,
    summary: str | None = None,
    *,
    by: str,
) -> Request:
    """Send a returned request back for review: each returned output gets a new version and needs fresh votes
    (``context`` and ``summary``, when given, replace the request's; the checkers read them again)."""
    summary = impact.plain_text(summary, "the summary")
    project = _project(ws, project_id)
    try:
        with store.transaction(ws) as tx:
            req = _request_row(tx, project_id, request_id)
            if req["requested_by"] != by:
                raise ReleaseError(
                    f"request {request_id} was made by {req['requested_by']}, not {by}", kind=Kind.REFUSED
                )
            returned = []
            for item in tx.execute("select * from release_request_outputs where request = ?", (request_id,)).fetchall():
                row = _output_row(tx, project_id, item["output"])
                _owner(project, row, by)
                if row["status"] == OutputState.RETURNED:
                    returned.append((item, row))
            if not returned:
                OUTPUT.move("resubmit", row["status"], row["id"], ReleaseError)  # says what state it is in
            tx.execute(
                "update release_requests set round = round + 1, resubmitted_at = ?, context = ?, summary = ? "
                "where id = ?",
                (now(), (context or req["context"]).strip(), summary or req["summary"], request_id),
            )
            for item, row in returned:
                checked_files(ws, row)
                version = item["version"] + 1
                tx.execute(
                    "update release_request_outputs set version = ?, check_sha256 = ? where request = ? and output = ?",
                    (version, row["check_sha256"], request_id, row["id"]),
                )
                _move(tx, row, "resubmit", by, {"request": request_id, "version": version})
    except BoldError as exc:
        _refusal(ws, "outputs request", request_id, exc, by)
        raise
    return get_request(ws, project_id, request_id, viewer=by)


def withdraw(ws: Workspace, project_id: str, output_id: str, *, by: str) -> OutputState:
    """The analyst withdraws their own output, before requesting it or after it was returned."""
    project = _project(ws, project_id)
    try:
        with store.transaction(ws) as tx:
            row = _output_row(tx, project_id, output_id)
            _owner(project, row, by)
            return _move(tx, row, "withdraw", by, {})
    except BoldError as exc:
        _refusal(ws, "outputs withdraw", output_id, exc, by)
        raise


def review(ws: Workspace, project_id: str, output_id: str, vote: str, comment: str, *, by: str) -> Vote:
    """One checker's vote on the current version of one requested output (once per version)."""
    if vote not in VOTES:
        raise ReleaseError(f"vote {vote!r}: expected one of {', '.join(VOTES)}")
    if not comment.strip():
        raise ReleaseError("a vote needs a comment (--comment) saying why")
    project = _project(ws, project_id)
    try:
        with store.transaction(ws) as tx:
            row = _output_row(tx, project_id, output_id)
            item = tx.execute("select * from release_request_outputs where output = ?", (output_id,)).fetchone()
            req = _request_row(tx, project_id, item["request"]) if item else None
            _checker(project, by, {row["created_by"], *([req["requested_by"]] if req else [])})
            if row["status"] != OutputState.REQUESTED:
                raise ReleaseError(
                    f"output {output_id} is {row['status']}; only a requested output can be reviewed",
                    kind=Kind.CONFLICT,
                )
            if tx.execute(
                "select 1 from release_votes where output = ? and version = ? and checker = ?",
                (output_id, item["version"], by),
            ).fetchone():
                raise ReleaseError(
                    f"{by} has already voted on version {item['version']} of output {output_id}", kind=Kind.CONFLICT
                )
            at = now()
            tx.execute(
                "insert into release_votes (request, output, version, checker, vote, comment, voted_at) "
                "values (?, ?, ?, ?, ?, ?, ?)",
                (item["request"], output_id, item["version"], by, vote, comment.strip(), at),
            )
            tx.audit(
                by,
                "output reviewed",
                project_id,
                {"output": output_id, "request": item["request"], "version": item["version"], "vote": vote},
            )
    except BoldError as exc:
        _refusal(ws, "outputs review", output_id, exc, by)
        raise
    return Vote(output_id, item["version"], by, vote, comment.strip(), at)


def outcome(votes: list[str]) -> str:
    """The decision two votes make: approve only when both approve; any reject rejects; otherwise return."""
    if "reject" in votes:
        return "reject"
    if all(v == "approve" for v in votes):
        return "approve"
    return "return"


def decide(ws: Workspace, project_id: str, request_id: str, *, by: str) -> dict[str, OutputState]:
    """The one consolidated decision on a request: each requested output by the two votes of its current version."""
    project = _project(ws, project_id)
    try:
        with store.transaction(ws) as tx:
            req = _request_row(tx, project_id, request_id)
            items = tx.execute(
                "select o.*, r.version from release_request_outputs r join outputs o on o.id = r.output "
                "where r.request = ? order by o.id",
                (request_id,),
            ).fetchall()
            _checker(project, by, {req["requested_by"], *(i["created_by"] for i in items)})
            open_items = [i for i in items if i["status"] == OutputState.REQUESTED]
            if not open_items:
                raise ReleaseError(
                    f"request {request_id} has no output under review; only a requested output can be decided",
                    kind=Kind.CONFLICT,
                )
            plan = {}
            for item in open_items:
                votes = tx.execute(
                    "select checker, vote from release_votes where output = ? and version = ?",
                    (item["id"], item["version"]),
                ).fetchall()
                if len({v["checker"] for v in votes}) < 2:
                    raise ReleaseError(
                        f"output {item['id']} (version {item['version']}) has {len(votes)} vote(s); "
                        "a decision needs two checkers' votes on each output",
                        kind=Kind.CONFLICT,
                    )
                plan[item["id"]] = (item, outcome([v["vote"] for v in votes]))
            result = {}
            for output_id, (item, move) in plan.items():
                result[output_id] = _move(
                    tx, item, move, by, {"request": request_id, "version": item["version"], "round": req["round"]}
                )
            tx.execute(
                "insert into release_decisions (request, round, decided_by, decided_at, outcomes) "
                "values (?, ?, ?, ?, ?)",
                (request_id, req["round"], by, now(), json.dumps({k: v.value for k, v in result.items()})),
            )
    except BoldError as exc:
        _refusal(ws, "outputs decide", request_id, exc, by)
        raise
    return result


def _sweep(tx, folder: Path) -> list[str]:
    """Remove release folders no ``releases`` row names (a release killed before it committed: its files were
    copied inside the transaction that records them). Called under the store's write lock, which every release
    holds while it copies, so a folder without its row here has lost it for good."""
    known = {r[0] for r in tx.execute("select id from releases")}
    removed = []
    for path in sorted(folder.iterdir()):
        if path.is_dir() and path.name not in known:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def releases_dir(ws: Workspace, project_id: str) -> Path:
    return ws.root / "releases" / check_name(project_id, "project id")


def release(ws: Workspace, project_id: str, output_id: str, *, by: str) -> Release:
    """Copy an approved output's checked files into the project's release folder, with their checksums."""
    project = _project(ws, project_id)
    release_id = f"rel-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    folder = releases_dir(ws, project_id) / release_id
    try:
        with store.transaction(ws) as tx:
            row = _output_row(tx, project_id, output_id)
            item = tx.execute("select * from release_request_outputs where output = ?", (output_id,)).fetchone()
            req = _request_row(tx, project_id, item["request"]) if item else None
            _checker(project, by, {row["created_by"], *([req["requested_by"]] if req else [])})
            OUTPUT.move("release", row["status"], output_id, ReleaseError)
            approvals = tx.execute(
                "select count(distinct checker) from release_votes "
                "where output = ? and version = ? and vote = 'approve'",
                (output_id, item["version"]),
            ).fetchone()[0]
            if approvals < 2 or row["check_sha256"] != item["check_sha256"]:  # a guard the lifecycle already keeps
                raise ReleaseError(f"output {output_id}: its current version lacks two approvals", kind=Kind.CONFLICT)
            files = checked_files(ws, row)
            source = check.checked_folder(_pending(ws, row))
            private_dir(folder.parent)
            swept = _sweep(tx, folder.parent)
            if swept:
                tx.audit(by, "releases recovered", project_id, {"removed_unregistered_folders": swept})
            private_dir(folder)
            for name in files:
                write_private(folder / name, (source / name).read_bytes(), exclusive=True)
            write_private(folder / "checksums.sha256", "".join(f"{d}  {n}\n" for n, d in sorted(files.items())))
            at = now()
            rep = report(ws, row)
            manifest = {
                "release": release_id,
                "project": project_id,
                "output": output_id,
                "study": row["study"],
                "request": item["request"],
                "version": item["version"],
                "profile": row["profile"],
                "released_by": by,
                "released_at": at,
                "checked_at": row["checked_at"],
                "disclosure_summary": disclosure_summary(rep),
                "files": files,
            }
            text = json.dumps(manifest, indent=2)
            write_private(folder / "release.json", text)
            faults.point("release:copied")
            digest = hashlib.sha256(text.encode()).hexdigest()
            tx.execute(
                "insert into releases (id, project, output, request, version, released_by, released_at, checksums, "
                "manifest_sha256) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    release_id,
                    project_id,
                    output_id,
                    item["request"],
                    item["version"],
                    by,
                    at,
                    json.dumps(files),
                    digest,
                ),
            )
            _move(
                tx, row, "release", by, {"request": item["request"], "version": item["version"], "release": release_id}
            )
    except BaseException as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(exc, BoldError):
            _refusal(ws, "outputs release", output_id, exc, by)
        raise
    return get_release(ws, project_id, release_id)


# --- reading --------------------------------------------------------------------------------------------


def get_request(ws: Workspace, project_id: str, request_id: str, *, viewer: str) -> Request:
    """A request as ``viewer`` may see it: a checker sees another checker's vote on an output version only once
    they have voted on it themselves; everyone sees every vote of a version once it has been decided."""
    with store.connect(ws) as db:
        req = _request_row(db, project_id, request_id)
        items = db.execute(
            "select r.*, o.status from release_request_outputs r join outputs o on o.id = r.output "
            "where r.request = ? order by r.output",
            (request_id,),
        ).fetchall()
        votes = db.execute("select * from release_votes where request = ? order by voted_at", (request_id,)).fetchall()
        decisions = db.execute(
            "select * from release_decisions where request = ? order by round", (request_id,)
        ).fetchall()
    current = {i["output"]: i for i in items}
    shown, hidden = [], 0
    for v in votes:
        item = current[v["output"]]
        decided = v["version"] < item["version"] or item["status"] != OutputState.REQUESTED
        own_cast = any(
            w["checker"] == viewer and w["output"] == v["output"] and w["version"] == v["version"] for w in votes
        )
        if v["checker"] == viewer or decided or own_cast:
            shown.append(Vote(v["output"], v["version"], v["checker"], v["vote"], v["comment"], v["voted_at"]))
        else:
            hidden += 1
    return Request(
        id=req["id"],
        project=req["project"],
        context=req["context"],
        controls=req["controls"],
        requested_by=req["requested_by"],
        requested_at=req["requested_at"],
        round=req["round"],
        summary=req["summary"],
        outputs=[
            RequestedOutput(i["output"], i["version"], i["check_sha256"], OutputState(i["status"])) for i in items
        ],
        votes=shown,
        hidden_votes=hidden,
        decisions=[{**dict(d), "outcomes": json.loads(d["outcomes"])} for d in decisions],
    )


def show_request(ws: Workspace, project_id: str, request_id: str, *, by: str) -> Request:
    """A request for its analyst or the agreement's checkers; the viewing is audited."""
    project = _project(ws, project_id)
    try:
        found = get_request(ws, project_id, request_id, viewer=by)
        if by != found.requested_by and by not in project.team("output_checker"):
            raise ReleaseError(f"{by} neither made request {request_id} nor checks its outputs", kind=Kind.REFUSED)
    except BoldError as exc:
        _refusal(ws, "outputs votes", request_id, exc, by)
        raise
    store.audit.record(ws, "release request viewed", project_id, {"request": request_id}, by=by)
    return found


def list_requests(ws: Workspace, project_id: str) -> list[str]:
    with store.connect(ws) as db:
        rows = db.execute(
            "select id from release_requests where project = ? order by requested_at, id", (project_id,)
        ).fetchall()
    return [r["id"] for r in rows]


def checker_requests(ws: Workspace, *, by: str) -> list[Request]:
    """Every release request of the projects whose agreement names ``by`` as an output checker, each with
    only the votes ``by`` may see (the queue of the checkers' web pages)."""
    found = []
    for project in projects.all_projects(ws):
        if by in project.team("output_checker"):
            found += [get_request(ws, project.id, r, viewer=by) for r in list_requests(ws, project.id)]
    return found


def waiting_on(req: Request, viewer: str) -> str:
    """Where a request stands for one checker: ``"you"`` while an output under review lacks their vote on its
    current version, ``"others"`` while outputs are under review with their votes cast (the other checker's
    vote or the decision is awaited), ``"nobody"`` once every output is decided."""
    open_items = [o for o in req.outputs if o.status == OutputState.REQUESTED]
    if not open_items:
        return "nobody"
    if viewer == req.requested_by:
        return "others"
    cast = {(v.output, v.version) for v in req.votes if v.checker == viewer}
    return "you" if any((o.output, o.version) not in cast for o in open_items) else "others"


def request_of(ws: Workspace, project_id: str, output_id: str) -> str | None:
    """The release request an output is in, if any (an output is requested once; resubmission keeps the id)."""
    with store.connect(ws) as db:
        row = _output_row(db, project_id, output_id)
        item = db.execute("select request from release_request_outputs where output = ?", (row["id"],)).fetchone()
    return item["request"] if item else None


def read_report(ws: Workspace, project_id: str, output_id: str, *, by: str) -> dict:
    """The check report of an output, for the analyst who ran it or the agreement's checkers; audited."""
    project = _project(ws, project_id)
    try:
        with store.connect(ws) as db:
            row = _output_row(db, project_id, output_id)
        checker = by in project.team("output_checker") and by != row["created_by"]
        if by != row["created_by"] and not checker:
            raise ReleaseError(f"{by} neither ran output {output_id} nor checks it", kind=Kind.REFUSED)
        found = report(ws, row, full=checker)
    except BoldError as exc:
        _refusal(ws, "outputs report", output_id, exc, by)
        raise
    store.audit.record(ws, "output report viewed", project_id, {"output": output_id}, by=by)
    return found


def recheck(ws: Workspace, project_id: str, output_id: str, *, by: str) -> check.CheckedOutput:
    """Check an output again (after other outputs were made or released, for differencing): the analyst who
    ran it, or one of the agreement's checkers."""
    project = _project(ws, project_id)
    try:
        with store.connect(ws) as db:
            row = _output_row(db, project_id, output_id)
        if by != row["created_by"] and by not in project.team("output_checker"):
            raise ReleaseError(f"{by} neither ran output {output_id} nor checks it", kind=Kind.REFUSED)
    except BoldError as exc:
        _refusal(ws, "outputs check", output_id, exc, by)
        raise
    return check.check_output(ws, project_id, output_id, by=by)


def _release_row(ws: Workspace, row) -> Release:
    return Release(
        id=row["id"],
        project=row["project"],
        output=row["output"],
        request=row["request"],
        version=row["version"],
        released_by=row["released_by"],
        released_at=row["released_at"],
        checksums=json.loads(row["checksums"]),
        manifest_sha256=row["manifest_sha256"],
        folder=releases_dir(ws, row["project"]) / check_name(row["id"], "release id"),
    )


def get_release(ws: Workspace, project_id: str, release_id: str) -> Release:
    check_name(release_id, "release id")
    with store.connect(ws) as db:
        row = db.execute("select * from releases where project = ? and id = ?", (project_id, release_id)).fetchone()
    if row is None:
        raise ReleaseError(f"project {project_id} has no release {release_id!r}", kind=Kind.NOT_FOUND)
    return _release_row(ws, row)


def list_releases(ws: Workspace, project_id: str | None = None) -> list[Release]:
    with store.connect(ws) as db:
        if project_id is None:
            rows = db.execute("select * from releases order by released_at, id").fetchall()
        else:
            rows = db.execute(
                "select * from releases where project = ? order by released_at, id", (project_id,)
            ).fetchall()
    return [_release_row(ws, r) for r in rows]


def _release_reader(project: projects.Project, by: str) -> None:
    """Released files are for the agreement's analysts and checkers (the register publishes what they are)."""
    if by not in project.team("analyst") | project.team("output_checker"):
        raise ReleaseError(
            f"{by} is neither an analyst nor an output checker of project {project.id}", kind=Kind.REFUSED
        )


def show_release(ws: Workspace, project_id: str, release_id: str, out: Path | None = None, *, by: str) -> Release:
    """A release for the agreement's team; with ``out``, its files copied there (a download). Both audited."""
    project = _project(ws, project_id)
    try:
        _release_reader(project, by)
        found = get_release(ws, project_id, release_id)
        if out is not None:
            problems = verify(found)
            if problems:
                raise ReleaseError(
                    f"release {release_id} is damaged ({'; '.join(problems)}); not downloaded", kind=Kind.CONFLICT
                )
            names = [*found.checksums, "checksums.sha256", "release.json"]
            # never into the workspace, never over a file (a second download goes to a new folder)
            out = output_folder(Path(out), kind="release", files=names, workspace=ws.root)
            out.mkdir(parents=True, exist_ok=True)
            for name in names:
                shutil.copyfile(found.folder / name, out / name)
    except BoldError as exc:
        _refusal(ws, "releases show", release_id, exc, by)
        raise
    action = "release downloaded" if out is not None else "release viewed"
    details = {"release": release_id, **({"to": str(out)} if out is not None else {})}
    store.audit.record(ws, action, project_id, details, by=by)
    return found


def verify(found: Release) -> list[str]:
    """What differs from what was released: each file changed or missing, the checksum list, the manifest."""
    problems = []
    for name, digest in sorted(found.checksums.items()):
        path = found.folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif _sha256(path) != digest:
            problems.append(f"{name} changed")
    expected = "".join(f"{d}  {n}\n" for n, d in sorted(found.checksums.items()))
    listed = found.folder / "checksums.sha256"
    if not listed.is_file():
        problems.append("checksums.sha256 is missing")
    elif listed.read_text() != expected:
        problems.append("checksums.sha256 changed")
    manifest = found.folder / "release.json"
    if not manifest.is_file():
        problems.append("release.json is missing")
    elif _sha256(manifest) != found.manifest_sha256:
        problems.append("release.json changed")
    return problems


def verify_release(ws: Workspace, project_id: str, release_id: str, *, by: str) -> list[str]:
    """Recompute a release's checksums against those the store recorded; audited with what was found."""
    _project(ws, project_id)
    found = get_release(ws, project_id, release_id)
    problems = verify(found)
    store.audit.record(ws, "release verified", project_id, {"release": release_id, "problems": problems}, by=by)
    return problems


def add_impact_note(ws: Workspace, project_id: str, release_id: str, note: str, *, by: str) -> impact.ImpactNote:
    """Governance's note of what a released output changed, published with it on the register."""
    get_release(ws, project_id, release_id)
    return impact.add_note(ws, project_id, release_id, note, by=by)


def register_entries(ws: Workspace, project_id: str) -> list[dict]:
    """What the transparency register says of a project's released outputs."""
    entries = []
    for found in list_releases(ws, project_id):
        try:
            manifest = json.loads((found.folder / "release.json").read_text())
        except (OSError, ValueError):
            manifest = {}
        with store.connect(ws) as db:
            row = db.execute("select * from outputs where id = ?", (found.output,)).fetchone()
            asked = db.execute("select summary from release_requests where id = ?", (found.request,)).fetchone()
        summary = asked["summary"] if asked else None
        try:
            definition = outputs.get(ws, project_id, found.output).manifest().get("definition", "")
        except (OSError, ValueError, BoldError):
            definition = ""
        entries.append(
            {
                "release": found.id,
                "output": found.output,
                "study": row["study"] if row else manifest.get("study"),
                "definition": definition,
                "profile": row["profile"] if row else manifest.get("profile"),
                "disclosure_summary": manifest.get("disclosure_summary", {}),
                "checksums": found.checksums,
                "checked": (row["checked_at"] or "")[:10] if row else None,
                "released": found.released_at[:10],
                "summary": summary,
                "impact": [{"on": n.written_at[:10], "note": n.note} for n in impact.notes(ws, found.id)],
            }
        )
    return entries


# --- one released file, for the web pages --------------------------------------------------------------

RELEASE_LISTS = ("checksums.sha256", "release.json")  # a release's own files, besides those it released


def read_verified(found: Release, name: str) -> bytes:
    """The bytes of one file of a release, refused unless the whole release is intact and these very bytes have
    the checksum the store recorded (so a file changed after the check cannot be served between the two)."""
    if name not in found.checksums and name not in RELEASE_LISTS:
        raise ReleaseError(f"release {found.id} has no file {name!r}", kind=Kind.NOT_FOUND)
    problems = verify(found)
    if problems:
        raise ReleaseError(f"release {found.id} is damaged ({'; '.join(problems)}); not shown", kind=Kind.CONFLICT)
    data = (found.folder / name).read_bytes()
    expected = {
        **found.checksums,
        "release.json": found.manifest_sha256,
        "checksums.sha256": hashlib.sha256(
            "".join(f"{d}  {n}\n" for n, d in sorted(found.checksums.items())).encode()
        ).hexdigest(),
    }[name]
    if hashlib.sha256(data).hexdigest() != expected:
        raise ReleaseError(f"release {found.id}: {name} changed; not shown", kind=Kind.CONFLICT)
    return data


def release_file(ws: Workspace, project_id: str, release_id: str, name: str, *, by: str) -> bytes:
    """One verified file of a release, for the agreement's team (a download, or a chart shown on a page); audited,
    refusals too."""
    project = _project(ws, project_id)
    try:
        _release_reader(project, by)
        check_name(name, "file name")
        data = read_verified(get_release(ws, project_id, release_id), name)
    except BoldError as exc:
        _refusal(ws, "releases show", release_id, exc, by)
        raise
    store.audit.record(ws, "release file read", project_id, {"release": release_id, "file": name}, by=by)
    return data


def requests_for(ws: Workspace, project_id: str, *, by: str) -> list[Request]:
    """The project's release requests ``by`` may see: their own, or every one for the agreement's checkers; each
    with only the votes ``by`` may see (``get_request``)."""
    project = _project(ws, project_id)
    checker = by in project.team("output_checker")
    found = [get_request(ws, project_id, request_id, viewer=by) for request_id in list_requests(ws, project_id)]
    return [r for r in found if checker or r.requested_by == by]
