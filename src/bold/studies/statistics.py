"""Typed statistics: what each column of a study's table is, so disclosure control knows which rule applies.

A study's table is a grid of numbers, and the same number means different things: 12 can be twelve people,
twelve releases of five people, 12% of a group, twelve person-years or a model's twelve degrees of freedom.
Disclosure control (``bold.disclosure``) judges each column by its kind: counts of people and of events by the
distinct people behind them, shares by their numerator and denominator, rates by their events and
person-time, magnitudes by dominance, medians by their group size, model estimates by their residual degrees of
freedom. A column a table does not declare cannot pass automatically: it goes to the output checkers marked
"no automated evidence".

Studies declare kinds with :func:`declare` (the helpers that build tables, ``Cohort.summarise``,
``with_proportion``, ``with_rate``, declare theirs), and the declaration travels with the table
(``DataFrame.attrs``). The vocabulary lives here, with the studies that use it, because a stage imports only the
stages before it and disclosure comes after studies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import StrEnum

import pandas as pd

ATTR = "bold.statistics"


class Kind(StrEnum):
    GROUP = "group"  # a breakdown label (a region, a week): not a statistic
    PEOPLE = "people"  # a count of distinct people
    EVENTS = "events"  # a count of events (index events, admissions, deaths)
    SHARE = "share"  # numerator over denominator (two count columns of the same table)
    BOUND = "bound"  # a confidence bound of a share, a rate or an estimate
    PERSON_TIME = "person_time"  # time at risk summed over people
    RATE = "rate"  # events over person-time
    MAGNITUDE = "magnitude"  # a sum or mean of a quantity (money, days, admissions per person)
    PERCENTILE = "percentile"  # a median or other percentile of a quantity
    ESTIMATE = "estimate"  # a model's estimate (coefficient, odds ratio, effect)
    DF = "df"  # a model's residual degrees of freedom
    REFERENCE = "reference"  # a value that does not come from the data (a price, an assumption)


COUNTS = (Kind.PEOPLE, Kind.EVENTS)
ADDITIVE = (Kind.PEOPLE, Kind.EVENTS, Kind.PERSON_TIME)  # cells of these add up across a breakdown


@dataclass(frozen=True)
class Stat:
    """One column's kind and the columns it is computed from."""

    kind: Kind
    numerator: str | None = None  # share: count column over ...
    denominator: str | None = None  # ... count column
    events: str | None = None  # rate: events column over ...
    person_time: str | None = None  # ... person-time column
    per: float | None = None  # rate: per so many units of person-time
    of: str | None = None  # bound: the column it bounds; estimate: the count column behind it
    side: str | None = None  # bound: "low" or "high"
    unit: str | None = None  # magnitude, person-time: what is summed (years, GBP, admissions)
    statistic: str | None = None  # magnitude: "sum" or "mean"
    q: float | None = None  # percentile: 0.5 for a median, 0 for a minimum, 1 for a maximum
    people: str | None = None  # magnitude, percentile, estimate: the column counting the people behind it
    df: str | None = None  # estimate: the column with its residual degrees of freedom

    def describe(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def group() -> Stat:
    return Stat(Kind.GROUP)


def people() -> Stat:
    return Stat(Kind.PEOPLE)


def events() -> Stat:
    return Stat(Kind.EVENTS)


def share(numerator: str, denominator: str) -> Stat:
    return Stat(Kind.SHARE, numerator=numerator, denominator=denominator)


def bound(of: str, side: str) -> Stat:
    return Stat(Kind.BOUND, of=of, side=side)


def person_time(unit: str = "years") -> Stat:
    return Stat(Kind.PERSON_TIME, unit=unit)


def rate(events: str, person_time: str, per: float = 1000) -> Stat:
    return Stat(Kind.RATE, events=events, person_time=person_time, per=per)


def magnitude(unit: str, statistic: str = "sum", people: str | None = None) -> Stat:
    return Stat(Kind.MAGNITUDE, unit=unit, statistic=statistic, people=people)


def percentile(q: float, people: str | None = None) -> Stat:
    return Stat(Kind.PERCENTILE, q=q, people=people)


def estimate(df: str | None = None, of: str | None = None, people: str | None = None) -> Stat:
    return Stat(Kind.ESTIMATE, df=df, of=of, people=people)


def df() -> Stat:
    return Stat(Kind.DF)


def reference() -> Stat:
    return Stat(Kind.REFERENCE)


def declare(table: pd.DataFrame, **columns: Stat) -> pd.DataFrame:
    """Record the kind of the named columns on ``table`` (kept with it); returns the table."""
    unknown = sorted(set(columns) - set(map(str, table.columns)))
    if unknown:
        raise ValueError(f"declared columns not in the table: {', '.join(unknown)}")
    table.attrs[ATTR] = {**table.attrs.get(ATTR, {}), **columns}
    return table


def declared(table: pd.DataFrame) -> dict[str, Stat]:
    """The declared kinds of the table's columns that it still has."""
    kinds = table.attrs.get(ATTR, {})
    return {c: kinds[c] for c in map(str, table.columns) if c in kinds}


def carry(source: pd.DataFrame, target: pd.DataFrame) -> pd.DataFrame:
    """Copy ``source``'s declarations to ``target`` (a table rebuilt from it) for the columns it has."""
    kinds = source.attrs.get(ATTR, {})
    return declare(target, **{c: kinds[c] for c in map(str, target.columns) if c in kinds})


def untyped(table: pd.DataFrame) -> list[str]:
    """Columns with no declared kind: no automated evidence for them."""
    kinds = declared(table)
    return [c for c in map(str, table.columns) if c not in kinds]


_REFERS = ("numerator", "denominator", "events", "person_time", "of", "people", "df")  # fields naming columns


def rename(table: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """``table.rename(columns=columns)`` with its declarations following the new names, including the columns
    a share, rate, bound or estimate names (pandas keeps ``attrs`` under the old names)."""
    kinds = declared(table)
    out = table.rename(columns=columns)
    out.attrs.pop(ATTR, None)
    moved = {
        columns.get(c, c): replace(s, **{f: columns.get(getattr(s, f), getattr(s, f)) for f in _REFERS})
        for c, s in kinds.items()
    }
    return declare(out, **moved)
