"""Pending outputs: what a study run produced, kept inside the workspace until disclosure checking.

A study's tables and charts never go straight to the analyst. Each run writes a folder
``outputs/<project>/<output id>/`` (owner-only permissions) with one CSV per table, each chart as Vega-Lite JSON
and SVG, ``index.html`` (the whole output on one page, charts inline) and ``manifest.json`` describing the run
(study, definition, parameters, agreed fields used, engine) with a SHA-256 checksum per file; the output is
registered as ``pending`` in the governance store. Only an output checker named in the project's agreement may
read a pending output.

Crash safety (docs/security.md): the files are written in a temporary folder ``.partial-<pid>-<output id>``
and renamed into place inside the store transaction that registers the output, just before it commits. An
output is only ever read through its store row, so a folder with no row (a run killed before it committed) is
never seen; the next run in the project removes such folders, and the temporary folders of processes that
no longer run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bold import faults, html, store
from bold.errors import Kind
from bold.governance.lifecycle import OUTPUT, OutputState
from bold.governance.projects import Project
from bold.security.paths import check_name
from bold.security.private import new_dir, private_dir, process_alive, write_private
from bold.studies import evidence as evidence_store
from bold.studies import statistics
from bold.studies.language import Evidence, StudyError
from bold.studies.study import Study, StudyOutput
from bold.workspace import Workspace, now


@dataclass(frozen=True)
class PendingOutput:
    id: str
    project: str
    study: str
    status: OutputState
    created_by: str
    created_at: str
    folder: Path
    manifest_sha256: str = ""  # the manifest's checksum as the store recorded it when the output was made
    # People removed from the project's extract by opt-outs added after this output was made (it may count them):
    # the output checkers see it before releasing anything.
    optout_people: int = 0
    optout_marked_at: str | None = None
    profile: str | None = None  # the disclosure check (bold.disclosure.check): profile@version, when, outcome
    checked_at: str | None = None
    check_outcome: str | None = None
    check_sha256: str | None = None  # of checked/manifest.json, as the store recorded it

    @property
    def optout_note(self) -> str | None:
        if not self.optout_people:
            return None
        return (
            f"made before {self.optout_people:,} people in its extract opted out "
            f"(marked {(self.optout_marked_at or '')[:16]}): its figures may count them; "
            "run the study again rather than release it"
        )

    def manifest(self) -> dict:
        return json.loads((self.folder / "manifest.json").read_text())

    def table(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.folder / f"{name}.csv")


def outputs_dir(ws: Workspace, project_id: str) -> Path:
    return ws.root / "outputs" / check_name(project_id, "project id")


def _write_checksummed(path: Path, data: bytes) -> str:
    """Write a new owner-only file; its checksum for the manifest."""
    write_private(path, data, exclusive=True)
    return hashlib.sha256(data).hexdigest()


def write_pending(
    ws: Workspace,
    project: Project,
    study: Study,
    result: StudyOutput,
    run: dict,
    *,
    by: str,
    evidence: list[Evidence] = (),
) -> PendingOutput:
    """Write the run's files (and, in the project's secure area, the evidence of who stands behind each
    cell), register the output as pending and record the run, in one transaction."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    output_id = f"{study.id}-{stamp}-{secrets.token_hex(2)}"
    final = outputs_dir(ws, project.id) / check_name(output_id, "output id")
    private_dir(final.parent)
    folder = final.parent / f"{PARTIAL}{os.getpid()}-{output_id}"
    new_dir(folder)  # a new folder for each run, renamed into place once complete (the group's, if set up)
    files: dict[str, str] = {}
    for name, table in {**result.tables, **result.reference}.items():
        files[f"{name}.csv"] = _write_checksummed(folder / f"{name}.csv", table.to_csv(index=False).encode())
    svgs = {}
    faults.point("study:partial")
    for name, chart in result.charts.items():
        files[f"{name}.vl.json"] = _write_checksummed(folder / f"{name}.vl.json", chart.to_json().encode())
        svg = io.StringIO()
        chart.save(svg, format="svg")
        svgs[name] = svg.getvalue()
        files[f"{name}.svg"] = _write_checksummed(folder / f"{name}.svg", svgs[name].encode())
    manifest = {
        "output": output_id,
        "project": project.id,
        "study": study.id,
        "title": study.title,
        "question": study.question,
        "definition": study.definition,
        "status": "pending",
        "created_by": by,
        "created_at": now(),
        **run,
        "tables": {name: {"rows": len(t), "columns": [str(c) for c in t.columns]} for name, t in result.tables.items()},
        "reference": {
            name: {"rows": len(t), "columns": [str(c) for c in t.columns]} for name, t in result.reference.items()
        },
        "charts": sorted(result.charts),
        "chart_tables": {name: _drawn_from(chart, result.tables) for name, chart in result.charts.items()},
        "notes": result.notes,
        # what each column is (studies.statistics), for the disclosure checks; a column missing here has none
        "statistics": {
            name: {column: stat.describe() for column, stat in statistics.declared(table).items()}
            for name, table in {**result.tables, **result.reference}.items()
        },
        "files": files,
    }
    files["index.html"] = _write_checksummed(folder / "index.html", _page(manifest, result, svgs).encode())
    text = json.dumps(manifest, indent=2, default=str).encode()
    digest = _write_checksummed(folder / "manifest.json", text)
    kept = evidence_store.path(ws, project.id, output_id)
    staged = kept.with_name(f"{PARTIAL}{os.getpid()}-{kept.name}")
    try:
        evidence_store.write(ws, project.id, staged, list(evidence))
        with store.transaction(ws) as tx:
            removed = _remove_strays(ws, tx, project.id)
            if removed:
                tx.audit(by, "outputs recovered", project.id, {"removed_unregistered_folders": removed})
            tx.execute(
                "insert into outputs (id, project, study, status, created_by, created_at, manifest_sha256) "
                "values (?, ?, ?, ?, ?, ?, ?)",
                (output_id, project.id, study.id, OUTPUT.initial.value, by, manifest["created_at"], digest),
            )
            tx.audit(
                by,
                "study run",
                project.id,
                {"study": study.id, "output": output_id, "engine": run["engine"], "fields_used": run["fields_used"]},
            )
            staged.rename(kept)
            folder.rename(final)  # under the write lock: a stray-folder sweep never sees it unregistered
            faults.point("study:after-rename")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        staged.unlink(missing_ok=True)
        kept.unlink(missing_ok=True)
        raise
    return get(ws, project.id, output_id)


PARTIAL = ".partial-"


def _drawn_from(chart, tables: dict[str, pd.DataFrame]) -> str | None:
    """The one table a chart draws (found by identity in the chart and its layers), so disclosure control can
    redraw it from that table's protected version; ``None`` when it draws anything else."""
    found, stack = set(), [chart]
    while stack:
        part = stack.pop()
        data = getattr(part, "data", None)
        if isinstance(data, pd.DataFrame):
            names = [name for name, table in tables.items() if table is data]
            found.add(names[0] if names else None)
        for attr in ("layer", "concat", "hconcat", "vconcat"):
            stack.extend(getattr(part, attr, None) or [])
    return found.pop() if len(found) == 1 else None


def leftover(name: str, known: set[str] = frozenset()) -> bool:
    """Whether a file or folder named ``name`` is left over: a temporary (``.partial-<pid>-...``) of a process
    that has ended, or a finished one that no store row in ``known`` names."""
    if name.startswith(PARTIAL):
        pid = name.removeprefix(PARTIAL).split("-", 1)[0]
        return not (pid.isdigit() and (int(pid) == os.getpid() or process_alive(int(pid))))
    return name not in known


def _remove_strays(ws: Workspace, tx, project_id: str) -> list[str]:
    """Remove output folders no store row names (a run killed as it committed) and temporary folders of
    processes that have ended (a run killed while writing). Called holding the store's write lock, under which
    every rename into place happens, so a folder seen here without its row has lost it for good."""
    folder = outputs_dir(ws, project_id)
    known = {r[0] for r in tx.execute("select id from outputs where project = ?", (project_id,))}
    removed = []
    kept = evidence_store.folder(ws, project_id)
    for path in kept.glob("*.duckdb") if kept.is_dir() else ():
        if leftover(path.name.removesuffix(".duckdb"), known):
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".wal").unlink(missing_ok=True)
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.is_dir() and leftover(path.name, known):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def _page(manifest: dict, result: StudyOutput, svgs: dict[str, str]) -> str:
    """One self-contained HTML page (charts inline, no scripts) for the output checkers to read."""
    tables = {**result.tables, **result.reference}
    return html.environment("bold.studies").get_template("output.html").render(m=manifest, charts=svgs, tables=tables)


def _row(ws: Workspace, row) -> PendingOutput:
    return PendingOutput(
        id=row["id"],
        project=row["project"],
        study=row["study"],
        status=OutputState(row["status"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        folder=outputs_dir(ws, row["project"]) / check_name(row["id"], "output id"),
        manifest_sha256=row["manifest_sha256"],
        optout_people=row["optout_people"],
        optout_marked_at=row["optout_marked_at"],
        profile=row["profile"],
        checked_at=row["checked_at"],
        check_outcome=row["check_outcome"],
        check_sha256=row["check_sha256"],
    )


def get(ws: Workspace, project_id: str, output_id: str) -> PendingOutput:
    check_name(project_id, "project id")
    check_name(output_id, "output id")
    with store.connect(ws) as db:
        row = db.execute("select * from outputs where project = ? and id = ?", (project_id, output_id)).fetchone()
    if row is None:
        raise StudyError(f"project {project_id} has no output {output_id!r}", kind=Kind.NOT_FOUND)
    return _row(ws, row)


def list_outputs(ws: Workspace, project_id: str) -> list[PendingOutput]:
    with store.connect(ws) as db:
        rows = db.execute("select * from outputs where project = ? order by created_at", (project_id,)).fetchall()
    return [_row(ws, r) for r in rows]


def all_outputs(ws: Workspace) -> list[PendingOutput]:
    """Every output of every project, oldest first."""
    with store.connect(ws) as db:
        rows = db.execute("select * from outputs order by created_at, id").fetchall()
    return [_row(ws, r) for r in rows]


def verify_files(output: PendingOutput) -> list[str]:
    """Files that differ from what was made (empty when intact): ``manifest.json`` when it no longer has the
    checksum the store recorded (so a file edited together with its manifest is caught), and each file whose
    checksum no longer matches the manifest."""
    try:
        text = (output.folder / "manifest.json").read_bytes()
        files = json.loads(text)["files"]
        if not isinstance(files, dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        return ["manifest.json"]
    bad = []
    if output.manifest_sha256 and hashlib.sha256(text).hexdigest() != output.manifest_sha256:
        bad.append("manifest.json")
    for name, digest in files.items():
        path = output.folder / name
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(name)
    return bad


def check_reader(project: Project, output: PendingOutput, name: str) -> None:
    """Only an output checker named in the project's agreement, and never the person who ran the study,
    may read a pending output."""
    checkers = {p.name for p in project.agreement.people if p.role == "output_checker"}
    if name not in checkers:
        raise StudyError(f"{name} is not an output checker of project {project.id}", kind=Kind.REFUSED)
    if name == output.created_by:
        raise StudyError(f"{name} ran this study and may not check its output", kind=Kind.REFUSED)


def waiting(ws: Workspace) -> int:
    """Outputs waiting for the output checkers, over every project."""
    with store.connect(ws) as db:
        return db.execute("select count(*) from outputs where status = ?", (OutputState.PENDING.value,)).fetchone()[0]
