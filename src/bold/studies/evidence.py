"""The people behind an output's cells, kept in the project's secure area for disclosure control.

Each study run keeps its summaries' per-person evidence (``language.Evidence``) in
``projects/<project>/evidence/<output>.duckdb``, encrypted under a key derived from the project key, like the
extract: it holds project pseudonyms and each person's share of each cell, never identifiers, and only the
disclosure stage reads it (to count people, judge dominance and find differencing between outputs). Closing the
project deletes the key and the files; a later opt-out removes the person from them
(``governance.projects.remove_people``).
"""

from __future__ import annotations

import json
from pathlib import Path

from bold.governance import projects
from bold.security import encryption
from bold.security.paths import check_name
from bold.studies.language import Evidence
from bold.workspace import Workspace


def folder(ws: Workspace, project_id: str) -> Path:
    return projects.evidence_dir(ws, project_id)


def path(ws: Workspace, project_id: str, output_id: str) -> Path:
    return folder(ws, project_id) / f"{check_name(output_id, 'output id')}.duckdb"


def key(ws: Workspace, project_id: str) -> str:
    return projects.evidence_key(ws, project_id)


def write(ws: Workspace, project_id: str, target: Path, evidence: list[Evidence]) -> None:
    """Write the run's evidence to ``target`` (a new file: the caller renames it into place as it commits)."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with ws.duckdb_connection() as con:
        encryption.attach(con, target, "ev", key(ws, project_id))
        con.execute("create table ev.summaries (summary integer, by_columns varchar)")
        for i, summary in enumerate(evidence):
            con.execute("insert into ev.summaries values (?, ?)", [i, json.dumps(list(summary.by))])
            frame = summary.frame  # noqa: F841 (read by DuckDB below)
            con.execute(f"create table ev.s{i} as select * from frame")
        con.execute("detach ev")


def read(ws: Workspace, project_id: str, output_id: str) -> list[Evidence]:
    """An output's evidence (empty for outputs made before evidence was kept)."""
    source = path(ws, project_id, output_id)
    if not source.exists():
        return []
    with ws.duckdb_connection() as con:
        encryption.attach(con, source, "ev", key(ws, project_id), read_only=True)
        rows = con.execute("select summary, by_columns from ev.summaries order by summary").fetchall()
        return [Evidence(tuple(json.loads(by)), con.execute(f"select * from ev.s{i}").df()) for i, by in rows]
