"""Benchmark: attacks on the encoded mode, today's field-level encodings beside the hardened one.

The attacker is the linker: it holds every source's encoded extract of one synthetic population, the
encodings' public parameters, and name, birth-year and district frequencies from a second population
(another seed), never the secret. For each encoding it runs frequency alignment and bit-pattern mining
(``bold.linkage.attacks``) and prints the share of records whose forename, surname, date of birth, year of
birth and postcode district it recovered, and the share of people whose full name and year of birth it
recovered together, beside the floor (every record guessed as the most common public value).

Target for the hardened encoding: no field above twice the floor, full name and year of birth under 1%.

    .venv/bin/python benchmarks/pprl_attacks.py [--people 20000] [--work bench-out/pprl-attacks]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from bold.linkage import attacks

SECRET = b"benchmark-secret-known-only-to-custodians-0123456789abcdef"


def field_level(records: attacks.Records) -> list[attacks.Column]:
    return attacks.field_level_columns(records, SECRET)


def record_level(flip: float):
    return lambda records: attacks.record_level_columns(records, SECRET, flip)


SCHEMES = [
    attacks.Scheme("field-level balanced (v1, today)", field_level, k=20),
    attacks.Scheme("record-level, no flips", record_level(0.0), k=10, sample_people=500),
    attacks.Scheme("record-level + BLIP f=0.05", record_level(0.05), k=10, tolerance=0.1, sample_people=500),
]


def table(results: list[attacks.Result]) -> None:
    head = "".join(f"{f:>19}" for f in attacks.FIELDS)
    print(f"  {'encoding':<34}{'attack':<36}{head}{'name+year (people)':>20}")
    for r in results:
        cells = "".join(f"{r.records[f]:>19.1%}" for f in attacks.FIELDS)
        print(f"  {r.scheme or '  (same records)':<34}{r.attack:<36}{cells}{r.full_name_year:>20.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--work", type=Path, default=Path("bench-out/pprl-attacks"))
    args = parser.parse_args()
    from bold.synth.config import SynthConfig
    from bold.synth.generate import generate

    shutil.rmtree(args.work, ignore_errors=True)
    target, public_pop = args.work / "encoded", args.work / "public"
    generate(SynthConfig(people=args.people, seed=1), target, formats=("parquet",))
    generate(SynthConfig(people=args.people, seed=2), public_pop, formats=("parquet",))
    records = attacks.read_population(target)
    public_records = attacks.read_population(public_pop)
    public = attacks.Public.from_records(public_records)
    print(f"Attacks on the encoded mode: {args.people:,} people, {len(records):,} records encoded; public")
    print(f"frequencies from another {args.people:,} people (seed 2). Share of records recovered:")
    results = []
    for scheme in SCHEMES:
        t0 = time.perf_counter()
        results += attacks.attack_all(scheme, records, public, public_records)
        print(f"  ({scheme.name}: attacked in {time.perf_counter() - t0:.0f} s)")
    table(results)


if __name__ == "__main__":
    main()
