"""The study language: cohorts, index dates, outcomes relative to them, breakdowns; compiled to Ibis.

In the spirit of OpenSAFELY's ehrQL, an analyst describes *what* to count and never handles rows:

    releases = Cohort(extract, "prison", index="release_date", fields=["prison", "release_local_authority"],
                      where=lambda t: t.substance_misuse_need)
    releases.first_event("treated", "treatment", "treatment_start_date", within=(0, 21))
    releases.derive(treated_21=lambda t: t.treated.notnull())
    table = releases.summarise(by=["prison"], treated=lambda t: t.treated_21.sum())

A cohort has one row per index event (a release, an order start, a treatment journey) with its person and
index date; the same event recorded twice for one person (a duplicate record) counts once. Outcomes are
added as columns measured in whole days from the index date (day 0 is the index date itself), so "within
21 days" means days 0 to 21 inclusive, as the published indicator counts them. Everything stays an Ibis
expression until ``summarise``, which runs one aggregate query on the project's engine (DuckDB, or PySpark
for large extracts) and returns only the aggregate table.

Only fields in the project's agreement can be read (``Extract.table`` refuses others by name), and every
field read is recorded so the runner can show which agreed fields a study actually used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.common.exceptions import TableNotFound

from bold.errors import BoldError, Kind
from bold.governance.projects import THRESHOLDS, variant_column, variant_table
from bold.security import encryption
from bold.sources import ContractError, load_contract
from bold.studies import statistics

PERSON = "person_id"
# The clusterings at each linkage threshold an extract carries (``bold.governance.projects``): inputs, never outputs.
VARIANT_COLUMNS = {variant_column(t) for t in THRESHOLDS}
# Strings fetched into pandas stay in Arrow's buffers (for the evidence's person keys: millions of them)
ARROW_STRINGS = {pa.string(): pd.ArrowDtype(pa.string()), pa.large_string(): pd.ArrowDtype(pa.large_string())}
Where = Callable[[ir.Table], ir.BooleanValue]
Expr = Callable[[ir.Table], ir.Value]


class StudyError(BoldError):
    """A study that cannot run as asked: a field outside the agreement, a missing dataset, a bad argument."""


@dataclass(frozen=True)
class Evidence:
    """Who stands behind the cells of one summary: one row per group and person, with the person's own
    share of every measure (``n`` their index events, ``people`` 1). Kept by the extract for disclosure
    control, never part of an output: a cell's people are the persons with a non-zero share of it, and
    dominance is judged from the largest shares."""

    by: tuple[str, ...]
    frame: pd.DataFrame


class Extract:
    """A project extract seen through Ibis: the agreed datasets and fields, nothing else."""

    def __init__(self, con: ibis.BaseBackend, agreed: dict[str, list[str]]):
        self.con = con
        self.agreed = {d: list(f) for d, f in agreed.items()}
        self.used: set[str] = set()
        self.evidence: list[Evidence] = []  # every summary's people, for disclosure control
        self._data_end: dt.date | None = None
        self._handoff = None  # on Spark: the encrypted files the views read, removed on close
        self.threshold: str | None = None  # None: the agreement's clustering; else a linkage threshold (``at``)
        self.caches: list[ir.CachedTable] = []  # cohorts the engine holds, released on close (shared by ``at``)

    @classmethod
    def duckdb(
        cls, path: Path, agreed: dict[str, list[str]], config: dict | None = None, key: str | None = None
    ) -> Extract:
        """The extract, read-only; ``config`` holds DuckDB settings (the workspace's spill folder) and ``key``
        the extract's encryption key (a project's extract is always encrypted; test extracts may not be)."""
        if not Path(path).exists():
            raise StudyError(f"{path}: no project extract (build the project first)", kind=Kind.CONFLICT)
        if key is None:
            return cls(ibis.duckdb.connect(str(path), read_only=True, **(config or {})), agreed)
        con = ibis.duckdb.connect(**(config or {}))
        encryption.attach(con.con, Path(path), "extract", key, read_only=True)
        con.con.execute("use extract")
        return cls(con, agreed)

    @classmethod
    def pyspark(
        cls,
        path: Path,
        agreed: dict[str, list[str]],
        spark,
        tmp_dir: Path,
        config: dict | None = None,
        key: str | None = None,
    ) -> Extract:
        """The same extract on Spark: each agreed table goes to a Spark temporary view through an encrypted
        Parquet file under ``tmp_dir`` (``bold.spark.sealed``), so studies compile to Spark SQL unchanged."""
        from bold.spark.sealed import Handoff

        source = cls.duckdb(path, agreed, config, key)
        handoff = Handoff(spark, tmp_dir)
        present = set(source.con.list_tables())
        extra = [t for t in ("about", *(variant_table(v) for v in THRESHOLDS)) if t in present]
        if "person" not in agreed:
            extra = [t for t in extra if t == "about"]
        try:
            for dataset in [*agreed, *extra]:
                handoff.to_spark(source.con.con, dataset, dataset)
        except BaseException:
            handoff.close()
            raise
        finally:
            source.con.disconnect()
        extract = cls(ibis.pyspark.connect(spark), agreed)
        extract._handoff = handoff
        return extract

    @property
    def backend(self) -> str:
        return self.con.name

    def about(self) -> dict:
        """What the extract says of itself (``about``: project, built_at, linkage run and threshold...), or
        nothing for a test extract without it."""
        if "about" not in self.con.list_tables():
            return {}
        row = self.con.table("about").to_pandas().iloc[0].to_dict()
        return {k: (None if v is None or (isinstance(v, float) and pd.isna(v)) else v) for k, v in row.items()}

    def thresholds(self) -> list[str]:
        """The linkage thresholds whose clusterings the extract carries (none for one built before it did)."""
        names = set(self.con.list_tables())
        sample = next((d for d in self.agreed if d != "person" and d in names), None)
        if sample is None:
            return []
        columns = set(self.con.table(sample).columns)
        found = [t for t in THRESHOLDS if variant_column(t) in columns]
        if "person" in self.agreed and any(variant_table(t) not in names for t in found):
            return []
        return found

    def at(self, threshold: str) -> Extract:
        """The same extract with each record's person taken from the clustering at ``threshold`` (the study
        language then counts people, cohorts and breakdowns as that threshold links them); its own evidence
        and fields used. Refused when the extract does not carry that clustering."""
        if threshold not in self.thresholds():
            raise StudyError(f"the extract carries no clustering at the {threshold!r} threshold: rebuild the project")
        other = Extract(self.con, self.agreed)
        other.threshold = threshold
        other._data_end = self._data_end
        other.caches = self.caches
        return other

    def _source(self, dataset: str) -> ir.Table:
        """A dataset's table, ``person_id`` being the person at this extract's threshold; the other clusterings'
        columns are never visible to a study."""
        if self.threshold is None:
            table = self._table(dataset)
        elif dataset == "person":
            table = self._table(variant_table(self.threshold))
        else:
            table = self._table(dataset)
            table = table.mutate(**{PERSON: table[variant_column(self.threshold)]})
        hidden = [c for c in table.columns if c in VARIANT_COLUMNS]
        return table.drop(*hidden) if hidden else table

    def _table(self, name: str) -> ir.Table:
        try:
            return self.con.table(name)
        except TableNotFound:
            raise StudyError(
                f"{name!r} is agreed but not in the extract (a participant list deleted after its report, or one "
                "sent after the build): rebuild the project",
                kind=Kind.CONFLICT,
            ) from None

    def close(self) -> None:
        """Close a DuckDB extract (DuckDB then removes its spill folder); on Spark, remove the encrypted files
        its views read (the session is shared, and stays open)."""
        if self.threshold is not None:
            return  # a view of another extract, which owns the connection
        try:
            while self.caches:  # before the connection closes (left to the garbage collector, they fail after it)
                self.caches.pop().release()
        finally:  # whatever a release meets, the connection closes and the encrypted hand-off files go
            if self.backend == "duckdb":
                self.con.disconnect()
            if self._handoff is not None:
                self._handoff.close()

    def table(self, dataset: str, fields: Iterable[str] = (), where: Where | None = None) -> ir.Table:
        """``person_id`` and the named fields of one dataset, filtered by ``where`` (which may use any agreed
        field of the dataset); anything outside the agreement is refused by name."""
        fields = list(dict.fromkeys(fields))
        if dataset not in self.agreed:
            raise StudyError(f"dataset {dataset!r} is not in this project's agreement")
        outside = [f for f in fields if f not in self.agreed[dataset]]
        if outside:
            raise StudyError(f"{', '.join(f'{dataset}.{f}' for f in outside)} not in this project's agreement")
        table = self._source(dataset)
        absent = [f for f in fields if f not in table.columns]
        if absent:
            raise StudyError(
                f"{', '.join(f'{dataset}.{f}' for f in absent)} agreed but not in the extract: rebuild the project"
            )
        present = [f for f in self.agreed[dataset] if f in table.columns]
        table = table.select(PERSON, *present)
        dates = [f for f in present if table[f].type().is_timestamp()]  # Spark has no date type
        table = table.mutate(**{f: table[f].date() for f in dates})
        if where is not None:
            condition = where(table)
            fields += _fields_read(condition)
            table = table.filter(condition)
        self.used.update(f"{dataset}.{f}" for f in fields)
        return table.select(PERSON, *dict.fromkeys(fields))

    def fields_of(self, dataset: str, condition: Where) -> list[str]:
        """The fields a condition reads (it may use any agreed field of the dataset), recorded as used."""
        table = self._source(dataset)
        names = _fields_read(condition(table.select(PERSON, *[f for f in self.agreed[dataset] if f in table.columns])))
        self.used.update(f"{dataset}.{f}" for f in names)
        return names

    def people(self) -> int:
        """People in the extract (the largest number in any one dataset): the bound for row-level checks."""
        counts = [self.con.execute(self._source(d)[PERSON].nunique()) for d in self.agreed]
        return int(max(counts, default=0))

    @property
    def data_end(self) -> dt.date:
        """The last date of anything that happened in the extract: follow-up stops here (the data's coverage
        ends). Scheduled dates that may lie in the future (an order's planned end) do not count."""
        if self._data_end is None:
            ends = []
            for dataset in self.agreed:
                table = self._source(dataset)
                scheduled = _scheduled_fields(dataset)
                for name, kind in table.schema().items():
                    agreed = name in self.agreed[dataset] and name not in scheduled
                    if agreed and (kind.is_date() or kind.is_timestamp()):
                        ends.append(self.con.execute(table[name].max()))
            ends = [pd.Timestamp(e).date() for e in ends if e is not None and not pd.isna(e)]
            if not ends:
                raise StudyError("the extract has no dates, so follow-up cannot be measured")
            self._data_end = max(ends)
        return self._data_end


class Cohort:
    """One row per index event, with outcomes and breakdowns added as columns (methods chain)."""

    def __init__(
        self,
        extract: Extract,
        dataset: str,
        index: str,
        fields: Iterable[str] = (),
        where: Where | None = None,
        period: tuple[dt.date | None, dt.date | None] = (None, None),
        distinct: bool = True,
    ):
        self.extract = extract
        fields = [f for f in fields if f != index]
        source = extract.table(dataset, [index, *fields], where)
        _must_be_date(source, dataset, index)
        source = source.filter(source[index].notnull())
        start, end = period
        if start is not None:
            source = source.filter(source[index] >= start)
        if end is not None:
            source = source.filter(source[index] <= end)
        source = source.select(PERSON, index_date=source[index], **{f: source[f] for f in fields})
        if distinct:  # the same event recorded twice (a duplicate record, linked to one person) counts once;
            # a flag set on either record is kept, other fields take the smallest value (deterministic)
            source = source.group_by([PERSON, "index_date"]).aggregate(
                **{f: source[f].max() if source[f].type().is_boolean() else source[f].min() for f in fields}
            )
        self.t = source
        # What identifies a row (after merging, person and index date): rows are numbered in this order when
        # events are first joined to them (``_numbered``), the same way however often Spark recomputes them.
        self._order = [PERSON, "index_date"] + ([] if distinct else fields)
        self._cache_source = self._cache = None
        # What part of time the index dates can cover, for flagging partial periods (``coverage``).
        self._index_source = (dataset, index)
        self._window = [start, end]
        self._first: dt.date | None = None

    def _events(
        self, dataset: str, date: str, within: tuple[int | None, int | None], where, fields, same=None, since=None
    ) -> ir.Table:
        """Each cohort row joined to the person's events of one dataset inside the window, with ``_days``;
        ``same`` maps cohort columns to event fields that must be equal (both known) for an event to count;
        ``since`` names a date column of the cohort the days count from instead of the index date."""
        same = dict(same or {})
        self._numbered()
        events = self.extract.table(dataset, [date, *fields, *same.values()], where)
        _must_be_date(events, dataset, date)
        events = events.filter(events[date].notnull())
        events = events.rename(_person=PERSON, _date=date, **{f"_same_{f}": f for f in same.values()})
        anchor = since or "index_date"
        if not self.t[anchor].type().is_date():
            raise StudyError(f"days can only be counted from a date: {anchor} is {self.t[anchor].type()}")
        extra = [c for c in dict.fromkeys([*same, anchor]) if c not in ("_row", PERSON, "index_date")]
        base = self.t.select("_row", PERSON, "index_date", *extra)
        condition = [base[PERSON] == events._person]
        condition += [base[c] == events[f"_same_{f}"] for c, f in same.items()]
        joined = base.join(events, condition)
        joined = joined.mutate(_days=joined._date.delta(joined[anchor], unit="day"))
        low, high = within
        if low is not None:
            joined = joined.filter(joined._days >= low)
        if high is not None:
            joined = joined.filter(joined._days <= high)
        return joined

    def _numbered(self) -> None:
        """Number the rows (``_row``, to join events back to) and compute the cohort so far once: it is both the
        base of an events join and the side the events are joined back to, so left as an expression it would be
        computed twice at each, and again at every later one. Numbering waits until it is needed (a cohort
        without events is never sorted) and then sorts the computed rows, not the query behind them."""
        if "_row" not in self.t.columns:
            self.t = self.t.mutate(_row=ibis.row_number().over(order_by=self._order))
        self._cached()

    def _attach(self, per_row: ir.Table, fill: dict | None = None) -> Cohort:
        names = [c for c in per_row.columns if c != "_row"]
        clash = [c for c in names if c in self.t.columns]
        if clash:
            raise StudyError(f"the cohort already has a column named {', '.join(clash)}")
        per_row = per_row.rename(_row_other="_row")
        joined = self.t.left_join(per_row, self.t._row == per_row._row_other)
        self.t = joined.select(*self.t.columns, *names)
        if fill:
            self.t = self.t.mutate(**{c: self.t[c].fill_null(v) for c, v in fill.items()})
        return self

    def first_event(
        self,
        name: str,
        dataset: str,
        date: str,
        within: tuple[int | None, int | None] = (0, None),
        where: Where | None = None,
        take: Iterable[str] = (),
        same: dict[str, str] | None = None,
    ) -> Cohort:
        """Add ``name``: days from the index date to the first event in the window (null when none).
        ``take`` fields of that first event are added as ``name_<field>``; with ``same`` (cohort column: event
        field), only events whose field equals the row's column count (a treatment start in the release's own
        local authority)."""
        take = list(take)
        events = self._events(dataset, date, within, where, take, same)
        aggs = {name: events._days.min()}
        aggs.update({f"{name}_{f}": events[f].argmin(events._days) for f in take})
        return self._attach(events.group_by("_row").aggregate(**aggs))

    def last_event(
        self,
        name: str,
        dataset: str,
        date: str,
        within: tuple[int | None, int | None] = (None, -1),
        where: Where | None = None,
        since: str | None = None,
    ) -> Cohort:
        """Add ``name``: days from the index date (or the cohort's date column ``since``) to the latest event in
        the window (negative before it)."""
        events = self._events(dataset, date, within, where, (), since=since)
        return self._attach(events.group_by("_row").aggregate(**{name: events._days.max()}))

    def count_events(
        self,
        name: str,
        dataset: str,
        date: str,
        within: tuple[int | None, int | None] = (0, None),
        where: Where | None = None,
        distinct: str | None = None,
    ) -> Cohort:
        """Add ``name``: the number of events in the window (or of distinct values of ``distinct``). One
        person's records on the same date count once, as duplicate records of one event (as index events do)."""
        events = self._events(dataset, date, within, where, [distinct] if distinct else [])
        count = events[distinct].nunique() if distinct else events._date.nunique()
        return self._attach(events.group_by("_row").aggregate(**{name: count}), fill={name: 0})

    def ongoing(
        self,
        name: str,
        dataset: str,
        start: str,
        end: str | None = None,
        within: tuple[int | None, int | None] = (None, -1),
        where: Where | None = None,
    ) -> Cohort:
        """Add ``name``: whether an episode that started in the window (``start`` to ``end``, such as a
        treatment journey) was still open on the index date: no end yet, or an end on day 0 or later. Without
        ``end``, any start in the window counts."""
        events = self._events(dataset, start, within, where, [end] if end else [])
        if end:
            events = events.filter(events[end].isnull() | (events[end] >= events.index_date))
        hits = events.group_by("_row").aggregate(**{name: events.count() > 0})
        return self._attach(hits, fill={name: False})

    def count_each(
        self,
        dataset: str,
        date: str,
        within: tuple[int | None, int | None] = (0, None),
        where: Where | None = None,
        **conditions: Where,
    ) -> Cohort:
        """Add one column per condition: the number of events in the window matching it (one pass over the
        events, however many conditions), one person's records on the same date counting once (duplicates)."""
        needed = [f for test in conditions.values() for f in self.extract.fields_of(dataset, test)]
        events = self._events(dataset, date, within, where, needed)
        counts = {name: events._date.nunique(where=test(events)) for name, test in conditions.items()}
        return self._attach(events.group_by("_row").aggregate(**counts), fill=dict.fromkeys(conditions, 0))

    def person(self, fields: Iterable[str]) -> Cohort:
        """Add attributes of the person (``person`` dataset: sex, birth_year) to each row."""
        people = self.extract.table("person", fields).rename(_person=PERSON)
        joined = self.t.left_join(people, self.t[PERSON] == people._person)
        self.t = joined.select(*self.t.columns, *[c for c in people.columns if c != "_person"])
        return self

    def lookup(self, table: pd.DataFrame, on: str, key: str | None = None) -> Cohort:
        """Add the columns of a small public reference table (for example region by local authority), matching
        the cohort's column ``on`` to the table's column ``key`` (default: the same name). Compiled to a CASE
        expression, so no table has to be shipped to the engine."""
        key = key or on
        for column in table.columns:
            if column != key:
                mapping = dict(zip(table[key], table[column], strict=True))
                self.t = self.t.mutate(**{column: self.t[on].substitute(mapping, else_=ibis.null("string"))})
        return self

    def days_to_data_end(self, name: str = "days_to_data_end") -> Cohort:
        """Add ``name``: days from the index date to the last date the extract covers (for censoring)."""
        end = ibis.literal(self.extract.data_end)
        return self.derive(**{name: lambda t: end.delta(t.index_date, unit="day")})

    def derive(self, **columns: Expr) -> Cohort:
        """Add columns computed from the row, e.g. ``treated=lambda t: t.days_to_treatment <= 21``."""
        self.t = self.t.mutate(**{name: f(self.t) for name, f in columns.items()})
        return self

    def until(self, last: dt.date) -> Cohort:
        """Keep index events on or before ``last`` (so every one has the follow-up a measure needs); periods
        after it are flagged partial."""
        self._window[1] = last if self._window[1] is None else min(self._window[1], last)
        return self.keep(lambda t: t.index_date <= last)

    def covers(self, first: dt.date, last: dt.date) -> Cohort:
        """Say the cohort's periods run from ``first`` to ``last`` (for partial flags), for a cohort whose rows are
        periods an episode crosses into (``crossing``) rather than index dates inside the period."""
        self._window = [first, last]
        self._first = first
        return self

    def looks_back(self, days: int) -> Cohort:
        """Say that a measure looks ``days`` back from the index date: periods whose index events may have a
        shorter look-back, because the data start less than ``days`` before them, are flagged partial."""
        first = self.first_date() + dt.timedelta(days=days)
        self._first = first if self._first is None else max(self._first, first)
        return self

    def first_date(self) -> dt.date:
        """The earliest index date the dataset holds (before any filter): where its data start."""
        dataset, index = self._index_source
        table = self.extract.table(dataset, [index])
        first = self.extract.con.execute(table[index].min())
        return None if first is None or pd.isna(first) else pd.Timestamp(first).date()

    def coverage(self) -> tuple[dt.date | None, dt.date | None]:
        """The first and last dates index events can have: the data's start (or a measure's look-back) and end
        (or the follow-up a measure needs), within the study period."""
        start, end = self._window
        first = self._first or self.first_date()
        lo = max([d for d in (start, first) if d is not None], default=None)
        return lo, min(d for d in (end, self.extract.data_end) if d is not None)

    def crossing(self, periods: list[tuple[str, dt.date, dt.date]], end: str, name: str = "period") -> Cohort:
        """One row per index event (an episode from the index date to the ``end`` column, such as a treatment
        journey) and period it crosses into: started by the period's end, and not ended (``end`` missing, or on
        or after the period's start) before it began. Adds ``name`` (the period's label), ``period_start`` and
        ``period_end``."""
        if len(periods) > 1:  # each period's part reads the rows computed once, not the query behind them
            self._cached()
        parts = []
        for label, first, last in periods:
            t = self.t.filter((self.t.index_date <= last) & (self.t[end].isnull() | (self.t[end] >= first)))
            parts.append(
                t.mutate(**{name: ibis.literal(label)}, period_start=ibis.literal(first), period_end=ibis.literal(last))
            )
        if not parts:
            raise StudyError("no period to count: the study period holds no data")
        t = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
        self.t = t.drop("_row") if "_row" in t.columns else t  # a row per period now: numbered afresh
        self._order = [PERSON, "index_date", name]
        return self

    def keep(self, where: Where) -> Cohort:
        """Keep only the rows matching ``where`` (after outcomes are added: the cohort is fixed first)."""
        self.t = self.t.filter(where(self.t))
        return self

    def summarise(self, by: Iterable[str] = (), **measures: Expr) -> pd.DataFrame:
        """The aggregate table: one row per breakdown group with ``n`` (rows), ``people`` and ``measures``.

        The same measures per group and person are kept as the extract's evidence (``Evidence``), so
        disclosure control counts the people behind every cell. ``n`` is declared a count of index events,
        ``people`` a count of people and the breakdowns groups; the caller declares its measures."""
        by = list(by)
        t = self._cached()
        each = {"n": t.count(), **{k: f(t) for k, f in measures.items()}}
        # a row per person and group, through Arrow and with its strings (the person keys) left in Arrow's
        # buffers: a fraction of the time and memory of Ibis's own conversion to Python objects (same values)
        per_person = self.extract.con.to_pyarrow(t.group_by([*by, PERSON]).aggregate(**each))
        frame = per_person.to_pandas(types_mapper=ARROW_STRINGS.get)
        frame["people"] = 1
        if all(map(_additive, each.values())):  # counts and whole-number sums: the people's rows add up to them
            result = _added_up(frame, by, each)
        else:
            aggs = {"n": each["n"], "people": t[PERSON].nunique(), **{k: each[k] for k in measures}}
            result = self.extract.con.execute(t.group_by(by).aggregate(**aggs) if by else t.aggregate(**aggs))
        if by:
            result = result.sort_values(by, na_position="last").reset_index(drop=True)
        self.extract.evidence.append(Evidence(tuple(by), frame))
        groups = {b: statistics.group() for b in by}
        periods = [b for b in by if b in PERIODS]
        if periods:
            first, last = self.coverage()
            result[PARTIAL] = [
                any(partial(row[b], b, first, last) for b in periods) for row in result[periods].to_dict("records")
            ]
            groups[PARTIAL] = statistics.group()
        return statistics.declare(result, n=statistics.events(), people=statistics.people(), **groups)

    def _cached(self) -> ir.Table:
        """The cohort computed once and kept by the engine (a temporary table in DuckDB, a cached DataFrame in
        Spark), so the many summaries of one study do not repeat its joins."""
        if self._cache_source is not self.t:
            previous, self._cache = self._cache, self.t.cache()
            self._cache_source = self._cache
            self.extract.caches.append(self._cache)
            if previous is not None and self.extract.backend == "duckdb":  # (Spark computes the new one lazily)
                self.extract.caches.remove(previous)
                previous.release()  # its rows are in the new one: free them now, not at the end of the study
        self.t = self._cache  # (the cohort goes on from the computed rows)
        return self._cache

    def frame(self, columns: Iterable[str]) -> pd.DataFrame:
        """Row-level values for a model fitted inside the platform (difference-in-differences, propensity
        scores). Never an output: only the model's aggregate results leave the study, and the runner's guard
        refuses any table with a row per person."""
        return self.extract.con.execute(self._cached().select(PERSON, "index_date", *columns))


def _additive(measure: ir.Value) -> bool:
    """Whether a measure of a group is the sum of the same measure of each person's rows in it: a count, or a sum
    of whole numbers (a sum of fractions would add up in another order, so not to the last digit)."""
    op = measure.op()
    if isinstance(op, ops.CountStar | ops.Count):
        return True
    return isinstance(op, ops.Sum) and op.arg.dtype.is_integer()


def _added_up(frame: pd.DataFrame, by: list[str], each: dict[str, ir.Value]) -> pd.DataFrame:
    """The summary table from its evidence (a row per group and person, ``n`` and additive measures): what the
    engine's own group-by gives, to the type (sums of nothing are missing, counts 0), without a second query."""
    names = list(each)
    if by:
        grouped = frame.groupby(by, dropna=False, sort=False)
        result = grouped[names].sum(min_count=1)
        result["people"] = grouped.size()
        result = result.reset_index()
        for b in by:  # as the engine gives them: Python values, None where missing
            result[b] = result[b].astype(object).where(result[b].notna(), None)
    else:
        result = pd.DataFrame({"people": [len(frame)], **{k: [frame[k].sum(min_count=1)] for k in names}})
    for name, measure in each.items():
        if isinstance(measure.op(), ops.CountStar | ops.Count):
            result[name] = result[name].fillna(0)
        if result[name].notna().all():
            result[name] = result[name].astype("int64")
        else:  # whole numbers with gaps, as the engine gives them: Python integers and None
            result[name] = pd.Series([None if pd.isna(v) else int(v) for v in result[name]], dtype=object)
    return result[[*by, "n", "people", *names[1:]]]


# --- breakdowns: expressions shared by studies --------------------------------------------------------


AGE_BANDS = ((0, 17, "under 18"), (18, 24, "18-24"), (25, 34, "25-34"), (35, 44, "35-44"), (45, 54, "45-54"))
OLDEST_BAND = (55, "55+")
MID_YEAR = 7  # the month a birthday is taken to fall in when only the year of birth is known (1 July)


def age_at(t: ir.Table, birth_year: str = "birth_year", date: str = "index_date") -> ir.IntegerValue:
    """Age in whole years on ``date`` from year of birth alone, by the mid-year convention: everyone is taken to
    be born on 1 July, so age is the date's year minus the year of birth, less one before 1 July. Counting by
    calendar year alone makes everyone a year too old until their birthday (half of people on average, up to a
    year out); the convention is never more than half a year out and halves the people given the wrong age."""
    age = t[date].year() - t[birth_year]
    return ibis.ifelse(t[date].month() < MID_YEAR, age - 1, age)


def age_band(t: ir.Table, birth_year: str = "birth_year", date: str = "index_date") -> ir.StringValue:
    """Age band at the index date (``age_at``: the mid-year convention, the precision a year of birth allows)."""
    age = age_at(t, birth_year, date)
    case = ibis.cases(*[((age >= lo) & (age <= hi), label) for lo, hi, label in AGE_BANDS], else_=OLDEST_BAND[1])
    return ibis.ifelse(t[birth_year].isnull(), "unknown", case)


def quarter(t: ir.Table, date: str = "index_date") -> ir.StringValue:
    """Calendar quarter such as ``2021-Q3``."""
    return t[date].year().cast("string") + "-Q" + t[date].quarter().cast("string")


def financial_year(t: ir.Table, date: str = "index_date") -> ir.StringValue:
    """English financial year (April to March) such as ``2022-23``, as OHID publishes the indicator."""
    start = ibis.ifelse(t[date].month() >= 4, t[date].year(), t[date].year() - 1)
    return start.cast("string") + "-" + ((start + 1) % 100).cast("string").lpad(2, "0")


PARTIAL = "partial_period"  # the column flagging a period (financial year, quarter) the data do not cover whole


def period_bounds(label: str, kind: str) -> tuple[dt.date, dt.date]:
    """First and last day of a ``financial_year`` (``2022-23``) or ``quarter`` (``2021-Q3``) label."""
    if kind == "financial_year":
        year = int(str(label)[:4])
        return dt.date(year, 4, 1), dt.date(year + 1, 3, 31)
    year, q = int(str(label)[:4]), int(str(label)[-1])
    first = dt.date(year, 3 * q - 2, 1)
    following = dt.date(year + (q == 4), (3 * q) % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def partial(label, kind: str, first: dt.date | None, last: dt.date | None) -> bool:
    """Whether the period ``label`` reaches outside the dates the data cover (``first`` to ``last``)."""
    if label is None or (isinstance(label, float) and pd.isna(label)):
        return False
    start, end = period_bounds(label, kind)
    return (first is not None and start < first) or (last is not None and end > last)


PERIODS = ("financial_year", "quarter")


def financial_years(first: dt.date, last: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    """The financial years from ``first`` to ``last``, each as (label, its first day, its last day) clipped to
    those dates (so the years at the edges are partial)."""
    years = []
    year = first.year if first.month >= 4 else first.year - 1
    while dt.date(year, 4, 1) <= last:
        start, end = dt.date(year, 4, 1), dt.date(year + 1, 3, 31)
        years.append((f"{year}-{(year + 1) % 100:02d}", max(start, first), min(end, last)))
        year += 1
    return years


def flag(t: ir.Table, column: str, yes: str = "yes", no: str = "no") -> ir.StringValue:
    """A boolean column as a readable label, missing values kept apart."""
    return ibis.ifelse(t[column].isnull(), "missing", ibis.ifelse(t[column], yes, no))


def _fields_read(condition: ir.Value) -> list[str]:
    """The fields an expression reads, without descending into the tables they come from."""
    fields = condition.op().find(ops.Field, filter=lambda node: not isinstance(node, ops.Relation))
    return [f.name for f in fields if f.name != PERSON]


def _scheduled_fields(dataset: str) -> set[str]:
    """Date fields a contract allows in the future (planned dates, not events)."""
    try:
        contract = load_contract(dataset)
    except ContractError:  # the person dataset, or a test's own table
        return set()
    return {c.field for c in contract.content if c.allow_future}


def _must_be_date(table: ir.Table, dataset: str, field: str) -> None:
    kind = table[field].type()
    if not kind.is_date():
        raise StudyError(f"{dataset}.{field} is {kind}, not a date: index dates and event dates must be dates")
