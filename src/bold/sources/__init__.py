"""Data contracts: one YAML file per source type, saying what each column is and what is allowed.

A column's ``role`` decides its zone. Identifier roles (names, date of birth, NHS number, ...) go to
the identifiers zone and nowhere else; every other column is ``content`` and goes to the content
zone under its ``field`` name. Contracts are validated when loaded, so a mistake in one is found
before any data is read.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import functools
import re
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    description: str = ""  # what the column means, for people: the field reference and bold sources show it

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


@dataclasses.dataclass(frozen=True)
class Period:
    """How long a source's records are kept: a number of days, months or years (``7 years``)."""

    count: int
    unit: Literal["day", "month", "year"]

    def __str__(self) -> str:
        return f"{self.count} {self.unit}{'s' if self.count != 1 else ''}"

    def before(self, day: dt.date) -> dt.date:
        """The date this period before ``day`` (the 28th of February for the 29th a year on)."""
        if self.unit == "day":
            return day - dt.timedelta(days=self.count)
        months = self.count * (12 if self.unit == "year" else 1)
        year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
        return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


PERIOD = re.compile(r"(\d+)\s*(day|month|year)s?")


def period(text: object, where: str) -> Period:
    """``7 years``, ``18 months`` or ``90 days`` as a :class:`Period`; a clear error naming ``where`` otherwise."""
    found = PERIOD.fullmatch(str(text).strip().lower()) if isinstance(text, str | int) else None
    if found is None or int(found[1]) < 1:
        raise ContractError(f"{where}: {text!r} is not a retention period; expected e.g. '7 years', '18 months'")
    return Period(int(found[1]), found[2])  # type: ignore[arg-type]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    version: int = Field(ge=1)
    title: str
    custodian: str
    description: str = ""
    record_id: str
    # How long a record is kept after the batch that stored it arrived (``bold.governance.retention``); the
    # workspace's [retention] settings override it. None: kept until a person deletes it.
    retention: str | None = None
    event_date: str | None = None  # the content field of the source's main event: its dates give its coverage
    # A participant list (Justice Data Lab style): sent for one evaluation and deleted whole after its report
    # (``bold.governance.lists``); ``bold batch delete-list`` refuses any other source.
    participant_list: bool = False
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
        if self.event_date is not None and self.event_date not in {c.field for c in self.content if c.type == "date"}:
            raise ValueError(f"event_date {self.event_date!r} must be the field of one of the contract's date columns")
        ids = [c for c in self.columns if c.role == "record_id"]
        if len(ids) != 1 or ids[0].name != self.record_id or not ids[0].required:
            raise ValueError(f"record_id {self.record_id!r} must be the one required column with role record_id")
        if self.retention is not None:
            period(self.retention, "retention")
        return self

    @property
    def retention_period(self) -> Period | None:
        return period(self.retention, f"the {self.source} contract") if self.retention is not None else None

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
    return yamlfile.parse(path, Contract, "the contract", ContractError, "the fields of a data contract")[0]


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
        Column(
            name=f"{role}_bf",
            role=role,
            type="bloom",
            max_length=BLOOM_BASE64_LENGTH,
            description=f"{role.replace('_', ' ')}, encoded by the custodian (a Bloom filter)",
        )
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
        event_date=contract.event_date,
        columns=tuple(columns),
    )


MAPPING_ENTRY_KEYS = ("column", "format", "codes")
MAPPING_EXPECTED = (
    "expected lines of 'THEIR_COLUMN: CONTRACT_COLUMN', or 'THEIR_COLUMN:' followed by indented "
    f"{', '.join(MAPPING_ENTRY_KEYS)}"
)


@dataclasses.dataclass(frozen=True)
class ColumnMapping:
    """How a custodian's own file differs from the contract: column names, date formats and codes.

    Applied by :meth:`apply` as a contract of the custodian's own formats, so validation reads their values as
    they are: a rule broken names their file, row and column (and their date format), the quarantine keeps the
    values they sent (to fix and send again), and normalisation stores the contract's values."""

    renames: dict[str, str] = dataclasses.field(default_factory=dict)  # their column -> contract column
    formats: dict[str, str] = dataclasses.field(default_factory=dict)  # contract column -> their strptime format
    # contract column -> their code -> the contract's
    codes: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def apply(self, contract: Contract) -> Contract:
        """``contract`` reading the custodian's formats and codes; columns it lacks (an encoded contract has no
        plaintext identifiers) are left out."""
        if not self.formats and not self.codes:
            return contract
        columns = []
        for col in contract.columns:
            update: dict = {}
            if col.name in self.formats and col.type == "date":
                update["format"] = self.formats[col.name]
            if col.name in self.codes and col.type == "code":
                own = dict(col.codes) if isinstance(col.codes, dict) else {c: c for c in col.allowed}
                update["codes"] = {**own, **{k: own[v] for k, v in self.codes[col.name].items()}}
            columns.append(col.model_copy(update=update) if update else col)
        return contract.model_copy(update={"columns": tuple(columns)})


def as_mapping(mapping: ColumnMapping | dict[str, str] | None) -> ColumnMapping:
    """A plain ``{their column: contract column}`` (the form before formats and codes) as a mapping."""
    if isinstance(mapping, ColumnMapping):
        return mapping
    return ColumnMapping(renames=dict(mapping or {}))


def _code_text(value) -> str | None:
    """A code as YAML gives it (``1`` is a number, ``M`` text); None for what cannot be a code (``yes`` is true)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None


def date_format_problem(fmt: str) -> str | None:
    """Why ``fmt`` cannot read a date the way ingest parses one (DuckDB's strptime), or None: it must be a
    format DuckDB knows and give back day, month and year (a date written with it reads back the same)."""
    import duckdb

    con = duckdb.connect()
    try:
        back = con.execute(
            "select try_strptime(strftime(timestamp '2001-02-13 00:00:00', $f), $f)::date", {"f": fmt}
        ).fetchone()[0]
    except duckdb.Error:
        return "not a date format that strptime knows (e.g. '%Y-%m-%d', '%d/%m/%Y')"
    finally:
        con.close()
    if back != dt.date(2001, 2, 13):
        return "does not read a whole date: it needs the day, month and year (e.g. '%Y-%m-%d')"
    return None


def load_mapping(path: Path, contract: Contract) -> ColumnMapping:
    """A custodian's mapping file, checked against the contract. Each line is ``THEIR_COLUMN: CONTRACT_COLUMN``
    (a rename), or ``THEIR_COLUMN:`` with indented ``column`` (the contract's column; default the same name),
    ``format`` (their date format) and ``codes`` (``THEIR_CODE: CONTRACT_CODE``). Errors name the file, the line
    and the contract's column, never a value or a name from the file (a wrong file may hold identifiers)."""
    data, _, node = yamlfile.read(path, "the column mapping", ContractError)
    data = data or {}
    if not isinstance(data, dict):
        raise ContractError(f"{path}: {MAPPING_EXPECTED}")
    by_name = {c.name: c for c in contract.columns}
    names = ", ".join(by_name)
    found = ColumnMapping()
    for key, value in data.items():
        line = yamlfile.line_of(node, (key,))

        def bad(message: str, *at, key=key, line=line) -> ContractError:
            where = yamlfile.line_of(node, (key, *at)) if at else line
            return ContractError(f"{path}: line {where}: {message}")

        if not isinstance(key, str):
            raise bad(MAPPING_EXPECTED)
        entry = {"column": value} if isinstance(value, str) else value
        if not isinstance(entry, dict):
            raise bad(MAPPING_EXPECTED)
        for part in entry:
            if part not in MAPPING_ENTRY_KEYS:
                raise bad(f"unknown key; a column's entry may hold {', '.join(MAPPING_ENTRY_KEYS)}", part)
        target = entry.get("column", key)
        if not isinstance(target, str):
            raise bad("column: expected the name of a column of the contract", "column")
        if target not in by_name:
            if "column" in entry:
                raise bad(f"maps to a column not in the {contract.source} contract (its columns: {names})")
            raise bad(
                f"not a column of the {contract.source} contract: say which of its columns with column: "
                f"(its columns: {names})"
            )
        if target in found.renames.values():
            raise bad(f"a second column mapped onto {target}: each contract column comes from one of yours")
        col = by_name[target]
        found.renames[key] = target
        if "format" in entry:
            fmt = entry["format"]
            if col.type != "date":
                raise bad(f"{target}: a format is for date columns only ({target} is a {col.type})", "format")
            problem = date_format_problem(fmt) if isinstance(fmt, str) and fmt.strip() else "expected a date format"
            if problem:
                raise bad(f"{target}: format {problem}", "format")
            found.formats[target] = fmt
        if "codes" in entry:
            codes = entry["codes"]
            if col.type != "code":
                raise bad(f"{target}: codes are for code columns only ({target} is a {col.type})", "codes")
            if not isinstance(codes, dict) or not codes:
                raise bad(f"{target}: codes: expected lines of 'YOUR_CODE: CONTRACT_CODE'", "codes")
            allowed = col.allowed
            mapped: dict[str, str] = {}
            for theirs, ours in codes.items():
                their_code, our_code = _code_text(theirs), _code_text(ours)
                if their_code is None or our_code is None:
                    raise bad(
                        f"{target}: codes: expected 'YOUR_CODE: CONTRACT_CODE' (quote codes such as 'yes', "
                        "'no', 'on' or 'off', which YAML reads as true or false)",
                        "codes",
                        theirs,
                    )
                if our_code not in allowed:
                    raise bad(
                        f"{target}: a code is mapped to a value the {contract.source} contract does not allow "
                        f"(its codes for {target}: {', '.join(allowed)})",
                        "codes",
                        theirs,
                    )
                mapped[their_code] = our_code
            found.codes[target] = mapped
    return found
