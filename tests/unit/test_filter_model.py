"""The record-level linkage model's thresholds follow the Dice the bit flips leave between two encodings of one
record, which the linker can work out from the flip rate and the bits it sees set."""

import numpy as np
import pandas as pd
import pytest

from bold.linkage.encode import COMBINED, RecordEncoder
from bold.linkage.filter_model import identical_dice, one_to_one

SECRET = b"unit-test-secret-known-only-to-custodians-0123456789"
ANN = {"forename": "ANN", "surname": "LEE", "date_of_birth": "19800101", "sex": "F", "postcode_district": "NE4"}


@pytest.mark.parametrize("flip", [0.0, 0.02, 0.05])
def test_expected_same_record_dice_matches_what_the_flips_leave(flip):
    enc = RecordEncoder(SECRET, COMBINED["forename_birth"], flip=flip, name="forename_birth")
    pairs = [(enc.encode_bits(ANN), enc.encode_bits(ANN)) for _ in range(300)]
    observed = np.mean([2 * (a & b).sum() / (a.sum() + b.sum()) for a, b in pairs])
    mean_set = np.mean([a.sum() for a, _ in pairs])
    assert identical_dice(mean_set, enc.bits, flip) == pytest.approx(observed, abs=0.01)
    if flip == 0:
        assert observed == 1.0


def test_each_combined_filter_hashes_under_keys_of_its_own():
    a = RecordEncoder(SECRET, {"forename": 10}, flip=0, name="forename_birth").clean(ANN)
    b = RecordEncoder(SECRET, {"forename": 10}, flip=0, name="names_place").clean(ANN)
    assert a.sum() > 20 and (a & b).sum() < a.sum() / 2  # the same name sits at different bits in each


def test_names_swapped_give_the_same_filter_where_a_filter_holds_both():
    names = RecordEncoder(SECRET, COMBINED["names_place"], flip=0, name="names_place")
    swapped = {**ANN, "forename": ANN["surname"], "surname": ANN["forename"]}
    assert (names.encode_bits(ANN) == names.encode_bits(swapped)).all()  # a common recording error forgiven
    forename = RecordEncoder(SECRET, COMBINED["forename_birth"], flip=0, name="forename_birth")
    assert not (forename.encode_bits(ANN) == forename.encode_bits(swapped)).all()  # one name: still told apart


def test_one_to_one_keeps_each_record_in_its_best_free_pair():
    pred = pd.DataFrame(
        {
            "unique_id_l": ["a1", "a1", "a2", "a2", "a3"],
            "unique_id_r": ["b1", "b2", "b1", "b3", "b3"],
            "match_probability": [0.99, 0.95, 0.97, 0.60, 0.60],
        }
    )
    kept = one_to_one(pred)
    # a1-b1 first; a2's best (b1) is taken, so a2-b3; a3-b3 ties a2-b3 on score and loses on ids
    assert list(zip(kept.unique_id_l, kept.unique_id_r, strict=True)) == [("a1", "b1"), ("a2", "b3")]
    assert one_to_one(pred.iloc[::-1]).index.tolist() == kept.index.tolist()  # whatever order Splink returns
