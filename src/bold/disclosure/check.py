"""The disclosure check of one output: protect its tables under the agreement's profile, look for differencing
against the project's other outputs, and write what could be released beside what was made.

What the check writes, in the output's folder, is ``checked/``: the protected tables (suppressed cells empty),
each chart redrawn from the protected table it shows (a chart whose data cannot be traced to one table is
withheld), ``index.html``, ``report.json`` (the profile, each flag with its rule and reason, the attacker's
interval for each suppressed count, differencing conflicts; never a suppressed value) and ``manifest.json``
with the SHA-256 of each file. The output's store row records the profile, the outcome ("pass": the rules
settled everything; "review": something needs the checkers' judgement) and the checksum of the checked
manifest, with an audit entry, in one transaction; the folder is written beside and renamed into place as it
commits, so a check killed half-way leaves the previous check (or none) in force.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import vl_convert

from bold import html, store
from bold.disclosure import differencing
from bold.disclosure.profiles import Profile, profile
from bold.disclosure.protect import Flag, Protection, protect
from bold.errors import Conflict, Kind
from bold.governance import projects
from bold.governance.lifecycle import OutputState
from bold.security.private import private_dir, write_private
from bold.studies import evidence as evidence_store
from bold.studies import outputs
from bold.studies.language import StudyError
from bold.studies.statistics import Kind as StatKind
from bold.studies.statistics import Stat
from bold.workspace import Workspace, now

CHECKED = "checked"
S = OutputState
LIVE = {s.value for s in (S.PENDING, S.REQUESTED, S.RETURNED, S.APPROVED, S.RELEASED)}  # are or may be published
CHECKABLE = {S.PENDING.value, S.RETURNED.value}  # what the checkers review never changes under them


class CheckError(StudyError):
    """An output that cannot be checked as asked."""


@dataclass
class CheckedOutput:
    output: outputs.PendingOutput
    profile: Profile
    protection: Protection
    conflicts: list[differencing.Conflict]
    report: dict

    @property
    def outcome(self) -> str:
        return self.report["outcome"]


def checked_folder(output: outputs.PendingOutput) -> Path:
    return output.folder / CHECKED


def checked_files(output: outputs.PendingOutput) -> dict[str, str]:
    """The files a release would hold (name -> SHA-256), as the checked manifest lists them; the manifest is
    checked against the store's record first, so an edited checked folder is refused."""
    if not output.check_sha256:
        raise CheckError(f"output {output.id} has not been checked: run bold outputs check", kind=Kind.CONFLICT)
    path = checked_folder(output) / "manifest.json"
    try:
        text = path.read_bytes()
    except OSError:
        raise CheckError(f"output {output.id}: its checked files are missing", kind=Kind.CONFLICT) from None
    if hashlib.sha256(text).hexdigest() != output.check_sha256:
        raise CheckError(f"output {output.id}: its checked files were changed after the check", kind=Kind.CONFLICT)
    files = json.loads(text)["files"]
    for name, digest in files.items():
        path = checked_folder(output) / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise CheckError(
                f"output {output.id}: its checked file {name} was changed after the check", kind=Kind.CONFLICT
            )
    return {**files, "manifest.json": output.check_sha256}


def report(output: outputs.PendingOutput) -> dict:
    """The check report of an output (verified against the store's record of its checked manifest)."""
    checked_files(output)
    return json.loads((checked_folder(output) / "report.json").read_bytes())


def for_analyst(full: dict) -> dict:
    """What the analyst may see of a report: which rule flagged which cell, never an interval, and of
    differencing only that a cell conflicts with an earlier output."""
    seen = {k: v for k, v in full.items() if k not in ("intervals", "differencing")}
    seen["differencing"] = [
        {"table": d["table"], "row": d["row"], "column": d["column"], "reason": "conflicts with an earlier output"}
        for d in full.get("differencing", [])
    ]
    return seen


def _kinds(manifest: dict) -> dict[str, dict[str, Stat]]:
    declared = manifest.get("statistics", {})
    return {
        table: {
            column: Stat(kind=StatKind(d["kind"]), **{k: v for k, v in d.items() if k != "kind"})
            for column, d in columns.items()
        }
        for table, columns in declared.items()
    }


def check_output(ws: Workspace, project_id: str, output_id: str, *, by: str) -> CheckedOutput:
    """Check one output under its project's disclosure profile and record the result."""
    project = projects.get(ws, project_id)
    output = outputs.get(ws, project_id, output_id)
    if output.status.value not in CHECKABLE:
        raise CheckError(
            f"output {output_id} is {output.status.value}: only a pending or returned output can be checked",
            kind=Kind.CONFLICT,
        )
    damaged = outputs.verify_files(output)
    if damaged:
        raise CheckError(f"output {output_id}: {', '.join(damaged)} changed since the study ran", kind=Kind.CONFLICT)
    chosen = profile(project.agreement.disclosure_profile)
    manifest = output.manifest()
    tables = {name: output.table(name) for name in manifest["tables"]}
    evidence = evidence_store.read(ws, project_id, output_id)
    protection = protect(tables, _kinds(manifest), evidence, chosen)
    conflicts = _differencing(ws, project_id, output_id, protection, chosen)
    for c in conflicts:
        protection.flags.append(
            Flag(c.table, c.row, c.column, "differencing", "review", "conflicts with an earlier output")
        )
    full = {
        "output": output_id,
        "project": project_id,
        "study": output.study,
        "profile": {"name": chosen.name, "version": chosen.version, "source": chosen.source},
        "checked_at": now(),
        "checked_by": by,
        "outcome": protection.outcome,
        "summary": protection.summary(),
        "flags": [f.describe() for f in protection.flags],
        "intervals": protection.intervals,
        "differencing": [c.__dict__ for c in conflicts],
        "evidence": "people counted from person keys" if evidence else "no per-person evidence (an older output)",
    }
    _write(ws, project_id, output, manifest, protection, full, chosen, by)
    return CheckedOutput(outputs.get(ws, project_id, output_id), chosen, protection, conflicts, full)


def _differencing(ws: Workspace, project_id: str, output_id: str, protection: Protection, chosen: Profile):
    own = evidence_store.path(ws, project_id, output_id)
    others = {
        o.id: evidence_store.path(ws, project_id, o.id)
        for o in outputs.list_outputs(ws, project_id)
        if o.id != output_id and o.status.value in LIVE and o.check_sha256
    }
    others = {k: p for k, p in others.items() if p.exists()}
    key = evidence_store.key(ws, project_id)
    if own.exists():
        differencing.keep(ws, own, key, protection.members)
    return differencing.find(ws, key, protection.members, others, chosen.min_people - 1)


def _json_safe(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _chart(output: outputs.PendingOutput, name: str, table: pd.DataFrame) -> tuple[str, str]:
    """The chart's Vega-Lite spec with every dataset replaced by the protected table, and its SVG."""
    spec = json.loads((output.folder / f"{name}.vl.json").read_text())
    records = [{k: _json_safe(v) for k, v in row.items()} for row in table.to_dict("records")]
    for key in spec.get("datasets", {}):
        spec["datasets"][key] = records
    text = json.dumps(spec, indent=2)
    return text, vl_convert.vegalite_to_svg(text)


def _write(ws, project_id, output, manifest, protection: Protection, full: dict, chosen: Profile, by: str) -> None:
    final = checked_folder(output)
    for stale in output.folder.glob(f"{outputs.PARTIAL}*"):  # what a check killed half-way left behind
        if stale.is_dir() and outputs.leftover(stale.name):
            shutil.rmtree(stale, ignore_errors=True)
    folder = output.folder / f"{outputs.PARTIAL}{os.getpid()}-{CHECKED}"
    shutil.rmtree(folder, ignore_errors=True)
    private_dir(folder)
    files: dict[str, str] = {}

    def put(name: str, data: bytes) -> None:
        write_private(folder / name, data, exclusive=True)
        files[name] = hashlib.sha256(data).hexdigest()

    for name, table in protection.tables.items():
        put(f"{name}.csv", table.to_csv(index=False).encode())
    for name in manifest.get("reference", {}):
        put(f"{name}.csv", (output.folder / f"{name}.csv").read_bytes())
    svgs, withheld = {}, []
    for name in manifest.get("charts", []):
        source = manifest.get("chart_tables", {}).get(name)
        if source not in protection.tables:
            withheld.append(name)
            full["flags"].append(
                {
                    "table": None,
                    "row": None,
                    "column": None,
                    "rule": "chart",
                    "outcome": "review",
                    "reason": f"chart {name} is withheld: its data cannot be traced to one checked table",
                }
            )
            continue
        spec, svgs[name] = _chart(output, name, protection.tables[source])
        put(f"{name}.vl.json", spec.encode())
        put(f"{name}.svg", svgs[name].encode())
    if withheld:
        full["outcome"] = "review"
    put("report.json", json.dumps(full, indent=2, default=str).encode())
    put("index.html", _page(manifest, protection, full, svgs).encode())
    checked = {"output": output.id, "profile": full["profile"], "checked_at": full["checked_at"], "files": files}
    text = json.dumps(checked, indent=2).encode()
    write_private(folder / "manifest.json", text, exclusive=True)
    digest = hashlib.sha256(text).hexdigest()
    old = output.folder / f"{outputs.PARTIAL}{os.getpid()}-replaced"
    try:
        with store.transaction(ws) as tx:
            row = tx.execute("select status from outputs where id = ?", (output.id,)).fetchone()
            if row is None or row[0] not in CHECKABLE:
                raise Conflict(f"output {output.id} changed state while it was checked; check it again")
            tx.execute(
                "update outputs set profile = ?, checked_at = ?, check_outcome = ?, check_sha256 = ? where id = ?",
                (f"{chosen.name}@{chosen.version}", full["checked_at"], full["outcome"], digest, output.id),
            )
            tx.audit(
                by,
                "output checked",
                project_id,
                {"output": output.id, "profile": chosen.name, "outcome": full["outcome"], **full["summary"]},
            )
            if final.exists():
                final.rename(old)
            folder.rename(final)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _page(manifest: dict, protection: Protection, full: dict, svgs: dict[str, str]) -> str:
    return (
        html.environment("bold.disclosure")
        .get_template("checked.html")
        .render(m=manifest, r=full, charts=svgs, tables=protection.tables)
    )
