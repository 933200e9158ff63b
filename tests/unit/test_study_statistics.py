"""Every column of every study's table says what it is (``bold.studies.statistics``), so disclosure control can
judge it: the whole catalogue and the YAML example are run on a built project and no column may be left untyped,
and every share, rate, bound and estimate must point at columns of the right kind in its own table."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from bold.governance import projects
from bold.studies import runner
from bold.studies import statistics as st
from bold.studies.builtin import catalogue
from bold.studies.spec import load_spec
from bold.studies.statistics import Kind
from tests.conftest import approved_and_built, linked_copy, question_library

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
YAML_STUDY = EXAMPLES / "study-continuity-by-ost.yaml"
TODAY = dt.date(2026, 11, 22)
PROJECT = "bold-questions"  # agrees every field any built-in study needs or uses when agreed


@pytest.fixture(scope="module")
def built(tmp_path_factory, small_population, linked_small):
    """A linked workspace with the question library's project built, and the pilot parameters of its population."""
    out, _ = small_population
    ws = linked_copy(linked_small, tmp_path_factory.mktemp("typed") / "ws")
    approved_and_built(ws, EXAMPLES / f"{PROJECT}.yaml", TODAY)
    summary = json.loads((out / "truth" / "summary.json").read_text())
    pilot = {"pilot_areas": ",".join(summary["pilot_local_authorities"]), "pilot_start": summary["pilot_start"]}
    return ws, pilot


@pytest.fixture(scope="module")
def results(built):
    """Every built-in study and the YAML example computed on the project's extract: (study, kind of table,
    table name) -> table."""
    ws, pilot = built
    studies = [*question_library(), load_spec(YAML_STUDY)]  # participant-outcomes: its own unit tests
    tables = {}
    for study in studies:
        extract = runner.open_extract(ws, projects.get(ws, PROJECT))
        try:
            params = pilot if study.required else {}
            if study.id == "pilot-evaluation":  # a value per client and a programme cost: the valued effect typed too
                params = {**params, "benefit_per_client": 1_000, "programme_cost": 50_000}
            result = study.compute(extract, study.resolve(params))
        finally:
            extract.close()
        assert result.tables, study.id
        for part in ("tables", "reference"):
            for name, table in getattr(result, part).items():
                tables[study.id, part, name] = table
    return tables


def test_every_study_of_the_catalogue_and_the_yaml_example_is_covered(results):
    """The checks below run over the whole catalogue by construction: a new study is in them without edits."""
    assert {study for study, _, _ in results} == {*(s.id for s in question_library()), load_spec(YAML_STUDY).id}


def test_no_table_of_any_study_has_an_untyped_column(results):
    """A column with no kind cannot pass disclosure control automatically: none may be left out."""
    untyped = {f"{s}/{part}/{name}": st.untyped(t) for (s, part, name), t in results.items() if st.untyped(t)}
    assert untyped == {}


def test_reference_tables_hold_only_reference_values(results):
    """A study's ``reference`` tables (prices, assumptions) hold no data about people, and say so."""
    wrong = {
        f"{s}/{name}": {c: str(k.kind) for c, k in st.declared(t).items() if k.kind != Kind.REFERENCE}
        for (s, part, name), t in results.items()
        if part == "reference"
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def _kind(table: pd.DataFrame, column: str | None) -> Kind | None:
    stat = st.declared(table).get(column) if column else None
    return stat.kind if stat else None


def problems(table: pd.DataFrame) -> list[str]:
    """What an output checker could not follow in one table's declarations: a share, rate, bound, magnitude or
    estimate naming a column the table lacks, or one of the wrong kind."""
    found = []

    def need(column: str, field: str, ref: str | None, kinds: tuple[Kind, ...], required: bool = True) -> None:
        if ref is None:
            if required:
                found.append(f"{column}: no {field}")
            return
        if _kind(table, ref) not in kinds:
            found.append(f"{column}: {field} {ref!r} is {_kind(table, ref)}, not {'/'.join(kinds)}")

    for column, stat in st.declared(table).items():
        if stat.kind == Kind.SHARE:
            need(column, "numerator", stat.numerator, st.COUNTS)
            need(column, "denominator", stat.denominator, st.COUNTS)
        elif stat.kind == Kind.RATE:
            need(column, "events", stat.events, (Kind.EVENTS,))
            need(column, "person_time", stat.person_time, (Kind.PERSON_TIME,))
        elif stat.kind == Kind.BOUND:
            need(column, "of", stat.of, (Kind.SHARE, Kind.RATE, Kind.ESTIMATE))
            if stat.side not in ("low", "high"):
                found.append(f"{column}: side {stat.side!r}")
        elif stat.kind in (Kind.MAGNITUDE, Kind.PERCENTILE):
            need(column, "people", stat.people, (Kind.PEOPLE,), required=False)
        elif stat.kind == Kind.ESTIMATE:
            need(column, "df", stat.df, (Kind.DF,), required=False)
            need(column, "of", stat.of, st.COUNTS, required=False)
            need(column, "people", stat.people, (Kind.PEOPLE,), required=False)
            if stat.of is None and stat.people is None:
                found.append(f"{column}: an estimate names no count behind it (of or people)")
    return found


def test_every_share_rate_bound_and_estimate_names_columns_of_its_own_table(results):
    wrong = {f"{s}/{part}/{name}": problems(t) for (s, part, name), t in results.items() if problems(t)}
    assert wrong == {}


def test_model_estimates_come_with_their_residual_degrees_of_freedom(results):
    """Output checkers release a regression only with enough residual degrees of freedom (SACRO: 10): every
    fitted model's estimates table has a ``df`` column, and its estimates point at it."""
    did = results["pilot-evaluation", "tables", "estimates"]
    coefficients = results["pilot-evaluation", "tables", "coefficients"]
    for table in (did, coefficients):
        kinds = st.declared(table)
        assert kinds["df_resid"].kind == Kind.DF
        assert table.df_resid.dropna().astype(int).ge(1).all()
    assert st.declared(coefficients)["odds_ratio"].df == "df_resid"
    assert st.declared(did)["p_value"].kind == Kind.ESTIMATE  # a p-value is judged as the model's estimate


def test_hand_checked_columns_have_the_kind_an_output_checker_expects(results):
    """Spot checks where a wrong kind would be plausible but wrong."""
    hospital = st.declared(results["hospital-after-release", "tables", "by_continuity"])
    assert hospital["n"].kind == Kind.EVENTS and hospital["people"].kind == Kind.PEOPLE  # releases, not people
    per = hospital["admissions_per_release"]
    assert (per.kind, per.statistic, per.unit, per.people) == (Kind.MAGNITUDE, "mean", "admissions", "people")
    assert hospital["emergency_admissions"].kind == Kind.EVENTS
    deaths = st.declared(results["deaths-after-release", "tables", "all_cause_by_week"])
    assert deaths["window_order"].kind == Kind.GROUP and deaths["person_years"].kind == Kind.PERSON_TIME
    cells = st.declared(results["pilot-evaluation", "tables", "cells"])
    assert (cells["n"].kind, cells["events"].kind, cells["group"].kind) == (Kind.EVENTS, Kind.EVENTS, Kind.GROUP)
    value = st.declared(results["pilot-evaluation", "tables", "economic_value"])
    assert value["formula"].kind == Kind.REFERENCE and value["programme_cost_gbp"].kind == Kind.REFERENCE
    assert value["benefit_cost_ratio"] == st.estimate(of="n")  # from the data, like the valued effect
    assert st.declared(results["economic-value", "tables", "outcomes_valued"])["prices"].kind == Kind.REFERENCE
    yaml_overall = st.declared(results["continuity-by-ost", "tables", "by_ost_at_release"])
    assert yaml_overall["emergency_admissions"].kind == Kind.EVENTS
    assert yaml_overall["treated_21_days_share"] == st.share("treated_21_days", "n")


def test_kinds_survive_the_runners_path(built, monkeypatch):
    """A study run by the runner (permission checks, the aggregate guard, the written pending output) hands
    disclosure control the same typed tables its compute made: nothing on the way rebuilds them untyped."""
    ws, _ = built
    real = catalogue()["deaths-after-release"]
    made = []

    def compute(extract, params):
        made.append(real.compute(extract, params))
        return made[-1]

    monkeypatch.setattr(runner, "find_study", lambda name: dataclasses.replace(real, compute=compute))
    output = runner.run(ws, PROJECT, real.id, by="ana", today=TODAY)
    result, *variants = made  # the study at the chosen threshold, then at the two others (linkage uncertainty)
    assert len(variants) == 2
    assert set(result.tables) == set(output.manifest()["tables"])
    for name, table in result.tables.items():
        assert st.untyped(table) == [], name
        written = output.table(name)
        assert list(written.columns) == list(table.columns) and not st.declared(written)  # CSV keeps no kinds


# --- declare, declared, carry, untyped -----------------------------------------------------------------


def test_declaring_a_column_the_table_lacks_is_refused_by_name():
    table = pd.DataFrame({"n": [12, 30]})
    with pytest.raises(ValueError, match="declared columns not in the table: nm, shar"):
        st.declare(table, shar=st.share("n", "n"), nm=st.events())
    assert st.declared(table) == {}  # nothing half-declared


def test_declare_adds_to_earlier_declarations_and_untyped_lists_the_rest():
    table = pd.DataFrame({"region": ["North"], "n": [12], "people": [10], "extra": [1.5]})
    st.declare(table, region=st.group(), n=st.events())
    st.declare(table, people=st.people())
    assert st.declared(table) == {"region": st.group(), "n": st.events(), "people": st.people()}
    assert st.untyped(table) == ["extra"]


def test_carry_copies_kinds_to_a_rebuilt_table_for_the_columns_it_keeps():
    source = st.declare(pd.DataFrame({"region": ["North"], "n": [12]}), region=st.group(), n=st.events())
    rebuilt = pd.concat([source, source.assign(region="South")], ignore_index=True).rename(columns={"n": "releases"})
    rebuilt.attrs.clear()  # what pd.DataFrame(rows) and many merges give
    st.carry(source, rebuilt)
    assert st.declared(rebuilt) == {"region": st.group()}
    assert st.untyped(rebuilt) == ["releases"]


def test_a_dropped_column_leaves_no_stale_declaration():
    table = st.declare(pd.DataFrame({"n": [12], "x": [1]}), n=st.events(), x=st.events())
    assert st.declared(table.drop(columns="x")) == {"n": st.events()}


def test_rename_moves_kinds_and_the_columns_they_name():
    """pandas keeps ``attrs`` under the old names: a renamed share must still point at its renamed count."""
    table = pd.DataFrame({"n": [40], "treated": [12], "share": [0.3], "share_low": [0.2]})
    st.declare(table, n=st.events(), treated=st.events(), share=st.share("treated", "n"))
    st.declare(table, share_low=st.bound("share", "low"))
    out = st.rename(table, {"treated": "treated_21_days", "share": "treated_21_days_share", "share_low": "low"})
    assert st.declared(out) == {
        "n": st.events(),
        "treated_21_days": st.events(),
        "treated_21_days_share": st.share("treated_21_days", "n"),
        "low": st.bound("treated_21_days_share", "low"),
    }
    assert problems(out) == [] and st.declared(table)["share"] == st.share("treated", "n")  # the source untouched
    with pytest.raises(ValueError, match="not in the table"):
        st.declare(out, share=st.events())  # the old name is gone
