"""Validation and normalisation rules, written as SQL so a million rows check in seconds.

For each contract column this module gives the conditions that make a value bad (each with the
reason a custodian reads in the report) and the expressions that normalise good values. Reasons
name the column and what was expected, never the value, because values may be identifiers.
"""

from __future__ import annotations

import datetime as dt

from bold.sources import BLOOM_BASE64_LENGTH, Column, Contract

# DuckDB macros shared by the rules; created in each ingest session.
MACROS = r"""
create or replace temp macro clean(v) as nullif(trim(v), '');
create or replace temp macro norm_name(v) as nullif(trim(regexp_replace(regexp_replace(
    upper(strip_accents(regexp_replace(clean(v), '[''’`´]', '', 'g'))), '[-.]', ' ', 'g'), '\s+', ' ', 'g')), '');
create or replace temp macro name_ok(v) as regexp_full_match(clean(v), '[\p{L} ''’`´.\-]*\p{L}[\p{L} ''’`´.\-]*');
create or replace temp macro squeeze(v) as upper(regexp_replace(v, '[\s-]', '', 'g'));
create or replace temp macro nhs_sum(d) as
    substr(d, 1, 1)::int * 10 + substr(d, 2, 1)::int * 9 + substr(d, 3, 1)::int * 8 + substr(d, 4, 1)::int * 7
    + substr(d, 5, 1)::int * 6 + substr(d, 6, 1)::int * 5 + substr(d, 7, 1)::int * 4 + substr(d, 8, 1)::int * 3
    + substr(d, 9, 1)::int * 2;
create or replace temp macro nhs_digits_ok(d) as case when regexp_full_match(d, '[0-9]{10}') then
    (11 - nhs_sum(d) % 11) % 11 = substr(d, 10, 1)::int end;
create or replace temp macro nhs_check_ok(v) as nhs_digits_ok(squeeze(v));
create or replace temp macro pnc_norm(v) as case
    when regexp_full_match(squeeze(v), '([0-9]{2}|[0-9]{4})/[0-9]{1,7}[A-Z]') then
        right(split_part(squeeze(v), '/', 1), 2) || '/'
        || lpad(regexp_extract(split_part(squeeze(v), '/', 2), '[0-9]+'), 7, '0') || right(squeeze(v), 1) end;
create or replace temp macro pnc_check_ok(v) as case when pnc_norm(v) is not null then
    substr('ZABCDEFGHJKLMNPQRTUVWXY',
           ((substr(pnc_norm(v), 1, 2) || substr(pnc_norm(v), 4, 7))::bigint % 23)::int + 1, 1)
    = right(pnc_norm(v), 1) end;
create or replace temp macro pc_squeezed(v) as upper(regexp_replace(v, '\s', '', 'g'));
create or replace temp macro pc_nfa(v) as pc_squeezed(v) in ('NFA', 'NOFIXEDABODE', 'ZZ993VZ', 'ZZ99');
create or replace temp macro pc_ok(v) as regexp_full_match(pc_squeezed(v), '[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}');
create or replace temp macro pc_norm(v) as case when pc_ok(v) then
    left(pc_squeezed(v), length(pc_squeezed(v)) - 3) || ' ' || right(pc_squeezed(v), 3) end;
create or replace temp macro pc_district(v) as case when pc_ok(v) then
    left(pc_squeezed(v), length(pc_squeezed(v)) - 3) end;
create or replace temp macro district_ok(v) as regexp_full_match(pc_squeezed(v), '[A-Z]{1,2}[0-9][A-Z0-9]?');
create or replace temp macro icd10_norm(v) as upper(regexp_replace(v, '[\s.]', '', 'g'));
create or replace temp macro flag_value(v) as case
    when upper(clean(v)) in ('Y', 'YES', '1', 'TRUE', 'T') then true
    when upper(clean(v)) in ('N', 'NO', '0', 'FALSE', 'F') then false end;
"""

ID_PATTERNS = {
    "record_id": (r"[A-Za-z0-9/_.:\-]{1,64}", "an id of letters, digits and / _ . : -"),
    "local_id": (r"[A-Za-z0-9/_.:\-]{1,64}", "an id of letters, digits and / _ . : -"),
    "prison_number": (r"[A-Z][0-9]{4}[A-Z]{2}", "a prison number such as A1234BC"),
    "crn": (r"[A-Z][0-9]{6}", "a case reference number such as X123456"),
    "ni_number": (r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]", "a National Insurance number"),
}
FORMAT_WORDS = {
    "%d": "dd",
    "%m": "mm",
    "%Y": "yyyy",
    "%y": "yy",
    "%b": "Mon",
    "%B": "Month",
    "%H": "HH",
    "%M": "MM",
}


def human_format(fmt: str) -> str:
    for code, word in FORMAT_WORDS.items():
        fmt = fmt.replace(code, word)
    return fmt


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in_list(values) -> str:
    return "(" + ", ".join(sql_text(v) for v in values) + ")"


def cleaned(name: str) -> str:
    """The column holding ``clean(name)``, computed once per row before the rules run (see prepare_sql)."""
    return q(name + ":clean")


def squeezed(name: str) -> str:
    """NHS numbers without spaces or hyphens, also computed once per row."""
    return q(name + ":squeezed")


def prepare_sql(contract: Contract) -> str:
    """Select list adding each column's cleaned text beside its raw text, so rules clean once."""
    parts = [f"clean({q(c.name)}) as {cleaned(c.name)}" for c in contract.columns]
    parts += [f"squeeze({q(c.name)}) as {squeezed(c.name)}" for c in contract.columns if c.role == "nhs_number"]
    return ", ".join(parts)


def checks(col: Column, today: dt.date) -> list[tuple[str, str]]:
    """(SQL condition true when the value is bad, reason) for one column, in order of precedence."""
    v = q(col.name)
    x = cleaned(col.name)
    out = [
        (f"length({v}) > {col.max_length}", f"longer than {col.max_length} characters"),
        (f"regexp_matches({v}, '[\\x00-\\x1f\\x7f]')", "contains control characters such as line breaks"),
    ]
    if col.required:
        out.append((f"{x} is null", "missing required value"))
    present = f"{x} is not null and "
    if col.type == "string" and col.role not in ("forename", "surname", "aliases"):
        out.append((present + f"regexp_matches({x}, '^[=+@]|^-[^0-9]')", "looks like a spreadsheet formula"))
    if col.pattern:
        out.append((present + f"not regexp_full_match({x}, {sql_text(col.pattern)})", "does not match the pattern"))
    if col.type == "date":
        parsed = f"try_strptime({x}, {sql_text(col.format)})::date"
        out.append((present + f"{parsed} is null", f"not a date in the format {human_format(col.format)}"))
        if not col.allow_future:
            out.append((present + f"{parsed} > date '{today}'", "a date in the future"))
        out.append((present + f"{parsed} < date '1900-01-01'", "a date before 1900"))
    elif col.type == "code":
        values = col.allowed
        shown = ", ".join(values) if len(values) <= 12 else f"{len(values)} allowed codes"
        out.append((present + f"{x} not in {_in_list(values)}", f"not one of the allowed codes ({shown})"))
    elif col.type == "flag":
        out.append((present + f"flag_value({v}) is null", "not a yes/no flag (Y or N)"))
    elif col.type == "integer":
        out.append((present + f"try_cast({x} as bigint) is null", "not a whole number"))
        if col.min is not None or col.max is not None:
            lo = col.min if col.min is not None else -(2**62)
            hi = col.max if col.max is not None else 2**62
            out.append((present + f"try_cast({x} as bigint) not between {lo} and {hi}", f"outside {lo} to {hi}"))
    elif col.type == "bloom":
        pattern = f"[A-Za-z0-9+/]{{{BLOOM_BASE64_LENGTH - 2}}}=="
        out.append((present + f"not regexp_full_match({x}, '{pattern}')", "not an encoding made by bold encode"))
        return out  # an encoding has no plaintext to check further
    elif col.type == "icd10":
        out.append(
            (
                present + f"not regexp_full_match(icd10_norm({x}), '[A-Z][0-9][0-9A-Z]([0-9A-Z]{{1,2}})?')",
                "not an ICD-10 code",
            )
        )
    out.extend(_role_checks(col, x, present))
    return out


def _role_checks(col: Column, x: str, present: str) -> list[tuple[str, str]]:
    role = col.role
    if role in ("forename", "surname"):
        return [(present + f"not name_ok({x})", "contains characters that are not part of a name")]
    if role == "aliases":
        return [
            (
                present + f"not list_bool_and(list_transform(string_split({x}, ';'), a -> coalesce(name_ok(a), true)))",
                "an alias contains characters that are not part of a name",
            )
        ]
    if role == "initials":
        return [
            (
                present + f"not regexp_full_match(squeeze(replace({x}, '.', '')), '\\p{{L}}{{1,3}}')",
                "initials must be one to three letters",
            )
        ]
    if role == "nhs_number":
        d = squeezed(col.name)
        return [
            (present + f"not regexp_full_match({d}, '[0-9]{{10}}')", "an NHS number must be 10 digits"),
            (
                present + f"regexp_full_match({d}, '[0-9]{{10}}') and not nhs_digits_ok({d})",
                "NHS number fails its check digit",
            ),
        ]
    if role == "pnc_id":
        return [
            (present + f"pnc_norm({x}) is null", "not a PNC ID (YY/NNNNNNNC or YYYY/NNNNNNNC)"),
            (
                present + f"pnc_norm({x}) is not null and not pnc_check_ok({x})",
                "PNC ID fails its check character",
            ),
        ]
    if role == "postcode":
        return [(present + f"not pc_nfa({x}) and not pc_ok({x})", "not a UK postcode or NFA")]
    if role == "postcode_district":
        return [(present + f"not pc_nfa({x}) and not district_ok({x})", "not a postcode district such as NE4")]
    if role in ID_PATTERNS:
        pattern, words = ID_PATTERNS[role]
        return [(present + f"not regexp_full_match(squeeze({x}), {sql_text(pattern)})", f"not {words}")]
    return []


def plausibility(contract: Contract, present: set[str]) -> list[tuple[str, str, str]]:
    """(column, SQL condition true when implausible, reason) for the date rules between columns of one record
    (``not_before``, ``not_after`` in the contract); a rule whose other column is absent from the file is skipped,
    and a date that is missing or unreadable is reported by its own checks, not here."""

    def parsed(name: str) -> str:
        return f"try_strptime({cleaned(name)}, {sql_text(contract.column(name).format)})::date"

    out = []
    for col in contract.columns:
        if col.name not in present:
            continue
        for other in col.not_before:
            if other in present:
                what = "the date of birth" if contract.column(other).role == "date_of_birth" else other
                out.append(
                    (col.name, f"{parsed(col.name)} < {parsed(other)}", f"before {what} (expected on or after {other})")
                )
        for other in col.not_after:
            if other in present:
                out.append(
                    (col.name, f"{parsed(col.name)} > {parsed(other)}", f"after {other} (expected on or before it)")
                )
    return out


def plausibility_cases(contract: Contract, present: set[str]) -> list[str]:
    return [
        f"case when {condition} then {sql_text(name + ': ' + reason)} end"
        for name, condition, reason in plausibility(contract, present)
    ]


def issues_sql(contract: Contract, present: set[str], today: dt.date) -> str:
    """One SQL list expression per row: every 'COLUMN: reason' that applies."""
    parts = []
    for col in contract.columns:
        if col.name not in present:
            continue
        for condition, reason in checks(col, today):
            parts.append(f"case when {condition} then {sql_text(col.name + ': ' + reason)} end")
    parts += plausibility_cases(contract, present)
    if not parts:
        return "[]::varchar[]"
    return "list_filter([" + ",\n ".join(parts) + "], i -> i is not null)"


def identifier_columns(contract: Contract) -> list[tuple[str, str]]:
    """(output column, SQL expression) for the identifiers zone, normalised value beside raw."""
    out: list[tuple[str, str]] = []
    local_ids = [c for c in contract.identifiers if c.role == "local_id"]
    for col in contract.identifiers:
        v, x = q(col.name), cleaned(col.name)
        role = col.role
        if role == "record_id":
            out.append(("source_record_id", x))
            continue
        if col.type == "bloom":  # an encoded identifier: stored as bits, there is no plaintext to keep
            out.append((col.name, f"from_base64({x})::BIT"))
            continue
        name = f"local_id_{col.name.lower()}" if role == "local_id" and len(local_ids) > 1 else role
        if role in ("forename", "surname"):
            out.append((name, f"norm_name({x})"))
        elif role == "aliases":
            out.append(
                (
                    name,
                    f"list_filter(list_transform(string_split({x}, ';'), a -> norm_name(a)), a -> a is not null)",
                )
            )
        elif role == "initials":
            out.append((name, f"upper(strip_accents(squeeze(replace({x}, '.', ''))))"))
        elif role == "date_of_birth":
            out.append((name, f"try_strptime({x}, {sql_text(col.format)})::date"))
        elif role == "sex":
            mapping = col.codes if isinstance(col.codes, dict) else {c: c for c in col.allowed}
            cases = " ".join(f"when {sql_text(k)} then {sql_text(val)}" for k, val in mapping.items())
            out.append((name, f"case {x} {cases} end"))
        elif role == "postcode":
            out.append((name, f"case when not pc_nfa({x}) then pc_norm({x}) end"))
            if not contract.has_role("postcode_district"):
                out.append(("postcode_district", f"case when not pc_nfa({x}) then pc_district({x}) end"))
            out.append(("no_fixed_abode", f"coalesce(pc_nfa({x}), false)"))
        elif role == "postcode_district":
            out.append((name, f"case when not pc_nfa({x}) then pc_squeezed({x}) end"))
            out.append(("no_fixed_abode", f"coalesce(pc_nfa({x}), false)"))
        elif role == "nhs_number":
            out.append((name, squeezed(col.name)))
        elif role == "pnc_id":
            out.append((name, f"pnc_norm({x})"))
        else:  # prison number, CRN, NI number, local ids
            out.append((name, f"squeeze({x})"))
        out.append((f"{name}_raw", v))
    return out


def content_columns(contract: Contract) -> list[tuple[str, str]]:
    """(field, SQL expression) for the content zone, typed."""
    out = []
    for col in contract.content:
        x = cleaned(col.name)
        if col.type == "date":
            expr = f"try_strptime({x}, {sql_text(col.format)})::date"
        elif col.type == "flag":
            expr = f"flag_value({q(col.name)})"
        elif col.type == "integer":
            expr = f"try_cast({x} as bigint)"
        elif col.type == "icd10":
            expr = f"icd10_norm({x})"
        elif col.type == "code" and isinstance(col.codes, dict):
            cases = " ".join(f"when {sql_text(k)} then {sql_text(val)}" for k, val in col.codes.items())
            expr = f"case {x} {cases} end"
        else:
            expr = x
        out.append((col.field, expr))
    return out


def committed_sql(committed: dict[str, list[int]] | None, source: str, column: str = "batch_id") -> str:
    """A SQL condition keeping the rows of ``source``'s committed batches (``true`` when not given)."""
    if committed is None:
        return "true"
    ids = committed.get(source, [])
    return f"{column} in ({', '.join(str(int(i)) for i in ids)})" if ids else "false"
