"""Hand-built project extracts for study tests: small tables written to a DuckDB file shaped exactly like
``bold project build`` writes them (``person_id`` plus agreed fields per dataset)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from bold.studies.language import Extract


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def write_extract(path: Path, tables: dict[str, list[dict]], types: dict[str, dict[str, str]] | None = None) -> Path:
    """Write ``tables`` (dataset -> rows) to ``path``; ``types`` gives SQL types for columns that may be all
    empty (dates are detected from ``datetime.date`` values)."""
    con = duckdb.connect(str(path))
    for dataset, rows in tables.items():
        frame = pd.DataFrame(rows)
        casts = dict((types or {}).get(dataset, {}))
        for column in frame.columns:
            if column not in casts and any(isinstance(v, dt.date) for v in frame[column].dropna()):
                casts[column] = "date"
        select = ", ".join(f'"{c}"::{casts[c]} as "{c}"' if c in casts else f'"{c}"' for c in frame.columns)
        con.register("frame", frame)
        con.execute(f"create table {dataset} as select {select} from frame")
        con.unregister("frame")
    con.execute("create table about as select 'test' as project")
    con.close()
    return path


def extract(tmp_path: Path, tables: dict[str, list[dict]], types=None) -> Extract:
    """An ``Extract`` over hand-built tables, agreeing every column given."""
    path = write_extract(tmp_path / "extract.duckdb", tables, types)
    agreed = {name: [c for c in rows[0] if c != "person_id"] if rows else [] for name, rows in tables.items()}
    for dataset, columns in (types or {}).items():
        agreed.setdefault(dataset, [])
        agreed[dataset] += [c for c in columns if c not in agreed[dataset] and c != "person_id"]
    return Extract.duckdb(path, agreed)
