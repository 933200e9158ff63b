"""The report a project publishes: one HTML page built from its released outputs only.

Nothing here reads a pending output, a checked folder or a zone: each release's files are read from the
project's release folder after their checksums are verified (a release whose files changed is left out and
named), so the page can only show what two output checkers approved. Charts are the released SVGs, tables the
released CSVs, each with its study's definition, the disclosure profile and what the check did.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bold import html, store
from bold.disclosure import release
from bold.security.paths import holds, output_path
from bold.security.private import write_private
from bold.workspace import Workspace, now

MARKER = b"<title>BOLD released findings"  # in every page this module writes


def write(ws: Workspace, project_id: str, out: Path, *, by: str) -> tuple[Path, list[str], list[str]]:
    """Write the page to ``out`` (outside the workspace, or under its ``reports/``; never over a file BOLD
    did not write), audited."""
    out = output_path(
        out,
        kind="release report",
        workspace=ws.root,
        inside="reports",
        suffixes=(".html",),
        written_by_bold=holds(MARKER),
    )
    page, shown, left_out = build(ws, project_id)
    write_private(out, page)
    store.audit.record(ws, "releases report", project_id, {"releases": shown, "left_out": left_out}, by=by)
    return out, shown, left_out


def sections(ws: Workspace, project_id: str) -> tuple[list[dict], list[str]]:
    """Each release whose files are intact, with its manifest, charts (SVG text) and tables (data frames);
    and the releases left out because their files changed."""
    left_out, found_sections = [], []
    for found in release.list_releases(ws, project_id):
        if release.verify(found):
            left_out.append(found.id)
            continue
        manifest = json.loads((found.folder / "release.json").read_text())
        names = sorted(found.checksums)
        charts = [(n.removesuffix(".svg"), (found.folder / n).read_text()) for n in names if n.endswith(".svg")]
        tables = [(n.removesuffix(".csv"), pd.read_csv(found.folder / n)) for n in names if n.endswith(".csv")]
        found_sections.append({"release": found, "manifest": manifest, "charts": charts, "tables": tables})
    return found_sections, left_out


def build(ws: Workspace, project_id: str) -> tuple[str, list[str], list[str]]:
    """The page, the releases it shows and the releases left out because their files changed."""
    found_sections, left_out = sections(ws, project_id)
    # not strict: a release.json an older BOLD wrote may lack a field this page shows (shown empty, not an error)
    page = (
        html.environment("bold.reports", strict=False)
        .get_template("released.html")
        .render(project=project_id, sections=found_sections, left_out=left_out, made_at=now())
    )
    return page, [s["release"].id for s in found_sections], left_out
