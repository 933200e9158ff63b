"""Each source's fields as people read them, from its contract: the one list that the field reference
(``docs/fields.md``, written by ``bold.docs_tables``) and ``bold sources`` are both made from, so neither is
ever copied from the contracts by hand.

A content field is what an agreement may ask for, as ``source.field``; an identifier is kept in the identifiers
zone under its role and no agreement may ask for it (``bold.governance.agreement.assess`` makes that a red line).
"""

from __future__ import annotations

from dataclasses import dataclass

from bold.sources import Contract


@dataclass(frozen=True)
class Field:
    source: str
    name: str  # content: the field; identifier: its role (the names the zones use)
    column: str  # the column as the custodian's file names it
    zone: str  # "content" or "identifiers"
    type: str
    format: str | None  # dates: the format in the custodian's file (the zones hold dates as dates)
    codes: tuple[str, ...]  # codes: the values the zone holds
    required: bool
    description: str

    @property
    def requestable(self) -> bool:
        return self.zone == "content"

    @property
    def request(self) -> str | None:
        """How an agreement names the field (``prison.release_date``); None for an identifier."""
        return f"{self.source}.{self.name}" if self.requestable else None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "column": self.column,
            "zone": self.zone,
            "type": self.type,
            "format": self.format,
            "codes": list(self.codes),
            "required": self.required,
            "description": self.description,
            "agreements_may_request": self.request,
        }


def fields(contract: Contract) -> list[Field]:
    """The contract's columns in its order, each as a field of the zone it goes to."""
    out = []
    for c in contract.columns:
        codes = tuple(dict.fromkeys(c.codes.values())) if isinstance(c.codes, dict) else c.allowed
        out.append(
            Field(
                source=contract.source,
                name=c.role if c.is_identifier else str(c.field),
                column=c.name,
                zone="identifiers" if c.is_identifier else "content",
                type=c.type,
                format=c.format,
                codes=codes,
                required=c.required,
                description=c.description,
            )
        )
    return out
