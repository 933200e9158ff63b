import re

import nhs_number
import numpy as np
import pytest

from bold.synth import identifiers as ids


def test_nhs_numbers_are_valid_unique_and_never_issued():
    seq = np.arange(0, 200_000)
    numbers = ids.nhs_numbers(seq, seed=3)
    assert len(set(numbers)) == len(numbers)
    assert all(n.startswith("9") and len(n) == 10 for n in numbers)
    assert all(nhs_number.is_valid(n) for n in numbers[::7])


def test_scramble_is_a_permutation_and_refuses_an_exhausted_space():
    out = ids.scramble(np.arange(1000), 1000, seed=1, salt=9)
    assert sorted(out) == list(range(1000))
    with pytest.raises(ValueError, match="exhausted"):
        ids.scramble(np.array([1000]), 1000, seed=1, salt=9)


def test_pnc_check_character_follows_the_modulus_23_rule():
    year, serial = ids.pnc_ids(np.arange(50), np.full(50, 2015), seed=2)
    for y, s in zip(year, serial, strict=True):
        digits, check = s[:7], s[7]
        assert "ZABCDEFGHJKLMNPQRTUVWXY"[int(f"{y % 100:02d}{digits}") % 23] == check


def test_formats_of_justice_and_benefit_identifiers():
    seq = np.arange(500)
    rng = np.random.default_rng(0)
    assert all(re.fullmatch(r"[A-HJ-NP-Z]\d{4}[A-HJ-NP-Z]{2}", p) for p in ids.prison_numbers(seq, 1))
    assert all(re.fullmatch(r"[A-Z]\d{6}", c) for c in ids.crns(seq, 1))
    ni = ids.ni_numbers(seq, 1, rng)
    assert all(re.fullmatch(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]", n) for n in ni)
    assert not any(n[:2] in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"} for n in ni)
    assert len(set(ids.local_ids(seq, "C", 8, 1, 5))) == len(seq)


def test_postcode_units_sit_in_their_district():
    codes = ids.postcode_units(np.array(["NE4", "SW9", "CR0"]), np.random.default_rng(1))
    assert [c.split(" ")[0] for c in codes] == ["NE4", "SW9", "CR0"]
    assert all(re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2}", c) for c in codes)
