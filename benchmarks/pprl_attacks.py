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
import base64
import shutil
import time
from pathlib import Path

import numpy as np

from bold.linkage import attacks

SECRET = b"benchmark-secret-known-only-to-custodians-0123456789abcdef"


def field_level(records: attacks.Records) -> list[attacks.Column]:
    """Today's encodings (encoding version 1): one balanced, keyed Bloom filter per identifier."""
    from bold.linkage.encode import FieldEncoder

    out = []
    for fld in ("forename", "surname", "initials", "date_of_birth", "postcode_district"):
        enc = FieldEncoder(SECRET, fld)
        values = records.values[fld]
        cache: dict[str, np.ndarray] = {}
        bits = np.zeros((len(values), 2 * enc.bits), dtype=bool)
        for i, v in enumerate(values):
            if v:
                if v not in cache:
                    raw = np.frombuffer(base64.b64decode(enc.encode(v)), dtype=np.uint8)
                    cache[v] = np.unpackbits(raw).astype(bool)
                bits[i] = cache[v]
        present = ~np.equal(values, None)
        out.append(attacks.Column(fld, bits, present, (fld,), balanced=True))
    return out


def record_level(flip: float):
    """Candidate hardening: one filter per record (per-field keys and weights) with BLIP bit flips, and
    the initials-level record filter every source can make for meeting the treatment source."""
    from bold.linkage.encode import INITIALS_K, RECORD_K, RecordEncoder

    def encode(records: attacks.Records) -> list[attacks.Column]:
        out = []
        for name, weights in (("record", RECORD_K), ("record (initials)", INITIALS_K)):
            enc = RecordEncoder(SECRET, weights, flip=flip)
            fields = tuple(weights)
            bits = np.zeros((len(records), enc.bits), dtype=bool)
            present = np.zeros(len(records), dtype=bool)
            for i in range(len(records)):
                b = enc.encode_bits({f: records.values[f][i] for f in fields})
                if b is not None:
                    bits[i], present[i] = b, True
            scored = tuple(f for f in fields if f in attacks.FIELDS)  # what the attack tries to recover
            out.append(attacks.Column(name, bits, present, scored))
        return out

    return encode


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
