"""The custodian's and the linker's pages: uploading an extract, its batch report, linking, the quality report."""

from __future__ import annotations

import csv
import io
import re
import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bold.ingest.pipeline import ingest
from bold.sources import load_contract
from bold.web.app import create_app
from bold.web.security import REPORT_CSP
from bold.workspace import Workspace
from tests.conftest import clear
from tests.old_workspace import PASSWORD as OLD_PASSWORD
from tests.old_workspace import extract_fixture
from tests.web import Browser, browser, people_workspace

STATE = re.compile(r'data-state="(\w+)"')
RESULT = re.compile(r'<a href="(/[^"]+)">')


def _rows(path: Path, n: int) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, [row for _, row in zip(range(n), reader, strict=False)]


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _finished(client, job_url: str, timeout: float = 120) -> str:
    """Poll the job's status fragment, as the page does, until it has finished; the fragment."""
    deadline = time.monotonic() + timeout
    while True:
        text = client.get(f"{job_url}/status").text
        state = STATE.search(text).group(1)
        if state in ("done", "failed"):
            return text
        assert time.monotonic() < deadline, f"the job did not finish: {text}"
        time.sleep(0.1)


def _upload(client, source: str, name: str, data: bytes, **fields):
    client.page("/sources/upload")
    return client.post("/sources/upload", {"source": source, **fields}, files={"file": (name, data, "text/csv")})


def _counts(text: str) -> tuple[int, int, int, int]:
    """Rows read, accepted, quarantined and opted out from a batch page (these tests send nothing twice)."""
    found = re.search(
        r"([\d,]+) rows read = ([\d,]+) accepted\s+\+ ([\d,]+) unchanged\s+\+ ([\d,]+) quarantined\s+\+ ([\d,]+) opted out",
        text,
    )
    assert found, text
    read, accepted, unchanged, quarantined, opted_out = (int(g.replace(",", "")) for g in found.groups())
    assert unchanged == 0
    return read, accepted, quarantined, opted_out


def _uploads_left(root: Path) -> list[Path]:
    return sorted((root / "tmp").glob("upload-*")) if (root / "tmp").exists() else []


@pytest.fixture(scope="module")
def people_root(tmp_path_factory) -> Path:
    """One workspace with a person per role, made once (hashing eight passwords takes seconds)."""
    return people_workspace(tmp_path_factory.mktemp("web-people") / "ws")


@pytest.fixture()
def root(tmp_path, people_root) -> Path:
    """A fresh copy of it for each test: a workspace of its own, keys and all."""
    return Path(shutil.copytree(people_root, tmp_path / "ws"))


def test_cara_uploads_an_extract_and_reads_its_batch_report(root, small_population):
    out, _ = small_population
    header, rows = _rows(out / "prison.csv", 400)
    cara = browser(root, "cara")
    response = _upload(cara, "prison", "prison-2024-q1.csv", _csv(header, rows))
    assert response.status_code == 303 and response.headers["location"].startswith("/jobs/")
    status = _finished(cara, response.headers["location"])
    assert 'data-state="done"' in status, status
    batch_url = RESULT.search(status).group(1)
    assert re.fullmatch(r"/sources/batches/\d+", batch_url)

    report = cara.get(batch_url)
    assert report.status_code == 200
    read, accepted, quarantined, opted_out = _counts(report.text)
    assert read == 400 and read == accepted + quarantined + opted_out and accepted > 0
    assert "Batch prison-2024-q1" in report.text  # the batch name made from the file's name
    assert "Why rows were quarantined" in report.text
    listing = cara.get("/sources").text
    assert f'href="{batch_url}"' in listing and "prison-2024-q1" in listing
    assert "opt-out register holds 0 entries" in listing
    assert _uploads_left(root) == []  # the uploaded file is deleted when the job ends

    again = _upload(cara, "prison", "same-file-again.csv", _csv(header, rows))  # the same bytes: nothing added
    status = _finished(cara, again.headers["location"])
    assert "already ingested as batch prison-2024-q1" in status and f'href="{batch_url}"' in status
    assert _uploads_left(root) == []


def test_check_only_says_what_an_upload_would_do_and_stores_nothing(root, small_population):
    out, _ = small_population
    header, rows = _rows(out / "prison.csv", 20)
    rows[3][header.index("SEX")] = "X"
    cara = browser(root, "cara")
    response = _upload(cara, "prison", "check-me.csv", _csv(header, rows), check="yes")
    status = _finished(cara, response.headers["location"])
    assert 'data-state="done"' in status, status
    assert "Check only, nothing stored: 20 rows read" in status and "SEX: not one of the allowed codes" in status
    assert "check-me" not in cara.get("/sources").text and _uploads_left(root) == []  # no batch was made
    assert not list((root / "quarantine").rglob("*.parquet"))


def test_bad_rows_show_their_reasons_and_no_value_from_the_file(root, small_population):
    out, _ = small_population
    header, rows = _rows(out / "prison.csv", 30)
    col = {name: i for i, name in enumerate(header)}
    rows[2][col["DATE_OF_BIRTH"]] = "31/02/1961"
    rows[5][col["SURNAME"]] = "=HYPERLINK(evil)"
    rows[7][col["SEX"]] = "X"
    rows[9][col["DATE_OF_BIRTH"]] = "1961-04-12"
    header, rows = [*header, "CASE_NOTES"], [[*row, "free text"] for row in rows]  # not in the contract
    identifiers = [c.name for c in load_contract("prison").identifiers]
    values = {row[col[c]] for row in rows for c in identifiers if c in col and len(row[col[c]]) >= 5}
    assert values  # there are values to look for

    cara = browser(root, "cara")
    response = _upload(cara, "prison", "bad.csv", _csv(header, rows), batch="bad-rows")
    status = _finished(cara, response.headers["location"])
    report = cara.get(RESULT.search(status).group(1)).text
    read, accepted, quarantined, opted_out = _counts(report)
    assert (read, quarantined) == (30, 4) and accepted + opted_out == 26
    # each reason with its rows and first row numbers (data rows from 1)
    assert '<td>DATE_OF_BIRTH: not a date in the format dd/mm/yyyy</td><td class="num">2</td><td>3, 10</td>' in report
    assert '<td>SURNAME: contains characters that are not part of a name</td><td class="num">1</td><td>6</td>' in report
    assert '<td>SEX: not one of the allowed codes (M, F, U)</td><td class="num">1</td><td>8</td>' in report
    assert "columns not in the contract were ignored and not stored: CASE_NOTES" in report
    for page in (report, status, cara.get("/sources").text):
        shown = sorted(v for v in values if v in page)
        assert not shown, f"identifier values shown on a page: {shown}"


def test_an_upload_named_like_a_path_stays_in_tmp_and_gets_a_safe_batch_name(tmp_path, people_root, small_population):
    root = Path(shutil.copytree(people_root, tmp_path / "deep" / "ws"))
    out, _ = small_population
    header, rows = _rows(out / "prison.csv", 20)
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(root)}
    cara = browser(root, "cara")
    response = _upload(cara, "prison", "../../evil.csv", _csv(header, rows))
    assert response.status_code == 303
    status = _finished(cara, response.headers["location"])
    assert 'data-state="done"' in status, status
    assert "batch evil:" in status
    assert {p for p in tmp_path.rglob("*") if not p.is_relative_to(root)} == before  # nothing written outside
    assert not [p for p in root.rglob("evil*") if not p.is_relative_to(root / "quarantine")]
    assert _uploads_left(root) == []
    report = cara.get(RESULT.search(status).group(1)).text
    assert "Batch evil " in report and "<dd>evil.csv</dd>" in report  # the file's name, made safe


def test_a_wrong_source_or_batch_name_is_a_clear_error_and_starts_nothing(root, small_population):
    out, _ = small_population
    header, rows = _rows(out / "prison.csv", 5)
    cara = browser(root, "cara")
    response = _upload(cara, "nonsense", "prison.csv", _csv(header, rows))
    assert response.status_code == 422
    assert "there is no source type &#39;nonsense&#39;" in response.text and "<form" in response.text
    response = _upload(cara, "prison", "prison.csv", _csv(header, rows), batch="../up")
    assert response.status_code == 422 and "is not a batch name" in response.text
    assert "Nothing yet" in cara.get("/jobs").text and _uploads_left(root) == []
    assert cara.get("/sources/batches/999").status_code == 404


def test_an_ingest_that_fails_says_why_without_the_servers_path(root, small_population):
    out, _ = small_population
    header, rows = _rows(out / "prison.csv", 5)
    cara = browser(root, "cara")
    response = _upload(cara, "prison", "no-names.csv", _csv(header[2:], [r[2:] for r in rows]))
    status = _finished(cara, response.headers["location"])
    assert 'data-state="failed"' in status and "BOOKING_ID" in status
    assert str(root) not in status and "upload-" not in status
    assert _uploads_left(root) == []  # deleted after a failure too


def test_a_column_mapping_is_uploaded_with_the_file(root, small_population):
    out, _ = small_population
    header, rows = _rows(out / "prison.csv", 10)
    header = ["FAMILY_NAME" if h == "SURNAME" else h for h in header]
    cara = browser(root, "cara")
    cara.page("/sources/upload")

    def send(mapping: bytes, batch: str):
        files = {"file": ("ours.csv", _csv(header, rows), "text/csv"), "mapping": ("ours.yaml", mapping, "text/yaml")}
        response = cara.post("/sources/upload", {"source": "prison", "batch": batch}, files=files)
        return _finished(cara, response.headers["location"])

    wrong = send(b"FAMILY_NAME: NO_SUCH_COLUMN\n", "wrong-mapping")
    assert 'data-state="failed"' in wrong and "the column mapping" in wrong and "upload-" not in wrong
    right = send(b"FAMILY_NAME: SURNAME\n", "mapped")
    assert 'data-state="done"' in right, right
    read, accepted, _, _ = _counts(cara.get(RESULT.search(right).group(1)).text)
    assert read == 10 and accepted > 0
    assert _uploads_left(root) == []


def test_batches_and_runs_of_a_workspace_made_by_an_older_release_are_shown(tmp_path):
    """Batches from before the store kept their reasons show their counts, and say so; its old run is listed."""
    folder = extract_fixture(tmp_path)
    clear(Workspace.open(folder), "cara", "lin")  # an older release's people are neither trained nor approved
    old = Browser(create_app(folder))
    assert old.sign_in("cara", OLD_PASSWORD).status_code == 303
    listing = old.get("/sources").text
    first = re.search(r'href="(/sources/batches/\d+)"', listing).group(1)
    report = old.get(first)
    assert report.status_code == 200 and "before the platform kept its reasons" in report.text
    read, accepted, quarantined, opted_out = _counts(report.text)
    assert read == accepted + quarantined + opted_out > 0
    assert old.sign_in("lin", OLD_PASSWORD).status_code == 303
    assert 'href="/linkage/report?run=1"' in old.get("/linkage").text


def test_each_role_sees_only_its_own_pages(root):
    lin, cara = browser(root, "lin"), browser(root, "cara")
    for url in ("/sources", "/sources/upload", "/sources/batches/1"):
        assert lin.get(url).status_code == 403, url
    assert cara.get("/linkage").status_code == 403
    assert cara.get("/linkage/report").status_code == 403
    cara.page("/account")
    assert cara.post("/linkage/runs", {"retrain": "yes"}).status_code == 403
    assert "Nothing yet" in cara.get("/jobs").text
    assert 'href="/sources"' in cara.get("/home").text and 'href="/sources"' not in lin.get("/home").text
    no_run = lin.get("/linkage/report")
    assert no_run.status_code == 200 and "no linkage run yet" in no_run.text and 'href="/linkage"' in no_run.text
    grace = browser(root, "grace")  # governance reads the quality report, and may not link
    assert grace.get("/linkage/report").status_code == 200 and grace.get("/linkage").status_code == 403
    assert "Start the first linkage run" not in grace.get("/linkage/report").text


def test_lin_links_from_the_web_and_reads_the_quality_report(root, tmp_path, small_population):
    out, _ = small_population
    ws = Workspace.open(root)
    for source in ("prison", "probation"):  # 600 records of each: enough to train on, quick to link
        pq.write_table(pq.read_table(out / f"{source}.parquet").slice(0, 600), tmp_path / f"{source}.parquet")
        ingest(ws, source, tmp_path / f"{source}.parquet", by="cara")
    lin = browser(root, "lin")
    assert "No linkage run yet" in lin.page("/linkage").text
    response = lin.post("/linkage/runs", {"retrain": "yes"})
    assert response.status_code == 303
    status = _finished(lin, response.headers["location"], timeout=300)
    assert 'data-state="done"' in status, status
    report_url = RESULT.search(status).group(1)
    assert report_url == "/linkage/report?run=1"
    runs = lin.get("/linkage").text
    assert 'href="/linkage/report?run=1"' in runs and "high " in runs

    report = lin.get(report_url)
    assert report.status_code == 200 and report.headers["content-security-policy"] == REPORT_CSP
    assert "<html" in report.text.lower() and "/static/htmx" not in report.text  # BOLD's own file, as written
    assert (root / "reports" / "linkage-run-1.html").read_text() == report.text
    assert lin.get("/linkage/report?run=7").status_code == 404
