"""Protect one output: judge every cell by the rule for its kind, suppress what fails and what would give it
away, round what is published and recompute everything derived from the protected counts.

The order matters and is the one the SACRO guide and OpenSAFELY describe: primary suppression of cells that
fail their rule (people counted from the evidence, never rows); secondary suppression across the output's
linked tables (``suppression``), verified by the attacker's linear programmes (``attack``), whose interval for
each suppressed cell is kept as evidence; rounding of the published counts; then shares, rates and their
intervals recomputed from the protected counts, so no derived number carries what its counts no longer show.
A column whose kind is not declared is published only if the output checkers agree ("no automated evidence").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bold.disclosure import attack, rules, suppression
from bold.disclosure.evidence import CellEvidence, for_column
from bold.disclosure.linked import LinkedTablesError, find_relations
from bold.disclosure.profiles import Profile
from bold.studies import uncertainty
from bold.studies.language import Evidence
from bold.studies.measures import proportion, rate
from bold.studies.statistics import Kind, Stat

# Most of a table's counts suppressed means the breakdown is too fine to say anything: the checkers should know.
MOSTLY_SUPPRESSED = 0.5


@dataclass(frozen=True)
class Flag:
    """One finding about a cell (``row`` set) or a whole column (``row`` None); never the cell's value."""

    table: str
    row: int | None
    column: str
    rule: str
    outcome: str  # "fail" (suppressed), "secondary" (suppressed to protect another cell), "review"
    reason: str

    def describe(self) -> dict:
        return {
            "table": self.table,
            "row": self.row,
            "column": self.column,
            "rule": self.rule,
            "outcome": self.outcome,
            "reason": self.reason,
        }


@dataclass
class Protection:
    tables: dict[str, pd.DataFrame]  # as they may be published: suppressed cells empty
    flags: list[Flag] = field(default_factory=list)
    intervals: list[dict] = field(default_factory=list)  # the attacker's interval for each suppressed count
    members: dict[tuple[str, int, str], tuple[str, ...]] = field(default_factory=dict)  # published counts' people
    cells: int = 0  # statistics judged
    suppressed: int = 0
    secondary: int = 0
    rounded: int = 0

    @property
    def outcome(self) -> str:
        """ "review" when anything needs an output checker's judgement beyond what the rules settled."""
        return "review" if any(f.outcome == "review" for f in self.flags) else "pass"

    def summary(self) -> dict:
        return {
            "cells": self.cells,
            "suppressed": self.suppressed,
            "secondary": self.secondary,
            "rounded": self.rounded,
            "for_review": sum(f.outcome == "review" for f in self.flags),
        }


def _base(profile: Profile) -> int | None:
    return profile.rounding_base if profile.rounding == "half_up" else None


class _Table:
    """One table being protected: its values, what each cell's verdict is, and the evidence behind its counts."""

    def __init__(self, name: str, table: pd.DataFrame, kinds: dict[str, Stat]):
        self.name, self.raw, self.kinds = name, table.reset_index(drop=True), kinds
        self.out = self.raw.copy()
        self.hidden = pd.DataFrame(False, index=self.raw.index, columns=self.raw.columns)
        self.evidence: dict[str, list[CellEvidence | None]] = {}

    def dims(self) -> list[str]:
        return [c for c, s in self.kinds.items() if s.kind == Kind.GROUP]

    def of(self, *kinds: Kind) -> list[str]:
        return [c for c in map(str, self.raw.columns) if c in self.kinds and self.kinds[c].kind in kinds]

    def cell(self, column: str, row: int) -> CellEvidence:
        """The evidence for a cell, or the value alone (people unknown: -1) when there is none."""
        found = self.evidence.get(column, [None] * len(self.raw))[row]
        if found is not None:
            return found
        value = pd.to_numeric(self.raw[column], errors="coerce").iloc[row]
        return CellEvidence(float(value), -1)


def protect(
    tables: dict[str, pd.DataFrame], kinds: dict[str, dict[str, Stat]], evidence: list[Evidence], profile: Profile
) -> Protection:
    """The protected tables of one output and the findings that explain them."""
    work = {name: _Table(name, table, kinds.get(name, {})) for name, table in tables.items()}
    result = Protection(tables={})
    for t in work.values():
        for column in [c for c in map(str, t.raw.columns) if c not in t.kinds]:
            result.flags.append(
                Flag(
                    t.name,
                    None,
                    column,
                    "no-type",
                    "review",
                    "no automated evidence: the column's kind is not declared",
                )
            )
        _primary(t, evidence, profile, result)
        _zeros_of_small_groups(t, result)
        _threshold_differencing(t, profile, result)
    _secondary(work, profile, result)
    for t in work.values():
        _round(t, profile, result)
        _derived(t, profile, result)
        _mostly_suppressed(t, result)
        for column in t.evidence:
            for row, cell in enumerate(t.evidence[column]):
                if cell is not None and not t.hidden.at[row, column] and cell.members:
                    result.members[(t.name, row, column)] = cell.members
        t.out = t.out.astype(object).where(~t.hidden, None)
        result.tables[t.name] = t.out
    result.suppressed = int(sum(f.outcome in ("fail", "secondary") for f in result.flags if f.row is not None))
    return result


def _flag(result: Protection, t: _Table, row: int, column: str, findings, hide: bool = True) -> None:
    for f in findings:
        result.flags.append(Flag(t.name, row, column, f.rule, f.outcome, f.reason))
    if hide and rules.outcome(findings) == "fail":
        t.hidden.at[row, column] = True


def _primary(t: _Table, evidence: list[Evidence], profile: Profile, result: Protection) -> None:
    """Judge every count, person-time and sum by the people behind it."""
    for column in t.of(Kind.PEOPLE, Kind.EVENTS, Kind.PERSON_TIME, Kind.MAGNITUDE):
        stat = t.kinds[column]
        if stat.kind == Kind.MAGNITUDE and stat.statistic != "sum":
            continue  # a mean is judged with the derived statistics, by the people column it names
        t.evidence[column] = for_column(t.raw, column, evidence)
        for row in range(len(t.raw)):
            result.cells += 1
            cell = t.cell(column, row)
            if cell.people < 0:
                _flag(result, t, row, column, _without_evidence(cell, stat, profile))
            elif stat.kind in (Kind.PEOPLE, Kind.EVENTS):
                _flag(result, t, row, column, rules.check_count(cell, profile))
            elif stat.kind == Kind.PERSON_TIME:
                _flag(result, t, row, column, rules.threshold(cell.people, profile, "person-time"))
            else:
                _flag(result, t, row, column, rules.check_magnitude(cell, profile))


def _threshold_differencing(t: _Table, profile: Profile, result: Protection) -> None:
    """In a table of one measure at several linkage thresholds (``bold.studies.uncertainty``), a count that differs
    from another threshold's count of the same cell by 1 to ``min_people - 1`` shows how many records, too few to
    be safe on their own, the two clusterings link differently. As for differencing between outputs
    (``differencing``), such a cell goes to the output checkers, who may suppress it; it is not suppressed here,
    because the spread across thresholds is the figure the table exists to show."""
    if not {uncertainty.THRESHOLD, uncertainty.CHOSEN} <= set(t.dims()):
        return
    dims = [d for d in t.dims() if d not in (uncertainty.THRESHOLD, uncertainty.CHOSEN)]
    keys = t.raw[dims].astype(str).agg("|".join, axis=1) if dims else pd.Series("", index=t.raw.index)
    for column in t.of(Kind.PEOPLE, Kind.EVENTS):
        values = pd.to_numeric(t.raw[column], errors="coerce")
        for row in t.raw.index:
            others = values[(keys == keys[row]) & (t.raw.index != row)].dropna()
            if pd.isna(values[row]) or not ((others - values[row]).abs().between(1, profile.min_people - 1)).any():
                continue
            reason = (
                f"differs from another linkage threshold's {column} by fewer than {profile.min_people}: "
                "the difference could isolate the records the two thresholds link differently"
            )
            result.flags.append(Flag(t.name, row, column, "threshold-differencing", "review", reason))


def _zeros_of_small_groups(t: _Table, result: Protection) -> None:
    """A zero says "nobody in this group": where the group's own count of people is suppressed (too few
    people), its zeros describe those few people, and go with it."""
    groups = t.of(Kind.PEOPLE)
    if not groups:
        return
    small = t.hidden[groups].any(axis=1)
    for column in t.of(Kind.PEOPLE, Kind.EVENTS):
        values = pd.to_numeric(t.raw[column], errors="coerce")
        for row in np.flatnonzero(small & (values == 0) & ~t.hidden[column]):
            t.hidden.at[row, column] = True
            result.flags.append(
                Flag(t.name, int(row), column, "zero-in-small-group", "fail", "a zero in a group of too few people")
            )


def _without_evidence(cell: CellEvidence, stat: Stat, profile: Profile) -> list[rules.Finding]:
    """A cell no summary reproduces: a count is judged on its value (a count of fewer than the threshold
    describes fewer people still), and everything is marked for the checkers."""
    if math.isnan(cell.value):
        return [rules.Finding("missing", "review", "the value is missing: the checker must see why")]
    review = rules.Finding("no-evidence", "review", "no automated evidence of the people behind this number")
    if stat.kind in (Kind.PEOPLE, Kind.EVENTS):
        counted = rules.check_count(CellEvidence(cell.value, max(int(cell.value), 0)), profile)
        return [*counted, review] if rules.outcome(counted) != "fail" else counted
    return [review]


def _secondary(work: dict[str, _Table], profile: Profile, result: Protection) -> None:
    """For each additive column shared by the output's tables: complements chosen, then the attacker's
    interval for every suppressed cell worked out on its own code path and kept as evidence."""
    columns: dict[str, list[_Table]] = {}
    for t in work.values():  # counts, and sums of magnitudes (published as computed); person-time is not a count
        for column in t.of(Kind.PEOPLE, Kind.EVENTS, Kind.MAGNITUDE):
            if t.kinds[column].kind != Kind.MAGNITUDE or t.kinds[column].statistic == "sum":
                columns.setdefault(column, []).append(t)
    for column, holders in columns.items():
        try:
            linked = find_relations({t.name: t.raw for t in holders}, {t.name: t.dims() for t in holders}, column)
        except LinkedTablesError as exc:
            for t in holders:
                result.flags.append(Flag(t.name, None, column, "linked-tables", "review", str(exc)))
            continue
        if not linked.relations:
            continue
        by_name = {t.name: t for t in holders}
        primary = np.array([by_name[name].hidden.at[row, column] for name, row, _ in linked.labels])
        if not primary.any():
            continue
        counts = holders[0].kinds[column].kind in (Kind.PEOPLE, Kind.EVENTS)
        base = _base(profile) if counts else None
        try:
            extra = suppression.secondary(linked, primary, profile.min_people, base)
        except attack.AttackError as exc:  # the tables' own values do not add up as they seemed to
            for t in holders:
                result.flags.append(Flag(t.name, None, column, "attack", "review", str(exc)))
            continue
        for i in np.flatnonzero(extra):
            name, row, _ = linked.labels[i]
            t = by_name[name]
            t.hidden.at[row, column] = True
            result.secondary += 1
            result.flags.append(
                Flag(
                    name, row, column, "secondary", "secondary", "suppressed so that another cell cannot be worked out"
                )
            )
        hidden = primary | extra
        published = np.where(hidden, 0.0, _published(linked.values, profile) if counts else linked.values)
        try:
            low, high = attack.intervals(linked, hidden, published, base)
            safe = attack.protected(linked, primary, hidden, published, profile.min_people, base)
        except attack.AttackError as exc:  # published values that do not add up: the checkers must look
            for t in holders:
                result.flags.append(Flag(t.name, None, column, "attack", "review", str(exc)))
            continue
        for i in np.flatnonzero(hidden):
            name, row, _ = linked.labels[i]
            result.intervals.append(
                {"table": name, "row": row, "column": column, "low": float(low[i]), "high": float(high[i])}
            )
        for i in np.flatnonzero(primary & ~safe):
            name, row, _ = linked.labels[i]
            result.flags.append(
                Flag(name, row, column, "attack", "review", "an attacker could narrow this suppressed cell")
            )


def _published(values: np.ndarray, profile: Profile) -> np.ndarray:
    return np.array([rules.round_count(v, profile) if v >= 0 and v == int(v) else v for v in np.nan_to_num(values)])


def _round(t: _Table, profile: Profile, result: Protection) -> None:
    """Round what is published of counts (to the profile's base) and person-time (to whole units)."""
    for column in t.of(Kind.PEOPLE, Kind.EVENTS):
        values = pd.to_numeric(t.raw[column], errors="coerce")
        for row, value in enumerate(values):
            if t.hidden.at[row, column] or pd.isna(value) or value < 0 or value != int(value):
                continue
            rounded = rules.round_count(value, profile)
            result.rounded += rounded != value
            t.out.at[row, column] = rounded
    for column in t.of(Kind.PERSON_TIME):
        t.out[column] = pd.to_numeric(t.raw[column], errors="coerce").round()


def _derived(t: _Table, profile: Profile, result: Protection) -> None:
    """Shares, rates and their bounds from the protected counts; means, percentiles and model estimates by
    the people and degrees of freedom behind them."""
    for column in list(map(str, t.raw.columns)):
        stat = t.kinds.get(column)
        if stat is None:
            continue
        if stat.kind == Kind.SHARE:
            _share(t, column, stat, profile, result)
        elif stat.kind == Kind.RATE:
            _rate(t, column, stat, profile, result)
        elif stat.kind in (Kind.MAGNITUDE, Kind.PERCENTILE, Kind.ESTIMATE) and not (
            stat.kind == Kind.MAGNITUDE and stat.statistic == "sum"
        ):
            _by_people(t, column, stat, profile, result)
    for column in t.of(Kind.BOUND):
        of = t.kinds[column].of
        if of in t.hidden.columns:
            t.hidden[column] = t.hidden[column] | t.hidden[of]


def _bounds(t: _Table, of: str) -> dict[str, str]:
    return {s.side: c for c, s in t.kinds.items() if s.kind == Kind.BOUND and s.of == of and c in t.raw.columns}


def _ratio(t: _Table, column: str, parts: tuple[str, str], what: str, rule, recompute, profile, result) -> None:
    """A share or rate: suppressed with either of its counts, judged by its rule, and otherwise recomputed
    (value and bounds) from the protected counts by ``recompute(row) -> {"value", "low", "high"}``."""
    if not set(parts) <= set(t.raw.columns):
        result.flags.append(Flag(t.name, None, column, what, "review", f"the {what}'s counts are not in the table"))
        return
    a, b = parts
    bounds = _bounds(t, column)
    for row in range(len(t.raw)):
        result.cells += 1
        if t.hidden.at[row, a] or t.hidden.at[row, b]:
            t.hidden.at[row, column] = True
            continue
        _flag(result, t, row, column, _judged(rule, t.cell(a, row), t.cell(b, row), profile))
        if t.hidden.at[row, column]:
            continue
        values = recompute(row)
        t.out.at[row, column] = values["value"]
        for side, name in bounds.items():
            t.out.at[row, name] = values[side]


def _share(t: _Table, column: str, stat: Stat, profile: Profile, result: Protection) -> None:
    def recompute(row: int) -> dict:
        found = proportion([float(t.out.at[row, stat.numerator])], [float(t.out.at[row, stat.denominator])])
        return {"value": found["share"].iloc[0], "low": found["share_low"].iloc[0], "high": found["share_high"].iloc[0]}

    _ratio(t, column, (stat.numerator, stat.denominator), "share", rules.check_share, recompute, profile, result)


def _rate(t: _Table, column: str, stat: Stat, profile: Profile, result: Protection) -> None:
    def recompute(row: int) -> dict:
        counted = rules.round_rate_count(float(t.raw.at[row, stat.events]), profile)
        found = rate([counted], [float(t.out.at[row, stat.person_time])], per=stat.per or 1000)
        return {"value": found["rate"].iloc[0], "low": found["rate_low"].iloc[0], "high": found["rate_high"].iloc[0]}

    _ratio(t, column, (stat.events, stat.person_time), "rate", rules.check_rate, recompute, profile, result)


def _judged(rule, a: CellEvidence, b: CellEvidence, profile: Profile) -> list[rules.Finding]:
    """A share's or rate's rule when the people behind both counts are known; otherwise the counts were judged
    on their values already, and the checkers are told the rest is theirs."""
    if a.people < 0 or b.people < 0:
        return [rules.Finding("no-evidence", "review", "no automated evidence of the people behind its counts")]
    return rule(a, b, profile)


def _by_people(t: _Table, column: str, stat: Stat, profile: Profile, result: Protection) -> None:
    """A mean, percentile or model estimate: judged by the people column it names (and, for an estimate, its
    residual degrees of freedom); without one it goes to the checkers."""
    people = stat.people or stat.of
    for row in range(len(t.raw)):
        result.cells += 1
        if people is not None and people in t.raw.columns and t.hidden.at[row, people]:
            t.hidden.at[row, column] = True
            continue
        behind = t.cell(people, row) if people in t.raw.columns else None
        value = pd.to_numeric(t.raw[column], errors="coerce").iloc[row]
        if stat.kind == Kind.PERCENTILE:
            cell = CellEvidence(float(value), behind.people if behind and behind.people >= 0 else 0)
            findings = rules.check_percentile(cell, stat.q if stat.q is not None else 0.5, profile)
        elif stat.kind == Kind.ESTIMATE:
            df = pd.to_numeric(t.raw[stat.df], errors="coerce").iloc[row] if stat.df in t.raw.columns else None
            findings = rules.check_model(None if df is None or pd.isna(df) else float(df), [], profile)
            if behind is not None and behind.people >= 0:
                findings += rules.threshold(behind.people, profile)
        else:
            findings = rules.threshold(behind.people, profile) if behind and behind.people >= 0 else []
            findings.append(rules.Finding("dominance", "review", "a mean: no per-person evidence to judge dominance"))
        if behind is None or behind.people < 0:
            findings.append(rules.Finding("no-evidence", "review", "no automated evidence of the people behind it"))
        _flag(result, t, row, column, findings)


def _mostly_suppressed(t: _Table, result: Protection) -> None:
    counts = t.of(Kind.PEOPLE, Kind.EVENTS)
    if not counts or len(t.raw) < 2:
        return
    share = t.hidden[counts].to_numpy().mean()
    if share > MOSTLY_SUPPRESSED:
        result.flags.append(
            Flag(
                t.name,
                None,
                ", ".join(counts),
                "mostly-suppressed",
                "review",
                "most of this table's counts are suppressed: the breakdown is too fine to publish",
            )
        )
