"""Public geography lookups: every local authority and prison in the reference file, each with its region."""

from __future__ import annotations

import re

import yaml

from bold.sources import geography
from bold.synth.reference import areas


def _raw() -> dict:
    return yaml.safe_load(geography.AREAS_FILE.read_text())


def test_every_local_authority_has_its_region():
    las = geography.local_authorities()
    assert list(las.columns) == ["local_authority", "local_authority_name", "region_code", "region"]
    expected = {la["code"]: r for r in _raw()["regions"] for la in r["local_authorities"]}
    assert set(las["local_authority"]) == set(expected) and las["local_authority"].is_unique
    assert las.notna().all().all()
    for row in las.itertuples():
        assert re.fullmatch(r"E0[6-9][0-9]{6}", row.local_authority)
        assert re.fullmatch(r"E12[0-9]{6}", row.region_code)
        assert (row.region_code, row.region) == (
            expected[row.local_authority]["code"],
            expected[row.local_authority]["name"],
        )
    assert las["region"].nunique() == 9  # the English regions


def test_every_prison_has_a_region():
    prisons = geography.prisons()
    assert list(prisons.columns) == ["prison", "prison_name", "prison_region"]
    assert set(prisons["prison"]) == {p["code"] for p in _raw()["prisons"]} and prisons["prison"].is_unique
    assert prisons.notna().all().all()
    assert set(prisons["prison_region"]) <= set(geography.local_authorities()["region"])


def test_lookups_agree_with_the_generator_and_hide_its_parameters():
    a = areas()
    las = geography.local_authorities()
    assert list(las["local_authority"]) == list(a.la_code)
    assert list(las["region"]) == list(a.region_name[a.la_region])
    assert list(geography.prisons()["prison_region"]) == list(a.region_name[a.prison_region])
    exposed = set(las.columns) | set(geography.prisons().columns)
    assert not exposed & {"weight", "continuity_logit", "sex", "districts", "pilot"}
    assert not hasattr(geography, "pilot_local_authorities")


def test_callers_get_their_own_copy():
    las = geography.local_authorities()
    las.loc[0, "region"] = "changed"
    assert geography.local_authorities().loc[0, "region"] != "changed"
