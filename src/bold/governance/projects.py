"""Projects: submit, approve or refuse, amend, withdraw, build the extract, close.

Each submission and amendment is a version of the agreement, kept with what was decided about it: its DPIA,
the board's answers and each custodian's sign-off (``bold.governance.decisions``). The board approves only a
version with a DPIA and an answer to every human criterion; the admin builds only a version every custodian
has signed off.

A project's states and the moves between them are data (``bold.governance.lifecycle.PROJECT``); each move
re-reads the project inside the transaction that changes it, so two people deciding at once cannot both
succeed, and its audit entry commits with it. Only an approved project within its dates can be built; its
extract holds only the datasets and fields the agreement names, and each person appears under a
project-specific pseudonym, ``HMAC(project key, person_key)``, so two projects' extracts cannot be joined.
Closing deletes the extract and the project key, so the pseudonyms can never be recomputed; released
outputs and the audit chain are kept.

Crash safety (docs/security.md): a build holds the project's build lock (``build.lock``, released by the
system even on a kill), writes the extract to ``extract.duckdb.partial`` and renames it into place inside the
store transaction that records the build, just before it commits; the next build removes any partial file
left by a killed one. The extract is thus either the previous one or the complete new one, never half-built.
Only rows of committed ingest batches are extracted.

Rules of separation of duties that depend on the record (the submitter may not decide on their own
project; only its team may amend or withdraw it) are kept here, so no caller can skip them; which roles
may attempt each move is the actions' check (``bold.governance.permissions``).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import secrets
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from bold import faults, keyed, store
from bold.errors import BoldError, Kind
from bold.governance import decisions
from bold.governance.agreement import PERSON_DATASET, Agreement, assess, load_agreement
from bold.governance.decisions import Answer, DecisionError, VersionOutcome
from bold.governance.lifecycle import PROJECT, ProjectState
from bold.ingest import resolved
from bold.ingest.pipeline import committed_batches
from bold.ingest.rules import committed_sql, q
from bold.security import encryption
from bold.security.paths import check_name
from bold.security.private import private_dir, shared_dir, write_private
from bold.sources import load_contract
from bold.workspace import Workspace, now

MAX_QUARANTINE_SHARE = 0.05
# Linkage uncertainty (docs/studies.md): besides the agreement's threshold, every extract carries each record's
# person at each threshold of the run (``person_id_high``... beside ``person_id``, and the person dataset's
# attributes per threshold in ``person_high``...), so a study can be run again on the other clusterings. These are
# a study's inputs only: the study language reads them through ``Extract.at``, and no output may hold them.
THRESHOLDS = ("high", "medium", "low")


def variant_column(threshold: str) -> str:
    """The column holding a record's project pseudonym at ``threshold``."""
    return f"person_id_{threshold}"


def variant_table(threshold: str) -> str:
    """The table holding the person attributes at ``threshold``."""
    return f"{PERSON_DATASET}_{threshold}"


class ProjectError(BoldError):
    """A project action that the rules do not allow, or a project that does not exist."""

    kind = Kind.CONFLICT


@dataclass
class Project:
    id: str
    agreement: Agreement
    text: str
    status: ProjectState
    assessment: dict
    submitted_by: str
    submitted_at: str
    approved_by: str | None
    approved_at: str | None
    closed_at: str | None
    built_at: str | None
    decided_by: str | None = None
    decided_at: str | None = None
    decision_reason: str | None = None
    amendments: int = 0
    built_batches: list[int] | None = None  # the batches the extract was built from (None: built before BOLD kept them)
    # The withdrawn batches that the extract before the last build used and the last build left out
    # (source, batch, batch_id, withdrawn_at, withdrawn_by): what the team is told on that build.
    build_notice: list[dict] | None = None
    expired_at: str | None = None  # when retention deleted its extract, after its end date

    @property
    def version(self) -> int:
        """The agreement's version: 1 when submitted, one more at each amendment."""
        return self.amendments + 1

    @property
    def sources(self) -> list[str]:
        """The sources the agreement requests (each needs its custodian's sign-off)."""
        return [d for d in self.agreement.datasets if d != PERSON_DATASET]

    def team(self, role: str) -> set[str]:
        """The people the agreement names in ``role``."""
        return {p.name for p in self.agreement.people if p.role == role}

    def summary(self) -> dict:
        """The project in one line of a list (``project list --json``, the API's project list)."""
        return {
            "id": self.id,
            "title": self.agreement.title,
            "status": self.status.value,
            "acceptable": self.assessment["acceptable"],
            "start": self.agreement.start,
            "end": self.agreement.end,
            "submitted_by": self.submitted_by,
            "submitted_at": self.submitted_at,
            "decided_by": self.decided_by,
            "decision_reason": self.decision_reason,
            "amendments": self.amendments,
            "version": self.version,
            "built_at": self.built_at,
        }


def source_quality(ws: Workspace) -> dict[str, float]:
    """Share of rows quarantined per source over all its batches, counting only the quarantined rows no later
    batch resolved (``bold.ingest.resolved``); a withdrawn batch, or one deleted at the end of its retention
    period, no longer counts."""
    with store.connect(ws) as db:
        rows = db.execute(
            f"select source, sum({resolved.unresolved_sql()}) * 1.0 / max(sum(rows_read), 1) from batches "
            "where withdrawn_at is null and expired_at is null group by source"
        ).fetchall()
    return {s: share for s, share in rows}


def _from_row(row: sqlite3.Row) -> Project:
    return Project(
        id=row["id"],
        agreement=Agreement(**yaml.safe_load(row["agreement"])),
        text=row["agreement"],
        status=ProjectState(row["status"]),
        assessment=json.loads(row["assessment"]),
        submitted_by=row["submitted_by"],
        submitted_at=row["submitted_at"],
        approved_by=row["approved_by"],
        approved_at=row["approved_at"],
        closed_at=row["closed_at"],
        built_at=row["built_at"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        decision_reason=row["decision_reason"],
        amendments=row["amendments"],
        built_batches=json.loads(row["built_batches"]) if row["built_batches"] is not None else None,
        build_notice=json.loads(row["build_notice"]) if row["build_notice"] is not None else None,
        expired_at=row["expired_at"],
    )


def _read(db, project_id: str) -> Project:
    check_name(project_id, "project id")
    row = db.execute("select * from projects where id = ?", (project_id,)).fetchone()
    if row is None:
        raise ProjectError(f"no project {project_id!r}", kind=Kind.NOT_FOUND)
    return _from_row(row)


def get(ws: Workspace, project_id: str) -> Project:
    with store.connect(ws) as db:
        return _read(db, project_id)


def all_projects(ws: Workspace) -> list[Project]:
    with store.connect(ws) as db:
        return [_from_row(r) for r in db.execute("select * from projects order by submitted_at, id").fetchall()]


def counts(ws: Workspace) -> dict[ProjectState, int]:
    """Projects in each state (every state listed, zero where none)."""
    with store.connect(ws) as db:
        found = dict(db.execute("select status, count(*) from projects group by status").fetchall())
    return {state: found.get(state.value, 0) for state in ProjectState}


def _people(ws: Workspace) -> dict[str, tuple[frozenset[str], bool]]:
    """Everyone on the platform: their roles and whether they are active (for the assessment)."""
    from bold.governance.people import people

    return {p.name: (frozenset(r.value for r in p.roles), p.active) for p in people(ws)}


def submit(ws: Workspace, path: Path, *, by: str) -> Project:
    agreement, text = load_agreement(path)
    assessment = assess(agreement, source_quality(ws), MAX_QUARANTINE_SHARE, _people(ws))
    with store.transaction(ws) as tx:
        if tx.execute("select 1 from projects where id = ?", (agreement.id,)).fetchone():
            raise ProjectError(
                f"project {agreement.id!r} already exists; to change its agreement use bold project amend"
            )
        stamp = now()
        tx.execute(
            "insert into projects (id, title, agreement, status, assessment, submitted_by, submitted_at) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            (agreement.id, agreement.title, text, PROJECT.initial.value, json.dumps(assessment), by, stamp),
        )
        decisions.add_version(tx.db, agreement.id, 1, text, assessment, by, stamp)
        tx.audit(
            by,
            "project submitted",
            agreement.id,
            {"acceptable": assessment["acceptable"], "red_lines": len(assessment["red_lines"])},
        )
        return _read(tx.db, agreement.id)


def _refuse(ws: Workspace, action: str, project_id: str, reason: str, message: str, by: str) -> ProjectError:
    """Record a refusal in the audit chain (in its own transaction) and return the error to raise."""
    store.audit.record(ws, action, project_id, {"reason": reason}, by=by)
    return ProjectError(message, kind=Kind.REFUSED)


def approve(ws: Workspace, project_id: str, answers: list[Answer] | None, *, by: str) -> Project:
    """Approve the current version: its DPIA recorded, and ``answers`` yes to every human criterion."""
    return _decide(ws, project_id, "approve", None, answers, by)


def refuse(ws: Workspace, project_id: str, reason: str, answers: list[Answer] | None = None, *, by: str) -> Project:
    if not reason.strip():
        raise ProjectError("a refusal needs a reason, for the team and the register", kind=Kind.INVALID)
    return _decide(ws, project_id, "refuse", reason, answers, by)


def _decide(
    ws: Workspace, project_id: str, move: str, reason: str | None, answers: list[Answer] | None, by: str
) -> Project:
    """The board's decision on a submitted project; never by its submitter, never approving a red line or a
    version without its DPIA."""
    refusal = None
    with store.transaction(ws) as tx:
        project = _read(tx.db, project_id)
        target = PROJECT.move(move, project.status, project_id, ProjectError)
        if by == project.submitted_by:
            refusal = ("submitter cannot approve", f"{by} submitted {project_id} and cannot also {move} it")
        elif move == "approve" and not project.assessment["acceptable"]:
            refusal = (
                "red lines crossed",
                f"{project_id} crosses red lines and cannot be approved: " + "; ".join(project.assessment["red_lines"]),
            )
        elif move == "approve" and (dpia_problem := _dpia_problem(tx.db, project)):
            refusal = ("no acceptable DPIA", dpia_problem)
        else:
            decisions.check_answers(answers, approving=move == "approve")
            stamp = now()
            approved = (by, stamp) if move == "approve" else (None, None)
            tx.execute(
                "update projects set status = ?, decided_by = ?, decided_at = ?, decision_reason = ?, "
                "approved_by = ?, approved_at = ? where id = ?",
                (target.value, by, stamp, reason, *approved, project_id),
            )
            decisions.set_outcome(
                tx.db, project_id, project.version, VersionOutcome(target.value), by, stamp, reason, answers
            )
            details = {"version": project.version, **({"reason": reason} if reason else {})}
            if answers is not None:
                details["answers"] = {a.criterion: a.answer for a in answers}
            tx.audit(by, f"project {target.value}", project_id, details)
            return _read(tx.db, project_id)
    raise _refuse(ws, f"project {'approval' if move == 'approve' else 'refusal'} refused", project_id, *refusal, by)


def _dpia_problem(db, project: Project) -> str | None:
    try:
        decisions.check_dpia(db, project.id, project.version)
    except DecisionError as exc:
        return str(exc)
    return None


def record_dpia(ws: Workspace, project_id: str, path: Path, *, by: str) -> Project:
    """Record the board's DPIA of the version under review (replacing an earlier one of the same version)."""
    dpia = decisions.load_dpia(path)
    with store.transaction(ws) as tx:
        project = _read(tx.db, project_id)
        if project.status != ProjectState.SUBMITTED:
            raise ProjectError(
                f"project {project_id} is {project.status.value}; a DPIA is recorded before the board decides "
                "(amend the agreement to assess a new version)"
            )
        replaced = decisions.record_dpia(tx.db, project_id, project.version, dpia, by, now())
        tx.audit(
            by,
            "project dpia recorded",
            project_id,
            {
                "version": project.version,
                "risks": len(dpia.risks),
                "public_involvement": len(dpia.public_involvement),
                "residual_risk": dpia.residual_risk,
                "replaced": replaced,
            },
        )
        return _read(tx.db, project_id)


def sign_off(ws: Workspace, project_id: str, source: str, conditions: str | None = None, *, by: str) -> Project:
    """A custodian agrees to this version's use of their source (with any conditions, for the register)."""
    with store.transaction(ws) as tx:
        project = _read(tx.db, project_id)
        if project.status not in (ProjectState.SUBMITTED, ProjectState.APPROVED):
            raise ProjectError(f"project {project_id} is {project.status.value}; only a live project is signed off")
        if source not in project.sources:
            raise ProjectError(
                f"project {project_id} does not request {source!r}; "
                f"it requests {', '.join(project.sources) or 'no source'}",
                kind=Kind.INVALID,
            )
        conditions = (conditions or "").strip() or None
        decisions.sign_off(tx.db, project_id, project.version, source, by, now(), conditions)
        tx.audit(
            by,
            "project signed off",
            project_id,
            {"version": project.version, "source": source, "conditions": conditions is not None},
        )
        return _read(tx.db, project_id)


def versions(ws: Workspace, project_id: str) -> list[decisions.Version]:
    with store.connect(ws) as db:
        _read(db, project_id)
        return decisions.versions(db, project_id)


def _check_team(project: Project, by: str, move: str) -> None:
    if by != project.submitted_by and by not in project.team("analyst"):
        raise ProjectError(
            f"{by} is neither the submitter nor an analyst of {project.id}, so cannot {move} it", kind=Kind.REFUSED
        )


def amend(ws: Workspace, project_id: str, path: Path, *, by: str) -> Project:
    """Replace the agreement with an amended one; it goes back to the board, and any extract is deleted."""
    agreement, text = load_agreement(path)
    if agreement.id != project_id:
        raise ProjectError(f"{path} is the agreement of {agreement.id!r}, not {project_id!r}", kind=Kind.INVALID)
    assessment = assess(agreement, source_quality(ws), MAX_QUARANTINE_SHARE, _people(ws))
    with store.transaction(ws) as tx:
        project = _read(tx.db, project_id)
        target = PROJECT.move("amend", project.status, project_id, ProjectError)
        _check_team(project, by, "amend")
        tx.execute(
            "update projects set title = ?, agreement = ?, assessment = ?, status = ?, approved_by = null, "
            "approved_at = null, decided_by = null, decided_at = null, decision_reason = null, built_at = null, "
            "amendments = amendments + 1 where id = ?",
            (agreement.title, text, json.dumps(assessment), target.value, project_id),
        )
        stamp = now()
        if project.status == ProjectState.SUBMITTED:  # undecided: superseded before the board decided on it
            decisions.set_outcome(tx.db, project_id, project.version, VersionOutcome.AMENDED, by, stamp)
        decisions.add_version(tx.db, project_id, project.version + 1, text, assessment, by, stamp)
        extract_deleted = _delete_extract(ws, project_id)
        tx.audit(
            by,
            "project amended",
            project_id,
            {
                "from": project.status.value,
                "amendment": project.amendments + 1,
                "acceptable": assessment["acceptable"],
                "extract_deleted": extract_deleted,
            },
        )
        return _read(tx.db, project_id)


def withdraw(ws: Workspace, project_id: str, *, by: str) -> Project:
    with store.transaction(ws) as tx:
        project = _read(tx.db, project_id)
        target = PROJECT.move("withdraw", project.status, project_id, ProjectError)
        _check_team(project, by, "withdraw")
        stamp = now()
        tx.execute(
            "update projects set status = ?, closed_by = ?, closed_at = ? where id = ?",
            (target.value, by, stamp, project_id),
        )
        if project.status == ProjectState.SUBMITTED:  # a refused version keeps its refusal
            decisions.set_outcome(tx.db, project_id, project.version, VersionOutcome.WITHDRAWN, by, stamp)
        tx.audit(by, "project withdrawn", project_id)
        return _read(tx.db, project_id)


def project_dir(ws: Workspace, project_id: str) -> Path:
    return ws.root / "projects" / check_name(project_id, "project id")


def extract_path(ws: Workspace, project_id: str) -> Path:
    return project_dir(ws, project_id) / "extract.duckdb"


def extract_key(ws: Workspace, project_id: str) -> str:
    """The extract's encryption key, derived from the project key: closing the project (which deletes the
    key) leaves nothing that could open a copy of the extract."""
    return encryption.derive(_project_key(ws, project_id, create=False), "extract")


def encrypt_older_extracts(ws: Workspace, con) -> list[str]:
    """Encrypt, in place, the extracts a workspace made before extracts were encrypted; their project ids."""
    done = []
    for path in sorted((ws.root / "projects").glob("*/extract.duckdb")):
        project_id = path.parent.name
        if (ws.keys_dir / "projects" / f"{project_id}.key").exists() and not encryption.is_encrypted(path):
            encryption.encrypt_in_place(con, path, extract_key(ws, project_id))
            done.append(project_id)
    return done


def _delete_extract(ws: Workspace, project_id: str) -> bool:
    path = extract_path(ws, project_id)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


def delete_extract(ws: Workspace, project_id: str) -> bool:
    """Delete the extract and the evidence made from it (the rows behind each output's cells): closing a project,
    or retention at its end date; whether there was an extract."""
    existed = _delete_extract(ws, project_id)
    for path in evidence_dir(ws, project_id).glob("*.duckdb*"):
        path.unlink(missing_ok=True)
    return existed


def _project_key(ws: Workspace, project_id: str, create: bool) -> str:
    path = ws.keys_dir / "projects" / f"{check_name(project_id, 'project id')}.key"
    if create and not path.exists():
        private_dir(path.parent)
        write_private(path, secrets.token_hex(32), exclusive=True)
    if not path.exists():
        raise ProjectError(f"project {project_id} has no key (it was closed)")
    return ws.key(f"projects/{project_id}")  # refused, like every key, if others can read it


def usable(project: Project, today: dt.date | None = None) -> None:
    """Refuse a project that is not approved, has not started, has expired or is closed."""
    today = today or dt.date.today()
    if project.status != ProjectState.APPROVED:
        raise ProjectError(f"project {project.id} is {'closed' if project.status == 'closed' else 'not approved'}")
    if today < project.agreement.start:
        raise ProjectError(f"project {project.id} starts on {project.agreement.start}")
    if project.agreement.end is not None and today > project.agreement.end:
        deleted = f"; its extract was deleted on {project.expired_at[:10]}" if project.expired_at else ""
        raise ProjectError(f"project {project.id} expired on {project.agreement.end}{deleted}")


def build(ws: Workspace, project_id: str, today: dt.date | None = None, *, by: str) -> Path:
    """Write ``projects/ID/extract.duckdb``: the agreed fields only, under project pseudonyms."""
    project = get(ws, project_id)
    try:
        usable(project, today)
        _signed_off(ws, project)
    except ProjectError as exc:
        store.audit.record(ws, "project build refused", project_id, {"reason": str(exc)}, by=by)
        raise
    quality = source_quality(ws)
    sources = project.sources
    failing = [d for d in sources if d not in quality or quality[d] > MAX_QUARANTINE_SHARE]
    if failing:
        raise ProjectError(f"sources below the quality thresholds or not ingested: {', '.join(failing)}")
    if not ws.links_path.exists():
        raise ProjectError("no linkage yet: run bold link before building a project")
    key = _project_key(ws, project_id, create=True)
    folder = private_dir(project_dir(ws, project_id))
    if ws.services_prefix:  # the studies service writes the evidence of its outputs here (group-writable)
        shared_dir(evidence_dir(ws, project_id))
    with _build_lock(folder, project_id):
        return _build(ws, project, key, sources, folder, by)


def _signed_off(ws: Workspace, project: Project) -> None:
    """Refuse to build a version some custodian has not signed off."""
    with store.connect(ws) as db:
        missing = decisions.missing_sign_offs(db, project.id, project.version, project.sources)
    if missing:
        raise ProjectError(
            f"project {project.id} version {project.version} is not signed off by the custodians of "
            f"{', '.join(missing)}: each signs off its use first (bold project sign-off {project.id} --source S)"
        )


@contextmanager
def _build_lock(folder: Path, project_id: str):
    """One build of a project at a time; the system releases the lock when the process ends, even on a kill."""
    fd = os.open(folder / "build.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ProjectError(f"project {project_id} is being built by someone else; try again when done") from None
        yield
    finally:
        os.close(fd)


def _remove_partial(partial: Path) -> None:
    for path in (partial, partial.with_name(partial.name + ".wal")):
        path.unlink(missing_ok=True)


def _build(ws: Workspace, project: Project, key: str, sources: list[str], folder: Path, by: str) -> Path:
    project_id = project.id
    level = project.agreement.linkage_threshold
    target = folder / "extract.duckdb"
    partial = folder / "extract.duckdb.partial"  # made by DuckDB under the connection's owner-only umask
    _remove_partial(partial)  # left by a build killed midway (we hold the build lock: nobody is writing it)
    committed = committed_batches(ws)  # rows of an ingest killed before it committed are not extracted
    used = sorted(b for d in sources for b in committed.get(d, []))  # recorded with the build
    try:
        with ws.content(read_only=True) as con:
            ws.attach(con, "links", read_only=True)
            encryption.attach(con, partial, "extract", extract_key(ws, project_id))
            run_id = con.execute("select max(run_id) from links.runs").fetchone()[0]
            if run_id is None:
                raise ProjectError("no linkage yet: run bold link before building a project")
            # Every record must have a person in the run, or the inner join below would drop it unseen.
            unlinked = [
                d
                for d in sources
                if con.execute(
                    f"""select count(*) from content.{d} c where {committed_sql(committed, d, "c.batch_id")}
                        and not exists (select 1 from links.record_person r
                        where r.run_id = {int(run_id)} and r.record_key = c.record_key)"""
                ).fetchone()[0]
            ]
            if unlinked:
                raise ProjectError(
                    f"records of {', '.join(unlinked)} arrived after the latest linkage run: run bold link again"
                )
            pseudonym = _hmac_sql(key, f"person_{level}::varchar")
            variants = ", ".join(f"{_hmac_sql(key, f'person_{t}::varchar')} as {variant_column(t)}" for t in THRESHOLDS)
            con.execute(
                f"""create temp table pseudonyms as select record_key, {pseudonym} as person_id, {variants}
                    from links.record_person where run_id = {int(run_id)}"""
            )
            person_fields = project.agreement.datasets.get(PERSON_DATASET)
            if person_fields:
                person_key = _hmac_sql(key, "person_key::varchar")
                cols = ", ".join(q(f) for f in person_fields)
                for table, threshold in [(PERSON_DATASET, level), *((variant_table(t), t) for t in THRESHOLDS)]:
                    with_ethnicity = sources if "ethnicity" in person_fields else []
                    people = _person_attributes(int(run_id), threshold, committed, with_ethnicity)
                    con.execute(
                        f"create table extract.{table} as select {person_key} as person_id, {cols} from {people}"
                    )
            variant_columns = ", ".join(f"p.{variant_column(t)}" for t in THRESHOLDS)
            for dataset, fields in project.agreement.datasets.items():
                if dataset == PERSON_DATASET:
                    continue
                contract = load_contract(dataset)
                types = {c.field: c.type for c in contract.content}
                cols = ", ".join(
                    f"date_trunc('month', c.{q(f)})::date as {q(f)}"
                    if types[f] == "date" and project.agreement.date_precision == "month"
                    else f"c.{q(f)}"
                    for f in fields
                )
                con.execute(
                    f"""create table extract.{dataset} as select p.person_id, {variant_columns}, {cols}
                        from content.{dataset} c join pseudonyms p using (record_key)
                        where {committed_sql(committed, dataset, "c.batch_id")}"""
                )
                faults.point("build:partial")
            batches, weights = con.execute(
                f"select {_run_column(con, 'batches')}, thresholds from links.runs where run_id = {int(run_id)}"
            ).fetchone()
            con.execute(
                "create table extract.about as select ? as project, ? as built_at, ? as linkage_run, ? as threshold, "
                "? as linkage_batches, ? as linkage_thresholds, ? as thresholds, ? as linkage_recall",
                [
                    project_id,
                    now(),
                    run_id,
                    level,
                    batches,
                    weights,
                    json.dumps(list(THRESHOLDS)),
                    _recall(con, int(run_id), project.sources),
                ],
            )
    except Exception:
        _remove_partial(partial)  # never leave a half-built extract behind
        raise
    try:
        with store.transaction(ws) as tx:  # the project may have changed while the extract was written
            if _read(tx.db, project_id).status != ProjectState.APPROVED:
                raise ProjectError(f"project {project_id} changed while its extract was built; nothing kept")
            notice = _withdrawn_since(tx.db, project_id)
            left_out = [f"{n['source']}/{n['batch']}" for n in notice]
            tx.execute(
                "update projects set built_at = ?, built_batches = ?, build_notice = ? where id = ?",
                (now(), json.dumps(used), json.dumps(notice), project_id),
            )
            tx.audit(
                by,
                "project built",
                project_id,
                {
                    "linkage_run": run_id,
                    "threshold": level,
                    "datasets": sorted(project.agreement.datasets),
                    "batches": used,
                    **({"withdrawn_batches_left_out": left_out} if left_out else {}),
                },
            )
            faults.point("build:before-rename")
            # Renamed under the store's write lock, so a close or amend cannot slip in between; the commit
            # follows at once (a kill in that instant leaves a complete extract whose build is not recorded).
            os.replace(partial, target)
            faults.point("build:after-rename")
    finally:
        _remove_partial(partial)
    return target


def _recall(con, run_id: int, sources: list[str]) -> str | None:
    """The recall from each of the project's sources into each other (``quality.recall_between_sources``) that a
    linkage report against a gold standard recorded for the run, as JSON ``{"estimated_from", "thresholds":
    {threshold: {"a|b": recall}}}``; None when none was recorded. Aggregates only: the studies' missed-match
    correction."""
    found = "select count(*) from duckdb_tables() where database_name = 'links' and table_name = 'recall_estimates'"
    if not con.execute(found).fetchone()[0]:
        return None
    rows = con.execute(
        "select threshold, source_a, source_b, recall, estimated_from from links.recall_estimates where run_id = ?",
        [run_id],
    ).fetchall()
    rows = [r for r in rows if r[1] in sources and r[2] in sources]
    if not rows:
        return None
    thresholds: dict[str, dict[str, float]] = {}
    for threshold, a, b, recall, _ in rows:
        thresholds.setdefault(threshold, {})[f"{a}|{b}"] = recall
    return json.dumps({"estimated_from": rows[0][4], "thresholds": thresholds})


def _run_column(con, column: str) -> str:
    """``column`` of ``links.runs``, or null where links made by older BOLD lack it."""
    have = {c for (c,) in con.execute("select column_name from (describe links.runs)").fetchall()}
    return column if column in have else "null"


def used_batch(
    built_batches: str | None, built_at: str | None, agreement: str, source: str, batch_id: int, finished_at: str
) -> bool:
    """Whether a project's extract (as its row records it) was built from this batch: by the batches the build
    recorded, or, for an extract built before builds recorded them, by time (every committed batch of an agreed
    source that arrived before the build was in it)."""
    if built_at is None:
        return False
    if built_batches is not None:
        return batch_id in json.loads(built_batches)
    return source in (yaml.safe_load(agreement).get("datasets") or {}) and finished_at <= built_at


def _withdrawn_since(db, project_id: str) -> list[dict]:
    """The batches withdrawn since the project's extract on record was built from them: what its next build
    leaves out and tells the team."""
    row = db.execute("select built_batches, built_at, agreement from projects where id = ?", (project_id,)).fetchone()
    found = db.execute(
        "select batch_id, source, name, finished_at, withdrawn_at, withdrawn_by from batches "
        "where withdrawn_at is not null and withdrawn_at >= ? order by batch_id",
        (row["built_at"] or "",),
    ).fetchall()
    return [
        {"source": b[1], "batch": b[2], "batch_id": b[0], "withdrawn_at": b[4], "withdrawn_by": b[5]}
        for b in found
        if used_batch(row["built_batches"], row["built_at"], row["agreement"], b[1], b[0], b[3])
    ]


def _person_attributes(run_id: int, threshold: str, committed: dict, ethnicity_from: list[str]) -> str:
    """The linker's person attributes at ``threshold`` as a subquery; with ``ethnicity_from`` (the project's
    sources), each person's most common ethnicity among their records in those of them that record one (ties: the
    first code alphabetically), null for people with none. Ethnicity is content, so it is derived here, where content
    meets the links, never by the linker, and only from sources whose custodians signed the project off; only
    committed batches count, as for the rest of the extract."""
    attributes = f"(select * from links.person_attributes where run_id = {run_id} and threshold = '{threshold}')"
    if not ethnicity_from:
        return attributes
    recorded = [d for d in ethnicity_from if any(c.field == "ethnicity" for c in load_contract(d).content)]
    union = " union all ".join(
        f"""select r.person_{threshold} as person_key, c.ethnicity from content.{d} c join links.record_person r
            on r.record_key = c.record_key and r.run_id = {run_id}
            where c.ethnicity is not null and {committed_sql(committed, d, "c.batch_id")}"""
        for d in recorded
    )
    if not union:
        return f"(select *, null::varchar as ethnicity from {attributes})"
    ranked = f"""select person_key, ethnicity, row_number() over (partition by person_key
                 order by count(*) desc, ethnicity) as rank from ({union}) group by person_key, ethnicity"""
    return f"""(select a.*, e.ethnicity from {attributes} a
               left join ({ranked}) e on e.person_key = a.person_key and e.rank = 1)"""


def _hmac_sql(key: str, value_sql: str) -> str:
    """The project pseudonym of a person key, in SQL."""
    return keyed.digest_sql(key.encode(), "person:", value_sql)


def close(ws: Workspace, project_id: str, *, by: str) -> None:
    """Delete the extract and the project key; keep the record, released outputs and the audit."""
    with store.transaction(ws) as tx:
        project = _read(tx.db, project_id)
        target = PROJECT.move("close", project.status, project_id, ProjectError)
        tx.execute(
            "update projects set status = ?, closed_by = ?, closed_at = ? where id = ?",
            (target.value, by, now(), project_id),
        )
        delete_extract(ws, project_id)
        (ws.keys_dir / "projects" / f"{project_id}.key").unlink(missing_ok=True)
        tx.audit(by, "project closed", project_id, {"extract_deleted": True, "key_deleted": True})


def built_extracts(ws: Workspace) -> list[str]:
    """Projects whose extract is on disk (approved and built, not yet amended or closed)."""
    return [p.id for p in all_projects(ws) if extract_path(ws, p.id).exists()]


def _extract_tables(con) -> list[str]:
    return [
        t for (t,) in con.execute("select table_name from duckdb_tables() where database_name = 'extract'").fetchall()
    ]


def people_in_extract(ws: Workspace, project_id: str, record_keys: list) -> list[str]:
    """The pseudonyms, in the project's extract, of the people these records belong to (at the extract's linkage
    run and threshold), limited to those the extract holds: computed from the links, so call it before they change."""
    path = extract_path(ws, project_id)
    if not record_keys or not path.exists() or not ws.links_path.exists():
        return []
    key = _project_key(ws, project_id, create=False)
    with ws.duckdb_connection() as con:
        encryption.attach(con, path, "extract", extract_key(ws, project_id), read_only=True)
        ws.attach(con, "links", read_only=True)
        run_id, level = con.execute("select linkage_run, threshold from extract.about").fetchone()
        if level not in ("high", "medium", "low"):
            raise ProjectError(f"the extract of {project_id} names an unknown threshold {level!r}")
        con.execute("create temp table forget as select unnest(?::uuid[]) as record_key", [record_keys])
        pseudonym = _hmac_sql(key, f"person_{level}::varchar")
        con.execute(
            f"""create temp table gone as select distinct {pseudonym} as person_id from links.record_person
                where run_id = {int(run_id)} and record_key in (select record_key from forget)"""
        )
        held = " union ".join(
            f"select person_id from extract.{q(t)} where person_id in (select person_id from gone)"
            for t in _extract_tables(con)
            if t != "about"
        )
        return sorted(r[0] for r in con.execute(held).fetchall()) if held else []


def evidence_dir(ws: Workspace, project_id: str) -> Path:
    """Where the people behind each output's cells are kept (``bold.studies.evidence``)."""
    return project_dir(ws, project_id) / "evidence"


def evidence_key(ws: Workspace, project_id: str) -> str:
    return encryption.derive(extract_key(ws, project_id), "evidence")


def _remove_from_evidence(ws: Workspace, project_id: str, pseudonyms: list[str]) -> None:
    """Rewrite each output's evidence file without these people (written afresh, like the extract)."""
    folder = evidence_dir(ws, project_id)
    for path in sorted(folder.glob("*.duckdb")) if folder.is_dir() else ():
        if path.name.startswith("."):
            continue
        fresh = path.with_name(f".rewrite-{path.name}")
        fresh.unlink(missing_ok=True)
        key = evidence_key(ws, project_id)
        try:
            with ws.duckdb_connection() as con:
                encryption.attach(con, path, "old", key, read_only=True)
                encryption.attach(con, fresh, "fresh", key)
                con.execute("create temp table gone as select unnest(?::varchar[]) as person_id", [pseudonyms])
                tables = con.execute("select table_name from duckdb_tables() where database_name = 'old'").fetchall()
                for (table,) in tables:
                    t = q(table)
                    columns = {
                        c for (c,) in con.execute(f"select name from pragma_table_info('old.{table}')").fetchall()
                    }
                    keep = " where person_id not in (select person_id from gone)" if "person_id" in columns else ""
                    con.execute(f"create table fresh.{t} as select * from old.{t}{keep}")
            fresh.replace(path)
        finally:
            fresh.unlink(missing_ok=True)


def _columns(con, table: str) -> set[str]:
    return {
        c
        for (c,) in con.execute(
            "select column_name from duckdb_columns() where database_name = 'extract' and table_name = ?", [table]
        ).fetchall()
    }


def _variant_pseudonyms(ws: Workspace, project_id: str, pseudonyms: list[str]) -> list[str]:
    """The pseudonyms at the other thresholds of the records these people's rows hold (extracts built before the
    variants: none), so the evidence of threshold variants forgets them too."""
    with ws.duckdb_connection() as con:
        encryption.attach(con, extract_path(ws, project_id), "extract", extract_key(ws, project_id), read_only=True)
        con.execute("create temp table gone as select unnest(?::varchar[]) as person_id", [pseudonyms])
        found = " union ".join(
            f"select {variant_column(v)} from extract.{q(d)} where person_id in (select person_id from gone)"
            for d in _extract_tables(con)
            for v in THRESHOLDS
            if variant_column(v) in _columns(con, d)
        )
        return sorted({r[0] for r in con.execute(found).fetchall()} - set(pseudonyms)) if found else []


def remove_people(ws: Workspace, project_id: str, pseudonyms: list[str]) -> int:
    """Rewrite the project's extract without these people's rows; rows removed.

    The extract is written afresh and put in place of the old one, so the removed rows do not linger in the
    file's free blocks; a study already reading the old file finishes on it."""
    path = extract_path(ws, project_id)
    if not pseudonyms or not path.exists():
        return 0
    _remove_from_evidence(ws, project_id, [*pseudonyms, *_variant_pseudonyms(ws, project_id, pseudonyms)])
    removed = 0
    with _rewriting(ws, project_id) as con:
        con.execute("create temp table gone as select unnest(?::varchar[]) as person_id", [pseudonyms])
        tables = _extract_tables(con)
        for table in tables:
            t = q(table)
            if table == "about":
                con.execute(f"create table fresh.{t} as select * from extract.{t}")
                continue
            threshold = next((v for v in THRESHOLDS if table == variant_table(v)), None)
            if threshold is not None:  # a person's attributes at another threshold go with their last record
                held = " union ".join(
                    f"select {variant_column(threshold)} from extract.{q(d)} "
                    "where person_id is null or person_id not in (select person_id from gone)"
                    for d in tables
                    if variant_column(threshold) in _columns(con, d)
                )
                keep = f"where person_id in ({held})" if held else ""
                con.execute(f"create table fresh.{t} as select * from extract.{t} {keep}")
                continue
            before = con.execute(f"select count(*) from extract.{t}").fetchone()[0]
            con.execute(
                f"create table fresh.{t} as select * from extract.{t} "
                "where person_id is null or person_id not in (select person_id from gone)"
            )
            removed += before - con.execute(f"select count(*) from fresh.{t}").fetchone()[0]
    return removed


@contextmanager
def _rewriting(ws: Workspace, project_id: str):
    """A connection with the project's extract (``extract``, read-only) and an empty copy (``fresh``, under the
    same key) attached: what the block writes to the copy replaces the extract when it ends without error, so rows
    left out do not linger in the file's free blocks; a study already reading the old file finishes on it."""
    path = extract_path(ws, project_id)
    fresh = path.with_name("extract.rewrite.duckdb")
    fresh.unlink(missing_ok=True)
    try:
        with ws.duckdb_connection() as con:
            key = extract_key(ws, project_id)
            encryption.attach(con, path, "extract", key, read_only=True)
            encryption.attach(con, fresh, "fresh", key)
            yield con
        fresh.replace(path)
    finally:
        fresh.unlink(missing_ok=True)


def drop_dataset(ws: Workspace, project_id: str, dataset: str) -> int | None:
    """Rewrite the project's extract without one dataset (a participant list deleted after its report); the rows
    it held, or None when the extract holds no such dataset (nothing changed)."""
    path = extract_path(ws, project_id)
    if not path.exists():
        return None
    with ws.duckdb_connection() as con:
        encryption.attach(con, path, "extract", extract_key(ws, project_id), read_only=True)
        if dataset not in _extract_tables(con):
            return None
    removed = 0
    with _rewriting(ws, project_id) as con:
        for table in _extract_tables(con):
            if table == dataset:
                removed = con.execute(f"select count(*) from extract.{q(table)}").fetchone()[0]
            else:
                con.execute(f"create table fresh.{q(table)} as select * from extract.{q(table)}")
    return removed
