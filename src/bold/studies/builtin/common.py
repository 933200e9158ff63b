"""Pieces the built-in studies share: cohorts of prison releases and treatment journeys, complete
follow-up, share tables with intervals, person-time at risk, and the charts drawn from them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import altair as alt
import ibis
import pandas as pd

from bold.sources.geography import local_authorities
from bold.studies import statistics as st
from bold.studies.language import PARTIAL, PERSON, Cohort, Evidence, age_band, financial_year, quarter
from bold.studies.measures import with_proportion, with_rate
from bold.studies.study import agreed

COMPLETION_REASONS = ("CDF", "CAU")  # NDTMS: completed drug free; completed, occasional user (not opiates/crack)
# NDTMS: transferred, not in custody; transferred, in custody. A transfer is not an exit from treatment (the client
# continues with another provider, in the community or in prison): neither a completion nor an incomplete exit.
TRANSFER_REASONS = ("TNC", "TIC")
EMERGENCY_METHODS = ("21", "22", "23", "24", "25", "28")  # HES admission methods 2x: emergency
DAYS_PER_YEAR = 365.25
WIDTH = 520


def period(params: dict) -> tuple[dt.date | None, dt.date | None]:
    """The study period from the ``start`` and ``end`` parameters (ISO dates or None)."""
    return tuple(
        None if params.get(k) in (None, "") else dt.date.fromisoformat(str(params[k])) for k in ("start", "end")
    )


def complete_follow_up(cohort: Cohort, days: int) -> Cohort:
    """Keep index events with at least ``days`` of data after them, so an outcome "within N days" is never
    counted as absent only because the data stop (events too recent to judge are left out, as the
    published indicators do)."""
    return cohort.until(cohort.extract.data_end - dt.timedelta(days=days))


PERSON_OPTIONAL = ("person.sex", "person.birth_year", "person.ethnicity")  # what breakdowns() uses when agreed


def breakdowns(cohort: Cohort, local_authority: str | None = None) -> list[str]:
    """Add the standard breakdown columns the agreement allows; returns their names."""
    cohort.derive(financial_year=financial_year, quarter=quarter)
    names = ["financial_year", "quarter"]
    if local_authority:
        cohort.lookup(local_authorities()[["local_authority", "region"]], on=local_authority, key="local_authority")
        names.append("region")
    person = [f.removeprefix("person.") for f in PERSON_OPTIONAL if agreed(cohort.extract, f)]
    if person:
        missing = [f for f in person if f not in cohort.t.columns]  # a study may have added some already
        if missing:
            cohort.person(missing)
        if "sex" in person:
            cohort.derive(sex=lambda t: t.sex.fill_null("U"))
            names.append("sex")
        if "birth_year" in person:
            cohort.derive(age_band=age_band)
            names.append("age_band")
        if "ethnicity" in person:  # for equality analysis; disclosure control guards its small cells
            cohort.derive(ethnicity=lambda t: t.ethnicity.fill_null("not recorded"))
            names.append("ethnicity")
    return names


def shares(
    cohort: Cohort,
    by: list[str],
    events: dict[str, str],
    denominators: dict[str, str] | None = None,
    counts: dict[str, str] | None = None,
    extra: dict | None = None,
) -> pd.DataFrame:
    """Per group: ``n`` index events, ``people``, and for each ``name: boolean column`` of ``events`` the count
    and share with a Wilson interval (``name``, ``name_share``, ``name_share_low``, ``name_share_high``). A share
    is of ``n`` unless ``denominators`` names another column; ``counts`` are boolean columns counted without a
    share, ``extra`` other measures of the summary."""
    flags = {**events, **(counts or {})}
    sums = {name: (lambda t, c=col: t[c].cast("int64").sum()) for name, col in flags.items()}
    table = cohort.summarise(by, **sums, **(extra or {}))
    for name in flags:
        table[name] = table[name].fillna(0).astype(int)
    st.declare(table, **{name: st.events() for name in flags})
    for name in events:
        table = with_proportion(table, name, (denominators or {}).get(name, "n"), prefix=name)
    return table


def stacked(cohort: Cohort, column: str, parts: dict[str, Callable[[], pd.DataFrame]]) -> pd.DataFrame:
    """One table from several summaries of one cohort (each ``parts`` value makes one with a single
    ``summarise``), a block of rows per label in ``column`` (a condition group) before the summaries' own columns.
    The people behind each block are stacked the same way as the extract's evidence, so disclosure control finds
    them for every row (separate summaries each match only their own block)."""
    tables, frames, by = [], [], ()
    for label, make in parts.items():
        table = make()
        evidence = cohort.extract.evidence.pop()
        by = evidence.by
        tables.append(table.assign(**{column: label}))
        frames.append(evidence.frame.assign(**{column: label}))
    cohort.extract.evidence.append(Evidence((column, *by), pd.concat(frames, ignore_index=True)))
    table = pd.concat(tables, ignore_index=True)
    table = st.carry(tables[0], table[[column, *[c for c in tables[0].columns if c != column]]])
    return st.declare(table, **{column: st.group()})


def person_time(cohort: Cohort, windows: list[tuple[str, int, int]], by: list[str], event: str, last: str):
    """Events and person-years per window of days since the index date.

    ``last`` is each row's last day at risk (days from the index date); ``event`` is a boolean column saying
    the row ended with the event on that day. A window (label, first day, last day) counts the days at risk
    inside it and the events falling in it."""
    measures = {}
    for label, lo, hi in windows:
        measures[f"days|{label}"] = lambda t, lo=lo, hi=hi: ibis.greatest(ibis.least(t[last], hi) - lo + 1, 0).sum()
        measures[f"events|{label}"] = lambda t, lo=lo, hi=hi: (t[event] & t[last].between(lo, hi)).cast("int64").sum()
    wide = cohort.summarise(by, **measures)
    table = _by_window(wide, by, windows)
    evidence = cohort.extract.evidence.pop()  # the same reshaping, per person: the cells' people
    long = _by_window(evidence.frame, [*by, PERSON], windows)
    cohort.extract.evidence.append(Evidence((*by, "window", "window_order"), long))
    table = st.declare(
        table,
        **{b: st.group() for b in (*by, "window", "window_order") if b in table.columns},
        **({PARTIAL: st.group()} if PARTIAL in table.columns else {}),
        n=st.events(),
        people=st.people(),
        events=st.events(),
        person_years=st.person_time("years"),
    )
    return with_rate(table, "events", "person_years").sort_values([*by, "window_order"]).reset_index(drop=True)


def _by_window(wide: pd.DataFrame, by: list[str], windows: list[tuple[str, int, int]]) -> pd.DataFrame:
    """One row per group and window from one row per group with ``days|<window>`` and ``events|<window>``."""
    parts = []
    labels = [*by, *([PARTIAL] if PARTIAL in wide.columns else [])]
    for order, (label, _, _) in enumerate(windows):
        part = wide[labels].copy()
        part["window"], part["window_order"] = label, order
        part["n"], part["people"] = wide["n"].astype(int), wide["people"].astype(int)
        part["events"] = wide[f"events|{label}"].fillna(0).astype(int)
        part["person_years"] = wide[f"days|{label}"].fillna(0).astype(float) / DAYS_PER_YEAR
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def share_chart(table: pd.DataFrame, x: str, share: str, title: str, color: str | None = None) -> alt.Chart:
    """Shares with their 95% intervals as error bars."""
    base = alt.Chart(table, title=title).encode(x=alt.X(f"{x}:N", title=x.replace("_", " "), sort=None))
    enc = {"color": alt.Color(f"{color}:N"), "xOffset": alt.XOffset(f"{color}:N")} if color else {}
    points = base.mark_point(filled=True, size=60).encode(
        y=alt.Y(f"{share}:Q", title="share", axis=alt.Axis(format="%")), **enc
    )
    bars = base.mark_rule().encode(y=f"{share}_low:Q", y2=f"{share}_high:Q", **enc)
    return (bars + points).properties(width=WIDTH)


def rate_chart(table: pd.DataFrame, x: str, title: str, color: str | None = None) -> alt.Chart:
    """Rates per 1,000 person-years with their 95% intervals."""
    base = alt.Chart(table, title=title).encode(x=alt.X(f"{x}:N", title=x.replace("_", " "), sort=None))
    enc = {"color": alt.Color(f"{color}:N"), "xOffset": alt.XOffset(f"{color}:N")} if color else {}
    points = base.mark_point(filled=True, size=60).encode(y=alt.Y("rate:Q", title="per 1,000 person-years"), **enc)
    bars = base.mark_rule().encode(y="rate_low:Q", y2="rate_high:Q", **enc)
    return (bars + points).properties(width=WIDTH)
