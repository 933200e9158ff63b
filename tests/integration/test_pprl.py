"""The privacy-preserving mode: custodians encode, the linker sees no plaintext identifier, linkage still works."""

from __future__ import annotations

import base64

import duckdb
import numpy as np
import pytest
from typer.testing import CliRunner

from bold.cli import app
from bold.ingest.pipeline import ingest
from bold.ingest.reader import IngestError
from bold.linkage.encode import FieldEncoder, SecretError, encode_file, make_secret, read_secret
from bold.linkage.evaluate import evaluate_run
from bold.linkage.run import LinkageError, link_workspace
from bold.synth.config import SOURCES
from bold.workspace import Workspace

SECRET = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


def _bits(encoded: str) -> np.ndarray:
    return np.unpackbits(np.frombuffer(base64.b64decode(encoded), dtype=np.uint8))


def test_balanced_filters_keep_similarity_and_hide_length():
    enc = FieldEncoder(SECRET, "surname")
    smith, smyth, jones = (_bits(enc.encode(v)) for v in ("SMITH", "SMYTH", "JONES"))
    long_name = _bits(enc.encode("WOLFESCHLEGELSTEINHAUSEN"))
    assert smith.sum() == smyth.sum() == jones.sum() == long_name.sum() == len(smith) // 2  # balanced

    def sim(x, y):
        return 1 - np.count_nonzero(x ^ y) / len(x)

    assert sim(smith, smyth) > 0.9 > sim(smith, jones)
    assert enc.encode(None) is None and enc.encode("") is None


def test_encodings_depend_on_the_secret_and_the_field():
    a = FieldEncoder(SECRET, "surname").encode("SMITH")
    assert a == FieldEncoder(SECRET, "surname").encode("SMITH")  # deterministic, so equal values block together
    assert a != FieldEncoder(SECRET[::-1], "surname").encode("SMITH")
    assert a != FieldEncoder(SECRET, "forename").encode("SMITH")


def test_secret_files_are_private(tmp_path):
    path = tmp_path / "secret"
    make_secret(path)
    assert path.stat().st_mode & 0o777 == 0o600 and len(read_secret(path)) == 64
    path.chmod(0o644)
    with pytest.raises(SecretError, match="readable by others"):
        read_secret(path)
    with pytest.raises(SecretError, match="no such secret"):
        read_secret(tmp_path / "missing")


@pytest.fixture(scope="module")
def encoded_workspace(tmp_path_factory, small_population):
    out, figures = small_population
    root = tmp_path_factory.mktemp("pprl")
    secret = root / "secret"
    make_secret(secret)
    ws = Workspace.init(root / "ws")
    for source in SOURCES:
        encoded = root / f"{source}.parquet"
        result = encode_file(out / f"{source}.parquet", source, secret, encoded)
        assert result["encoded"] == figures["records"][source]
        report = ingest(ws, source, encoded, encoded=True, by="cara")
        assert report.balanced and report.accepted > 0
    return ws, out, read_secret(secret)


def test_the_linker_zone_holds_no_plaintext_identifier(encoded_workspace, sql):
    ws, out, _ = encoded_workspace
    surnames = {s.upper() for (s,) in sql.execute(f"select surname from '{out}/truth/people.parquet'").fetchall()}
    nhs = {n for (n,) in sql.execute(f"select nhs_number from '{out}/truth/people.parquet'").fetchall()}
    with ws.identifiers(read_only=True) as con:
        for source in SOURCES:
            schema = con.execute(f"describe identifiers.{source}").fetchall()
            for name, kind, *_ in schema:
                assert name in ("record_key", "batch_id", "source_record_id") or (
                    name.endswith("_bf") and kind == "BIT"
                )
            ids = [r for (r,) in con.execute(f"select source_record_id from identifiers.{source}").fetchall()]
            assert all(len(r) == 64 for r in ids)  # the custodian's record ids arrive as keyed hashes
        values = {
            v
            for (v,) in con.execute(
                "select distinct source_record_id from identifiers.prison union select distinct source_record_id "
                "from identifiers.hospital"
            ).fetchall()
        }
    assert not values & (surnames | nhs)


def test_encoded_linkage_is_nearly_as_accurate_as_plaintext(encoded_workspace):
    ws, out, secret = encoded_workspace
    run = link_workspace(ws, retrain=True, require_encoded=True, by="lin")
    assert run.encoded
    accuracy = evaluate_run(ws, run.run_id, out / "truth", secret)["medium"]
    assert accuracy["all"].precision > 0.98 and accuracy["all"].recall > 0.85, accuracy["all"]
    assert accuracy["treatment records"].recall > 0.8


def test_modes_never_mix(encoded_workspace, small_population, tmp_path):
    ws, out, _ = encoded_workspace
    with pytest.raises(IngestError, match="already stored encoded"):
        ingest(ws, "prison", out / "prison.csv", batch="plain", by="cara")
    plain = Workspace.init(tmp_path / "plain")
    ingest(plain, "deaths", out / "deaths.csv", by="cara")
    with pytest.raises(LinkageError, match="stored in plaintext"):
        link_workspace(plain, require_encoded=True, by="lin")
    with pytest.raises(LinkageError, match="baseline"):
        link_workspace(ws, generic=True, by="lin")


def test_identifier_problems_found_at_encoding_are_quarantined_at_ingest(tmp_path):
    src = tmp_path / "deaths.csv"
    src.write_text(
        "REG_ID,NHS_NO,FORENAMES,SURNAME,DOB,SEX,USUAL_RES_POSTCODE,DOD,UNDERLYING_CAUSE,DRUG_RELATED\n"
        "D1,9434765919,ANN,LEE,19800101,2,NE4 7QX,20200101,X42,1\n"
        "D2,9434765918,ANN,LEE,19800101,2,NE4 7QX,20200101,X42,1\n"
    )
    secret = tmp_path / "s"
    make_secret(secret)
    encode_file(src, "deaths", secret, tmp_path / "enc.csv")
    report = ingest(Workspace.init(tmp_path / "ws"), "deaths", tmp_path / "enc.csv", encoded=True, by="cara")
    assert report.accepted == 1 and report.quarantined == 1
    assert report.examples["NHS_NO: NHS number fails its check digit"] == [2]


def test_encode_command(tmp_path, small_population):
    out, _ = small_population
    secret, target = tmp_path / "secret", tmp_path / "treatment.parquet"
    runner = CliRunner()
    args = [
        "encode",
        str(out / "treatment.csv"),
        "--source",
        "treatment",
        "--secret",
        str(secret),
        "--out",
        str(target),
    ]
    missing = runner.invoke(app, args)
    assert missing.exit_code != 0 and "no such secret" in missing.output
    result = runner.invoke(app, [*args, "--new-secret"])
    assert result.exit_code == 0, result.output
    assert "initials_bf" in result.output and target.exists()
    columns = [c for (c,) in duckdb.sql(f"select column_name from (describe select * from '{target}')").fetchall()]
    assert "INITIALS" not in columns and "DOB" not in columns and "date_of_birth_bf" in columns


def test_quality_report_in_the_encoded_mode(encoded_workspace, tmp_path):
    from bold.reports.linkage_report import build

    ws, _, _ = encoded_workspace
    link_workspace(ws, require_encoded=True, by="lin")
    html = build(ws, tmp_path / "report.html", by="lin").read_text()
    assert "Privacy-preserving mode" in html and "candidate pairs it adds" in html
