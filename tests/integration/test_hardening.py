"""Findings of the red-team exercise, one test each: every one failed on the code before the fix.

Each test is named after its finding and drives the real stages (or the command line), with bad input.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bold import store
from bold.cli import app
from bold.errors import BoldError, Kind
from bold.store import audit
from bold.workspace import Workspace
from tests.conftest import board_answers, clear, decided_and_signed_off

runner = CliRunner()
PASSWORD = "a-long-test-password"
ADMIN = {"BOLD_USER": "adam", "BOLD_PASSWORD": PASSWORD}
EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env or ADMIN)


@pytest.fixture()
def ws(tmp_path) -> Workspace:
    """A workspace with its admin (adam), a custodian (cara), a linker (lin) and a governance member (grace)."""
    from bold.governance.people import add_person

    ws = Workspace.init(tmp_path / "ws")
    add_person(ws, "adam", ["admin"], PASSWORD, by="test")
    for name, role in (("cara", "custodian"), ("lin", "linker"), ("grace", "governance")):
        add_person(ws, name, [role], PASSWORD, by="adam")
    clear(ws, "adam", "cara", "lin", "grace")  # trained and approved, so data commands get past the check
    return ws


# 1. `bold link report --out` overwrote any file (the governance store, the identifiers key).
def test_out_paths_never_overwrite_workspace_files(ws, tmp_path):
    from bold.governance import register
    from bold.linkage.encode import encode_file
    from bold.linkage.files import link_files
    from bold.reports import linkage_report
    from bold.synth.config import SynthConfig
    from bold.synth.generate import generate

    key = ws.keys_dir / "identifiers.key"
    before = key.read_bytes()
    for target in (ws.governance_path, key, ws.root / "keys" / "report.html", ws.root / "outputs" / "x.html",
                   ws.root / "bold.toml", ws.root / "projects" / "p" / "r.html"):  # fmt: skip
        with pytest.raises(BoldError) as caught:
            linkage_report.build(ws, target, by="lin")
        assert caught.value.kind in (Kind.REFUSED, Kind.INVALID), target
    with pytest.raises(BoldError, match="only under reports/"):
        linkage_report.build(ws, ws.root / "keys" / "report.html", by="lin")
    with pytest.raises(BoldError, match=r"\.html"):
        linkage_report.build(ws, ws.root / "reports" / "r.txt", by="lin")
    elsewhere = tmp_path / "notes.html"  # outside the workspace: a file BOLD did not write is kept
    elsewhere.write_text("<p>my notes</p>")
    with pytest.raises(BoldError, match="not a linkage report BOLD wrote") as caught:
        linkage_report.build(ws, elsewhere, by="lin")
    assert caught.value.kind == Kind.CONFLICT and elsewhere.read_text() == "<p>my notes</p>"

    for folder in (ws.root, ws.keys_dir, ws.root / "quarantine", ws.root / "reports"):
        with pytest.raises(BoldError, match="inside the workspace"):
            register.build(ws, folder, by="grace")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("the team's own page")
    with pytest.raises(BoldError, match=r"index\.html exists and is not"):
        register.build(ws, tmp_path / "site", by="grace")
    assert register.build(ws, by="grace") == ws.root / "register"  # the default, and again over itself
    assert register.build(ws, by="grace") == ws.root / "register"

    with pytest.raises(BoldError, match="inside the workspace"):
        link_files([tmp_path / "a.csv"], "id", {}, ws.keys_dir)
    with pytest.raises(BoldError, match="inside the workspace"):
        encode_file(tmp_path / "a.csv", "prison", tmp_path / "secret", ws.root / "content.csv")
    mine = tmp_path / "mine.csv"
    mine.write_text("a,b\n1,2\n")
    with pytest.raises(BoldError, match="not an encoded file BOLD wrote"):
        encode_file(tmp_path / "a.csv", "prison", tmp_path / "secret", mine)
    assert mine.read_text() == "a,b\n1,2\n"
    with pytest.raises(BoldError, match="inside the workspace"):
        generate(SynthConfig(people=10, seed=1), ws.root / "quarantine")
    assert key.read_bytes() == before and audit.verify(ws).ok  # the store is still the store
    linker = {**ADMIN, "BOLD_USER": "lin"}
    result = invoke("link", "report", "--out", ws.keys_dir / "identifiers.html", "-w", ws.root, env=linker)
    assert result.exit_code == 4 and "inside the workspace" in result.output and "Traceback" not in result.output
    result = invoke("link", "report", "--out", ws.governance_path, "-w", ws.root, env=linker)
    assert result.exit_code == 2 and ".html" in result.output and "Traceback" not in result.output
    assert key.read_bytes() == before and audit.verify(ws).ok


PRISON_HEADER = (
    "BOOKING_ID,NOMS_NUMBER,SURNAME,FORENAME,DATE_OF_BIRTH,SEX,ESTABLISHMENT,RECEPTION_DATE,RELEASE_DATE,"
    "SUBSTANCE_MISUSE_NEED,OST_ON_RELEASE"
)


def prison_csv(path: Path, *rows: str) -> Path:
    """A small prison extract; each row from BOOKING_ID on, as the custodian writes it."""
    path.write_text("\n".join([PRISON_HEADER, *rows]) + "\n")
    return path


GOOD_ROW = "B1,A1234BC,SMITH,JOHN,01/02/1980,M,HMP Leeds,01/01/2020,01/06/2020,Y,N"


# 2. A batch name with ../ wrote outside the workspace and one with / ended in a traceback.
def test_names_that_become_paths_are_checked(ws, tmp_path):
    from bold.governance import projects
    from bold.governance.people import AccessError, add_person
    from bold.ingest.pipeline import ingest
    from bold.studies import outputs

    data = prison_csv(tmp_path / "prison.csv", GOOD_ROW.replace("01/02/1980", "01/02/2999"))
    for bad in ("../../escaped", "a/b", "..", "", "with space", "new\nline"):
        with pytest.raises(BoldError, match="is not a batch name") as caught:
            ingest(ws, "prison", data, batch=bad, by="cara")
        assert caught.value.kind == Kind.INVALID
    assert not list(tmp_path.glob("**/escaped*")) and not (ws.root / "quarantine" / "prison").exists()
    # (a good row beside the bad one: a file whose every row is quarantined is refused whole, nothing stored)
    odd = prison_csv(
        tmp_path / "prison [May] 2020.csv", GOOD_ROW.replace("B1", "B2"), GOOD_ROW.replace("01/02/1980", "01/02/2999")
    )
    report = ingest(ws, "prison", odd, by="cara")  # a file name with spaces gives a safe batch name
    assert report.batch == "prison-May-2020" and report.quarantine_file.parent == ws.root / "quarantine" / "prison"
    for bad in ("../x", "../../etc/passwd", "a/b"):
        with pytest.raises(BoldError, match="is not a project id"):
            projects.build(ws, bad, by="adam")
        with pytest.raises(BoldError, match="is not a project id"):
            projects.close(ws, bad, by="grace")
        with pytest.raises(BoldError, match=r"is not an? (project|output) id"):
            outputs.get(ws, "p-1", bad)
    for bad in ("../adam", "grace\nadmin", "[bold]grace[/bold]"):
        with pytest.raises(AccessError, match="is not a user name"):
            add_person(ws, bad, ["analyst"], PASSWORD, by="adam")
    shown = invoke("project", "build", "../x", "-w", ws.root)
    assert shown.exit_code == 2 and "is not a project id" in shown.output and "Traceback" not in shown.output
    shown = invoke("ingest", data, "-s", "prison", "--batch", "a/b", "-w", ws.root, env={**ADMIN, "BOLD_USER": "cara"})
    assert shown.exit_code == 2 and "is not a batch name" in shown.output and "Traceback" not in shown.output


# 3. Rich markup in a name spoofed another person in `audit show` and `project show`.
def test_names_and_values_are_printed_as_themselves(ws, tmp_path):
    spoof = "[bold]grace[/bold]"
    failed = invoke("status", "-w", ws.root, env={"BOLD_USER": spoof, "BOLD_PASSWORD": "wrong-password-x"})
    assert failed.exit_code == 4
    invoke("status", "-w", ws.root, env={"BOLD_USER": "eve\nadam approved everything", "BOLD_PASSWORD": "wrong-pw-xx"})
    shown = invoke("audit", "show", "-w", ws.root, env={**ADMIN, "BOLD_USER": "grace"})
    assert shown.exit_code == 0, shown.output
    assert spoof in shown.output  # the attempted name as typed, not a bold "grace"
    assert "eve\\nadam approved everything" in shown.output  # one line, the line break shown as \n
    assert not any(line.strip().startswith("adam approved") for line in shown.output.splitlines())

    data = yaml.safe_load((EXAMPLES / "continuity-of-care.yaml").read_text())
    data["title"] = "[red]Approved[/red] by [bold]grace[/bold]"
    data["purpose"] = "x\nDecision by grace: approved"
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(data))
    analyst = {**ADMIN, "BOLD_USER": "adam"}
    assert invoke("project", "submit", tmp_path / "a.yaml", "-w", ws.root, env=analyst).exit_code == 0
    shown = invoke("project", "show", data["id"], "-w", ws.root, env=analyst)
    assert shown.exit_code == 0, shown.output
    assert "[red]Approved[/red] by [bold]grace[/bold]" in shown.output
    assert "x\\nDecision by grace" in shown.output
    assert not any(line.startswith("Decision by") for line in shown.output.splitlines())


# 4. YAML errors echoed the file's content: identifiers, when a data file was passed as a mapping or agreement.
def test_yaml_errors_never_echo_the_file(tmp_path):
    from bold.governance.agreement import load_agreement
    from bold.sources import load_contract, load_mapping
    from bold.studies.spec import load_spec
    from bold.synth.config import load_corruption_overrides

    secret = "SMITH9434765919"
    files = {
        "not yaml": f"BOOKING_ID: [B1\nSURNAME: {secret}, 'x': [\n",  # a YAML syntax error on line 2
        "a data row as a mapping": f"NHS_NUMBER: 9434765919\n{secret}: JOHN 01/02/1980\n",
        "a nested value": f"hospital:\n  {secret}: 0.5\n",
        "a list of rows": f"- {secret}\n- B2,JONES\n",
    }
    loaders = {
        "agreement": load_agreement,
        "mapping": lambda p: load_mapping(p, load_contract("prison")),
        "study": load_spec,
        "corruption rates": load_corruption_overrides,
    }
    for case, text in files.items():
        path = tmp_path / "file.yaml"
        path.write_text(text)
        for kind, load in loaders.items():
            with pytest.raises((BoldError, ValueError)) as caught:
                load(path)
            message = str(caught.value)
            assert secret not in message and "9434765919" not in message and "JOHN" not in message, (case, kind)
            assert message.startswith(str(path)) and "\n" not in message, (case, kind, message)
    path.write_text(files["not yaml"])
    with pytest.raises(BoldError, match=r"file\.yaml: line 2: cannot read the agreement: not valid YAML"):
        load_agreement(path)
    data = yaml.safe_load((EXAMPLES / "continuity-of-care.yaml").read_text())
    data["linkage_threshold"] = secret
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(BoldError, match=r"line \d+: linkage_threshold: Input should be 'high', 'medium' or 'low'"):
        load_agreement(path)


# 5. A gzip file with a bad CRC was accepted by ingest.
def test_a_damaged_gzip_is_refused(ws, tmp_path):
    from bold.ingest.pipeline import ingest
    from bold.ingest.reader import IngestError

    rows = [GOOD_ROW.replace("B1", f"B{i}") for i in range(1, 200)]
    packed = gzip.compress(prison_csv(tmp_path / "prison.csv", *rows).read_bytes())
    damaged = bytearray(packed)
    damaged[-8] ^= 0xFF  # the CRC-32 in the trailer
    (tmp_path / "bad-crc.csv.gz").write_bytes(bytes(damaged))
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])
    for name in ("bad-crc.csv.gz", "cut.csv.gz"):
        with pytest.raises(IngestError, match=f"{name}: the gzip file is") as caught:
            ingest(ws, "prison", tmp_path / name, by="cara")
        assert "\n" not in str(caught.value)
    assert not audit.entries(ws, action="ingest")
    (tmp_path / "good.csv.gz").write_bytes(packed)
    assert ingest(ws, "prison", tmp_path / "good.csv.gz", by="cara").accepted == 199


# 6. A row with two problems was counted twice in the quarantine report (and in the rows read).
def test_each_row_is_counted_once(ws, tmp_path):
    from bold.ingest.pipeline import ingest

    path = tmp_path / "prison.csv"
    bad_bytes = GOOD_ROW.replace("B1", "B2").replace("SMITH", "SM\xffITH").rsplit(",", 1)[0]  # two reader problems
    path.write_bytes(
        "\n".join([
            PRISON_HEADER,
            GOOD_ROW,
            "B3,A1234BC,SMITH,JOHN,01/02/2999,X,HMP Leeds,01/01/2020,01/06/2020,Y,N",  # two rule problems
            "B4,A1234BC,SMITH,JOHN,01/02/1980,M,HMP Leeds,01/01/2020,01/06/2020,Y,N,too,many",  # one
        ]).encode("latin-1")
        + b"\n"
        + bad_bytes.encode("latin-1")
        + b"\n"
    )  # fmt: skip
    report = ingest(ws, "prison", path, by="cara")
    assert report.rows_read == 4  # the rows in the file, each once
    assert (report.accepted, report.quarantined, report.opted_out) == (1, 3, 0)
    assert report.rows_read == report.accepted + report.quarantined + report.opted_out
    assert report.several_reasons == 2 and sum(report.reasons.values()) == 7  # each reason lists its rows
    assert report.examples["row could not be read: invalid encoding"] == [4]
    with store.connect(ws) as db:
        assert tuple(db.execute("select rows_read, rows_quarantined from batches").fetchone()) == (4, 3)
    shown = invoke(
        "ingest", path, "-s", "prison", "--batch", "again", "-w", ws.root, env={**ADMIN, "BOLD_USER": "cara"}
    )
    assert "already ingested" in shown.output
    other = tmp_path / "other.csv"
    other.write_bytes(path.read_bytes().replace(b"B1,", b"B9,").replace(b"B3,", b"B8,").replace(b"B4,", b"B7,"))
    shown = invoke("ingest", other, "-s", "prison", "-w", ws.root, env={**ADMIN, "BOLD_USER": "cara"})
    assert shown.exit_code == 0, shown.output
    assert (
        "rows read 4 = accepted 1 + unchanged 0 + quarantined 3" in shown.output and "several reasons" in shown.output
    )


# 7. A release date before the date of birth was accepted.
def test_implausible_dates_are_quarantined_with_the_reason(ws, tmp_path):
    from bold.ingest.pipeline import ingest
    from bold.sources import Column, Contract

    path = prison_csv(
        tmp_path / "prison.csv",
        GOOD_ROW,
        "B2,A1234BC,SMITH,JOHN,01/02/1980,M,HMP Leeds,01/01/2020,01/06/1979,Y,N",  # released before birth
        "B3,A1234BC,SMITH,JOHN,01/02/1980,M,HMP Leeds,01/01/1970,01/06/2020,Y,N",  # received before birth
        "B4,A1234BC,SMITH,JOHN,01/02/1980,M,HMP Leeds,01/01/2020,01/06/2031,Y,N",  # released after the data end
    )
    report = ingest(ws, "prison", path, today=dt.date(2026, 1, 1), by="cara")
    assert (report.rows_read, report.accepted, report.quarantined) == (4, 1, 3)  # never dropped
    assert report.examples == {
        "RELEASE_DATE: before the date of birth (expected on or after DATE_OF_BIRTH)": [2],
        "RECEPTION_DATE: before the date of birth (expected on or after DATE_OF_BIRTH)": [3],
        "RELEASE_DATE: a date in the future": [4],
    }
    deaths = tmp_path / "deaths.csv"  # a death registered before the birth
    deaths.write_text(
        "REG_ID,NHS_NO,FORENAMES,SURNAME,DOB,SEX,DOD,UNDERLYING_CAUSE,DRUG_RELATED\n"
        "D1,,JOHN,SMITH,19800201,1,19790101,X42,Y\n"
        "D2,,JOHN,SMITH,19800201,1,20200101,X42,Y\n"  # a good row: a file quarantined whole is refused
    )
    report = ingest(ws, "deaths", deaths, by="cara")
    assert report.quarantined == 1 and list(report.reasons) == [
        "DOD: before the date of birth (expected on or after DOB)"
    ]
    columns = [Column(name="ID", role="record_id", required=True), Column(name="X", type="date", format="%Y")]
    with pytest.raises(ValueError, match="not_before/not_after name other date columns"):
        Contract(source="s", version=1, title="t", custodian="c", record_id="ID",
                 columns=[*columns, Column(name="Y", type="date", format="%Y", not_after=("NOPE",))])  # fmt: skip


def _agreement(tmp_path: Path, people: list[dict], id: str = "team-check") -> Path:
    data = yaml.safe_load((EXAMPLES / "continuity-of-care.yaml").read_text())
    data.update(id=id, people=people)
    path = tmp_path / f"{id}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# 8. People named in an agreement need not exist, be active or hold the role named.
def test_everyone_named_in_an_agreement_is_an_active_person_in_that_role(ws, tmp_path):
    from bold.governance import projects
    from bold.governance.people import add_person, deactivate

    add_person(ws, "ana", ["analyst"], PASSWORD, by="adam")
    add_person(ws, "oscar", ["output_checker"], PASSWORD, by="adam")
    add_person(ws, "olivia", ["output_checker"], PASSWORD, by="adam")
    add_person(ws, "gone", ["output_checker"], PASSWORD, by="adam")
    deactivate(ws, "gone", by="adam")
    team = [{"name": "ana", "role": "analyst"}, {"name": "oscar", "role": "output_checker"}]
    good = projects.submit(ws, _agreement(tmp_path, [*team, {"name": "olivia", "role": "output_checker"}]), by="ana")
    assert "every person named is active on the platform and holds the role named" in good.assessment["passed"]
    named = [
        *team,
        {"name": "nobody", "role": "output_checker"},
        {"name": "gone", "role": "output_checker"},
        {"name": "cara", "role": "analyst"},  # a custodian, named as an analyst
    ]
    project = projects.submit(ws, _agreement(tmp_path, named, id="team-wrong"), by="ana")
    red = project.assessment["red_lines"]
    assert "nobody (named as output_checker) is not a person on this platform" in red
    assert "gone (named as output_checker) is deactivated" in red
    assert "cara is named as analyst but does not hold that role" in red
    assert not project.assessment["acceptable"]
    with pytest.raises(BoldError, match=r"crosses red lines and cannot be approved: .*nobody"):
        projects.approve(ws, "team-wrong", board_answers(), by="grace")


# 9. Role combinations let one person see identifiers and content.
def test_a_linker_never_holds_a_role_that_sees_content(ws, tmp_path):
    from bold.governance import projects
    from bold.governance.people import AccessError, add_person, people
    from bold.governance.permissions import INCOMPATIBLE_ROLES, Role

    assert INCOMPATIBLE_ROLES[Role.LINKER] == {Role.ANALYST, Role.CUSTODIAN, Role.OUTPUT_CHECKER}
    for other in ("analyst", "custodian", "output_checker"):
        with pytest.raises(AccessError, match=f"cannot hold linker with {other}") as caught:
            add_person(ws, f"both-{other}".replace("_", "-"), ["linker", other], PASSWORD, by="adam")
        assert caught.value.kind == Kind.INVALID
    add_person(ws, "lina", ["linker", "governance"], PASSWORD, by="adam")  # compatible roles are fine
    added = invoke(
        "user", "add", "mixed", "--role", "linker", "--role", "analyst", "-w", ws.root,
        env={**ADMIN, "BOLD_NEW_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert added.exit_code == 2 and "separation of duties" in added.output
    assert "mixed" not in {p.name for p in people(ws)}
    add_person(ws, "ana", ["analyst"], PASSWORD, by="adam")
    add_person(ws, "oscar", ["output_checker"], PASSWORD, by="adam")
    named = [
        {"name": "ana", "role": "analyst"},
        {"name": "oscar", "role": "output_checker"},
        {"name": "lin", "role": "output_checker"},
        {"name": "lina", "role": "analyst"},
    ]
    red = projects.submit(ws, _agreement(tmp_path, named), by="ana").assessment["red_lines"]
    assert "lin is a linker and cannot be named as output_checker (a linker never sees content)" in red
    assert "lina is a linker and cannot be named as analyst (a linker never sees content)" in red


# 10. Sign-in took ~294 ms for a real name and ~22 ms for an unknown one, and there was no lockout.
# (Since: locked until an admin unlocks, tests/integration/test_people_lifecycle.py.)
def test_sign_in_is_constant_time_and_locks_out_after_five_failures(ws):
    import time

    from bold.governance.people import AccessError, deactivate, sign_in, unlock

    def seconds(name: str, password: str = "not-the-password") -> float:
        start = time.perf_counter()
        with pytest.raises(AccessError) as caught:
            sign_in(ws, name, password)
        assert str(caught.value).startswith(f"sign-in failed for {name!r}")
        return time.perf_counter() - start

    seconds("warm-up")  # the dummy hash is made once, on first use
    deactivate(ws, "grace", by="adam")
    known = min(seconds("cara") for _ in range(3))
    unknown = min(seconds("nobody") for _ in range(3))
    inactive = min(seconds("grace", PASSWORD) for _ in range(3))
    assert unknown >= known / 2 and inactive >= known / 2, (known, unknown, inactive)
    assert sign_in(ws, "cara", PASSWORD).name == "cara"  # three failures, then a success: the count restarts
    messages = set()
    for name in ("lin", "nobody"):  # five failures in a row lock lin out; the messages never differ
        for _ in range(5):
            with pytest.raises(AccessError) as caught:
                sign_in(ws, name, "wrong-password-again")
            messages.add(str(caught.value).replace(repr(name), "NAME"))
    assert len(messages) == 1
    with pytest.raises(AccessError) as caught:
        sign_in(ws, "lin", PASSWORD)  # the right password, but locked out
    assert str(caught.value).replace("'lin'", "NAME") in messages
    locked = audit.entries(ws, action="sign-in locked")
    assert [(e["actor"], e["object"]) for e in locked] == [("bold", "lin")]  # locked until an admin unlocks
    unlock(ws, "lin", by="adam")
    assert sign_in(ws, "lin", PASSWORD).name == "lin"
    for _ in range(4):  # a success resets the count: four more failures do not lock
        with pytest.raises(AccessError):
            sign_in(ws, "cara", "wrong-password-again")
    assert sign_in(ws, "cara", PASSWORD).name == "cara"
    for _ in range(4):
        with pytest.raises(AccessError):
            sign_in(ws, "cara", "wrong-password-again")
    assert sign_in(ws, "cara", PASSWORD).name == "cara"
    assert audit.verify(ws).ok


# 11. A 400-outcome study ran for over six CPU-minutes with no limit.
def test_studies_are_bounded_in_size_and_time(ws, tmp_path, small_population, monkeypatch):
    from bold.governance import projects
    from bold.governance.people import add_person
    from bold.ingest.pipeline import ingest
    from bold.studies import runner
    from bold.studies.language import StudyError
    from bold.studies.spec import load_spec
    from tests.extract_builder import d, write_extract

    def study(path: Path, outcomes: int = 2, breakdowns: list[str] | None = None) -> Path:
        spec = {
            "id": "bounded",
            "title": "Treatment after release",
            "cohort": {"dataset": "prison", "index": "release_date"},
            "outcomes": [
                {"name": f"treated_{i}", "first": "treatment.treatment_start_date", "within": [0, 7 * (i + 1)]}
                for i in range(outcomes)
            ],
            "breakdowns": breakdowns if breakdowns is not None else ["prison"],
        }
        path.write_text(yaml.safe_dump(spec))
        return path

    with pytest.raises(StudyError, match=r"outcomes: List should have at most 50 items"):
        load_spec(study(tmp_path / "many.yaml", outcomes=51))
    with pytest.raises(StudyError, match=r"breakdowns: List should have at most 20 items"):
        load_spec(study(tmp_path / "wide.yaml", breakdowns=[f"b{i}" for i in range(21)]))
    assert len(load_spec(study(tmp_path / "fifty.yaml", outcomes=50)).needs) == 3  # fifty are allowed

    out, _ = small_population  # a project approved on real ingested data, and its extract
    for source in ("prison", "treatment"):
        ingest(ws, source, out / f"{source}.parquet", by="cara")
    add_person(ws, "ana", ["analyst"], PASSWORD, by="adam")
    for name in ("oscar", "olivia"):
        add_person(ws, name, ["output_checker"], PASSWORD, by="adam")
    data = yaml.safe_load((EXAMPLES / "continuity-of-care.yaml").read_text())
    data["datasets"] = {k: v for k, v in data["datasets"].items() if k in ("prison", "treatment")}
    data["datasets"]["prison"].pop("ost_at_release")
    data["questions"] = [data["questions"][0]]
    agreement = tmp_path / "agreement.yaml"
    agreement.write_text(yaml.safe_dump(data))
    project = projects.submit(ws, agreement, by="ana")
    decided_and_signed_off(ws, project.id)
    prisons = ["HMP A", "HMP B", "HMP C"]
    write_extract(
        projects.project_dir(ws, project.id).mkdir(parents=True) or projects.extract_path(ws, project.id),
        {
            "prison": [
                {
                    "person_id": f"p{i}",
                    "release_date": d("2026-02-01"),
                    "substance_misuse_need": True,
                    "prison": prisons[i % 3],
                }
                for i in range(60)
            ],
            "treatment": [{"person_id": f"p{i}", "treatment_start_date": d("2026-02-05")} for i in range(0, 60, 2)],
        },
    )
    # a hand-made extract, sealed as a build would seal it: under the key derived from the project key
    from bold.security import encryption

    projects._project_key(ws, project.id, create=True)
    with ws.duckdb_connection() as con:
        encryption.encrypt_in_place(con, projects.extract_path(ws, project.id), projects.extract_key(ws, project.id))
    today = dt.date(2026, 6, 1)
    spec = study(tmp_path / "ok.yaml")
    assert runner.time_limit(ws) == 600  # the default every new workspace writes
    ran = runner.run(ws, project.id, str(spec), by="ana", today=today)
    assert ran.manifest()["tables"]["by_prison"]["rows"] == 3

    monkeypatch.setattr(runner, "MAX_TABLE_ROWS", 2)  # a bound a table can reach: three prisons
    with pytest.raises(StudyError, match="table by_prison has 3 rows; at most 2 are allowed"):
        runner.run(ws, project.id, str(spec), by="ana", today=today)
    monkeypatch.undo()

    settings = ws.settings_path.read_text().replace("study_seconds = 600", "study_seconds = 0.001")
    ws.settings_path.write_text(settings)
    with pytest.raises(StudyError, match=r"stopped: it ran longer than the limit of 0\.001 s"):
        runner.run(ws, project.id, str(spec), by="ana", today=today)
    refused = audit.entries(ws, action="study run refused")
    assert "stopped" in refused[0]["details"]
    ws.settings_path.write_text(settings.replace("study_seconds = 0.001", 'study_seconds = "soon"'))
    with pytest.raises(StudyError, match=r"\[limits\] study_seconds must be a number"):
        runner.run(ws, project.id, str(spec), by="ana", today=today)
