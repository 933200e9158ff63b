"""The attack suite on the encoded mode, small: as the linker, with public frequencies from another population."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from bold.linkage import attacks
from bold.linkage.encode import INITIALS_K, RECORD_K, FieldEncoder, RecordEncoder
from bold.synth.config import SynthConfig
from bold.synth.generate import generate

SECRET = b"0123456789abcdef0123456789abcdef-attack-suite"


@pytest.fixture(scope="module")
def populations(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacks")
    generate(SynthConfig(people=3000, seed=21), root / "target", formats=("parquet",))
    generate(SynthConfig(people=3000, seed=22), root / "public", formats=("parquet",))
    public_records = attacks.read_population(root / "public")
    return attacks.read_population(root / "target"), attacks.Public.from_records(public_records), public_records


def _balanced(values) -> tuple[np.ndarray, np.ndarray]:
    enc = FieldEncoder(SECRET, "forename")
    balanced = np.array([np.unpackbits(np.frombuffer(base64.b64decode(enc.encode(v)), np.uint8)) for v in values])
    original = balanced[:, np.argsort(enc.permutation)][:, : enc.bits]  # undo the permutation with the secret
    return balanced.astype(bool), original.astype(bool)


def test_balancing_is_undone_without_the_secret(populations):
    names = sorted({v for v in populations[0].values["forename"] if v})[:300]
    balanced, original = _balanced(names)
    recovered = attacks.unbalance(balanced)
    varying = original[:, (original.any(axis=0)) & ~original.all(axis=0)]

    def columns(m):
        return {c.tobytes() for c in np.packbits(m.T, axis=1)}

    found, truth = columns(recovered), columns(varying)
    # the original filters, bit for bit up to the order of bits, but for the few bits set in most values
    assert len(found & truth) >= 0.95 * len(truth) and len(found - truth) <= 0.05 * len(truth)
    weight_error = np.abs(recovered.sum(axis=1) - original.sum(axis=1))
    assert np.median(weight_error) <= 3  # so the Hamming weight (the value's length) is back


def _forenames(records, encode) -> attacks.Column:
    values = records.values["forename"]
    present = ~np.equal(values, None)
    bits = np.zeros((len(values), 2048), dtype=bool)
    cache = {}
    for i in np.flatnonzero(present):
        cache.setdefault(values[i], encode(values[i]))
        bits[i] = cache[values[i]]
    return attacks.Column("forename", bits, present, ("forename",), balanced=True)


def test_the_suite_shows_todays_field_level_encoding_leaking_forenames(populations):
    records, public, public_records = populations
    enc = FieldEncoder(SECRET, "forename")
    col = _forenames(records, lambda v: np.unpackbits(np.frombuffer(base64.b64decode(enc.encode(v)), np.uint8)))
    guesses = attacks.pattern_mining(col, public, k=20, public_records=public_records)
    mined = attacks.score(records, guesses, "v1", "mining").records["forename"]
    floor = attacks.floor(records, public).records["forename"]
    assert mined > 4 * floor, (mined, floor)


def test_record_level_filters_with_bit_flips_differ_for_identical_records_and_keep_similarity():
    enc = RecordEncoder(SECRET, RECORD_K)
    ann = {"forename": "ANN", "surname": "LEE", "date_of_birth": "19800101", "sex": "F", "postcode_district": "NE4"}
    typo = {**ann, "surname": "LEA"}
    other = {"forename": "JOHN", "surname": "SMITH", "date_of_birth": "19621130", "sex": "M", "postcode_district": "M1"}
    a, b, c, d = enc.encode_bits(ann), enc.encode_bits(ann), enc.encode_bits(typo), enc.encode_bits(other)

    def dice(x, y):
        return 2 * (x & y).sum() / (x.sum() + y.sum())

    assert not (a == b).all()  # the same record never gives the same filter twice: no frequencies to align
    assert dice(a, b) > 0.65 and dice(a, c) > 0.6 > 0.45 > dice(a, d)
    assert enc.encode_bits({"forename": None}) is None
    assert RecordEncoder(SECRET, INITIALS_K).encode_bits({"initials": "AL", "date_of_birth": "19800101"}) is not None


def test_the_hardened_record_level_encoding_resists_the_suite(populations):
    records, public, public_records = populations
    scheme = attacks.Scheme(
        "v2", lambda r: attacks.record_level_columns(r, SECRET, 0.05), k=10, tolerance=0.1, sample_people=100, rounds=3
    )
    floor, *results = attacks.attack_all(scheme, records, public, public_records)
    for result in results:
        assert result.full_name_year < 0.01, result
        for fld in ("forename", "surname", "date_of_birth"):
            assert result.records[fld] <= max(2 * floor.records[fld], 0.01), (result.attack, fld, result.records)


def test_similarity_graph_matching_finds_todays_districts_and_not_the_combined_filters(populations):
    """Vidanage et al.'s attack needs no q-gram positions: matched on frequency and similarity neighbourhoods
    alone, today's field-level district encodings give themselves away; the chosen hardening (combined filters,
    f = 0.05) keeps every field within twice the floor."""
    from bold.linkage.encode import COMBINED

    records, public, public_records = populations
    district = next(c for c in attacks.field_level_columns(records, SECRET) if c.name == "postcode_district")
    found = attacks.score(records, attacks.similarity_graph_matching(district, public), "v1", "graph")
    floor = attacks.floor(records, public).records["postcode_district"]
    assert found.records["postcode_district"] > 10 * floor, (found.records, floor)  # measured 32.3% against 1.1%

    sample = records.sample(300)
    guesses = attacks.Guesses()
    for col in attacks.record_level_columns(sample, SECRET, 0.05, COMBINED):
        guesses.merge(attacks.similarity_graph_matching(col, public, public_records, nodes=600))
    hardened, floor = attacks.score(sample, guesses, "combined", "graph"), attacks.floor(sample, public)
    assert hardened.full_name_year < 0.01, hardened
    for fld in attacks.FIELDS:
        assert hardened.records[fld] <= max(2 * floor.records[fld], 0.01), (fld, hardened.records, floor.records)
