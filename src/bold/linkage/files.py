"""``bold link-files``: link two files, or deduplicate one, outside any workspace.

The tool a linkage team reaches for, and how BOLD is compared with other tools: the same
comparisons, blocking and unsupervised training as workspace linkage, on any CSV or Parquet file
whose columns are mapped to identifier roles.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from splink import DuckDBAPI, Linker

from bold import machine, yamlfile
from bold.errors import Invalid
from bold.ingest.reader import file_format
from bold.ingest.rules import q, sql_text
from bold.linkage import explain, features, model
from bold.security.paths import holds, output_folder
from bold.security.private import owner_only


class LinkError(Invalid):
    """The files or the mapping cannot be linked as asked."""


@dataclass
class LinkFilesResult:
    records: int
    pairs: int
    clusters: int
    out: Path
    model: str = "trained"  # trained, default (too few pairs to train) or the --model file given
    notice: str | None = None  # why the default model was used


@dataclass
class FileMapping:
    """How one input's columns are read: its id column, ``role: column`` and date format. Anything left
    unset (None, or a role not in ``columns``) comes from the options shared by both files."""

    id_column: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None

    def over(self, shared: FileMapping) -> FileMapping:
        """This file's mapping laid over the shared one: its own values win, role by role."""
        return FileMapping(
            self.id_column or shared.id_column,
            {**shared.columns, **self.columns},
            self.date_format or shared.date_format,
        )


def parse_map(items: list[str], option: str = "--map") -> dict[str, str]:
    roles: dict[str, str] = {}
    for item in items:
        role, sep, column = item.partition("=")
        role, column = role.strip(), column.strip()
        if not sep or not role or not column:
            raise LinkError(f"{option} {item!r}: expected ROLE=COLUMN, e.g. forename=given_name")
        if role not in features.FILE_ROLES:
            raise LinkError(f"{option} {item!r}: unknown role {role!r}; roles are {', '.join(features.FILE_ROLES)}")
        if role in roles:
            raise LinkError(f"{option}: role {role!r} mapped twice")
        roles[role] = column
    return roles


MAPPING_KEYS = ("id", "date_format", "columns")


def load_mapping_file(path: Path) -> FileMapping:
    """A mapping file for one input (YAML): ``id: COLUMN``, ``date_format: FORMAT`` and
    ``columns: {ROLE: COLUMN}``, each optional. Errors name the file and the line, never a value."""
    data, _, node = yamlfile.read(path, "the mapping file", LinkError)
    data = data if data is not None else {}
    expected = f"expected keys {', '.join(MAPPING_KEYS)} (columns: lines of 'ROLE: COLUMN')"
    if not isinstance(data, dict):
        raise LinkError(f"{path}: {expected}")
    for key in data:
        if key not in MAPPING_KEYS:
            raise LinkError(f"{path}: line {yamlfile.line_of(node, (key,))}: unknown key; {expected}")
    for key in ("id", "date_format"):
        if key in data and not (isinstance(data[key], str) and data[key].strip()):
            raise LinkError(f"{path}: line {yamlfile.line_of(node, (key,))}: {key} must be a column name" if key ==
                            "id" else f"{path}: line {yamlfile.line_of(node, (key,))}: date_format must be text, "
                            "e.g. '%Y%m%d'")  # fmt: skip
    columns = data.get("columns") or {}
    if not isinstance(columns, dict):
        raise LinkError(f"{path}: line {yamlfile.line_of(node, ('columns',))}: columns: {expected}")
    for role, column in columns.items():
        line = yamlfile.line_of(node, ("columns", role))
        if not (isinstance(role, str) and isinstance(column, str) and column.strip()):
            raise LinkError(f"{path}: line {line}: expected 'ROLE: COLUMN' under columns")
        if role not in features.FILE_ROLES:
            raise LinkError(f"{path}: line {line}: unknown role; roles are {', '.join(features.FILE_ROLES)}")
    return FileMapping(data.get("id"), {r: c.strip() for r, c in columns.items()}, data.get("date_format"))


def _load(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> list[str]:
    if not path.is_file():
        raise LinkError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise LinkError(f"{path}: the file is empty")
    source = (
        f"read_parquet({sql_text(str(path))})"
        if file_format(path) == "parquet"
        else f"read_csv({sql_text(str(path))}, header = true, all_varchar = true)"
    )
    try:
        cols = [d[0] for d in con.execute(f"describe select * from {source}").fetchall()]
        select = ", ".join(f"{q(c)}::varchar as {q(c)}" for c in cols)
        con.execute(f"create or replace table {name} as select {select} from {source}")
    except duckdb.Error as exc:
        raise LinkError(f"{path}: cannot read the file: {str(exc).splitlines()[0]}") from None
    return cols


def _roles_for(path: Path, columns: list[str], id_column: str | None, mapping: dict[str, str]) -> dict[str, str]:
    if id_column is None:
        raise LinkError(f"{path}: no id column given; give --id COLUMN (or --id-a / --id-b, or id: in a mapping file)")
    if id_column not in columns:
        raise LinkError(f"{path}: id column {id_column!r} not found; columns are {', '.join(columns)}")
    if mapping:
        missing = [f"{r}={c}" for r, c in mapping.items() if c not in columns]
        if missing:
            raise LinkError(
                f"{path}: mapped column(s) not found: {', '.join(missing)}; columns are {', '.join(columns)}"
            )
        return dict(mapping)
    by_name = {c.lower(): c for c in columns}
    roles = {role: by_name[role] for role in features.FILE_ROLES if role in by_name}
    if not roles:
        raise LinkError(
            f"{path}: no column is named after an identifier role; map them with --map ROLE=COLUMN "
            f"(roles: {', '.join(features.FILE_ROLES)})"
        )
    return roles


RECORDS_MARKER = b"bold-link-files-records"  # Parquet key-value metadata of records.parquet


def _check_date_format(con, date_format: str, option: str) -> None:
    try:
        con.execute(f"select try_strptime('2000-01-01', {sql_text(date_format)})")
    except duckdb.Error as exc:
        raise LinkError(f"{option} {date_format!r}: {str(exc).splitlines()[0]}") from None


def _saved_model(path: Path, link_type: str) -> dict:
    """A model.json that link-files or ``bold link`` wrote, set to this run's link type."""
    try:
        saved = json.loads(path.read_text())
        if not isinstance(saved, dict) or "comparisons" not in saved:
            raise ValueError("not a Splink model")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise LinkError(
            f"{path}: cannot use the model ({str(exc).splitlines()[0] or type(exc).__name__}); give a model.json "
            "that bold link-files or bold link wrote"
        ) from None
    return model.with_link_type(saved, link_type)


# What link-files writes, each with what marks it as written by link-files (an --out never overwrites others).
OUTPUT_FILES = {
    "pairs.csv": holds(b"id_l,id_r,match_probability"),
    "clusters.csv": holds(b"id,cluster_id"),
    "model.json": holds(b'"link_type"'),
    "records.parquet": holds(RECORDS_MARKER),
}


def link_files(
    paths: list[Path],
    id_column: str | None,
    mapping: dict[str, str],
    out: Path,
    date_format: str = "%Y-%m-%d",
    threshold: float = 0.9,
    pairs_threshold: float = 0.5,
    model_path: Path | None = None,
    progress=lambda phase: None,
    per_file: list[FileMapping | None] | None = None,
) -> LinkFilesResult:
    """Link two files or deduplicate one. ``id_column``, ``mapping`` and ``date_format`` hold for every file;
    ``per_file`` (one entry per path, or None) overrides them file by file, so two files of different shapes
    (a full-identifier file and an initials-only one) can be linked."""
    if not 1 <= len(paths) <= 2:
        raise LinkError("give one file to deduplicate or two to link")
    per_file = list(per_file or [])
    if len(per_file) > len(paths):
        raise LinkError("options for file b (--id-b, --map-b, --date-format-b, --mapping-b) need a second file")
    if model_path is not None and not model_path.is_file():
        raise LinkError(f"--model {model_path}: no such file; give a model.json that bold link-files wrote")
    if not 0 <= threshold <= 1:
        raise LinkError(f"--threshold {threshold}: expected a match probability from 0 to 1")
    if not 0 <= pairs_threshold < 1:
        raise LinkError(f"--pairs-threshold {pairs_threshold}: expected a match probability from 0 to below 1")
    output_folder(out, kind="link-files output", files=OUTPUT_FILES, written_by_bold=lambda p: OUTPUT_FILES[p.name](p))
    with _connection() as con:
        return _link(
            con, paths, per_file, id_column, mapping, out, date_format, threshold, pairs_threshold, model_path, progress
        )


@contextmanager
def _connection():
    """An in-memory DuckDB bounded as workspace connections are (``bold.machine``), spilling to an owner-only
    folder of its own (the files are a team's own identifiers: never DuckDB's default ``.tmp/`` in the current
    folder), removed when linking ends."""
    spill = Path(tempfile.mkdtemp(prefix="bold-link-files-"))
    try:
        con = duckdb.connect(config={"temp_directory": str(spill / "duckdb"), **machine.duckdb_limits()})
        try:
            yield con
        finally:
            con.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _link(
    con, paths, per_file, id_column, mapping, out, date_format, threshold, pairs_threshold, model_path, progress
) -> LinkFilesResult:
    """``link_files`` once its options are checked, on ``con``."""
    shared = FileMapping(id_column, dict(mapping), date_format)
    _check_date_format(con, date_format, "--date-format")
    specs = [
        (per_file[i] if i < len(per_file) and per_file[i] else FileMapping()).over(shared) for i in range(len(paths))
    ]
    for i, spec in enumerate(specs):
        if spec.date_format != date_format:
            _check_date_format(con, spec.date_format, f"--date-format-{'ab'[i]}")
    tables = []
    progress("reading")
    for i, (path, spec) in enumerate(zip(paths, specs, strict=True)):
        raw = f"raw_{i}"
        columns = _load(con, path, raw)
        roles = _roles_for(path, columns, spec.id_column, spec.columns)
        dups = con.execute(
            f"select count(*) - count(distinct {q(spec.id_column)}), "
            f"count(*) filter (where {q(spec.id_column)} is null) from {raw}"
        ).fetchone()
        if dups[0] or dups[1]:
            raise LinkError(f"{path}: id column {spec.id_column!r} must be unique and never empty")
        features.file_input(con, raw, f"file{i + 1}", spec.id_column, roles, spec.date_format, f"input_{i}")
        if "date_of_birth" in roles:
            given, parsed = con.execute(
                f"select count(nullif(trim({q(roles['date_of_birth'])}), '')), "
                f"(select count(date_of_birth) from input_{i}) from {raw}"
            ).fetchone()
            if given and not parsed:
                option = "--date-format" if spec.date_format == date_format else f"--date-format-{'ab'[i]}"
                raise LinkError(
                    f"{path}: no value of {roles['date_of_birth']} is a date in {option} {spec.date_format!r}"
                )
        tables.append(f"input_{i}")
    if len(tables) == 2:
        both = con.execute("select count(*) from input_0 join input_1 using (unique_id)").fetchone()[0]
        if both:
            raise LinkError(f"{both} id(s) appear in both files; ids must be unique across the two files")
    columns = model.link_columns(con, tables)
    for table in tables:
        model.add_block_sizes(con, table)
    if model_path is None and not model.can_train(columns):
        rules = "; ".join(" + ".join(rule) for rule in model.DETERMINISTIC)
        both = ", ".join(sorted(columns & set(features.FILE_ROLES))) or "none"
        held = "" if len(tables) == 1 else f" (roles with values in both files: {both})"
        raise LinkError(
            f"too few identifiers to train a model: the files need values for one of {rules}{held} (map columns "
            "with --map ROLE=COLUMN, or give a trained --model)"
        )
    db = DuckDBAPI(con)
    link_type = "link_only" if len(tables) == 2 else "dedupe_only"
    progress("training" if model_path is None else "loading model")
    notice, used = None, "trained"
    if model_path is None:
        linker, notice = model.train_or_default(db, tables, model.settings(columns, link_type), columns)
        used = "default" if notice else "trained"
    else:
        frames = [db.register(t) for t in tables]
        try:
            linker = Linker(
                frames if len(frames) > 1 else frames[0], _saved_model(model_path, link_type), log_level=logging.ERROR
            )
        except LinkError:
            raise
        except Exception as exc:  # Splink raises several types for a file that is not one of its models
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise LinkError(
                f"{model_path}: cannot use the model ({first}); give a model.json that bold link-files wrote"
            ) from None
        used = str(model_path)
    progress("scoring pairs")
    explain.partial_weights_on(linker)
    predictions = linker.inference.predict(threshold_match_probability=pairs_threshold)
    progress("clustering")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    out.mkdir(parents=True, exist_ok=True)
    pairs = predictions.physical_name
    prior = explain.prior_weight(linker._settings_obj._probability_two_random_records_match)
    con.execute(
        f"copy (select unique_id_l as id_l, unique_id_r as id_r, match_probability, match_weight, "
        f"{prior!r} as prior_weight, {', '.join(explain.level_columns(linker))} from {pairs} "
        f"order by match_probability desc, id_l, id_r) to {sql_text(str(out / 'pairs.csv'))} (header)"
    )
    # The normalised linkage input, for explain and review: the user's own records, so owner-only.
    records = out / "records.parquet"
    records.unlink(missing_ok=True)
    with owner_only():
        con.execute(
            f"copy ({' union all by name '.join(f'select * from {t}' for t in tables)}) to "
            f"{sql_text(str(records))} (format parquet, kv_metadata {{bold: {sql_text(RECORDS_MARKER.decode())}}})"
        )
    records.chmod(0o600)
    con.execute(
        f"copy (select unique_id as id, dense_rank() over (order by cluster_id) as cluster_id "
        f"from {clusters.physical_name} order by cluster_id, id) to {sql_text(str(out / 'clusters.csv'))} (header)"
    )
    linker.misc.save_model_to_json(str(out / "model.json"), overwrite=True)
    n_pairs = con.execute(f"select count(*) from {pairs}").fetchone()[0]
    records, n_clusters = con.execute(
        f"select count(*), count(distinct cluster_id) from {clusters.physical_name}"
    ).fetchone()
    return LinkFilesResult(records, n_pairs, n_clusters, out, used, notice)
