"""The sector promise (seed 000): BOLD won't "share your data with anyone outside of government or the criminal
justice system", so every party to an agreement has a sector, and one outside those is a red line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bold.governance import register
from bold.governance.agreement import PROMISED_SECTORS, AgreementError, Sector, assess, load_agreement

EXAMPLES = sorted((Path(__file__).parents[2] / "docs" / "examples").glob("*.yaml"))
AGREEMENTS = [p for p in EXAMPLES if "controllers" in yaml.safe_load(p.read_text())]


def _with(tmp_path: Path, **changes) -> Path:
    data = yaml.safe_load(AGREEMENTS[0].read_text())
    data.update(changes)
    path = tmp_path / "agreement.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("path", AGREEMENTS, ids=lambda p: p.name)
def test_every_example_party_has_a_sector_within_the_promise(path):
    agreement, _ = load_agreement(path)
    assert agreement.controllers
    assert all(p.sector in PROMISED_SECTORS for p in agreement.all_parties())
    assert not [r for r in assess(agreement)["red_lines"] if "sector" in r or "outside government" in r]


@pytest.mark.parametrize("sector", sorted(set(Sector) - PROMISED_SECTORS))
@pytest.mark.parametrize("where", ["controllers", "parties"])
def test_a_party_outside_government_and_criminal_justice_is_a_red_line(tmp_path, sector, where):
    outsider = {"name": "Acme Insights", "sector": sector.value}
    agreement, _ = load_agreement(_with(tmp_path, **{where: [outsider]}))
    result = assess(agreement)
    assert not result["acceptable"]
    assert any(
        "Acme Insights" in r and "outside government and the criminal justice system" in r for r in result["red_lines"]
    ), result["red_lines"]


def test_a_party_with_no_sector_is_a_red_line(tmp_path):
    """A plain name, as agreements were written before sectors, still reads, but cannot be approved."""
    agreement, _ = load_agreement(_with(tmp_path, controllers=["Ministry of Justice"]))
    assert agreement.controllers[0].sector is None
    assert any("Ministry of Justice: no sector given" in r for r in assess(agreement)["red_lines"])


def test_no_controller_is_a_red_line(tmp_path):
    agreement, _ = load_agreement(_with(tmp_path, controllers=[]))
    assert "no data controller named" in assess(agreement)["red_lines"]


def test_an_unknown_sector_is_refused_with_the_sectors_that_exist(tmp_path):
    with pytest.raises(AgreementError, match="central government"):
        load_agreement(_with(tmp_path, controllers=[{"name": "Ministry of Justice", "sector": "ministry"}]))


def test_the_promise_is_worded_as_the_seed_words_it():
    """Seed 000's stimulus material: "Share your data with anyone outside of government or the criminal justice
    system"."""
    assert "Share your data with anyone outside of government or the criminal justice system." in register.PROMISES_WONT
