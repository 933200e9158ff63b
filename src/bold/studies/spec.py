"""Analysts' own studies, written as YAML and compiled to the study language.

An analyst describes a cohort, outcomes relative to its index date and breakdowns; BOLD turns the file into
a ``Study`` whose needs are exactly the fields the file mentions, and runs it like a built-in one. The file is
data, not code: nothing an analyst writes is executed, so a study cannot reach past the extract's agreed fields
(running analysts' Python inside the platform would need a sandbox BOLD does not have).

    id: continuity-by-ost
    title: Continuity of care by OST at release
    cohort:
      dataset: prison
      index: release_date
      where: {substance_misuse_need: true}          # equality; a list means "any of"
      period: {start: 2019-04-01, end: 2024-03-31}
    follow_up_days: 42                              # leave out index dates too recent to judge
    outcomes:
      - {name: treated_21_days, first: treatment.treatment_start_date, within: [0, 21]}
      - {name: emergency_admissions, count: hospital.admission_date, within: [0, 364],
         where: {admission_method: ["21", "22", "23", "24", "25", "28"]}}
    breakdowns: [ost_at_release, financial_year, sex, age_band, region]
    region_from: release_local_authority            # the cohort field holding a local authority code

``first`` outcomes give the share with an event in the window; ``count`` outcomes give the number of events and
the share with at least one. Breakdowns are cohort fields or the standard ones (financial_year, quarter, sex,
age_band, region). Every column is typed for disclosure control without the analyst saying so: outcome columns
count events, each ``_share`` is a share of ``n`` with its ``_low`` and ``_high`` bounds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ibis
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bold.sources.geography import local_authorities
from bold.studies import statistics as st
from bold.studies.language import Cohort, Extract, StudyError, age_band, financial_year, quarter
from bold.studies.measures import with_proportion
from bold.studies.study import Study, StudyOutput

MAX_OUTCOMES = 50  # an analyst's study is bounded: each outcome and breakdown is more work and more tables
MAX_BREAKDOWNS = 20
STANDARD = {"financial_year", "quarter", "sex", "age_band", "region"}
Value = str | int | float | bool | dt.date


class CohortSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str
    index: str
    where: dict[str, Value | list[Value]] = {}
    period: dict[str, dt.date] = {}


class OutcomeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    first: str | None = Field(None, pattern=r"^[a-z_]+\.[a-z_0-9]+$")
    count: str | None = Field(None, pattern=r"^[a-z_]+\.[a-z_0-9]+$")
    within: tuple[int | None, int | None] = (0, None)
    where: dict[str, Value | list[Value]] = {}

    @model_validator(mode="after")
    def _one_kind(self) -> OutcomeSpec:
        if (self.first is None) == (self.count is None):
            raise ValueError(f"outcome {self.name}: give exactly one of first: or count: (dataset.date_field)")
        return self

    @property
    def source(self) -> tuple[str, str]:
        dataset, field = (self.first or self.count).split(".")
        return dataset, field


class StudySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")
    title: str
    question: str = "an analyst's study"
    cohort: CohortSpec
    outcomes: list[OutcomeSpec] = Field(min_length=1, max_length=MAX_OUTCOMES)
    breakdowns: list[str] = Field([], max_length=MAX_BREAKDOWNS)
    follow_up_days: int = Field(0, ge=0)
    region_from: str | None = None

    def needs(self) -> tuple[str, ...]:
        c = self.cohort
        entries = [f"{c.dataset}.{c.index}", *(f"{c.dataset}.{f}" for f in c.where)]
        for o in self.outcomes:
            dataset, field = o.source
            entries += [f"{dataset}.{field}", *(f"{dataset}.{f}" for f in o.where)]
        entries += [f"{c.dataset}.{b}" for b in self.breakdowns if b not in STANDARD]
        entries += [f"person.{b if b == 'sex' else 'birth_year'}" for b in self.breakdowns if b in ("sex", "age_band")]
        if "region" in self.breakdowns:
            if not self.region_from:
                raise StudyError("the region breakdown needs region_from: the cohort field holding a local authority")
            entries.append(f"{c.dataset}.{self.region_from}")
        return tuple(dict.fromkeys(entries))


def _matches(conditions: dict[str, Any]):
    """A ``where`` mapping as an Ibis condition: equality, or membership for a list."""

    def where(t):
        tests = [t[f].isin(v) if isinstance(v, list) else t[f] == v for f, v in conditions.items()]
        return ibis.and_(*tests)

    return where if conditions else None


def compile_spec(spec: StudySpec) -> Study:
    """The ``Study`` a spec describes; its needs are every field the spec names."""
    needs = spec.needs()

    def compute(extract: Extract, params: dict) -> StudyOutput:
        c = spec.cohort
        own = [b for b in spec.breakdowns if b not in STANDARD] + ([spec.region_from] if spec.region_from else [])
        period = (c.period.get("start"), c.period.get("end"))
        cohort = Cohort(extract, c.dataset, c.index, fields=own, where=_matches(c.where), period=period)
        for o in spec.outcomes:
            dataset, date = o.source
            if o.first:
                cohort.first_event(f"_{o.name}", dataset, date, within=o.within, where=_matches(o.where))
                cohort.derive(**{o.name: lambda t, n=o.name: t[f"_{n}"].notnull()})
            else:
                cohort.count_events(o.name, dataset, date, within=o.within, where=_matches(o.where))
        if spec.follow_up_days:
            last = extract.data_end - dt.timedelta(days=spec.follow_up_days)
            cohort.keep(lambda t: t.index_date <= last)
        cohort.derive(financial_year=financial_year, quarter=quarter)
        person = [f for f in ("sex", "birth_year") if f"person.{f}" in needs]
        if person:
            cohort.person(person)
            if "sex" in person:
                cohort.derive(sex=lambda t: t.sex.fill_null("U"))
            if "age_band" in spec.breakdowns:
                cohort.derive(age_band=age_band)
        if "region" in spec.breakdowns:
            cohort.lookup(
                local_authorities()[["local_authority", "region"]], on=spec.region_from, key="local_authority"
            )
        measures = {}
        for o in spec.outcomes:
            if o.first:
                measures[o.name] = lambda t, n=o.name: t[n].cast("int64").sum()
            else:
                measures[o.name] = lambda t, n=o.name: t[n].sum()
                measures[f"{o.name}_any"] = lambda t, n=o.name: (t[n] > 0).cast("int64").sum()
        tables = {}
        for by in [[], *([b] for b in spec.breakdowns)]:
            # every outcome column counts index events (with the outcome, or the outcome's events)
            table = st.declare(cohort.summarise(by, **measures), **dict.fromkeys(measures, st.events()))
            for name in [o.name if o.first else f"{o.name}_any" for o in spec.outcomes]:
                table = st.rename(
                    with_proportion(table, name, "n"),
                    {"share": f"{name}_share", "share_low": f"{name}_low", "share_high": f"{name}_high"},
                )
            tables["overall" if not by else f"by_{by[0]}"] = table
        return StudyOutput(tables)

    return Study(
        id=spec.id,
        title=spec.title,
        question=spec.question,
        definition=yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True), sort_keys=False),
        needs=needs,
        compute=compute,
    )


def load_spec(path: Path) -> Study:
    """Read and compile a study file, with errors that name the file and the entry."""
    from bold import yamlfile

    data, _, node = yamlfile.read(path, "the study", StudyError)
    if not isinstance(data, dict):
        raise StudyError(f"{path}: expected a study (id, title, cohort, outcomes, breakdowns)")
    try:
        return compile_spec(StudySpec(**data))
    except ValidationError as exc:
        raise StudyError(yamlfile.invalid(path, exc, node)) from None
