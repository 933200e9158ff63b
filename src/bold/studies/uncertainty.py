"""Linkage uncertainty: a study's main measure at every threshold of its linkage run, beside the chosen one.

Linkage error moves results one way (missed matches lose outcomes), and the sampling interval says nothing about
it. Every extract carries each record's person at the high, medium and low thresholds of its linkage run
(``bold.governance.projects``); the runner computes the study again on each other clustering (``Extract.at``:
the same study code, not a re-implementation) and keeps only the main measure's rows (``Study.main``), in one
table, ``linkage_uncertainty``, one row per threshold (and per row of the main table, such as a week since
release). That table is an output like any other: its counts carry evidence of the people behind them, at their
own threshold, so disclosure control judges it as any table, and it guards the differences between thresholds
(``bold.disclosure.protect``: a count within the minimum cell size of another threshold's goes to the output
checkers, as differencing between outputs does, since the few records linked differently could be told apart).
The other clusterings never leave the extract: only the aggregate rows do.

When the range of the main measure across thresholds is wider than the chosen threshold's 95% interval, the
output says so in words (no figure in the words: a note is not disclosure-checked).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from ibis.common.exceptions import IbisError

from bold.studies import statistics as st
from bold.studies.language import PERSON, THRESHOLDS, Evidence, Extract, StudyError
from bold.studies.study import MainMeasure, Study, StudyOutput

TABLE = "linkage_uncertainty"
THRESHOLD = "threshold"  # the linkage threshold of each row
CHOSEN = "chosen"  # "yes" on the agreement's threshold, "no" on the others
_REFERS = ("numerator", "denominator", "events", "person_time", "of", "people", "df")
COUNTED = (st.Kind.PEOPLE, st.Kind.EVENTS, st.Kind.PERSON_TIME, st.Kind.MAGNITUDE)


def linkage(extract: Extract) -> dict:
    """The manifest's record of the links the extract was built from: run, chosen threshold, the ingest batches
    the run linked, the match probabilities of its thresholds, and the clusterings the extract carries."""
    about = extract.about()

    def parsed(name):
        value = about.get(name)
        return json.loads(value) if isinstance(value, str) else value

    return {
        "run": None if about.get("linkage_run") is None else int(about["linkage_run"]),
        "threshold": about.get("threshold"),
        "batches": parsed("linkage_batches"),
        "thresholds": parsed("linkage_thresholds"),
        "variants": extract.thresholds(),
        "recall": parsed("linkage_recall"),
    }


def columns(main: MainMeasure, table: pd.DataFrame) -> list[str]:
    """The main table's columns the variants keep: its breakdowns, the measure and its interval, and every column
    they are computed from (counts, person-time, degrees of freedom), so each can be disclosure-checked."""
    kinds = st.declared(table)
    keep = [c for c, s in kinds.items() if s.kind == st.Kind.GROUP]
    todo = [c for c in (main.value, main.low, main.high) if c]
    while todo:
        column = todo.pop(0)
        if column in keep or column not in table.columns:
            continue
        keep.append(column)
        stat = kinds.get(column)
        if stat is not None:
            todo += [getattr(stat, f) for f in _REFERS if getattr(stat, f)]
    keep += [c for c in ("n", "people") if c in table.columns and c not in keep]
    return [c for c in map(str, table.columns) if c in keep]


def rows(main: MainMeasure, result: StudyOutput) -> pd.DataFrame:
    """The main measure's rows and columns from one run's tables."""
    if main.table not in result.tables:
        raise StudyError(f"the study's main measure is in table {main.table!r}, which it did not make")
    table = result.tables[main.table]
    chosen = table
    for column, value in main.rows:
        chosen = chosen[chosen[column].astype(str) == value]
    keep = columns(main, table)
    return st.carry(table, chosen[keep].reset_index(drop=True))


def _evidence(table: pd.DataFrame, evidence: list[Evidence]) -> Evidence | None:
    """The summary whose people reproduce the rows' counts (the latest that does), limited to those counts."""
    kinds = st.declared(table)
    counted = [c for c in table.columns if c in kinds and kinds[c].kind in COUNTED]
    for summary in reversed(evidence):
        by = list(summary.by)
        if not set(by) <= set(table.columns) or not set(counted) <= set(summary.frame.columns):
            continue
        frame = summary.frame[[*by, PERSON, *counted]]
        sums = frame.groupby(by, dropna=False)[counted].sum().reset_index() if by else frame[counted].sum().to_frame().T
        merged = table[by + counted].merge(sums, on=by, how="left", suffixes=("", "_ev")) if by else None
        if merged is None:
            found = np.allclose(table[counted].to_numpy(float), sums[counted].to_numpy(float), atol=1e-6)
        else:
            found = len(merged) == len(table) and all(
                np.allclose(merged[c].to_numpy(float), merged[f"{c}_ev"].fillna(0).to_numpy(float), atol=1e-6)
                for c in counted
            )
        if found:
            return Evidence(tuple(by), frame.copy())
    return None


def add(study: Study, extract: Extract, params: dict, result: StudyOutput) -> dict:
    """Add the main measure at every threshold to ``result`` (table, evidence, notes); the manifest's linkage."""
    about = linkage(extract)
    main = study.main
    if main is None:
        result.notes.append(
            f"Study {study.id} declares no main measure, so it is not reported at the other linkage thresholds."
        )
        return about
    variants = about["variants"]
    chosen = about["threshold"]
    if not variants or chosen not in variants:
        result.notes.append(
            "This extract was built before extracts carried every linkage threshold: the main measure is shown at "
            "the agreement's threshold only, and linkage uncertainty is not reported. Rebuild the project to see it."
        )
        return about
    parts, frames, failed = [], [], []
    for threshold in [t for t in THRESHOLDS if t in variants]:
        if threshold == chosen:
            run, evidence = result, extract.evidence
        else:
            other = extract.at(threshold)
            try:
                run = study.compute(other, params)
            except (StudyError, ValueError, IbisError) as exc:
                failed.append(f"at the {threshold} threshold the study could not run ({exc})")
                continue
            finally:
                extract.used |= other.used
            evidence = other.evidence
        part = rows(main, run)
        found = _evidence(part, evidence)
        part.insert(0, CHOSEN, "yes" if threshold == chosen else "no")
        part.insert(0, THRESHOLD, threshold)
        parts.append(part)
        if found is not None:
            frames.append((found.by, found.frame.assign(**{THRESHOLD: threshold})))
    table = st.declare(
        st.carry(parts[0], pd.concat(parts, ignore_index=True)), **{THRESHOLD: st.group(), CHOSEN: st.group()}
    )
    result.tables[TABLE] = table
    bys = {by for by, _ in frames}
    if len(frames) == len(parts) and len(bys) == 1:  # every threshold's people, or none (partial is no evidence)
        frame = pd.concat([f for _, f in frames], ignore_index=True)
        extract.evidence.append(Evidence((*bys.pop(), THRESHOLD), frame))
    result.notes += [f"Linkage uncertainty: {f}." for f in failed]
    result.notes += spread_notes(main, table, chosen)
    result.notes += correct(main, table, about["recall"])
    return about


def correct(main: MainMeasure, table: pd.DataFrame, recall: dict | None) -> list[str]:
    """The missed-match correction, an estimate, on every threshold's rows: the share divided by that threshold's
    recall from the cohort's source into the outcome's (``MainMeasure.linked``: the share of the first's records
    linked to the person's records in the second), as a linkage report against a gold standard measured it,
    capped at 1; the notes say what it assumes. Columns ``linkage_recall`` and ``<share>_corrected`` (with its
    interval, the bounds divided alike) are added to ``table`` in place, so the corrected figure has its own
    spread across thresholds."""
    if main.linked is None or not main.low:
        return []
    pair, key = "{} to {}".format(*main.linked), "|".join(main.linked)
    measured = {t: v[key] for t, v in ((recall or {}).get("thresholds") or {}).items() if v.get(key)}
    if not measured:
        return [
            f"Missed-match correction: no recall between {pair} was recorded for this linkage run (a linkage "
            "report against a gold standard records it), so the main measure is not corrected for missed matches."
        ]
    corrected = f"{main.value}_corrected"
    table["linkage_recall"] = table[THRESHOLD].map(measured).astype(float)
    for column, source in ((corrected, main.value), (f"{corrected}_low", main.low), (f"{corrected}_high", main.high)):
        table[column] = np.minimum(pd.to_numeric(table[source], errors="coerce") / table.linkage_recall, 1.0)
    st.declare(
        table,
        linkage_recall=st.reference(),
        **{corrected: st.estimate(of="n")},
        **{f"{corrected}_{side}": st.bound(corrected, side) for side in ("low", "high")},
    )
    return [
        f"Missed-match correction (an estimate, {corrected}): at each threshold the main measure divided by that "
        f"threshold's recall between {pair} that the linkage report measured against "
        f"{recall.get('estimated_from', 'a gold standard')} (linkage_recall), assuming missed links fall at random "
        "among the rows and false links are few; it says where the measure would lie had no link been missed."
    ]


def spread_notes(main: MainMeasure, table: pd.DataFrame, chosen: str) -> list[str]:
    """Words (never figures) where the main measure's range across thresholds is wider than its 95% interval at
    the chosen threshold, per row of the main table."""
    if not main.low or not main.high:
        return []
    kinds = st.declared(table)
    groups = [c for c, k in kinds.items() if k.kind == st.Kind.GROUP and c not in (THRESHOLD, CHOSEN)]
    wide = []
    for key, rows_ in table.groupby(groups, dropna=False) if groups else [((), table)]:
        values = pd.to_numeric(rows_[main.value], errors="coerce").dropna()
        at = rows_[rows_[THRESHOLD] == chosen]
        if len(values) < 2 or at.empty:
            continue
        low, high = (pd.to_numeric(at[c], errors="coerce").iloc[0] for c in (main.low, main.high))
        if pd.notna(low) and pd.notna(high) and values.max() - values.min() > high - low:
            key = key if isinstance(key, tuple) else (key,)
            wide.append(", ".join(f"{g} {k}" for g, k in zip(groups, key, strict=True)) or "overall")
    if not wide:
        return []
    return [
        f"Linkage uncertainty: {main.value} moves across the linkage thresholds by more than its 95% confidence "
        f"interval at the chosen ({chosen}) threshold ({'; '.join(wide)}): linkage error matters more here than "
        f"sampling error, so read the {TABLE} table beside the interval."
    ]
