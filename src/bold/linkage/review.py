"""Clerical review: a sample of pairs around the threshold, labelled by people, read back into precision and recall.

Pairs far above the threshold are almost all matches and pairs far below almost all non-matches; the pairs a
threshold decides are in between. So the sample is stratified by match probability band (``BANDS`` between
``low`` and ``high``), the same number drawn from each band (seeded, so a second run draws the same pairs), and
every band's sampling rate is kept in the sample file: a labelled pair stands for 1/rate pairs of its band.

Estimates from labels (``estimate``), over the scored pairs in ``low``..``high``, each labelled pair weighted by
its band's inverse sampling rate (a Horvitz-Thompson estimate), unsure (blank) labels left out:

- precision at threshold t: weighted matches among pairs with p >= t over weighted pairs with p >= t;
- recall at t: weighted matches with p >= t over all weighted matches in the reviewed range (so it is recall
  among the pairs the sample covers: matches scored below ``low`` are not counted);
- intervals: Wilson score intervals on the effective sample size (Kish, n_eff = (sum w)^2 / sum w^2), at 95%;
- the threshold the labels imply: of thresholds at each labelled pair's probability (and the one asked), the one
  that maximises estimated F1 (ties: the higher threshold).
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

from bold.errors import Invalid

BANDS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)  # band edges from low to high, by default
REVIEW_COLUMNS = ("pair", "band", "sampling_rate", "match_probability", "match_weight", "id_l", "id_r")
LABELS = {"match": True, "non-match": False, "": None}
MARKER = b"pair,band,sampling_rate,match_probability"


class ReviewError(Invalid):
    """A review sample or label file that cannot be used as asked."""


def bands(low: float, high: float) -> list[tuple[float, float]]:
    """Probability bands from ``low`` to ``high``: the default edges inside the range, and the range's ends."""
    if not 0 <= low < high <= 1:
        raise ReviewError(f"--low {low} --high {high}: expected 0 <= low < high <= 1")
    edges = sorted({low, high, *(e for e in BANDS if low < e < high)})
    return list(itertools.pairwise(edges))


def sample_sql(pairs: str, size: int, low: float, high: float, seed: int) -> tuple[str, list[tuple[float, float]]]:
    """SQL over a table of pairs (``id_l, id_r, match_probability, match_weight``) drawing ``size`` pairs
    spread evenly over the bands, with each pair's band and its band's sampling rate."""
    if size < 1:
        raise ReviewError(f"--size {size}: expected at least 1 pair")
    spans = bands(low, high)
    per = max(1, math.ceil(size / len(spans)))
    case = " ".join(
        f"when match_probability >= {lo!r} and match_probability {'<=' if hi == spans[-1][1] else '<'} {hi!r} then {i}"
        for i, (lo, hi) in enumerate(spans)
    )
    sql = f"""
        with banded as (
            select *, case {case} end as band_no from {pairs}
        ), ranked as (
            select *, count(*) over (partition by band_no) as band_pairs,
                   row_number() over (partition by band_no order by hash(id_l || '|' || id_r || '|{int(seed)}'),
                                      id_l, id_r) as pick
            from banded where band_no is not null
        )
        select band_no, band_pairs, id_l, id_r, match_probability, match_weight from ranked where pick <= {per}
        order by band_no, match_probability, id_l, id_r"""
    return sql, spans


@dataclass
class Sample:
    path: Path
    pairs: int
    bands: list[dict] = field(default_factory=list)


def write_sample(rows: list[dict], spans, out: Path, sides: list[str]) -> Sample:
    """Write the sample CSV (owner-only): one row per pair, both records' identifier columns side by side
    (``<column>_l``, ``<column>_r``), and an empty ``label`` column."""
    from bold.security.private import write_private

    header = [*REVIEW_COLUMNS, *(f"{c}_{s}" for c in sides for s in ("l", "r")), "label"]
    lines = []
    counted: dict[int, dict] = {}
    for row in rows:
        lo, hi = spans[row["band_no"]]
        band = counted.setdefault(row["band_no"], {"band": f"{lo}-{hi}", "pairs": row["band_pairs"], "sampled": 0})
        band["sampled"] += 1
    for i, row in enumerate(rows, 1):
        band = counted[row["band_no"]]
        rate = band["sampled"] / band["pairs"]
        values = [
            i,
            band["band"],
            f"{rate:.6g}",
            f"{row['match_probability']:.6f}",
            f"{row['match_weight']:.3f}",
            row["id_l"],
            row["id_r"],
            *(_cell(row.get(f"{c}_{s}")) for c in sides for s in ("l", "r")),
            "",
        ]
        lines.append(values)
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_private(out, buf.getvalue())
    return Sample(out, len(lines), list(counted.values()))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


@dataclass
class Labelled:
    probability: float
    rate: float
    match: bool


def read_labels(path: Path) -> tuple[list[Labelled], int]:
    """The labelled pairs of a review file (and how many were left unsure); errors name the file, row and column."""
    path = Path(path)
    if not path.is_file():
        raise ReviewError(f"--labels {path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ReviewError(f"--labels {path}: not a UTF-8 CSV file") from None
    reader = csv.DictReader(text.splitlines())
    needed = ("pair", "sampling_rate", "match_probability", "id_l", "id_r", "label")
    missing = [c for c in needed if c not in (reader.fieldnames or [])]
    if missing:
        raise ReviewError(
            f"--labels {path}: column(s) {', '.join(missing)} missing; give the file bold link review wrote, "
            "with its label column filled in"
        )
    out, unsure, seen = [], 0, set()
    for n, row in enumerate(reader, 2):
        label = (row["label"] or "").strip().lower()
        if label not in LABELS:
            raise ReviewError(
                f"--labels {path}: row {n}, column label: {row['label']!r} is not a label; "
                "use match, non-match, or leave it blank if unsure"
            )
        pair = (row["id_l"], row["id_r"])
        if pair in seen:
            raise ReviewError(f"--labels {path}: row {n}: the pair {pair[0]}, {pair[1]} appears twice")
        seen.add(pair)
        try:
            probability, rate = float(row["match_probability"]), float(row["sampling_rate"])
        except (TypeError, ValueError):
            raise ReviewError(
                f"--labels {path}: row {n}, column match_probability or sampling_rate: not a number; "
                "keep the columns bold link review wrote"
            ) from None
        if not 0 < rate <= 1 or not 0 <= probability <= 1:
            raise ReviewError(f"--labels {path}: row {n}, column sampling_rate: expected a rate in (0, 1]")
        if LABELS[label] is None:
            unsure += 1
            continue
        out.append(Labelled(probability, rate, LABELS[label]))
    if not out:
        raise ReviewError(f"--labels {path}: no pair is labelled match or non-match")
    return out, unsure


def wilson(share: float, n: float, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``share`` over ``n`` (effective) observations."""
    if n <= 0:
        return (0.0, 1.0)
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _ratio(pairs: list[tuple[float, bool]]) -> tuple[float | None, tuple[float, float] | None]:
    """Weighted share of True, with its Wilson interval on the effective sample size."""
    total = sum(w for w, _ in pairs)
    if not total:
        return None, None
    share = sum(w for w, hit in pairs if hit) / total
    n_eff = total * total / sum(w * w for w, _ in pairs)
    return share, wilson(share, n_eff)


@dataclass
class Estimate:
    threshold: float
    labelled: int
    unsure: int
    precision: float | None
    precision_ci: tuple[float, float] | None
    recall: float | None
    recall_ci: tuple[float, float] | None
    f1: float | None
    best_threshold: float | None
    best_f1: float | None
    by_threshold: list[dict] = field(default_factory=list)


def _at(labels: list[Labelled], t: float) -> tuple:
    kept = [(1 / lb.rate, lb.match) for lb in labels if lb.probability >= t]
    matches = [(1 / lb.rate, lb.probability >= t) for lb in labels if lb.match]
    precision, p_ci = _ratio(kept)
    recall, r_ci = _ratio(matches)
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else (0.0 if kept else None)
    return precision, p_ci, recall, r_ci, f1


def estimate(labels: list[Labelled], threshold: float, unsure: int = 0) -> Estimate:
    """Precision and recall at ``threshold`` from the labelled sample, and the threshold that maximises F1."""
    if not 0 <= threshold <= 1:
        raise ReviewError(f"--threshold {threshold}: expected a match probability from 0 to 1")
    precision, p_ci, recall, r_ci, f1 = _at(labels, threshold)
    candidates = sorted({round(lb.probability, 6) for lb in labels} | {threshold})
    table = []
    for t in candidates:
        p, _, r, _, f = _at(labels, t)
        table.append({"threshold": t, "precision": p, "recall": r, "f1": f})
    scored = [row for row in table if row["f1"] is not None]
    best = max(scored, key=lambda row: (row["f1"], row["threshold"])) if scored else None
    return Estimate(
        threshold,
        len(labels),
        unsure,
        precision,
        p_ci,
        recall,
        r_ci,
        f1,
        best["threshold"] if best else None,
        best["f1"] if best else None,
        table,
    )


def _pairs_csv(con, folder: Path) -> None:
    from bold.ingest.rules import sql_text

    path = Path(folder) / "pairs.csv"
    from bold.linkage.files import OUTPUT_FILES

    if not path.is_file() or not OUTPUT_FILES["pairs.csv"](path):
        raise ReviewError(f"--pairs-from {folder}: no pairs.csv written by bold link-files there")
    cols = [
        d[0] for d in con.execute(f"describe select * from read_csv({sql_text(str(path))}, header = true)").fetchall()
    ]
    if "match_weight" not in cols:
        raise ReviewError(f"--pairs-from {folder}: pairs.csv has no match_weight; run bold link-files again")
    con.execute(
        "create or replace table review_pairs as select id_l::varchar as id_l, id_r::varchar as id_r, "
        f"match_probability, match_weight from read_csv({sql_text(str(path))}, header = true, "
        "types = {'id_l': 'varchar', 'id_r': 'varchar'})"
    )


def _side_by_side(con, spans, rows_sql: str, records: str, sides: list[str]) -> list[dict]:
    cols = ", ".join(f"l.{c} as {c}_l, r.{c} as {c}_r" for c in sides)
    cur = con.execute(
        f"""select s.*{", " + cols if cols else ""} from ({rows_sql}) s
            left join {records} l on l.unique_id::varchar = s.id_l
            left join {records} r on r.unique_id::varchar = s.id_r
            order by s.band_no, s.match_probability, s.id_l, s.id_r"""
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _sides(con, records: str) -> list[str]:
    """The identifier columns with values, in the order of the roles (never derived helper columns)."""
    from bold.linkage import features, model

    present = model.present_columns(con, records)
    return [c for c in features.IDENTIFIER_FEATURES if c in present]


def sample_files(
    folder: Path, out: Path | None, size: int = 100, low: float = 0.3, high: float = 0.99, seed: int = 1
) -> Sample:
    """A review sample of a ``bold link-files`` run, both records' identifiers side by side."""
    import duckdb

    from bold.linkage.explain import files_input
    from bold.security.paths import holds, output_path

    _, records = files_input(folder)
    out = Path(out) if out else Path(folder) / "review.csv"
    output_path(out, kind="review sample", suffixes=(".csv",), written_by_bold=holds(MARKER))
    con = duckdb.connect()
    _pairs_csv(con, folder)
    from bold.ingest.rules import sql_text

    con.execute(f"create or replace table review_records as select * from read_parquet({sql_text(str(records))})")
    sql, spans = sample_sql("review_pairs", size, low, high, seed)
    sides = _sides(con, "review_records")
    return write_sample(_side_by_side(con, spans, sql, "review_records", sides), spans, out, sides)


def review_folder(ws) -> Path:
    return ws.root / "linkage" / "review"


def sample_workspace(
    ws, out: Path | None, size: int = 100, low: float = 0.3, high: float = 0.99, seed: int = 1, *, by: str
) -> Sample:
    """A review sample of the latest run's pairs, identifiers only (never content), kept inside the workspace
    (``linkage/review/``, owner-only) since it shows identifiers; audited with the count."""
    from bold import store
    from bold.ingest.pipeline import committed_batches
    from bold.linkage import features
    from bold.linkage.run import LinkageError, stored_sources
    from bold.security.paths import confined_output, holds
    from bold.security.private import private_dir

    def checked(path: Path) -> Path:
        return confined_output(
            path,
            kind="review sample",
            why="a review sample shows identifiers",
            workspace=ws.root,
            inside="linkage/review",
            suffixes=(".csv",),
            written_by_bold=holds(MARKER),
        )

    if not ws.links_path.exists():
        raise LinkageError("no linkage run yet: run bold link first")
    folder = review_folder(ws)
    if out is not None:
        checked(out)  # refused before any work
    committed = committed_batches(ws)
    with ws.identifiers(read_only=True) as con:
        ws.attach(con, "links", read_only=True)
        run = con.execute("select max(run_id) from links.runs").fetchone()[0]
        if run is None:
            raise LinkageError("no linkage run yet: run bold link first")
        out = checked(Path(out) if out else folder / f"review-run-{run}.csv")
        con.execute(
            "create or replace temp table review_pairs as select record_key_l::varchar as id_l, "
            "record_key_r::varchar as id_r, match_probability, match_weight from links.pairs where run_id = ?",
            [run],
        )
        sources = [s for s in stored_sources(con) if s in committed]
        encoded = any(features.is_encoded(con, s) for s in sources)
        if sources and not encoded:  # encodings cannot be read by a person: the sample shows ids only
            features.workspace_input(con, sources, committed=committed)
            sides = _sides(con, "linkage_input")
        else:
            con.execute("create or replace temp table linkage_input as select null::varchar as unique_id")
            sides = []
        sql, spans = sample_sql("review_pairs", size, low, high, seed)
        rows = _side_by_side(con, spans, sql, "linkage_input", sides)
    private_dir(folder)
    sample = write_sample(rows, spans, out, sides)
    store.audit.record(
        ws,
        "pairs sampled for review",
        f"run {run}",
        {"pairs": sample.pairs, "low": low, "high": high, "seed": seed},
        by=by,
    )
    return sample


def check_against(labels_path: Path, scored: dict[tuple[str, str], float]) -> None:
    """Every labelled pair must be one that was scored, at the probability the sample gave it."""
    text = Path(labels_path).read_text(encoding="utf-8-sig")
    for n, row in enumerate(csv.DictReader(text.splitlines()), 2):
        pair = (row["id_l"], row["id_r"])
        p = scored.get(pair, scored.get(pair[::-1]))
        if p is None:
            raise ReviewError(
                f"--labels {labels_path}: row {n}, columns id_l, id_r: the pair {pair[0]}, {pair[1]} is not among "
                "the scored pairs; give a sample bold link review wrote for this run"
            )
        try:
            given = float(row["match_probability"])
        except ValueError:
            given = None
        if given is None or abs(p - given) > 1e-5:
            raise ReviewError(
                f"--labels {labels_path}: row {n}, column match_probability: {row['match_probability']!r} is not the "
                f"pair's probability ({p:.6f}); keep the columns bold link review wrote"
            )


def labels_files(folder: Path, labels_path: Path, threshold: float) -> Estimate:
    import duckdb

    labels, unsure = read_labels(labels_path)
    con = duckdb.connect()
    _pairs_csv(con, folder)
    scored = {(a, b): p for a, b, p in con.execute("select id_l, id_r, match_probability from review_pairs").fetchall()}
    check_against(labels_path, scored)
    return estimate(labels, threshold, unsure)


def labels_workspace(ws, labels_path: Path, threshold: float, *, by: str) -> Estimate:
    from bold import store
    from bold.linkage.run import LinkageError

    labels, unsure = read_labels(labels_path)
    if not ws.links_path.exists():
        raise LinkageError("no linkage run yet: run bold link first")
    with ws.duckdb_connection() as con:
        ws.attach(con, "links", read_only=True)
        run = con.execute("select max(run_id) from links.runs").fetchone()[0]
        scored = {
            (str(a), str(b)): p
            for a, b, p in con.execute(
                "select record_key_l, record_key_r, match_probability from links.pairs where run_id = ?", [run]
            ).fetchall()
        }
    check_against(labels_path, scored)
    result = estimate(labels, threshold, unsure)
    store.audit.record(ws, "review labels read", f"run {run}", {"labelled": len(labels), "unsure": unsure}, by=by)
    return result
