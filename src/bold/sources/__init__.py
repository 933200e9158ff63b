"""Data contracts: one YAML file per source type, saying what each column is and what is allowed.

A column's ``role`` decides its zone. Identifier roles (names, date of birth, NHS number, ...) go to
the identifiers zone and nowhere else; every other column is ``content`` and goes to the content
zone under its ``field`` name. Contracts are validated when loaded, so a mistake in one is found
before any data is read.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bold import yamlfile
from bold.errors import Invalid

IDENTIFIER_ROLES = (
    "record_id",
    "local_id",
    "forename",
    "surname",
    "initials",
    "aliases",
    "date_of_birth",
    "sex",
    "postcode",
    "postcode_district",
    "nhs_number",
    "pnc_id",
    "prison_number",
    "crn",
    "ni_number",
)
Role = Literal[(*IDENTIFIER_ROLES, "content")]  # type: ignore[valid-type]
ColumnType = Literal["string", "date", "integer", "code", "flag", "icd10", "bloom"]


class ContractError(Invalid, ValueError):
    """A contract or a custodian's column mapping that cannot be used."""


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str  # the column as the custodian's file names it
    role: Role = "content"
    field: str | None = None  # content columns: the name in the content zone
    type: ColumnType = "string"
    format: str | None = None  # dates: strptime format
    codes: tuple[str, ...] | dict[str, str] | None = None  # codes: allowed values (or value -> standard)
    required: bool = False
    pattern: str | None = None  # strings: a regular expression the whole value must match
    min: int | None = None
    max: int | None = None
    max_length: int = Field(default=200, gt=0)
    allow_future: bool = False  # dates: a scheduled date may lie after today
    # dates: plausibility against other date columns of the same record (their names), e.g. an event is
    # never before the date of birth and never after a date of death; a row failing one is quarantined
    not_before: tuple[str, ...] = ()
    not_after: tuple[str, ...] = ()

    @property
    def is_identifier(self) -> bool:
        return self.role != "content"

    @property
    def allowed(self) -> tuple[str, ...]:
        return tuple(self.codes) if self.codes is not None else ()

    @model_validator(mode="after")
    def _check(self) -> Column:
        if self.type == "date" and not self.format:
            raise ValueError(f"column {self.name}: a date needs a format such as '%d/%m/%Y'")
        if self.type == "code" and not self.codes:
            raise ValueError(f"column {self.name}: a code column needs its codes")
        if self.is_identifier and self.field:
            raise ValueError(f"column {self.name}: identifier columns are stored by role, not field")
        if self.pattern:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"column {self.name}: bad pattern: {exc}") from exc
        if not self.is_identifier and self.field is None:
            object.__setattr__(self, "field", self.name.lower())
        if not self.is_identifier and self.field in IDENTIFIER_ROLES:
            raise ValueError(f"column {self.name}: content field {self.field!r} is the name of an identifier role")
        return self


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    version: int = Field(ge=1)
    title: str
    custodian: str
    description: str = ""
    record_id: str
    columns: tuple[Column, ...]

    @model_validator(mode="after")
    def _check(self) -> Contract:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("column names must be unique")
        fields = [c.field for c in self.content]
        if len(set(fields)) != len(fields):
            raise ValueError("content field names must be unique")
        roles = [c.role for c in self.identifiers if c.role != "local_id"]
        if len(set(roles)) != len(roles):  # (encoded files repeat no role either)
            raise ValueError("each identifier role may appear once (local_id excepted)")
        dates = {c.name for c in self.columns if c.type == "date"}
        for c in self.columns:
            for other in (*c.not_before, *c.not_after):
                if c.type != "date" or other not in dates or other == c.name:
                    raise ValueError(f"column {c.name}: not_before/not_after name other date columns of the contract")
        ids = [c for c in self.columns if c.role == "record_id"]
        if len(ids) != 1 or ids[0].name != self.record_id or not ids[0].required:
            raise ValueError(f"record_id {self.record_id!r} must be the one required column with role record_id")
        return self

    @property
    def identifiers(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.is_identifier)

    @property
    def content(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.is_identifier)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def has_role(self, role: str) -> bool:
        return any(c.role == role for c in self.columns)


def _contract_files() -> dict[str, Path]:
    folder = resources.files("bold.sources")
    return {Path(f.name).stem: Path(str(f)) for f in folder.iterdir() if f.name.endswith(".yaml")}


def source_types() -> tuple[str, ...]:
    return tuple(sorted(_contract_files()))


def parse_contract(path: Path) -> Contract:
    data, _, node = yamlfile.read(path, "the contract", ContractError)
    if not isinstance(data, dict):
        raise ContractError(f"{path}: expected the fields of a data contract")
    try:
        return Contract(**data)
    except ValidationError as exc:
        raise ContractError(yamlfile.invalid(path, exc, node)) from None


@functools.cache
def load_contract(source: str) -> Contract:
    files = _contract_files()
    if source not in files:
        raise ContractError(f"unknown source type {source!r}; expected one of {', '.join(sorted(files))}")
    contract = parse_contract(files[source])
    if contract.source != source:
        raise ContractError(f"{files[source]}: declares source {contract.source!r}, expected {source!r}")
    return contract


BLOOM_BITS = 1024  # bits per encoded field before balancing; the balanced filter has twice as many
BLOOM_BASE64_LENGTH = 4 * -(-(2 * BLOOM_BITS // 8) // 3)  # characters of base64 for one balanced filter
ENCODED_ROLES_SKIPPED = ("record_id", "aliases")  # aliases are not encoded (yet); the record id is hashed
ISSUES_COLUMN = "_identifier_issues"  # set by bold encode: identifier problems found before encoding


def encoded_roles(contract: Contract) -> list[str]:
    """Identifier roles a custodian's encoded file carries: those the source holds, plus the initials
    and district derived from full names and postcodes so that every source can meet the treatment one."""
    roles = [c.role for c in contract.identifiers if c.role not in ENCODED_ROLES_SKIPPED]
    if {"forename", "surname"} <= set(roles) and "initials" not in roles:
        roles.append("initials")
    if "postcode" in roles and "postcode_district" not in roles:
        roles.append("postcode_district")
    return list(dict.fromkeys(roles))


def encoded_contract(contract: Contract) -> Contract:
    """The contract of a file made by ``bold encode``: a hashed record id, one Bloom-filter column per
    identifier role, the content columns unchanged."""
    columns = [Column(name=contract.record_id, role="record_id", required=True, pattern="[0-9a-f]{64}")]
    columns += [
        Column(name=f"{role}_bf", role=role, type="bloom", max_length=BLOOM_BASE64_LENGTH)
        for role in encoded_roles(contract)
    ]
    # Dates are checked against the date of birth by bold encode, which still sees it (bold.ingest.rules)
    columns += [c.model_copy(update={"not_before": (), "not_after": ()}) for c in contract.content]
    return Contract(
        source=contract.source,
        version=contract.version,
        title=contract.title + " (encoded)",
        custodian=contract.custodian,
        description=contract.description,
        record_id=contract.record_id,
        columns=tuple(columns),
    )


def load_mapping(path: Path, contract: Contract) -> dict[str, str]:
    """A custodian's mapping ``their column: contract column``, checked against the contract."""
    mapping, _, node = yamlfile.read(path, "the column mapping", ContractError)
    mapping = mapping or {}
    expected = "expected lines of 'THEIR_COLUMN: CONTRACT_COLUMN'"
    if not isinstance(mapping, dict):
        raise ContractError(f"{path}: {expected}")
    names = {c.name for c in contract.columns}
    for key, value in mapping.items():  # the line, never the entry: a wrong file may hold identifiers
        if not (isinstance(key, str) and isinstance(value, str)):
            raise ContractError(f"{path}: line {yamlfile.line_of(node, (key,))}: {expected}")
        if value not in names:
            raise ContractError(
                f"{path}: line {yamlfile.line_of(node, (key,))}: maps to a column not in the {contract.source} "
                f"contract (its columns: {', '.join(c.name for c in contract.columns)})"
            )
    return mapping
