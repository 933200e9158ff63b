"""Linkers' actions: link the workspace, report on quality; and the tools that need no workspace (linking
a team's own files, custodians encoding identifiers before they send them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bold.actions.access import require
from bold.errors import Kind
from bold.governance.people import User
from bold.governance.permissions import Permission
from bold.linkage import encode as encoding
from bold.linkage import explain as explaining
from bold.linkage import files, review
from bold.linkage import run as runs_stage
from bold.linkage.run import LinkRun, RunSummary, link_workspace
from bold.reports import linkage_report
from bold.sources import load_contract, load_mapping
from bold.workspace import Workspace


def link(
    ws: Workspace,
    user: User,
    *,
    retrain: bool = False,
    encoded: bool = False,
    backend: str = "duckdb",
    incremental: bool = False,
    progress: Callable[[str], None] = lambda phase: None,
) -> LinkRun:
    require(ws, user, Permission.LINK)
    return link_workspace(
        ws,
        retrain=retrain,
        require_encoded=encoded,
        backend=backend,
        incremental_run=incremental,
        progress=progress,
        by=user.name,
    )


def runs(ws: Workspace, user: User, *, limit: int = 20) -> list[RunSummary]:
    """The latest linkage runs, newest first: id, when, records and people found at each threshold."""
    require(ws, user, Permission.LINK)
    return runs_stage.runs(ws, limit)


def report(
    ws: Workspace, user: User, *, run: int | None = None, truth: Path | None = None, out: Path | None = None
) -> Path:
    require(ws, user, Permission.LINK_REPORT)
    if truth is not None:  # it records the recall it measures with the run, in the links zone: the linker's
        require(ws, user, Permission.LINK)
    if truth is not None and not (truth / "records.parquet").exists():
        raise files.LinkError(f"--truth {truth}: no records.parquet there; give the truth/ folder bold synth wrote")
    return linkage_report.build(ws, out, run, truth, by=user.name)


def explain(ws: Workspace, user: User, key_l: str, key_r: str, *, out: Path | None = None) -> explaining.Explanation:
    """The waterfall of one pair of the workspace's records: the linker only, since it shows identifiers."""
    require(ws, user, Permission.LINK)
    return explaining.explain_workspace(ws, key_l, key_r, out, by=user.name)


def explain_files(folder: Path, id_l: str, id_r: str, *, out: Path | None = None) -> explaining.Explanation:
    """The waterfall of one pair of a ``bold link-files`` run (the person's own files)."""
    return explaining.explain_files(folder, id_l, id_r, out)


def review_sample(
    ws: Workspace,
    user: User,
    *,
    out: Path | None = None,
    size: int = 100,
    low: float = 0.3,
    high: float = 0.99,
    seed: int = 1,
) -> review.Sample:
    """Pairs around the threshold for clerical review, identifiers side by side: the linker only."""
    require(ws, user, Permission.LINK)
    return review.sample_workspace(ws, out, size, low, high, seed, by=user.name)


def review_labels(ws: Workspace, user: User, labels: Path, *, threshold: float = 0.9) -> review.Estimate:
    """Precision and recall at ``threshold`` estimated from a labelled review sample: the linker only."""
    require(ws, user, Permission.LINK)
    return review.labels_workspace(ws, labels, threshold, by=user.name)


def review_files_sample(
    folder: Path, *, out: Path | None = None, size: int = 100, low: float = 0.3, high: float = 0.99, seed: int = 1
) -> review.Sample:
    return review.sample_files(folder, out, size, low, high, seed)


def review_files_labels(folder: Path, labels: Path, *, threshold: float = 0.9) -> review.Estimate:
    return review.labels_files(folder, labels, threshold)


def link_files(
    paths: list[Path],
    id_column: str | None,
    out: Path,
    *,
    maps: list[str] | None = None,
    date_format: str = "%Y-%m-%d",
    threshold: float = 0.9,
    pairs_threshold: float = 0.5,
    model: Path | None = None,
    progress: Callable[[str], None] = lambda phase: None,
    id_a: str | None = None,
    id_b: str | None = None,
    maps_a: list[str] | None = None,
    maps_b: list[str] | None = None,
    date_format_a: str | None = None,
    date_format_b: str | None = None,
    mapping_a: Path | None = None,
    mapping_b: Path | None = None,
) -> files.LinkFilesResult:
    """Link two files, or deduplicate one, outside any workspace (a team's own data, on its own machine).

    ``id_column``, ``maps`` and ``date_format`` hold for both files; the ``_a`` / ``_b`` options (and a mapping
    file per input) override them for one file, so files of different shapes link. Precedence, lowest first:
    shared options, the file's mapping file, the file's own options."""
    mapping = files.parse_map(maps or [])
    per_file = []
    for tag, id_, own_maps, fmt, mapping_file in (
        ("a", id_a, maps_a, date_format_a, mapping_a),
        ("b", id_b, maps_b, date_format_b, mapping_b),
    ):
        spec = files.load_mapping_file(mapping_file) if mapping_file is not None else files.FileMapping()
        spec = files.FileMapping(id_, files.parse_map(own_maps or [], f"--map-{tag}"), fmt).over(spec)
        per_file.append(spec)
    if len(paths) == 1 and per_file[1] != files.FileMapping():
        raise files.LinkError("options for file b (--id-b, --map-b, --date-format-b, --mapping-b) need a second file")
    return files.link_files(
        paths,
        id_column,
        mapping,
        out,
        date_format,
        threshold,
        pairs_threshold,
        model,
        progress=progress,
        per_file=per_file[: len(paths)],
    )


def encode(
    file: Path,
    source: str,
    secret: Path,
    out: Path,
    *,
    new_secret: bool = False,
    mapping: Path | None = None,
    text_encoding: str = "utf-8",
) -> dict:
    """Custodians, before sending a file: identifiers to keyed Bloom-filter encodings."""
    if new_secret:
        if secret.exists():
            raise encoding.SecretError(f"{secret} already exists; drop --new-secret to use it", kind=Kind.CONFLICT)
        encoding.make_secret(secret)
    columns = load_mapping(mapping, load_contract(source)) if mapping else None
    return encoding.encode_file(file, source, secret, out, columns, text_encoding)
