"""Ingest: every row accounted for, identifiers and content kept apart, bad rows quarantined with reasons."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil

import duckdb
import pytest

from bold import store
from bold.ingest.pipeline import ingest
from bold.ingest.reader import IngestError
from bold.sources import IDENTIFIER_ROLES, geography, load_contract, source_types
from bold.synth.config import SOURCES
from bold.workspace import Workspace, WorkspaceError

TODAY = dt.date(2026, 11, 22)
PRISON_HEADER = (
    "BOOKING_ID,NOMS_NUMBER,PNC_ID,SURNAME,FORENAME,ALIASES,DATE_OF_BIRTH,SEX,RELEASE_POSTCODE,ESTABLISHMENT,"
    "RECEPTION_DATE,RELEASE_DATE,RELEASE_TYPE,RELEASE_LA,SUBSTANCE_MISUSE_NEED,OST_ON_RELEASE"
)
GOOD = {
    "BOOKING_ID": "B1",
    "NOMS_NUMBER": "A1234BC",
    "PNC_ID": "2015/0012345S",
    "SURNAME": "O'Brien-Smith",
    "FORENAME": " josé ",
    "ALIASES": "JOE SMITH",
    "DATE_OF_BIRTH": "07/03/1980",
    "SEX": "M",
    "RELEASE_POSTCODE": "ne4 7qx",
    "ESTABLISHMENT": "DMI",
    "RECEPTION_DATE": "01/02/2020",
    "RELEASE_DATE": "01/05/2020",
    "RELEASE_TYPE": "CRD",
    "RELEASE_LA": "E08000021",
    "SUBSTANCE_MISUSE_NEED": "Y",
    "OST_ON_RELEASE": "N",
}


def _pnc_check(yy: int, serial: int) -> str:
    return "ZABCDEFGHJKLMNPQRTUVWXY"[(yy * 10**7 + serial) % 23]


GOOD["PNC_ID"] = f"2015/0012345{_pnc_check(15, 12345)}"


def csv_line(values: dict) -> str:
    out = []
    for col in PRISON_HEADER.split(","):
        v = values.get(col, "")
        out.append('"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n\r') else v)
    return ",".join(out)


def prison_file(tmp_path, rows: list[dict], name="prison.csv", header=PRISON_HEADER) -> object:
    path = tmp_path / name
    path.write_text(header + "\n" + "".join(csv_line(r) + "\n" for r in rows))
    return path


def row(i: int, **changes) -> dict:
    return {**GOOD, "BOOKING_ID": f"B{i}", **changes}


@pytest.fixture()
def ws(tmp_path):
    return Workspace.init(tmp_path / "ws")


def run(ws, source, path, **kw):
    report = ingest(ws, source, path, today=TODAY, **kw, by="cara")
    assert report.balanced, report
    return report


def test_synthetic_extracts_ingest_and_every_row_is_accounted_for(ws, small_population):
    out, figures = small_population
    for source in SOURCES:
        r = run(ws, source, out / f"{source}.csv")
        assert r.rows_read == figures["records"][source]
        assert r.quarantined <= 0.005 * r.rows_read, r.reasons
    with store.connect(ws) as db:
        for b in db.execute("select * from batches").fetchall():
            assert b["rows_read"] == b["rows_accepted"] + b["rows_quarantined"] + b["rows_opted_out"]


def test_zones_are_separated_by_schema(ws, small_population):
    """Every source type, the participant list too, splits its columns between the zones by its contract."""
    out, _ = small_population
    every = source_types()
    for source in every:
        run(ws, source, out / f"{source}.parquet")
    identifier_like = set(IDENTIFIER_ROLES) | {"source_record_id", "no_fixed_abode"}
    with ws.identifiers(read_only=True) as con:
        id_tables = {
            t: [c for (c,) in con.execute(f"select column_name from (describe identifiers.{t})").fetchall()]
            for t in every
        }
    with ws.content(read_only=True) as con:
        content_tables = {
            t: [c for (c,) in con.execute(f"select column_name from (describe content.{t})").fetchall()] for t in every
        }
    for source in every:
        contract = load_contract(source)
        ids, content = set(id_tables[source]), set(content_tables[source])
        assert ids & content == {"record_key", "batch_id"}
        for col in content - {"record_key", "batch_id"}:
            assert col not in identifier_like and not col.endswith("_raw"), (source, col)
            assert col in {c.field for c in contract.content}
        for col in ids - {"record_key", "batch_id"}:
            assert col.removesuffix("_raw") in identifier_like or col.startswith("local_id"), (source, col)
            assert col not in {c.field for c in contract.content}


@pytest.mark.parametrize(
    ("source", "column", "field"),
    [("prison", "RELEASE_LA", "release_local_authority"), ("treatment", "LA_CODE", "local_authority")],
)
def test_local_authorities_are_content_not_identifiers(ws, small_population, source, column, field):
    out, _ = small_population
    report = run(ws, source, out / f"{source}.parquet")
    with ws.content(read_only=True) as con:
        stored = dict(con.execute(f"select {field}, count(*) from content.{source} group by 1").fetchall())
        unreleased = (
            con.execute(f"select count(*) from content.{source} where release_date is null").fetchone()[0]
            if source == "prison"
            else 0
        )
    with ws.identifiers(read_only=True) as con:
        id_cols = [c for (c,) in con.execute(f"select column_name from (describe identifiers.{source})").fetchall()]
    assert not any("local_authority" in c or c == field for c in id_cols)
    sent = dict(duckdb.sql(f"select {column}, count(*) from '{out}/{source}.parquet' group by 1").fetchall())
    assert sum(stored.values()) == report.accepted
    assert stored.get(None, 0) == unreleased  # only spells not yet released lack a local authority
    assert set(stored) - {None} <= set(geography.local_authorities()["local_authority"])
    assert all(n <= sent[la] for la, n in stored.items())  # as sent, less the few quarantined rows


def test_identifiers_zone_cannot_be_read_without_the_key(ws, small_population):
    out, _ = small_population
    run(ws, "deaths", out / "deaths.csv")
    with pytest.raises(duckdb.Error, match="encrypted"):
        duckdb.connect(str(ws.identifiers_path))
    surname = duckdb.sql(f"select SURNAME from '{out}/deaths.parquet' limit 1").fetchone()[0]
    assert surname.encode() not in ws.identifiers_path.read_bytes()
    con = duckdb.connect()
    from bold.security.encryption import httpfs_extension

    con.execute(f"LOAD '{httpfs_extension()}'")
    with pytest.raises(duckdb.Error, match=r"[Ww]rong encryption key"):
        con.execute(f"ATTACH '{ws.identifiers_path}' AS z (ENCRYPTION_KEY 'not-the-key')")
    with ws.identifiers(read_only=True) as zone:  # what spills to disk from memory is encrypted too
        setting = "select value from duckdb_settings() where name = 'temp_file_encryption'"
        assert zone.execute(setting).fetchone()[0] == "true"


def test_reingesting_the_same_file_is_a_no_op_and_later_batches_append(ws, tmp_path):
    first = prison_file(tmp_path, [row(1), row(2)], "a.csv")
    second = prison_file(tmp_path, [row(3)], "b.csv")
    assert run(ws, "prison", first).accepted == 2
    again = ingest(ws, "prison", first, today=TODAY, by="cara")
    assert again.already_ingested_as == "a" and again.accepted == 0
    assert run(ws, "prison", second).accepted == 1
    with ws.identifiers(read_only=True) as con:
        assert con.execute("select count(*) from identifiers.prison").fetchone()[0] == 3
    with pytest.raises(IngestError, match="batch name 'a' is already used"):
        ingest(ws, "prison", prison_file(tmp_path, [row(4)], "c.csv"), batch="a", today=TODAY, by="cara")


def test_identifiers_are_normalised_beside_their_raw_values(ws, tmp_path):
    run(ws, "prison", prison_file(tmp_path, [row(1), row(2, PNC_ID=f"15/12345{_pnc_check(15, 12345)}")]))
    with ws.identifiers(read_only=True) as con:
        rows = con.execute(
            "select forename, forename_raw, surname, postcode, postcode_district, pnc_id, aliases, date_of_birth, sex "
            "from identifiers.prison order by source_record_id"
        ).fetchall()
    forename, raw, surname, postcode, district, pnc, aliases, dob, sex = rows[0]
    assert (forename, raw, surname) == ("JOSE", " josé ", "OBRIEN SMITH")
    assert (postcode, district) == ("NE4 7QX", "NE4")
    assert pnc == rows[1][5] == f"15/0012345{_pnc_check(15, 12345)}"
    assert aliases == ["JOE SMITH"] and dob == dt.date(1980, 3, 7) and sex == "M"
    with ws.content(read_only=True) as con:
        content = con.execute(
            "select prison, reception_date, substance_misuse_need, ost_at_release, release_local_authority "
            "from content.prison"
        ).fetchall()
    assert content[0] == ("DMI", dt.date(2020, 2, 1), True, False, "E08000021")


def test_a_zone_made_under_an_earlier_contract_version_gains_the_new_content_columns(ws, tmp_path):
    run(ws, "prison", prison_file(tmp_path, [row(1)], "a.csv"))
    with ws.content() as con:  # as prison contract version 1 made it, before RELEASE_LA
        con.execute("alter table content.prison drop column release_local_authority")
    assert run(ws, "prison", prison_file(tmp_path, [row(2, RELEASE_LA="E08000024")], "b.csv")).accepted == 1
    with ws.content(read_only=True) as con:
        stored = con.execute("select release_local_authority, prison from content.prison order by batch_id").fetchall()
    assert stored == [(None, "DMI"), ("E08000024", "DMI")]


BAD_ROWS = [
    ({"SURNAME": ""}, "SURNAME: missing required value"),
    ({"DATE_OF_BIRTH": "31/02/1980"}, "DATE_OF_BIRTH: not a date in the format dd/mm/yyyy"),
    ({"RECEPTION_DATE": "01/01/2031"}, "RECEPTION_DATE: a date in the future"),
    ({"DATE_OF_BIRTH": "01/01/1850"}, "DATE_OF_BIRTH: a date before 1900"),
    ({"RELEASE_TYPE": "XYZ"}, "RELEASE_TYPE: not one of the allowed codes (CRD, HDC, SED, RMD)"),
    ({"SEX": "X"}, "SEX: not one of the allowed codes (M, F, U)"),
    ({"SUBSTANCE_MISUSE_NEED": "maybe"}, "SUBSTANCE_MISUSE_NEED: not a yes/no flag (Y or N)"),
    (
        {"PNC_ID": "2015/0012345Z" if _pnc_check(15, 12345) != "Z" else "2015/0012345A"},
        "PNC_ID: PNC ID fails its check character",
    ),
    ({"PNC_ID": "12345"}, "PNC_ID: not a PNC ID (YY/NNNNNNNC or YYYY/NNNNNNNC)"),
    ({"RELEASE_POSTCODE": "NOT A POSTCODE"}, "RELEASE_POSTCODE: not a UK postcode or NFA"),
    ({"FORENAME": '=HYPERLINK("http://evil","x")'}, "FORENAME: contains characters that are not part of a name"),
    ({"ESTABLISHMENT": '=HYPERLINK("http://evil","x")'}, "ESTABLISHMENT: looks like a spreadsheet formula"),
    ({"ESTABLISHMENT": "LINE\nBREAK"}, "ESTABLISHMENT: contains control characters such as line breaks"),
    ({"NOMS_NUMBER": "12345"}, "NOMS_NUMBER: not a prison number such as A1234BC"),
    ({"RELEASE_LA": "Newcastle"}, "RELEASE_LA: does not match the pattern"),
]


def test_every_quarantine_reason_names_row_and_column_but_never_the_value(ws, tmp_path):
    rows = [row(1)] + [row(i + 2, **change) for i, (change, _) in enumerate(BAD_ROWS)] + [row(1)]
    report = run(ws, "prison", prison_file(tmp_path, rows))
    assert report.accepted == 1
    for i, (change, reason) in enumerate(BAD_ROWS):
        assert reason in report.reasons, (reason, dict(report.reasons))
        assert i + 2 in report.examples[reason]
        for value in change.values():
            if len(value) >= 4:  # shorter values occur inside ordinary words
                assert all(value not in r for r in report.reasons)
    dup = "BOOKING_ID: duplicate record id (also earlier in this file)"
    assert report.reasons[dup] == 1 and report.examples[dup] == [len(rows)]
    assert report.quarantine_file.exists()


HOSPITAL_HEADER = "EPIKEY,NHS_NUMBER,DOB,SEX,POSTCODE,ADMIDATE,DISDATE,ADMIMETH,DIAG_4_01,DIAG_4_02"


def test_nhs_numbers_and_icd10_codes(ws, tmp_path):
    lines = [
        "E1,943 476 5919,1980-01-01,1,ZZ99 3VZ,2020-01-01,2020-01-02,21,F11.2,",  # valid (a published example)
        "E2,9434765918,1980-01-01,1,SW1A 1AA,2020-01-01,2020-01-02,21,F112,",  # check digit wrong
        "E3,94347659,1980-01-01,2,SW1A 1AA,2020-01-01,,21,F112,",  # too short
        "E4,,1980-01-01,2,SW1A 1AA,2020-01-01,,99,NOTICD,",  # unknown code, bad ICD-10
    ]
    path = tmp_path / "hes.csv"
    path.write_text(HOSPITAL_HEADER + "\n" + "\n".join(lines) + "\n")
    report = run(ws, "hospital", path)
    assert report.accepted == 1
    assert report.examples["NHS_NUMBER: NHS number fails its check digit"] == [2]
    assert report.examples["NHS_NUMBER: an NHS number must be 10 digits"] == [3]
    assert report.examples["DIAG_4_01: not an ICD-10 code"] == [4]
    assert 4 in report.examples["ADMIMETH: not one of the allowed codes (11, 12, 13, 21, 22, 23, 24, 25, 28)"]
    with ws.identifiers(read_only=True) as con:
        assert con.execute("select nhs_number, no_fixed_abode, postcode from identifiers.hospital").fetchone() == (
            "9434765919",
            True,
            None,
        )
    with ws.content(read_only=True) as con:
        assert con.execute("select primary_diagnosis from content.hospital").fetchone() == ("F112",)


def test_hostile_csv_input(ws, tmp_path):
    path = tmp_path / "hostile.csv"
    good = csv_line(row(1)).encode()
    long_field = csv_line(row(4, ESTABLISHMENT="X" * 10_000_000)).encode()
    lines = [
        "\ufeff".encode() + PRISON_HEADER.encode(),  # a byte-order mark
        good,
        csv_line(row(2, SURNAME='O"Neil')).encode(),  # embedded quote, properly escaped: a name error
        csv_line(row(3)).replace("DMI", "D\xe9I").encode("latin-1"),  # a byte that is not UTF-8
        long_field,  # a 10 MB field
        csv_line(row(5)).encode() + b",extra,fields",  # too many fields
        csv_line(row(6, ESTABLISHMENT="two\nlines")).encode(),  # embedded newline inside quotes
        csv_line(row(7)).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = run(ws, "prison", path)
    assert report.rows_read == 7
    assert report.accepted == 2
    assert report.examples["SURNAME: contains characters that are not part of a name"] == [2]
    assert report.examples["row could not be read: invalid encoding"] == [3]
    assert report.examples["ESTABLISHMENT: longer than 200 characters"] == [4]
    assert report.examples["row could not be read: too many columns"] == [5]
    assert report.examples["ESTABLISHMENT: contains control characters such as line breaks"] == [6]


def test_latin1_file_with_the_right_encoding(ws, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((PRISON_HEADER + "\n" + csv_line(row(1, FORENAME="Zoë")) + "\n").encode("latin-1"))
    report = run(ws, "prison", path, encoding="latin-1")
    assert report.accepted == 1
    with ws.identifiers(read_only=True) as con:
        assert con.execute("select forename, forename_raw from identifiers.prison").fetchone() == ("ZOE", "Zoë")


def test_utf16_file_read_as_utf8_gives_a_clear_error_or_quarantine(ws, tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes((PRISON_HEADER + "\n" + csv_line(row(1)) + "\n").encode("utf-16"))
    try:
        report = run(ws, "prison", path)
    except IngestError as exc:
        assert "utf-16.csv" in str(exc) or "utf16.csv" in str(exc)
        assert "--encoding" in str(exc) or "column" in str(exc)
    else:
        assert report.accepted == 0 and report.balanced


def test_file_level_problems_are_clear_errors(ws, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match=r"empty\.csv: the file is empty"):
        ingest(ws, "prison", empty, by="cara")
    missing = prison_file(tmp_path, [], "missing.csv", header=PRISON_HEADER.replace("SURNAME,", ""))
    with pytest.raises(IngestError, match="required column\\(s\\) missing: SURNAME"):
        ingest(ws, "prison", missing, by="cara")
    with pytest.raises(IngestError, match="no such file"):
        ingest(ws, "prison", tmp_path / "nope.csv", by="cara")
    with store.connect(ws) as db:
        assert db.execute("select count(*) from batches").fetchone()[0] == 0


def test_header_only_missing_optional_and_extra_columns(ws, tmp_path):
    header_only = prison_file(tmp_path, [], "header.csv")
    r = run(ws, "prison", header_only)
    assert (r.rows_read, r.accepted) == (0, 0)
    header = PRISON_HEADER.replace(",ALIASES", "") + ",FAVOURITE_COLOUR"
    path = tmp_path / "odd.csv"
    path.write_text(header + "\n" + csv_line(row(1)).replace(",JOE SMITH", "") + ",blue\n")
    r = run(ws, "prison", path)
    assert r.accepted == 1
    assert any("FAVOURITE_COLOUR" in w for w in r.warnings)
    assert any("ALIASES" in w for w in r.warnings)
    with ws.content(read_only=True) as con:
        cols = [c for (c,) in con.execute("select column_name from (describe content.prison)").fetchall()]
    assert not any("colour" in c.lower() for c in cols)


def test_parquet_and_gzip_give_the_same_result_as_csv(ws, small_population, tmp_path):
    out, figures = small_population
    gz = tmp_path / "deaths.csv.gz"
    with open(out / "deaths.csv", "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    a = run(ws, "deaths", gz, batch="gz")
    other = Workspace.init(tmp_path / "ws2")
    b = run(other, "deaths", out / "deaths.parquet")
    assert a.accepted == b.accepted == figures["records"]["deaths"]


def test_custodian_column_mapping(ws, tmp_path):
    from bold.sources import load_mapping

    header = PRISON_HEADER.replace("SURNAME", "FAMILY_NAME").replace("FORENAME", "GIVEN_NAME")
    path = prison_file(tmp_path, [row(1)], header=header)
    mapping_file = tmp_path / "map.yaml"
    mapping_file.write_text("FAMILY_NAME: SURNAME\nGIVEN_NAME: FORENAME\n")
    mapping = load_mapping(mapping_file, load_contract("prison"))
    assert run(ws, "prison", path, mapping=mapping).accepted == 1
    mapping_file.write_text("FAMILY_NAME: LAST_NAME\n")
    from bold.sources import ContractError

    with pytest.raises(ContractError, match="line 1: maps to a column not in the prison contract"):
        load_mapping(mapping_file, load_contract("prison"))


def test_workspace_keys_are_private_and_checked(tmp_path):
    ws = Workspace.init(tmp_path / "w")
    for key in ws.keys_dir.iterdir():
        assert key.stat().st_mode & 0o777 == 0o600
    assert ws.keys_dir.stat().st_mode & 0o777 == 0o700
    (ws.keys_dir / "identifiers.key").chmod(0o644)
    with pytest.raises(WorkspaceError, match="readable by others"):
        ws.key("identifiers")
    with pytest.raises(WorkspaceError, match="already a workspace"):
        Workspace.init(tmp_path / "w")
    with pytest.raises(WorkspaceError, match="not a BOLD workspace"):
        Workspace.open(tmp_path)


OTHER_SOURCES = [
    (
        "probation",
        "EVENT_ID,CRN,PNC_NUMBER,FIRST_NAME,LAST_NAME,DATE_OF_BIRTH,GENDER,POSTCODE,ORDER_TYPE,ORDER_START_DATE,"
        "ORDER_END_DATE,TERMINATION_DATE,TERMINATION_REASON,DRR,ATR,MHTR,OASYS_DRUG_SCORE,OASYS_ALCOHOL_SCORE",
        [
            "E1,X123456,,Ann,Lee,1980-01-01,Female,NE4 7QX,CO,2020-01-01,2030-01-01,,,Y,N,N,4,0",
            "E2,123456,,Ann,Lee,1980-01-01,Female,NE4 7QX,CO,2020-01-01,,,,Y,N,N,4,0",
            "E3,X123456,,Ann,Lee,1980-01-01,Female,NE4 7QX,CO,2020-01-01,,,,Y,N,N,eleven,0",
            "E4,X123456,,Ann,Lee,1980-01-01,Female,NE4 7QX,CO,2020-01-01,,,,Y,N,N,4,99",
        ],
        {
            "CRN: not a case reference number such as X123456": [2],
            "OASYS_DRUG_SCORE: not a whole number": [3],
            "OASYS_ALCOHOL_SCORE: outside 0 to 10": [4],
        },
    ),
    (
        "treatment",
        "JOURNEY_ID,CLIENT_ID,INITIALS,DOB,SEX,PC_DISTRICT,REFERRAL_SOURCE,REFERRAL_DATE,TRIAGE_DATE,"
        "TREATMENT_START_DATE,DISCHARGE_DATE,DISCHARGE_REASON,SUBSTANCE_GROUP,INJECTING_STATUS,HOUSING_NEED,MH_TREATMENT,"
        "LA_CODE",
        [
            "J1,C1,J.S.,01/01/1980,1,NE4,PRI,01/01/2020,02/01/2020,03/01/2020,,,OPI,C,1,N,E08000021",
            "J2,C1,J5,01/01/1980,1,NE4,PRI,01/01/2020,02/01/2020,03/01/2020,,,OPI,C,1,N,E08000021",
            "J3,C1,JS,01/01/1980,1,NE4 7QX,PRI,01/01/2020,02/01/2020,03/01/2020,,,OPI,C,1,N,E08000021",
            "J4,C1,JS,01/01/1980,1,NE4,PRI,01/01/2020,02/01/2020,03/01/2020,,,OPI,C,1,N,",
            "J5,C1,JS,01/01/1980,1,NE4,PRI,01/01/2020,02/01/2020,03/01/2020,,,OPI,C,1,N,Newcastle",
        ],
        {
            "INITIALS: initials must be one to three letters": [2],
            "PC_DISTRICT: not a postcode district such as NE4": [3],
            "LA_CODE: missing required value": [4],
            "LA_CODE: does not match the pattern": [5],
        },
    ),
    (
        "homelessness",
        "CASE_REF,FORENAME,SURNAME,DOB,SEX,NI_NUMBER,APPLICATION_DATE,DUTY,SN_DRUG,SN_ALCOHOL,SN_MENTAL_HEALTH,"
        "SN_OFFENDING,LA_CODE,ETHNICITY",
        [
            "H1,Ann,Lee,01-01-1980,F,AB123456C,01-01-2020,PREV,Y,N,N,N,E06000047,W",
            "H2,Ann,Lee,01-01-1980,F,QQ12345,01-01-2020,PREV,Y,N,N,N,E06000047,W",
            "H3,Ann,Lee,01-01-1980,F,,01-01-2020,PREV,Y,N,N,N,Durham,W",
        ],
        {
            "NI_NUMBER: not a National Insurance number": [2],
            "LA_CODE: does not match the pattern": [3],
        },
    ),
]


def test_quarantine_reasons_of_other_sources(ws, tmp_path):
    for source, header, lines, expected in OTHER_SOURCES:
        path = tmp_path / f"{source}.csv"
        path.write_text(header + "\n" + "\n".join(lines) + "\n")
        report = run(ws, source, path)
        assert report.accepted == 1, (source, dict(report.reasons))
        for reason, rows in expected.items():
            assert report.examples.get(reason) == rows, (source, reason, dict(report.reasons))
    with ws.identifiers(read_only=True) as con:
        assert con.execute("select initials from identifiers.treatment").fetchone() == ("JS",)
