"""The linkage input: one row per record with the same identifier columns for every source.

Linkage sees identifiers only. For a workspace they come from the identifiers zone, already
normalised at ingest; for ``bold link-files`` they come from the user's files and are normalised
here with the same SQL macros ingest uses, so both paths compare like with like. Columns a source
does not hold are NULL, which Splink treats as "no evidence either way".
"""

from __future__ import annotations

import functools
import importlib.resources

import duckdb

from bold.ingest.rules import MACROS, committed_sql, q, sql_text
from bold.sources import IDENTIFIER_ROLES, load_contract

FEATURES = (
    "unique_id",
    "source_dataset",
    "forename",
    "surname",
    "initials",
    "aliases",
    "date_of_birth",
    "sex",
    "postcode",
    "postcode_district",
    "no_fixed_abode",
    "nhs_number",
    "pnc_id",
    "ni_number",
    "source_person_id",
    "address",
    "locality",
)
SOURCE_PERSON_ID_ROLES = ("local_id", "prison_number", "crn")  # a source's own person id
IDENTIFIER_FEATURES = tuple(
    f for f in FEATURES if f not in ("unique_id", "source_dataset", "aliases", "no_fixed_abode")
)


@functools.cache
def nickname_pairs() -> list[tuple[str, str]]:
    """(name, group) rows: every name belongs to its own group and to each of its canonical names,
    so 'BILL' and 'WILLIAM' share the group 'WILLIAM'."""
    import csv

    path = importlib.resources.files("nicknames").joinpath("names.csv")
    pairs = set()
    with path.open() as f:
        for row in csv.DictReader(f):
            if row["relationship"] == "has_nickname":
                canonical, nick = row["name1"].upper(), row["name2"].upper()
                pairs.add((nick, canonical))
                pairs.add((canonical, canonical))
    return sorted(pairs)


def register_nicknames(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create or replace temp table nickname_groups (name varchar, grp varchar)")
    con.executemany("insert into nickname_groups values (?, ?)", nickname_pairs())


def _derive(select: str) -> str:
    """Add the derived comparison columns to a select of the normalised FEATURES."""
    return f"""
        with base as ({select}),
        groups as (select name, list(grp order by grp) as grps from nickname_groups group by name)
        select base.*,
               coalesce(groups.grps, [base.forename]) || [base.forename] as forename_groups,
               nullif(base.forename || ' ' || base.surname, '') as full_name,
               strftime(base.date_of_birth, '%Y-%m-%d') as dob_text,
               nullif(regexp_extract(base.postcode_district, '^[A-Z]+'), '') as postcode_area
        from base left join groups on groups.name = base.forename
    """


def _source_select(source: str, committed: dict[str, list[int]] | None = None) -> str:
    """SELECT of FEATURES from one source's identifiers table (only committed batches' rows, when given)."""
    contract = load_contract(source)
    roles = {c.role for c in contract.identifiers}
    person_id = next((r for r in SOURCE_PERSON_ID_ROLES if r in roles), None)

    def col(role, cast="varchar"):
        return role if role in roles else f"null::{cast}"

    initials = (
        "initials"
        if "initials" in roles
        else "left(forename, 1) || left(surname, 1)"
        if {"forename", "surname"} <= roles
        else "null::varchar"
    )
    district = "postcode_district" if ("postcode" in roles or "postcode_district" in roles) else "null::varchar"
    return f"""
        select record_key::varchar as unique_id, {sql_text(source)} as source_dataset,
               {col("forename")} as forename, {col("surname")} as surname, {initials} as initials,
               {col("aliases", "varchar[]")} as aliases, {col("date_of_birth", "date")} as date_of_birth,
               nullif({col("sex")}, 'U') as sex, {col("postcode")} as postcode, {district} as postcode_district,
               {"no_fixed_abode" if roles & {"postcode", "postcode_district"} else "false"} as no_fixed_abode,
               {col("nhs_number")} as nhs_number, {col("pnc_id")} as pnc_id, {col("ni_number")} as ni_number,
               {f"{sql_text(source + ':')} || {person_id}" if person_id else "null::varchar"} as source_person_id,
               null::varchar as address, null::varchar as locality
        from identifiers.{source} where {committed_sql(committed, source)}
    """


def workspace_input(
    con: duckdb.DuckDBPyConnection,
    sources: list[str],
    table: str = "linkage_input",
    committed: dict[str, list[int]] | None = None,
) -> int:
    """Build ``table`` from the identifiers zone tables of ``sources``; returns its row count. ``committed``:
    the batch ids to read per source (``bold.ingest.pipeline.committed_batches``), so that the rows of an
    ingest killed before it committed are never linked."""
    register_nicknames(con)
    union = "\nunion all\n".join(_source_select(s, committed) for s in sources)
    con.execute(f"create or replace table {table} as {_derive(union)}")
    return con.execute(f"select count(*) from {table}").fetchone()[0]


# Roles link-files accepts: a file's own person id is local_id; address and locality for files that have them.
FILE_ROLES = (*(r for r in IDENTIFIER_ROLES if r not in ("record_id", "prison_number", "crn")), "address", "locality")


def file_input(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    dataset: str,
    id_column: str,
    roles: dict[str, str],
    date_format: str,
    table: str,
) -> None:
    """Build ``table`` from a user's file already loaded as ``relation`` (all text), normalising each
    mapped column as ingest would; unmapped roles are NULL."""
    con.execute(MACROS)
    register_nicknames(con)

    def raw(role):
        return f"clean({q(roles[role])})" if role in roles else None

    def pick(role, expr, cast="varchar"):
        return expr if role in roles else f"null::{cast}"

    sex = raw("sex")
    sex_expr = (
        f"case when upper({sex}) in ('M', 'MALE', '1') then 'M' when upper({sex}) in ('F', 'FEMALE', '2') then 'F' end"
        if sex
        else "null::varchar"
    )
    pc = raw("postcode")
    postcode = f"case when pc_ok({pc}) then pc_norm({pc}) else nullif(pc_squeezed({pc}), '') end" if pc else None
    district = (
        f"pc_squeezed({raw('postcode_district')})"
        if "postcode_district" in roles
        else f"pc_district({pc})"
        if pc
        else "null::varchar"
    )
    initials = (
        f"upper(strip_accents(squeeze(replace({raw('initials')}, '.', ''))))"
        if "initials" in roles
        else f"left(norm_name({raw('forename')}), 1) || left(norm_name({raw('surname')}), 1)"
        if {"forename", "surname"} <= roles.keys()
        else "null::varchar"
    )
    select = f"""
        select clean({q(id_column)}) as unique_id, {sql_text(dataset)} as source_dataset,
               {pick("forename", f"norm_name({raw('forename')})")} as forename,
               {pick("surname", f"norm_name({raw('surname')})")} as surname,
               {initials} as initials,
               {pick("aliases", f"list_filter(list_transform(string_split({raw('aliases')}, ';'), a -> norm_name(a)), a -> a is not null)", "varchar[]")} as aliases,
               {pick("date_of_birth", f"try_strptime({raw('date_of_birth')}, {sql_text(date_format)})::date", "date")} as date_of_birth,
               {sex_expr} as sex,
               {postcode or "null::varchar"} as postcode,
               {district} as postcode_district,
               {f"coalesce(pc_nfa({pc}), false)" if pc else "false"} as no_fixed_abode,
               {pick("nhs_number", f"squeeze({raw('nhs_number')})")} as nhs_number,
               {pick("pnc_id", f"coalesce(pnc_norm({raw('pnc_id')}), squeeze({raw('pnc_id')}))")} as pnc_id,
               {pick("ni_number", f"squeeze({raw('ni_number')})")} as ni_number,
               {pick("local_id", f"{sql_text(dataset + ':')} || squeeze({raw('local_id')})")} as source_person_id,
               {pick("address", f"norm_name({raw('address')})")} as address,
               {pick("locality", f"norm_name({raw('locality')})")} as locality
        from {relation}
    """  # noqa: E501
    con.execute(f"create or replace table {table} as {_derive(select)}")


ENCODED_FEATURES = IDENTIFIER_FEATURES  # the same features, each as a Bloom filter


def is_encoded(con: duckdb.DuckDBPyConnection, source: str) -> bool:
    cols = [c for (c,) in con.execute(f"select column_name from (describe identifiers.{source})").fetchall()]
    return any(c.endswith("_bf") for c in cols)


def _encoded_select(con, source: str, committed: dict[str, list[int]] | None = None) -> str:
    cols = {c for (c,) in con.execute(f"select column_name from (describe identifiers.{source})").fetchall()}
    person_id = next((f"{r}_bf" for r in SOURCE_PERSON_ID_ROLES if f"{r}_bf" in cols), None)

    def col(feature):
        if feature == "source_person_id":
            return person_id or "null::bit"
        return f"{feature}_bf" if f"{feature}_bf" in cols else "null::bit"

    features = ", ".join(f"{col(f)} as {f}_bf" for f in ENCODED_FEATURES)
    return (
        f"select record_key::varchar as unique_id, {sql_text(source)} as source_dataset, {features} "
        f"from identifiers.{source} where {committed_sql(committed, source)}"
    )


def workspace_input_encoded(
    con: duckdb.DuckDBPyConnection,
    sources: list[str],
    table: str = "linkage_input",
    committed: dict[str, list[int]] | None = None,
) -> int:
    """The linkage input in the privacy-preserving mode: Bloom filters only, no plaintext at all."""
    union = "\nunion all\n".join(_encoded_select(con, s, committed) for s in sources)
    con.execute(f"create or replace table {table} as {union}")
    return con.execute(f"select count(*) from {table}").fetchone()[0]


def encode_features(con: duckdb.DuckDBPyConnection, table: str, secret: bytes, out: str) -> None:
    """Encode a plaintext linkage input (``unique_id``, ``source_dataset`` and FEATURES) into Bloom
    filters with the custodians' field encoders: for benchmarks and tests on files with no contract,
    such as FEBRL, the same encodings ``bold encode`` makes."""
    import pyarrow as pa

    from bold.linkage.encode import FieldEncoder

    data = con.execute(f"select * from {table}").fetch_arrow_table()
    columns = {"unique_id": data["unique_id"], "source_dataset": data["source_dataset"]}
    for feature in ENCODED_FEATURES:
        values = data[feature].to_pylist() if feature in data.column_names else [None] * data.num_rows
        if feature == "date_of_birth":
            values = [v.strftime("%Y%m%d") if v is not None else None for v in values]
        elif feature == "source_person_id":
            values = [None] * data.num_rows
        encoder = FieldEncoder(secret, feature)
        columns[f"{feature}_bf"] = pa.array([encoder.encode(v) for v in values], type=pa.string())
    con.register("encoded_arrow", pa.table(columns))
    casts = ", ".join(f"from_base64({f}_bf)::bit as {f}_bf" for f in ENCODED_FEATURES)
    con.execute(f"create or replace table {out} as select unique_id, source_dataset, {casts} from encoded_arrow")
    con.unregister("encoded_arrow")
