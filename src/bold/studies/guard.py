"""The aggregate-only rule (docs/design/DESIGN.md property 3): a study's tables are refused if they could hold rows
about individual people.

A table is refused when it has a person-level key column, a value shaped like a pseudonym, no column
saying how many units stand behind each row (output checkers need it for the minimum cell count), or
rows that each describe a single unit. This is a guard against mistakes and misuse of the study language,
not disclosure control: small but aggregate cells are for the disclosure checks and the output checkers.
"""

from __future__ import annotations

import re

import pandas as pd

from bold.errors import Kind
from bold.studies.language import VARIANT_COLUMNS, StudyError

PERSON_KEYS = {"person_id", "person_key", "record_key", "_row", "_person", *VARIANT_COLUMNS}
COUNT_COLUMNS = ("n", "people", "units")  # a table names its unit count with one of these (or a prefix_n)
PSEUDONYM = re.compile(r"^[0-9a-f]{32,}$")


def count_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c in COUNT_COLUMNS or c.endswith("_n") or c.startswith("n_")]


def check_no_keys(name: str, table: pd.DataFrame) -> None:
    """Refuse a table with a person-level key column or pseudonym-shaped values (every table, reference too)."""
    keys = sorted(PERSON_KEYS & set(map(str, table.columns)))
    if keys:
        raise StudyError(f"table {name!r} has a person-level column ({', '.join(keys)}): refused", kind=Kind.REFUSED)
    for column in table.columns:
        values = table[column]
        if values.dtype == object and values.dropna().astype(str).str.match(PSEUDONYM).any():
            raise StudyError(
                f"table {name!r}, column {column!r} holds values shaped like pseudonyms: refused", kind=Kind.REFUSED
            )


def check_aggregate(name: str, table: pd.DataFrame, people_in_extract: int) -> None:
    """Raise ``StudyError`` naming the table and the reason if ``table`` is not an aggregate."""
    check_no_keys(name, table)
    counts = count_columns(table)
    if not counts:
        raise StudyError(
            f"table {name!r} has no count column ({', '.join(COUNT_COLUMNS)} or *_n): refused", kind=Kind.REFUSED
        )
    if len(table) > 1 and (table[counts].fillna(0).max(axis=None) <= 1):
        raise StudyError(f"table {name!r} has one row per unit (every count is at most 1): refused", kind=Kind.REFUSED)
    if people_in_extract >= 10 and len(table) >= people_in_extract:
        raise StudyError(
            f"table {name!r} has {len(table)} rows for {people_in_extract} people in the extract: refused as row-level"
        )
