"""What a study is: a named question with a published definition, the agreed fields it needs, its
parameters, and a function from a project extract to aggregate tables and charts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import pandas as pd

from bold.studies import statistics
from bold.studies.language import PARTIAL, PERIODS, Extract, StudyError


@dataclass
class StudyOutput:
    """What a study returns: aggregate tables, charts drawn from them, and notes for the output checker.
    ``reference`` tables hold no data about people (model parameters, assumptions) and so carry no counts: their
    columns are declared ``reference`` (``bold.studies.statistics``) unless the study declared them otherwise."""

    tables: dict[str, pd.DataFrame]
    charts: dict[str, alt.TopLevelMixin] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reference: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for table in self.reference.values():
            statistics.declare(table, **{c: statistics.reference() for c in statistics.untyped(table)})
        partial = partial_periods(self.tables)
        if partial:
            self.notes.append(
                f"Periods the data cover only in part are marked {PARTIAL} in every table by period: "
                f"{', '.join(partial)}; their figures are not comparable with full periods."
            )


def partial_periods(tables: dict[str, pd.DataFrame]) -> list[str]:
    """The periods (financial years, quarters) some table marks partial, in order."""
    found = set()
    for table in tables.values():
        if PARTIAL in table.columns:
            for column in (c for c in PERIODS if c in table.columns):
                found.update(str(v) for v in table.loc[table[PARTIAL].astype(bool), column].dropna())
    return sorted(found)


@dataclass(frozen=True)
class MainMeasure:
    """The one figure a study stands on (docs/studies.md, "Linkage uncertainty"): it is reported again at every
    linkage threshold the extract carries. ``value`` is a column of ``table`` (a share, rate, estimate or sum),
    ``low`` and ``high`` its 95% interval (``None``: it has none), ``rows`` the rows of the table that hold it
    (column: value; none: every row, e.g. one per week since release). ``linked``: the cohort's source and its
    outcome's, whose records must be linked for a row to count in a share's numerator (a release to a treatment
    start), so that a missed match loses an event; with the linkage report's recall from the one into the other
    the runner adds a missed-match correction (``bold.studies.uncertainty``)."""

    table: str
    value: str
    low: str | None = None
    high: str | None = None
    rows: tuple[tuple[str, str], ...] = ()
    linked: tuple[str, str] | None = None

    @classmethod
    def share(
        cls, table: str, share: str, rows: tuple[tuple[str, str], ...] = (), linked: tuple[str, str] | None = None
    ) -> MainMeasure:
        """A share with its Wilson interval (``<share>_low``, ``<share>_high``), as ``with_proportion`` names them."""
        return cls(table, share, f"{share}_low", f"{share}_high", rows, linked)


@dataclass(frozen=True)
class Study:
    id: str
    title: str
    question: str  # where the question comes from (docs/design/DOMAIN.md section 6)
    definition: str  # the measure, worded as its published source words it
    needs: tuple[str, ...]  # dataset.field entries the agreement must include
    compute: Callable[[Extract, dict[str, Any]], StudyOutput]
    parameters: dict[str, Any] = field(default_factory=dict)  # defaults; a run may override them
    optional: tuple[str, ...] = ()  # dataset.field entries used for extra breakdowns when agreed
    required: tuple[str, ...] = ()  # parameters a run must set (no sensible default, e.g. the pilot's areas)
    main: MainMeasure | None = None  # the figure reported at every linkage threshold (bold.studies.uncertainty)

    def resolve(self, overrides: dict[str, Any] | None) -> dict[str, Any]:
        """Defaults with the run's overrides, refusing names the study does not know."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.parameters))
        if unknown:
            known = ", ".join(sorted(self.parameters)) or "none"
            raise StudyError(f"study {self.id} has no parameter {', '.join(unknown)} (known: {known})")
        missing = [name for name in self.required if overrides.get(name) in (None, "")]
        if missing:
            raise StudyError(f"study {self.id} needs " + ", ".join(f"--param {name}=..." for name in missing))
        return {**self.parameters, **overrides}


def agreed(extract: Extract, entry: str) -> bool:
    """Whether ``dataset.field`` is in the agreement (for optional breakdowns)."""
    dataset, name = entry.split(".", 1)
    return name in extract.agreed.get(dataset, [])


def unagreed_breakdowns(extract: Extract, dataset: str, fields) -> list[str]:
    """A note for each optional breakdown field of ``dataset`` the agreement leaves out."""
    missing = [f for f in fields if not agreed(extract, f"{dataset}.{f}")]
    return [f"{dataset}.{f} is not in the agreement: no breakdown by it" for f in missing]
