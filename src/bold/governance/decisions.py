"""The records behind a project decision: every version of its agreement, the board's answer to each human
criterion, the data protection impact assessment (DPIA), and each custodian's sign-off.

An amended agreement is a new *version*: what was decided about the old one (its DPIA, its sign-offs, the
board's answers) stays with the old one, so the new one is assessed, signed off and decided afresh, and the
register can show every version with its outcome. The board may approve only a version whose DPIA is recorded
(with no high residual risk: that goes to the ICO for prior consultation, UK GDPR article 36) and must answer
each criterion only people can judge (``HUMAN_CRITERIA``), each with a reason; an extract is built only once
every custodian whose source a version requests has signed that use off. A custodian of a source is a person
holding the custodian role who has sent a batch of it that still stands.

These are read and written inside the caller's store transaction (``bold.governance.projects``), so a decision
and the records it rests on commit together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bold import yamlfile
from bold.errors import Invalid

# The criteria of seed 003 only people can judge: an id to answer by, and the question the board answers.
HUMAN_CRITERIA: dict[str, str] = {
    "socially-acceptable": "The purpose is socially acceptable and the public would expect it (DOMAIN.md s3).",
    "transparency": "The public can be made aware of this use (the transparency register will list it).",
    "trusted-partners": "The partners are trusted and each party's role is clear.",
    "impact": "Impacts can be measured and the story of impact told.",
    "no-stigma": "Results cannot stigmatise an area or a group (small areas, ethnicity breakdowns).",
    "safeguards": "Storage, access restrictions and privacy controls are adequate for these datasets.",
    "lived-experience": "People with lived experience were involved or consulted.",
}


class DecisionError(Invalid):
    """A decision record that is missing, malformed, or does not support the decision."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _strip(cls, value):
        return value.strip() if isinstance(value, str) else value


class Answer(_Strict):
    criterion: str
    answer: Literal["yes", "no"]
    reason: str = Field(min_length=1)

    @field_validator("answer", mode="before")
    @classmethod
    def _yes_no(cls, value):
        """YAML reads a bare yes or no as true or false."""
        return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


class Answers(_Strict):
    answers: list[Answer]


class Risk(_Strict):
    risk: str = Field(min_length=1)
    mitigation: str = Field(min_length=1)


class Involvement(_Strict):
    who: str = Field(min_length=1)  # a panel, a group, a role: never a private person's name
    said: str = Field(min_length=1)


class Dpia(_Strict):
    """A project's data protection impact assessment, as the board records it."""

    summary: str = Field(min_length=1)
    risks: list[Risk] = Field(min_length=1)
    public_involvement: list[Involvement] = Field(default_factory=list)
    residual_risk: Literal["low", "medium", "high"]
    dpo_advice: str = Field(min_length=1)


def _load(path: Path, model: type[BaseModel], what: str, template: str) -> BaseModel:
    return yamlfile.parse(path, model, what, DecisionError, f"{what} ({template})")[0]


def load_answers(path: Path) -> list[Answer]:
    """The board's answers, from YAML: ``answers: [{criterion: ID, answer: yes|no, reason: ...}]``."""
    answers = _load(path, Answers, "the board's answers", "answers: [{criterion, answer, reason}]").answers
    return _known(answers, f"{path}: ")


def answers_from(items: list[dict]) -> list[Answer]:
    """The board's answers as a form gives them (criterion, answer, reason each)."""
    try:
        return _known(Answers(answers=items).answers, "")
    except ValidationError as exc:
        first = exc.errors()[0]
        criterion = items[first["loc"][1]].get("criterion", "?") if len(first["loc"]) > 1 else "?"
        raise DecisionError(f"the answer on {criterion}: {first['loc'][-1]}: {first['msg']}") from None


def _known(answers: list[Answer], where: str) -> list[Answer]:
    unknown = sorted({a.criterion for a in answers} - set(HUMAN_CRITERIA))
    if unknown:
        criteria = ", ".join(HUMAN_CRITERIA)
        raise DecisionError(f"{where}unknown criteria {', '.join(unknown)}; the criteria are {criteria}")
    twice = sorted({a.criterion for a in answers if sum(b.criterion == a.criterion for b in answers) > 1})
    if twice:
        raise DecisionError(f"{where}criteria answered more than once: {', '.join(twice)}")
    return answers


def load_dpia(path: Path) -> Dpia:
    return _load(path, Dpia, "a DPIA", "summary, risks, public_involvement, residual_risk, dpo_advice")


def check_answers(answers: list[Answer] | None, approving: bool) -> None:
    """An approval answers every criterion ``yes`` with a reason; a refusal's answers, if given, are complete."""
    if answers is None:
        if approving:
            raise DecisionError(
                "an approval records the board's answer and reason for each criterion only people can judge: "
                f"give them in a file (criteria: {', '.join(HUMAN_CRITERIA)})"
            )
        return
    missing = [c for c in HUMAN_CRITERIA if c not in {a.criterion for a in answers}]
    if missing:
        raise DecisionError(f"the board has not answered: {', '.join(missing)}")
    no = [a.criterion for a in answers if a.answer == "no"]
    if approving and no:
        raise DecisionError(f"the board answered no to {', '.join(no)}: refuse, or ask for changes, instead")


class VersionOutcome(StrEnum):
    APPROVED = "approved"
    REFUSED = "refused"
    AMENDED = "amended"  # superseded by a later version before a decision, or after one
    WITHDRAWN = "withdrawn"


@dataclass
class SignOff:
    source: str
    signed_by: str
    signed_at: str
    conditions: str | None


@dataclass
class Version:
    """One version of a project's agreement and what was decided about it."""

    number: int
    agreement: str
    assessment: dict
    submitted_by: str
    submitted_at: str
    outcome: str | None
    decided_by: str | None
    decided_at: str | None
    reason: str | None
    answers: list[dict] | None
    dpia: dict | None
    dpia_by: str | None
    sign_offs: list[SignOff]

    def summary(self) -> dict:
        """What the register and ``project show --json`` give of a version (no DPIA text beyond its summary)."""
        return {
            "version": self.number,
            "submitted_by": self.submitted_by,
            "submitted_at": self.submitted_at,
            "acceptable": self.assessment["acceptable"],
            "outcome": self.outcome,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "reason": self.reason,
            "answers": self.answers,
            "dpia": None
            if self.dpia is None
            else {
                "summary": self.dpia["summary"],
                "risks": len(self.dpia["risks"]),
                "public_involvement": self.dpia["public_involvement"],
                "residual_risk": self.dpia["residual_risk"],
                "recorded_by": self.dpia_by,
            },
            "sign_offs": [s.__dict__ for s in self.sign_offs],
        }


def add_version(db, project_id: str, number: int, agreement: str, assessment: dict, by: str, at: str) -> None:
    db.execute(
        "insert into project_versions (project_id, version, agreement, assessment, submitted_by, submitted_at) "
        "values (?, ?, ?, ?, ?, ?)",
        (project_id, number, agreement, json.dumps(assessment), by, at),
    )


def set_outcome(
    db, project_id: str, number: int, outcome: VersionOutcome, by: str, at: str, reason=None, answers=None
) -> None:
    db.execute(
        "update project_versions set outcome = ?, decided_by = ?, decided_at = ?, reason = ?, answers = ? "
        "where project_id = ? and version = ?",
        (
            outcome.value,
            by,
            at,
            reason,
            None if answers is None else json.dumps([a.model_dump() for a in answers]),
            project_id,
            number,
        ),
    )


def record_dpia(db, project_id: str, number: int, dpia: Dpia, by: str, at: str) -> bool:
    """Record (or replace) the current version's DPIA; whether one was already recorded."""
    had = db.execute(
        "select 1 from project_dpias where project_id = ? and version = ?", (project_id, number)
    ).fetchone()
    db.execute(
        "insert or replace into project_dpias (project_id, version, dpia, recorded_by, recorded_at) "
        "values (?, ?, ?, ?, ?)",
        (project_id, number, dpia.model_dump_json(), by, at),
    )
    return had is not None


def dpia_of(db, project_id: str, number: int) -> Dpia | None:
    row = db.execute(
        "select dpia from project_dpias where project_id = ? and version = ?", (project_id, number)
    ).fetchone()
    return None if row is None else Dpia(**json.loads(row[0]))


def check_dpia(db, project_id: str, number: int) -> None:
    """An approval needs the version's DPIA, and no high residual risk."""
    dpia = dpia_of(db, project_id, number)
    if dpia is None:
        raise DecisionError(
            f"{project_id} version {number} has no DPIA: record it first (bold project dpia {project_id} FILE)"
        )
    if dpia.residual_risk == "high":
        raise DecisionError(
            f"the DPIA of {project_id} version {number} leaves a high residual risk: the ICO must be consulted "
            "before processing (UK GDPR article 36), and BOLD does not approve it"
        )


def custodians_of(db, source: str) -> set[str]:
    """Who has sent a batch of ``source`` that still stands (neither withdrawn nor expired)."""
    rows = db.execute(
        "select distinct actor from batches where source = ? and withdrawn_at is null and expired_at is null",
        (source,),
    ).fetchall()
    return {r[0] for r in rows}


def sign_off(db, project_id: str, number: int, source: str, by: str, at: str, conditions: str | None) -> None:
    if by not in custodians_of(db, source):
        raise DecisionError(
            f"{by} has sent no {source} data that still stands, so is not its custodian and cannot sign off its use"
        )
    db.execute(
        "insert or replace into project_sign_offs (project_id, version, source, signed_by, signed_at, conditions) "
        "values (?, ?, ?, ?, ?, ?)",
        (project_id, number, source, by, at, conditions),
    )


def sign_offs(db, project_id: str, number: int) -> list[SignOff]:
    rows = db.execute(
        "select source, signed_by, signed_at, conditions from project_sign_offs "
        "where project_id = ? and version = ? order by source",
        (project_id, number),
    ).fetchall()
    return [SignOff(*r) for r in rows]


def missing_sign_offs(db, project_id: str, number: int, sources: list[str]) -> list[str]:
    signed = {s.source for s in sign_offs(db, project_id, number)}
    return [s for s in sources if s not in signed]


def versions(db, project_id: str) -> list[Version]:
    """Every version of a project's agreement, oldest first, each with its records."""
    rows = db.execute(
        "select v.*, d.dpia, d.recorded_by as dpia_by from project_versions v left join project_dpias d "
        "on d.project_id = v.project_id and d.version = v.version where v.project_id = ? order by v.version",
        (project_id,),
    ).fetchall()
    return [
        Version(
            number=r["version"],
            agreement=r["agreement"],
            assessment=json.loads(r["assessment"]),
            submitted_by=r["submitted_by"],
            submitted_at=r["submitted_at"],
            outcome=r["outcome"],
            decided_by=r["decided_by"],
            decided_at=r["decided_at"],
            reason=r["reason"],
            answers=json.loads(r["answers"]) if r["answers"] else None,
            dpia=json.loads(r["dpia"]) if r["dpia"] else None,
            dpia_by=r["dpia_by"],
            sign_offs=sign_offs(db, project_id, r["version"]),
        )
        for r in rows
    ]
