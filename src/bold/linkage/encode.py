"""Privacy-preserving encodings: keyed, balanced Bloom filters, made by custodians before data leaves them.

``bold encode`` is run by a custodian on its own file. Each identifier is normalised exactly as ingest
would normalise it, split into character bigrams, and each bigram is hashed into a Bloom filter of
``BITS`` bits by ``K`` keyed hash functions (double hashing over HMAC-SHA256). The key for each field is
derived from a secret the custodians share and the linker never holds, so the linker cannot build a
dictionary of encodings for likely names. Similar values give similar filters, so the linker can
compare them by the Dice coefficient.

Balancing (Schnell, Borgs and Encarnação 2016): each filter is concatenated with its complement and
the bits are shuffled by a secret, field-specific permutation, so every encoding has half its bits set
while Dice similarity is kept. It does not hide what it was meant to: a bit and its complement are
opposite in every record, so a linker pairs them and recovers the original filters, and deterministic
field-level filters inherit their values' frequencies. ``bold.linkage.attacks`` (issue 15) recovers most
forenames from these encodings alone; :class:`RecordEncoder` (version 2, record-level with random bit
flips) resists the same attacks but is not yet what ``bold encode`` writes. Salting with a record attribute
(such as year of birth) was rejected: any error in the salt makes a true match unrecognisable, and our
sources have many date-of-birth errors.

The record id is replaced by an HMAC of it, so re-sent rows are still recognised as duplicates, and
content columns pass through unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bold import keyed
from bold.errors import Invalid
from bold.sources import BLOOM_BITS as BITS  # per field, before balancing (2,048 after)

K = 20  # hash functions per bigram


class SecretError(Invalid):
    """The shared secret is missing or unsafe."""


def make_secret(path: Path) -> None:
    """Create a new shared secret (256 bits, hex) readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))


def read_secret(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        raise SecretError(
            f"{path}: no such secret; create one with --new-secret and share it with the other "
            "custodians (never with the linker)"
        ) from None
    if mode & 0o077:
        raise SecretError(f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}")
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise SecretError(f"{path}: the secret is too short (at least 32 characters)")
    return secret.encode()


def bigrams(value: str) -> list[str]:
    padded = f"_{value}_"
    return [padded[i : i + 2] for i in range(len(padded) - 1)]


class FieldEncoder:
    """Balanced Bloom filters for one field, under a key derived from the shared secret."""

    def __init__(self, secret: bytes, field: str, bits: int = BITS, k: int = K):
        self.key = hmac.new(secret, f"bold-bloom:{field}".encode(), hashlib.sha256).digest()
        self.bits, self.k = bits, k
        seed = int.from_bytes(hmac.new(secret, f"bold-permutation:{field}".encode(), hashlib.sha256).digest()[:8])
        self.permutation = np.random.default_rng(seed).permutation(2 * bits)
        self._cache: dict[str, str] = {}

    def _positions(self, gram: str) -> list[int]:
        digest = hmac.new(self.key, gram.encode(), hashlib.sha256).digest()
        h1, h2 = int.from_bytes(digest[:8]), int.from_bytes(digest[8:16]) | 1
        return [(h1 + i * h2) % self.bits for i in range(self.k)]

    def encode(self, value: str | None) -> str | None:
        """Base64 of the balanced filter; None stays None (missing is not encoded)."""
        if value is None or value == "":
            return None
        cached = self._cache.get(value)
        if cached is not None:
            return cached
        bloom = np.zeros(self.bits, dtype=bool)
        for gram in bigrams(value):
            bloom[self._positions(gram)] = True
        balanced = np.concatenate([bloom, ~bloom])[self.permutation]
        encoded = base64.b64encode(np.packbits(balanced).tobytes()).decode()
        self._cache[value] = encoded
        return encoded


# Encoding version 2 (candidate hardening, issue 15; not yet what ``bold encode`` makes): one filter per
# record over all its identifiers, each field hashed under its own key with its own number of hash functions,
# then every bit flipped with probability BLIP_FLIP by fresh randomness (BLIP), so identical records give
# different filters and no bit pattern is always set. Treatment records (initials only) get the same kind of
# filter over initials, date of birth, sex and district, which every source with full names can also make.
RECORD_BITS = 1024
RECORD_K = {"forename": 10, "surname": 10, "date_of_birth": 10, "sex": 3, "postcode_district": 5}
INITIALS_K = {"initials": 8, "date_of_birth": 10, "sex": 3, "postcode_district": 5}
# The candidate with field-level evidence kept: several record-level filters, each over a combination of
# identifiers that is (nearly) unique to a person, so a linker can tell which part of a record disagrees
# (a new surname, a mistyped date) without any filter standing for one small-domain value.
COMBINED = {
    "forename_birth": {"forename": 10, "date_of_birth": 10, "sex": 3},
    "surname_birth": {"surname": 10, "date_of_birth": 10, "sex": 3},
    "names_place": {"forename": 10, "surname": 10, "postcode_district": 5},
    "initials_birth_place": INITIALS_K,
}
NAMES_TOGETHER = {"forename", "surname"}  # hashed under one key where a filter holds both
BLIP_FLIP = 0.05  # randomized response on each bit: epsilon = 2 ln((1 - f) / f) = 5.9 per bit


class RecordEncoder:
    """Record-level Bloom filters (CLK-style, per-field weights) with random bit flips."""

    def __init__(
        self, secret: bytes, weights: dict[str, int], bits: int = RECORD_BITS, flip: float = BLIP_FLIP, name: str = ""
    ):
        # a filter of its own ``name`` hashes under keys of its own: no bigram sits at the same bits in two filters.
        # Both names hash under one key: forename and surname swapped (a common recording error) give one filter.
        def key(f: str) -> str:
            f = "names" if f in NAMES_TOGETHER and set(weights) >= NAMES_TOGETHER else f
            return f"record:{name}:{f}" if name else f"record:{f}"

        self.fields = {f: FieldEncoder(secret, key(f), bits, k) for f, k in weights.items()}
        self.bits, self.flip = bits, flip
        self.rng = np.random.default_rng(secrets.randbits(128))  # fresh: the flips must not repeat

    def clean(self, values: dict[str, str | None]) -> np.ndarray | None:
        """The filter before flipping (None where no field has a value)."""
        bloom = np.zeros(self.bits, dtype=bool)
        seen = False
        for f, enc in self.fields.items():
            v = values.get(f)
            if v:
                seen = True
                for gram in bigrams(v):
                    bloom[enc._positions(gram)] = True
        return bloom if seen else None

    def encode_bits(self, values: dict[str, str | None]) -> np.ndarray | None:
        bloom = self.clean(values)
        if bloom is None:
            return None
        return bloom ^ (self.rng.random(self.bits) < self.flip)


RECORD_ID_LABEL = "bold-record-id:"


def hashed_id(secret: bytes, value: str | None) -> str | None:
    return None if value is None else keyed.digest(secret, RECORD_ID_LABEL + value)


def hmac_sql_for_ids(secret: bytes, column: str) -> str:
    """:func:`hashed_id` in SQL, for hashing many ids inside DuckDB."""
    return keyed.digest_sql(secret, RECORD_ID_LABEL, column)


@dataclass
class Identifiers:
    """A custodian's file read for encoding: normalised identifier values per role (dates of birth as
    YYYYMMDD text), the record ids, the content columns as they came, and the problems found per row."""

    record_ids: list
    values: dict[str, list]
    passed_through: dict[str, list]  # the content columns, as they came
    issues: list
    unreadable: list[int]

    @property
    def rows(self) -> int:
        return len(self.record_ids)


def read_identifiers(path: Path, source: str, mapping=None, encoding: str = "utf-8", today=None) -> Identifiers:
    """Read and normalise a custodian's file exactly as ingest would (also used by the attack suite, which
    needs the plaintext behind each encoding to score an attack)."""
    import datetime as dt

    import duckdb

    from bold.ingest.reader import read
    from bold.ingest.rules import MACROS, identifier_columns, issues_sql, plausibility_cases, prepare_sql, q
    from bold.sources import Contract, as_mapping, encoded_roles, load_contract

    mapping = as_mapping(mapping)
    contract = mapping.apply(load_contract(source))
    con = duckdb.connect()
    con.execute(MACROS)
    result = read(con, Path(path), contract, mapping.renames, encoding)
    con.execute(f"create or replace temp table prepared as select *, {prepare_sql(contract)} from raw")
    ids_only = Contract(**{**contract.model_dump(), "columns": contract.identifiers, "event_date": None})
    normalised = dict(identifier_columns(contract))
    roles = encoded_roles(contract)
    values = ", ".join(f"{normalised[r]} as {q(r)}" for r in roles if r in normalised)
    present = set(result.columns) & {c.name for c in contract.identifiers}
    # Dates before the date of birth: checked here, where the date of birth is still plaintext
    cases = plausibility_cases(contract, set(result.columns))
    dates_sql = f"list_filter([{', '.join(cases)}], i -> i is not null)" if cases else "[]::varchar[]"
    table = con.execute(
        f"""select _row, clean({q(contract.record_id)}) as _record_id,
                   array_to_string(list_concat({issues_sql(ids_only, present, today or dt.date.today())},
                       {dates_sql}), '; ') as _issues,
                   {values}, {", ".join(q(c.name) for c in contract.content)}
            from prepared order by _row"""
    ).fetch_arrow_table()
    rows = table.num_rows
    by_role: dict[str, list] = {}
    for role in roles:
        if role in table.column_names:
            raw = table[role].to_pylist()
        elif role == "initials":
            f, s = table["forename"].to_pylist(), table["surname"].to_pylist()
            raw = [a[0] + b[0] if a and b else None for a, b in zip(f, s, strict=True)]
        else:
            raw = [None] * rows
        if role == "date_of_birth":
            raw = [v.strftime("%Y%m%d") if v is not None else None for v in raw]
        by_role[role] = raw
    unreadable = con.execute("select list(_row order by _row) from unreadable").fetchone()[0] or []
    return Identifiers(
        record_ids=table["_record_id"].to_pylist(),
        values=by_role,
        passed_through={c.name: table[c.name].to_pylist() for c in contract.content},
        issues=[v or None for v in table["_issues"].to_pylist()],
        unreadable=unreadable,
    )


def encode_file(
    path: Path,
    source: str,
    secret_path: Path,
    out: Path,
    mapping=None,
    encoding: str = "utf-8",
    today=None,
) -> dict:
    """Encode a custodian's file for the privacy-preserving mode; returns counts.

    Identifiers are checked against the contract first (the linker will never see them, so it cannot
    check them); problems are written, without values, to the ``_identifier_issues`` column so that
    ingest quarantines those rows with their reasons and nothing is lost. ``mapping`` (``bold.sources.load_mapping``)
    reads the custodian's own names, date formats and codes; content columns are written as they came, so the
    encoded file is ingested with the same mapping."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from bold.security.paths import holds, output_path
    from bold.sources import ISSUES_COLUMN

    output_path(out, kind="encoded file", suffixes=(".csv", ".parquet"), written_by_bold=holds(ISSUES_COLUMN.encode()))
    secret = read_secret(secret_path)
    contract = as_mapping_contract(source, mapping)
    ids = read_identifiers(path, source, mapping, encoding, today)
    columns: dict[str, list] = {contract.record_id: [hashed_id(secret, v) for v in ids.record_ids]}
    for role, raw in ids.values.items():
        encoder = FieldEncoder(secret, role)
        columns[f"{role}_bf"] = [encoder.encode(v) for v in raw]
    columns.update(ids.passed_through)
    columns[ISSUES_COLUMN] = ids.issues
    out_table = pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        pq.write_table(out_table, out)
    else:
        pacsv.write_csv(out_table, out)
    return {
        "rows": ids.rows + len(ids.unreadable),
        "encoded": ids.rows,
        "unreadable": ids.unreadable,
        "with_identifier_issues": sum(1 for v in ids.issues if v),
        "fields": [f"{r}_bf" for r in ids.values],
    }


def as_mapping_contract(source: str, mapping=None):
    """The source's contract under the custodian's mapping."""
    from bold.sources import as_mapping, load_contract

    return as_mapping(mapping).apply(load_contract(source))
