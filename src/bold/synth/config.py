"""Settings for one synthetic run: size, seed, period, the pilot and identifier corruption rates.

Corruption rates are per source because data quality differs by custodian: justice systems hold
aliases, hospital data misses NHS numbers for homeless people, death registrations are clean.
A YAML file passed to ``bold synth --corruption`` overrides any of them.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bold.synth import calibration as cal

SOURCES = ("prison", "probation", "treatment", "hospital", "deaths", "homelessness", "mental_health")

Rate = Field(default=0.0, ge=0.0, le=1.0)


class CorruptionRates(BaseModel):
    """Probabilities of each identifier problem, per registration or record in one source.

    Name and date-of-birth errors are drawn once per registration (a person's record in the
    source's own system), so they repeat on every event filed under it, as they do in real systems.
    """

    model_config = ConfigDict(extra="forbid")

    forename_typo: float = Rate
    surname_typo: float = Rate
    nickname: float = Rate
    alias: float = Rate  # justice data: booked under an alias
    dob_day_month_swap: float = Rate  # among dates where day and month can be swapped
    dob_wrong_year: float = Rate
    nhs_missing: float = Rate
    nhs_missing_homeless: float = Rate
    nino_missing: float = Rate
    nfa_homeless: float = Rate  # "no fixed abode" in place of an address, for homeless people
    nfa_other: float = Rate
    duplicate: float = Rate  # the same event entered again under a new registration


DEFAULTS_FILE = resources.files("bold.synth").joinpath("data/corruption.yaml")


def default_rates() -> dict[str, dict[str, float]]:
    """The default rates as written in ``data/corruption.yaml``."""
    return yaml.safe_load(DEFAULTS_FILE.read_text())


def _default_corruption() -> dict[str, CorruptionRates]:
    defaults = default_rates()
    return {s: CorruptionRates(**defaults.get(s, {})) for s in SOURCES}


class SynthConfig(BaseModel):
    """Everything that determines a synthetic population: the same config gives the same files."""

    model_config = ConfigDict(extra="forbid")

    people: int = Field(gt=0, le=50_000_000)
    seed: int = Field(ge=0)
    start: dt.date = dt.date(2018, 1, 1)
    end: dt.date = dt.date(2024, 12, 31)
    pilot_start: dt.date | None = None  # default: 40% of the way through the period
    pilot_odds_ratio: float = Field(default=cal.PILOT_ODDS_RATIO, gt=0)  # on continuity of care
    pilot_retention_odds_ratio: float = Field(default=cal.PILOT_RETENTION_ODDS_RATIO, ge=1)  # staying 12 weeks
    pilot_completion_odds_ratio: float = Field(default=cal.PILOT_COMPLETION_ODDS_RATIO, ge=1)  # completing
    corruption: dict[str, CorruptionRates] = Field(default_factory=_default_corruption)

    @model_validator(mode="after")
    def _check_period(self) -> SynthConfig:
        if self.end <= self.start:
            raise ValueError(f"end date {self.end} must be after start date {self.start}")
        if self.pilot_start is None:
            self.pilot_start = self.start + (self.end - self.start) * 2 // 5
        if not self.start <= self.pilot_start <= self.end:
            raise ValueError(f"pilot start {self.pilot_start} must lie between {self.start} and {self.end}")
        unknown = set(self.corruption) - set(SOURCES)
        if unknown:
            raise ValueError(f"unknown source(s) in corruption rates: {', '.join(sorted(unknown))}")
        return self


def load_corruption_overrides(path: Path) -> dict[str, CorruptionRates]:
    """Read a YAML file of ``source: {rate: value}`` and merge it over the defaults."""
    from bold import yamlfile

    data, _, node = yamlfile.read(path, "corruption rates", ValueError)
    data = data or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of source to rates")
    merged = _default_corruption()
    for source, rates in data.items():
        line = yamlfile.line_of(node, (source,))
        if source not in SOURCES:  # (the key is not shown: the file may not be what it should be)
            raise ValueError(f"{path}: line {line}: not a source; expected one of {', '.join(SOURCES)}")
        if not isinstance(rates, dict):
            raise ValueError(f"{path}: line {line}: the rates for {source} must be a mapping")
        try:
            merged[source] = CorruptionRates(**{**merged[source].model_dump(), **rates})
        except ValidationError as exc:
            raise ValueError(yamlfile.invalid(path, exc, node, prefix=(source,))) from None
    return merged
