"""The Fellegi-Sunter model: comparisons fitted to each identifier, blocking, training, clustering.

Comparisons are written for the identifiers BOLD's sources really hold and the errors they really
have (docs/design/DOMAIN.md sections 5 and 9): nicknames and aliases, day/month swaps and wrong years in dates
of birth, initials against full names for the treatment source, postcode district and area for
people who move, typos in NHS numbers. Parameters are estimated without labels: u by random
sampling, m by expectation maximisation over several blocking passes, so each comparison is trained
in a pass that does not block on it.

``generic_comparisons`` is the plain Splink baseline the benchmarks compare against: Splink's own
library comparisons for each column, with the same blocking.
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import json
import logging

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_analysis import count_comparisons_from_blocking_rules
from splink.internals.exceptions import EMTrainingException

from bold.errors import Invalid
from bold.linkage import features

THRESHOLDS = {"high": 0.99, "medium": 0.9, "low": 0.5}  # match probability for clusters at each level


def _exact(col: str, tf: bool = False) -> cll.ExactMatchLevel:
    return cll.ExactMatchLevel(col, term_frequency_adjustments=tf)


DIALECT_SQL = {  # the few list functions whose names differ between DuckDB and Spark SQL
    "duckdb": {"overlap": "list_has_any({a}, {b})", "size": "len({a})"},
    "spark": {"overlap": "arrays_overlap({a}, {b})", "size": "size({a})"},
}


def our_comparisons(columns: set[str], dialect: str = "duckdb") -> list:
    """Comparisons for the identifier columns present (all-NULL columns are left out)."""
    sql = DIALECT_SQL[dialect]
    out = []
    if "forename" in columns:
        out.append(
            cl.CustomComparison(
                output_column_name="forename",
                comparison_levels=[
                    cll.NullLevel("forename"),
                    _exact("forename", tf=True),
                    cll.CustomLevel(
                        sql["overlap"].format(a="forename_groups_l", b="forename_groups_r"), "nickname of each other"
                    ),
                    cll.CustomLevel("forename_l = surname_r", "forename recorded as surname"),
                    cll.JaroWinklerLevel("forename", 0.92),
                    cll.JaroWinklerLevel("forename", 0.8),
                    cll.ElseLevel(),
                ],
            )
        )
    if "surname" in columns:
        out.append(
            cl.CustomComparison(
                output_column_name="surname",
                comparison_levels=[
                    cll.NullLevel("surname"),
                    _exact("surname", tf=True),
                    cll.CustomLevel("surname_l = forename_r", "surname recorded as forename"),
                    cll.JaroWinklerLevel("surname", 0.92),
                    cll.JaroWinklerLevel("surname", 0.8),
                    cll.ElseLevel(),
                ],
            )
        )
    if "aliases" in columns:
        out.append(
            cl.CustomComparison(
                output_column_name="alias",
                comparison_levels=[
                    cll.CustomLevel(
                        f"coalesce({sql['size'].format(a='aliases_l')}, 0) = 0 "
                        f"and coalesce({sql['size'].format(a='aliases_r')}, 0) = 0 "
                        "or full_name_l is null or full_name_r is null",
                        "no aliases to compare",
                    ).configure(is_null_level=True),
                    cll.CustomLevel(
                        "array_contains(aliases_l, full_name_r) or array_contains(aliases_r, full_name_l) "
                        f"or {sql['overlap'].format(a='aliases_l', b='aliases_r')}",
                        "one's name is the other's alias",
                    ),
                    cll.ElseLevel(),
                ],
            )
        )
    if "initials_only" in columns:
        # Initials are evidence only where a full name is missing on one side (the treatment source):
        # where both have names, the name comparisons already use the same letters.
        out.append(
            cl.CustomComparison(
                output_column_name="initials",
                comparison_levels=[
                    cll.CustomLevel(
                        "initials_l is null or initials_r is null "
                        "or (forename_l is not null and forename_r is not null)",
                        "initials missing, or full names compared instead",
                    ).configure(is_null_level=True),
                    _exact("initials", tf=True),
                    cll.CustomLevel("left(initials_l, 1) = left(initials_r, 1)", "same first initial"),
                    cll.CustomLevel("right(initials_l, 1) = right(initials_r, 1)", "same last initial"),
                    cll.ElseLevel(),
                ],
            )
        )
    if "date_of_birth" in columns:
        out.append(
            cl.CustomComparison(
                output_column_name="date_of_birth",
                comparison_levels=[
                    cll.NullLevel("date_of_birth"),
                    _exact("date_of_birth", tf=True),
                    cll.CustomLevel(
                        "year(date_of_birth_l) = year(date_of_birth_r)"
                        " and month(date_of_birth_l) = day(date_of_birth_r)"
                        " and day(date_of_birth_l) = month(date_of_birth_r)",
                        "day and month swapped",
                    ),
                    cll.CustomLevel(
                        "month(date_of_birth_l) = month(date_of_birth_r)"
                        " and day(date_of_birth_l) = day(date_of_birth_r)"
                        " and abs(year(date_of_birth_l) - year(date_of_birth_r)) in (1, 10)",
                        "year wrong by 1 or 10",
                    ),
                    cll.DamerauLevenshteinLevel("dob_text", 1),
                    cll.AbsoluteDateDifferenceLevel("date_of_birth", input_is_string=False, threshold=1, metric="year"),
                    cll.ElseLevel(),
                ],
            )
        )
    if "sex" in columns:
        out.append(cl.ExactMatch("sex"))
    if "postcode_district" in columns:
        out.append(
            cl.CustomComparison(
                output_column_name="postcode",
                comparison_levels=[
                    cll.NullLevel("postcode_district"),
                    # a full postcode only where the records hold one: a level no pair can reach takes weight
                    # from the district in training (a full file against an initials-only, district-only one)
                    *([cll.ExactMatchLevel("postcode")] if "postcode" in columns else []),
                    cll.ExactMatchLevel("postcode_district"),
                    cll.ExactMatchLevel("postcode_area"),
                    cll.ElseLevel(),
                ],
            )
        )
    elif "postcode" in columns:  # postcodes with no UK district (other countries'): a typo level instead
        out.append(_exact_or_one_typo("postcode", tf=True))
    if "nhs_number" in columns:
        out.append(_exact_or_one_typo("nhs_number"))
    for col in ("pnc_id", "ni_number"):
        if col in columns:
            out.append(cl.ExactMatch(col))
    if "source_person_id" in columns:
        out.append(_own_person_id("source_person_id"))
    for col in ("address", "locality"):
        if col in columns:
            out.append(_place(col))
    return out


def _exact_or_one_typo(col: str, tf: bool = False) -> cl.CustomComparison:
    """Exact, then one character different or two transposed (a mistyped number or postcode)."""
    return cl.CustomComparison(
        output_column_name=col,
        comparison_levels=[cll.NullLevel(col), _exact(col, tf), cll.DamerauLevenshteinLevel(col, 1), cll.ElseLevel()],
    )


def _place(col: str) -> cl.CustomComparison:
    """An address line or locality (``bold link-files`` only): exact with term frequencies, since a shared
    common street or suburb says little and a shared rare one much; then one typo (including a lost or
    added space), then looser Jaro-Winkler bands."""
    return cl.CustomComparison(
        output_column_name=col,
        comparison_levels=[
            cll.NullLevel(col),
            _exact(col, tf=True),
            cll.DamerauLevenshteinLevel(col, 1),
            cll.JaroWinklerLevel(col, 0.9),
            cll.JaroWinklerLevel(col, 0.8),
            cll.ElseLevel(),
        ],
    )


def _own_person_id(col: str) -> cl.CustomComparison:
    """A source's own person id is evidence only between two records of the same source."""
    return cl.CustomComparison(
        output_column_name="source_person_id",
        comparison_levels=[
            cll.CustomLevel(
                f"{col}_l is null or {col}_r is null or source_dataset_l != source_dataset_r",
                "different sources, or missing",
            ).configure(is_null_level=True),
            cll.ExactMatchLevel(col),
            cll.ElseLevel(),
        ],
    )


def _similarity(col: str, bits: int) -> str:
    """Dice similarity of two balanced Bloom filters: the share of bit positions on which they agree."""
    return f"1 - bit_count(xor({col}_l, {col}_r)) / {float(bits)}"


def encoded_comparisons(columns: set[str], bits: int) -> list:
    """Comparisons on Bloom-filter encodings: identical encodings, then bands of Dice similarity. Two
    unrelated names agree on about three quarters of the bits of balanced filters, so the bands sit
    above that."""
    out = []
    for feature in features.IDENTIFIER_FEATURES:
        if feature == "source_person_id":  # compared by its own rule below
            continue
        col = f"{feature}_bf"
        if col not in columns:
            continue
        levels = [cll.NullLevel(col), cll.ExactMatchLevel(col)]
        if feature == "forename" and "surname_bf" in columns:
            levels.append(cll.CustomLevel("forename_bf_l = surname_bf_r", "forename recorded as surname"))
        if feature not in ("sex", "initials"):
            for threshold in (0.95, 0.9, 0.85):
                levels.append(cll.CustomLevel(f"{_similarity(col, bits)} >= {threshold}", f"similarity >= {threshold}"))
        if feature == "initials":  # evidence only where one side lacks a full name, as in plaintext
            levels[0] = cll.CustomLevel(
                "initials_bf_l is null or initials_bf_r is null"
                " or (forename_bf_l is not null and forename_bf_r is not null)",
                "initials missing, or full names compared instead",
            ).configure(is_null_level=True)
        levels.append(cll.ElseLevel())
        out.append(cl.CustomComparison(output_column_name=feature, comparison_levels=levels))
    if "source_person_id_bf" in columns:
        out.append(_own_person_id("source_person_id_bf"))
    return out


def generic_comparisons(columns: set[str]) -> list:
    """The plain baseline: Splink's library comparisons, one per column, no domain knowledge."""
    out = []
    for col in ("forename", "surname"):
        if col in columns:
            out.append(cl.NameComparison(col))
    if "date_of_birth" in columns:
        out.append(cl.DateOfBirthComparison("date_of_birth", input_is_string=False))
    for col in features.IDENTIFIER_FEATURES:
        if col in ("forename", "surname", "date_of_birth"):
            continue
        if col in columns:
            out.append(cl.ExactMatch(col))
    return out


BLOCKING_KEYS = (
    ("nhs_number",),
    ("pnc_id",),
    ("ni_number",),
    ("source_person_id",),
    ("forename", "date_of_birth"),
    ("surname", "date_of_birth"),
    ("initials", "date_of_birth"),  # the treatment source: BOLD's own first pass
    ("forename", "surname"),
    ("surname", "postcode_district"),
    ("date_of_birth", "postcode_district"),
    ("date_of_birth", "postcode"),
    ("date_of_birth", "locality"),
    ("forename", "postcode"),
    ("surname", "postcode"),
    ("forename", "locality"),
    ("surname", "locality"),
    ("address", "postcode"),
    ("address", "locality"),
    ("postcode", "locality"),
    ("forename", "address"),
    ("surname", "address"),
    ("date_of_birth", "address"),
)
# Files with an address line: its first four letters with the postcode or the locality's first four, so that a
# pair with typos in names, date of birth and the rest of the address is still compared.
PREFIX_RULES = (
    (
        "address",
        "postcode",
        "substr(l.address, 1, 4) = substr(r.address, 1, 4) and l.postcode = r.postcode",
    ),
    (
        "address",
        "locality",
        "substr(l.address, 1, 4) = substr(r.address, 1, 4) and substr(l.locality, 1, 4) = substr(r.locality, 1, 4)",
    ),
)


# A person's own numbers (NHS number, PNC id, NI number, a source's person id) block without a cap: every
# record sharing one is worth comparing. Any other key caps its blocks.
UNCAPPED_KEYS = {("nhs_number",), ("pnc_id",), ("ni_number",), ("source_person_id",)}
# Records sharing one value of a key (JOHN SMITH, or a date of birth in one postcode district) beyond which
# that key's rule leaves the block out. Blocks grow with the population while people do not: at a million
# people the commonest name pairs hold thousands of records, millions of pairs that are almost all
# non-matches, and quadratic in time. A cap of 50 bounds each rule to under 25 pairs per record. A very busy
# person's own block can pass it (the largest synthetic person holds 67 records), but their pairs are still
# found by their numbers and the other rules; at 100,000 people no F1 moved by more than 0.0002.
BLOCK_CAP = 50


def block_size_column(key: tuple[str, ...], suffix: str = "") -> str:
    return "block_n_" + "_".join(c + suffix for c in key)


def capped_keys(columns: set[str], suffix: str = "") -> list[tuple[str, ...]]:
    """The blocking keys present in ``columns`` whose blocks are capped (see ``BLOCK_CAP``)."""
    names = {c.removesuffix(suffix) for c in columns} if suffix else columns
    return [key for key in BLOCKING_KEYS if set(key) <= names and key not in UNCAPPED_KEYS]


def _columns(con, table: str) -> set[str]:
    return {c for (c,) in con.execute(f"select column_name from (describe {table})").fetchall()}


def add_block_sizes(con, table: str, suffix: str = "") -> None:
    """Add to ``table`` how many of its records share each capped key's value, which the capped blocking
    rules read (for every key whose columns the table has, so any set of rules drawn from it finds its
    counts). Computed on every run (never saved in a model), so a cap always counts today's records."""
    keys = capped_keys(_columns(con, table), suffix)
    if not keys:
        return
    selects, joins = [], []
    for i, key in enumerate(keys):  # a count per value and a join: several times faster than window functions
        cols = ", ".join(c + suffix for c in key)
        con.execute(f"alter table {table} drop column if exists {block_size_column(key, suffix)}")
        con.execute(
            f"create or replace temp table block_sizes_{i} as select {cols}, count(*) as n from {table} "
            f"where {' and '.join(f'{c}{suffix} is not null' for c in key)} group by all"
        )
        joins.append(f"left join block_sizes_{i} s{i} using ({cols})")
        selects.append(f"s{i}.n as {block_size_column(key, suffix)}")
    con.execute(f"create or replace table {table} as select t.*, {', '.join(selects)} from {table} t {' '.join(joins)}")
    for i in range(len(keys)):
        con.execute(f"drop table block_sizes_{i}")


def blocking_rules(columns: set[str], suffix: str = "", cap: int | None = BLOCK_CAP) -> list:
    """Rules that keep comparisons bounded while catching each kind of error: a pair survives if any
    rule holds, so a typo in one identifier is caught by a rule on the others. ``suffix`` is ``_bf``
    in the encoded mode, where equal encodings mean equal values. With ``cap``, rules on keys other than
    a person's own numbers skip blocks of more than ``cap`` records (the table needs ``add_block_sizes``)."""
    names = {c.removesuffix(suffix) for c in columns} if suffix else columns
    capped = set(capped_keys(columns, suffix)) if cap else set()
    rules = []
    for key in BLOCKING_KEYS:
        if not set(key) <= names:
            continue
        if key in capped:
            size = block_size_column(key, suffix)
            same = " and ".join(f"l.{c}{suffix} = r.{c}{suffix}" for c in key)
            rules.append(f"{same} and l.{size} <= {cap} and r.{size} <= {cap}")
        else:
            rules.append(block_on(*(c + suffix for c in key)))
    if not suffix:  # prefixes of Bloom filters mean nothing
        rules += [rule for *cols, rule in PREFIX_RULES if set(cols) <= names]
    if {"forename", "surname"} <= names:  # names entered in each other's fields
        rules.append(f"l.forename{suffix} = r.surname{suffix} and l.surname{suffix} = r.forename{suffix}")
    return rules


def training_blocks(columns: set[str]) -> list[tuple[str, ...]]:
    """EM passes: the first trains every comparison but date of birth over pairs from all sources; the
    second trains date of birth (among records with full names; for files that hold only initials, among
    records with the same initials)."""
    candidates = [("date_of_birth",), ("forename", "surname"), ("surname",), ("postcode",), ("initials",)]
    return [cols for cols in candidates if set(cols) <= columns][:2]


# Rules that (nearly) only true matches pass: the prior is estimated from how many pairs they find.
DETERMINISTIC = (
    ("nhs_number",),
    ("pnc_id",),
    ("ni_number",),
    ("forename", "surname", "date_of_birth"),
    ("initials", "date_of_birth", "postcode_district"),
    ("initials", "date_of_birth", "postcode"),  # postcodes with no UK district (a subset of the rule above in UK)
)


def can_train(columns: set[str]) -> bool:
    """Whether ``columns`` (those with values) hold at least one deterministic rule, which training needs."""
    return any(set(rule) <= columns for rule in DETERMINISTIC)


M_FLOOR = 1e-3  # even true matches disagree on any identifier sometimes: no single disagreement is a veto


def _keep_first_pass_estimates(linker: Linker, snapshot: dict, retrained: str) -> None:
    """Keep each comparison's m from the pass that trained it over all sources.

    Splink takes the median of a level's m over every EM pass that estimated it. A pass blocked on
    names sees almost no pairs where both records hold an NHS number (most NHS-bearing sources hold no
    names), and its estimate for those levels is degenerate (m = 1 for "all other comparisons"); the
    median of two such passes and one good one is wrong. So every comparison but ``retrained`` keeps
    the first pass's estimates. (Uses Splink's internal lists of trained values.)"""
    for comparison in linker._settings_obj.comparisons:
        if comparison.output_column_name == retrained:
            continue
        for i, level in enumerate(comparison._comparison_levels_excluding_null):
            level._trained_m_probabilities = list(snapshot[(comparison.output_column_name, i)])
    linker._populate_m_u_from_trained_values()


def _floor_m(linker: Linker, floor: float = M_FLOOR) -> None:
    for comparison in linker._settings_obj.comparisons:
        levels = [lv for lv in comparison._comparison_levels_excluding_null if lv.m_probability is not None]
        if not levels:
            continue
        floored = [max(lv.m_probability, floor) for lv in levels]
        total = sum(floored)
        for lv, m in zip(levels, floored, strict=True):
            lv.m_probability = m / total


def settings(
    columns: set[str],
    link_type: str = "dedupe_only",
    generic: bool = False,
    encoded_bits: int | None = None,
    dialect: str = "duckdb",
) -> SettingsCreator:
    """Model settings; ``encoded_bits`` (the length of the balanced filters) selects the encoded mode."""
    if encoded_bits:
        comparisons = encoded_comparisons(columns, encoded_bits)
        rules = blocking_rules(columns, suffix="_bf")
    else:
        comparisons = generic_comparisons(columns) if generic else our_comparisons(columns, dialect)
        rules = blocking_rules(columns)
    return SettingsCreator(
        link_type=link_type,
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def _col(cols: list[str], name: str) -> str:
    return name if name in cols else f"{name}_bf" if f"{name}_bf" in cols else "null"


def present_columns(con, table: str) -> set[str]:
    """Identifier columns with at least one value in ``table``, and ``initials_only`` where some
    records hold initials but no forename (so the initials comparison carries evidence)."""
    cols = [c for (c,) in con.execute(f"select column_name from (describe {table})").fetchall()]
    counts = con.execute(
        f"select {', '.join(f'count({c})' for c in cols)}, "
        f"count(*) filter (where {_col(cols, 'initials')} is not null and {_col(cols, 'forename')} is null) "
        f"from {table}"
    ).fetchone()
    present = {
        c
        for c, n in zip(cols, counts, strict=False)
        if n and c not in ("unique_id", "source_dataset") and not c.startswith("block_n_")
    }
    return present | ({"initials_only"} if counts[-1] else set())


def link_columns(con, tables: list[str]) -> set[str]:
    """The columns a model over ``tables`` may use. For one table, those with values; for two (link-only),
    those with values in *both*, since a comparison, blocking rule or training block on a column only one file
    holds can never fire across the files; ``initials_only`` is kept when either side has it (initials are
    derived from names on the side that has them, so both hold initials)."""
    present = [present_columns(con, t) for t in tables]
    shared = set.intersection(*present)
    return shared | ({"initials_only"} if "initials_only" in set.union(*present) else set())


class TooFewPairs(Invalid):
    """Training cannot run: a deterministic rule or an EM training block finds (almost) no pairs."""


MIN_EM_PAIRS = 30  # fewer pairs than this in a training block and EM's estimates are noise (Splink asks hundreds)
COUNT_BELOW = 50_000  # records: below this, training blocks' pairs are counted before EM (cheap at that size)


def _pair_count(linker: Linker, rules: list, link_type: str) -> int:
    """Exact count of the pairs ``rules`` find together (only on the path where training is in doubt)."""
    frames = list(linker._input_tables_dict.values())
    found = count_comparisons_from_blocking_rules(
        frames if len(frames) > 1 else frames[0],
        blocking_rules=rules,
        link_type=link_type,
        record_sample_proportion=1.0,
    )
    return int(found[-1]["cumulative_comparison_count"]) if found else 0


def _rows(db, tables: list[str]) -> int:
    """Records in ``tables`` (DuckDB; on another engine, a number large enough to skip the pair counts)."""
    if not isinstance(db, DuckDBAPI):
        return COUNT_BELOW + 1
    return sum(db.duckdb_con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables)


def _rule_text(rule) -> str:
    return " and ".join(rule) if isinstance(rule, tuple) else str(rule)


def train(
    db: DuckDBAPI,
    tables: list[str],
    settings_: SettingsCreator,
    columns: set[str],
    recall: float = 0.8,
    max_pairs: float = 5e6,
    em_max_pairs: float = 3e6,
    suffix: str = "",
) -> Linker:
    """Unsupervised training: the prior from deterministic rules (assuming ``recall`` of them), u from
    ``max_pairs`` random pairs, m by EM over each training block, sampled to ``em_max_pairs`` pairs
    so training time stays flat as the population grows. ``suffix`` is ``_bf`` in the encoded mode."""
    if isinstance(db, DuckDBAPI):  # the capped blocking rules read block sizes
        for table in tables:
            if not any(c.startswith("block_n_") for c in _columns(db.duckdb_con, table)):
                add_block_sizes(db.duckdb_con, table, suffix)
    frames = [db.register(t) for t in tables]
    linker = Linker(frames if len(frames) > 1 else frames[0], settings_, log_level=logging.ERROR)
    link_type = linker._settings_obj._link_type
    records = _rows(db, tables)
    names = {c.removesuffix(suffix) for c in columns} if suffix else columns
    rules = [c for c in DETERMINISTIC if set(c) <= names]
    deterministic = [block_on(*(name + suffix for name in c)) for c in rules]
    found_by = "; ".join(_rule_text(r) for r in rules)
    try:
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=recall)
    except (ValueError, ZeroDivisionError) as exc:
        # no pair found (a prior of 0: "math domain error"), no pair possible (one record), or more pairs than
        # the assumed recall allows (a handful of records that all match)
        if not isinstance(exc, ZeroDivisionError) and not (
            "math domain error" in str(exc) or "consistent with supplied recall" in str(exc)
        ):
            raise
        n = _pair_count(linker, deterministic, link_type) if deterministic else 0
        raise TooFewPairs(
            f"too few records to train ({n:,} pairs found by the deterministic rules {found_by})"
        ) from None
    if not 0 < linker._settings_obj._probability_two_random_records_match < 1:  # Splink only warns of these
        n = _pair_count(linker, deterministic, link_type) if deterministic else 0
        raise TooFewPairs(f"too few records to train ({n:,} pairs found by the deterministic rules {found_by})")
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=1)
    passes = training_blocks(names)
    snapshot: dict = {}
    for i, cols in enumerate(passes):
        block = block_on(*(c + suffix for c in cols))
        # counted only where it is cheap: a large input has pairs enough, and an empty block still raises below
        n = _pair_count(linker, [block], link_type) if records <= COUNT_BELOW else None
        if n is not None and n < MIN_EM_PAIRS:
            raise TooFewPairs(
                f"too few records to train ({n:,} pairs found by the training block {_rule_text(cols)}; "
                f"EM needs at least {MIN_EM_PAIRS})"
            )
        try:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(block, max_pairs=em_max_pairs)
            except ValueError as exc:
                # Splink 5 refuses an m probability of exactly 0, which EM gives a level no pair of a small
                # random sample reaches; the whole block has them (or fails with Splink's own message).
                if "below the minimum allowed" not in str(exc):
                    raise
                linker.training.estimate_parameters_using_expectation_maximisation(block, max_pairs=None)
        except EMTrainingException:
            raise TooFewPairs(
                f"too few records to train (no pairs found by the training block {_rule_text(cols)})"
            ) from None
        except ValueError as exc:
            if "below the minimum allowed" not in str(exc) and "math domain error" not in str(exc):
                raise
            raise TooFewPairs(
                f"too few records to train (the pairs found by the training block {_rule_text(cols)} are too "
                "few for EM to estimate every level)"
            ) from None
        if i == 0:
            snapshot = {
                (c.output_column_name, j): list(lv._trained_m_probabilities)
                for c in linker._settings_obj.comparisons
                for j, lv in enumerate(c._comparison_levels_excluding_null)
            }
    if len(passes) > 1 and passes[0] == ("date_of_birth",):
        _keep_first_pass_estimates(linker, snapshot, retrained="date_of_birth")
    _floor_m(linker)
    return linker


def rescope(linker: Linker, db, table: str, blocking_rules: list[dict] | None = None) -> Linker:
    """The same model, scoring ``table`` (for ``db``, a database API of its own, since Splink caches tables
    per API) with the term frequencies of ``linker``'s own input: ``bold.linkage.identical`` scores one record
    per group of identical ones, and each pair must score as it would among every record. ``blocking_rules``
    replace the model's prediction rules (an incremental run's, which keep only pairs of fresh records)."""
    model_json = linker.misc.save_model_to_json()
    if blocking_rules is not None:
        model_json["blocking_rules_to_generate_predictions"] = blocking_rules
    out = Linker(db.register(table), model_json, log_level=logging.ERROR)
    for column in linker._settings_obj._term_frequency_columns:
        name = column.unquote().name
        frequencies = linker.table_management.compute_tf_table(name)
        out.table_management.register_term_frequency_lookup(db.register(frequencies.physical_name), name)
    return out


def with_parameters(target: dict, trained: dict) -> dict:
    """``target`` settings (for another SQL dialect) carrying ``trained``'s estimated parameters: the same
    comparisons level by level, so a model trained on one engine scores identically on another."""
    out = dict(target)
    out["probability_two_random_records_match"] = trained["probability_two_random_records_match"]
    comparisons = []
    for mine, theirs in zip(target["comparisons"], trained["comparisons"], strict=True):
        if mine["output_column_name"] != theirs["output_column_name"]:
            raise ValueError(f"comparison {mine['output_column_name']} does not match {theirs['output_column_name']}")
        levels = []
        for level, source in zip(mine["comparison_levels"], theirs["comparison_levels"], strict=True):
            levels.append({**level, **{k: source[k] for k in ("m_probability", "u_probability") if k in source}})
        comparisons.append({**mine, "comparison_levels": levels})
    out["comparisons"] = comparisons
    return out


DEFAULT_MODEL = "default_model.json"  # package data, made by scripts/train_default_model.py


@functools.cache
def _shipped_default() -> dict:
    return json.loads(importlib.resources.files("bold.linkage").joinpath(DEFAULT_MODEL).read_text())


def _level_sql(comparison: dict) -> list[str]:
    return [level["sql_condition"] for level in comparison["comparison_levels"]]


def with_link_type(model_json: dict, link_type: str) -> dict:
    """A saved model for another link type: the parameters hold for dedupe and link-only alike, only the
    setting differs (a workspace's model is dedupe; two files are link-only)."""
    return {**model_json, "link_type": link_type}


def default_prior(link_type: str, records: list[int]) -> float:
    """The prior the default model assumes: every record of the smaller file has its match in the other
    (link-only), or about half the records have a duplicate (dedupe); strictly between 0 and 1."""
    return 1 / max(*records, 2) if link_type == "link_only" else 1 / max(sum(records), 2)


def default_model(
    columns: set[str], link_type: str, records: list[int], dialect: str = "duckdb", saved: dict | None = None
) -> dict:
    """Settings for ``columns`` carrying the m and u of the shipped default model (or ``saved``): only the
    comparisons whose columns are present, each matched level by level to the saved one of the same name, so
    the model fits whatever subset of identifiers the files hold; the prior from ``default_prior``."""
    saved = saved or _shipped_default()
    target = settings(columns, link_type, dialect=dialect).create_settings_dict(dialect)
    comparisons = []
    for mine in target["comparisons"]:
        # the saved comparison of the same name holding each of this one's levels (a level the files cannot
        # reach, such as a full postcode where one file holds districts, may be left out of this one)
        theirs = next(
            (
                c
                for c in saved["comparisons"]
                if c["output_column_name"] == mine["output_column_name"] and set(_level_sql(mine)) <= set(_level_sql(c))
            ),
            None,
        )
        if theirs is None:
            raise ValueError(f"the default model has no comparison {mine['output_column_name']!r} like this one")
        by_sql = {level["sql_condition"]: level for level in theirs["comparison_levels"]}
        levels = [
            {
                **{k: v for k, v in level.items() if not k.startswith("tf_")},
                **{
                    k: by_sql[level["sql_condition"]][k]
                    for k in ("m_probability", "u_probability")
                    if k in by_sql[level["sql_condition"]]
                },
            }
            for level in mine["comparison_levels"]
        ]  # no term-frequency adjustments: a value's frequency in a handful of records says nothing
        for k in ("m_probability", "u_probability"):  # levels left out: the rest still sum to 1
            total = sum(level.get(k, 0) for level in levels)
            for level in levels:
                if k in level and total:
                    level[k] /= total
        comparisons.append({**mine, "comparison_levels": levels})
    return {
        **target,
        "comparisons": comparisons,
        "probability_two_random_records_match": default_prior(link_type, records),
    }


def train_or_default(
    db: DuckDBAPI,
    tables: list[str],
    settings_: SettingsCreator,
    columns: set[str],
    fallback: bool = True,
    **options,
) -> tuple[Linker, str | None]:
    """``train``, or where there are too few pairs to train, the default model (when ``fallback``) with a
    notice saying why; without ``fallback`` (encoded identifiers, the plain baseline) ``TooFewPairs``."""
    try:
        return train(db, tables, settings_, columns, **options), None
    except TooFewPairs as exc:
        if not fallback:
            raise
        reason = str(exc)
    link_type = settings_.link_type
    records = [_rows(db, [t]) for t in tables]
    frames = [db.register(t) for t in tables]
    model_json = default_model(columns, link_type, records)
    linker = Linker(frames if len(frames) > 1 else frames[0], copy.deepcopy(model_json), log_level=logging.ERROR)
    return linker, f"{reason}; used the default model"
