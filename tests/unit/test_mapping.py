"""A custodian's mapping file: renames as before, date formats and codes checked against the contract.

A mistake in the mapping must be found before any data is read, in one line naming the file, the line and the
contract's column, and never echoing what the file holds (a data file passed as a mapping holds identifiers)."""

from __future__ import annotations

import pytest

from bold.sources import ColumnMapping, ContractError, as_mapping, load_contract, load_mapping


def mapping(tmp_path, text: str, source: str = "deaths") -> ColumnMapping:
    path = tmp_path / "map.yaml"
    path.write_text(text)
    return load_mapping(path, load_contract(source))


def refused(tmp_path, text: str, source: str = "deaths") -> str:
    with pytest.raises(ContractError) as caught:
        mapping(tmp_path, text, source)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "map.yaml")) and "\n" not in message
    return message


def test_the_plain_rename_form_still_works(tmp_path):
    found = mapping(tmp_path, "FAMILY_NAME: SURNAME\nGIVEN: FORENAMES\n")
    assert found.renames == {"FAMILY_NAME": "SURNAME", "GIVEN": "FORENAMES"}
    assert not found.formats and not found.codes
    assert found.apply(load_contract("deaths")) is load_contract("deaths")  # nothing to change
    assert as_mapping({"A": "SURNAME"}).renames == {"A": "SURNAME"}  # callers passing a dict, as before


def test_formats_and_codes_per_column(tmp_path):
    found = mapping(
        tmp_path,
        """
BirthDate:
  column: DOB
  format: "%Y-%m-%d"
DOD: {format: "%d.%m.%Y"}
Gender:
  column: SEX
  codes: {M: 1, F: "2", 0: 9}
""",
    )
    assert found.renames == {"BirthDate": "DOB", "DOD": "DOD", "Gender": "SEX"}
    assert found.formats == {"DOB": "%Y-%m-%d", "DOD": "%d.%m.%Y"}
    assert found.codes == {"SEX": {"M": "1", "F": "2", "0": "9"}}  # YAML numbers read as the codes they spell
    applied = found.apply(load_contract("deaths"))
    assert applied.column("DOB").format == "%Y-%m-%d"
    # their codes reach the contract's standard values, and the contract's own codes still hold
    assert applied.column("SEX").codes == {"1": "M", "2": "F", "9": "U", "M": "M", "F": "F", "0": "U"}
    assert load_contract("deaths").column("DOB").format == "%Y%m%d"  # the contract itself is unchanged


def test_codes_onto_a_contract_with_a_list_of_codes(tmp_path):
    found = mapping(tmp_path, "SUBSTANCE_GROUP:\n  codes: {opiates: OPI, alcohol: ALC}\n", "treatment")
    codes = found.apply(load_contract("treatment")).column("SUBSTANCE_GROUP").codes
    assert codes["opiates"] == "OPI" and codes["NOA"] == "NOA"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("THEIRS: NOT_A_COLUMN\n", "line 1: maps to a column not in the deaths contract (its columns: REG_ID"),
        ("THEIRS:\n  format: '%Y-%m-%d'\n", "line 1: not a column of the deaths contract: say which"),
        ("DOB:\n  column: [a]\n", "line 2: column: expected the name of a column"),
        (
            "SEX:\n  codes: {M: 1, F: 7}\n",
            "line 2: SEX: a code is mapped to a value the deaths contract does not allow (its codes for SEX: 1, 2, 9)",
        ),
        ("SEX:\n  codes: {yes: 1}\n", "SEX: codes: expected 'YOUR_CODE: CONTRACT_CODE' (quote codes such as 'yes'"),
        ("SEX:\n  codes: [M, F]\n", "line 2: SEX: codes: expected lines of 'YOUR_CODE: CONTRACT_CODE'"),
        (
            "SURNAME:\n  format: '%Y-%m-%d'\n",
            "line 2: SURNAME: a format is for date columns only (SURNAME is a string)",
        ),
        ("DOB:\n  format: '%Q-%m'\n", "line 2: DOB: format not a date format that strptime knows"),
        ("DOB:\n  format: '%Y-%m'\n", "line 2: DOB: format does not read a whole date: it needs the day, month"),
        ("DOB:\n  format: 12\n", "line 2: DOB: format expected a date format"),
        ("SURNAME:\n  codes: {a: b}\n", "line 2: SURNAME: codes are for code columns only"),
        ("DOB:\n  colour: red\n", "line 2: unknown key; a column's entry may hold column, format, codes"),
        ("A: SURNAME\nB: SURNAME\n", "line 2: a second column mapped onto SURNAME"),
        ("- a\n- b\n", "expected lines of 'THEIR_COLUMN: CONTRACT_COLUMN'"),
    ],
)
def test_mistakes_are_named_by_file_line_and_contract_column(tmp_path, text, fragment):
    assert fragment in refused(tmp_path, text)


def test_errors_never_echo_the_file(tmp_path):
    """A data file given as the mapping: its values (an NHS number, a name) never reach the message."""
    for text in (
        "SMITH9434765919:\n  format: '%Y-%m-%d'\n",
        "DOB:\n  SMITH9434765919: x\n",
        "SEX:\n  codes: {SMITH9434765919: JOHN}\n",
        "DOB:\n  format: 'SMITH9434765919'\n",
    ):
        message = refused(tmp_path, text)
        assert "SMITH" not in message and "9434765919" not in message and "JOHN" not in message, message
