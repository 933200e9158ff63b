"""Attacks on the encoded (Bloom filter) mode, run as the linker would run them.

The attacker is the linker: it holds the encoded extracts and the scheme's public parameters (filter
length, hash functions per q-gram, bigrams, balancing, which identifiers each column holds) and value
frequencies taken from a *separate* population, never the custodians' secret. Two attacks:

- **frequency alignment**: identical encodings are grouped and ranked by how often they occur, and the
  i-th most frequent encoding is taken to be the i-th most frequent public value;
- **bit-pattern mining** (after Christen, Ranbaduge, Vatsalan and Schnell 2017-2018): balanced filters are
  first unbalanced (a bit and its complement are exactly opposite in every record, so the pairs are found by
  comparing columns, and the sparser of each pair is the original bit); the positions a q-gram sets are the
  positions always set in the filters of records sharing it, learnt from a few encodings whose values are
  known (the best frequency alignments, or, where there are none, frequent bit patterns labelled by the public
  q-gram frequencies); each record's q-grams are then inferred and its value re-identified as the public value
  with the closest q-gram set, and confident re-identifications teach more q-grams, for a few rounds.

Each attack's guesses are scored against the plaintext behind the encodings, beside the *floor*: the share a
guess of the most common public value gets. The encoded columns are given as bit matrices, so any encoding
can be attacked (``benchmarks/pprl_attacks.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FIELDS = ("forename", "surname", "date_of_birth", "year_of_birth", "postcode_district")
NAME_FIELDS = ("forename", "surname", "initials", "date_of_birth", "postcode_district", "sex")
SEED_MIN_COUNT = 10  # an encoding seen at least this often can be aligned by frequency with some confidence
SEEDS = 300  # at most this many aligned encodings start the pattern mining
ROUNDS = 4


@dataclass
class Records:
    """Plaintext identifiers of every record of a population, one array per field, and each record's person."""

    person: np.ndarray
    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.person)

    def sample(self, people: int, seed: int = 0) -> Records:
        """Every record of ``people`` people drawn at random (attacks on record-level filters, where every
        record's filter is distinct, are costly: they are scored on a sample)."""
        ids = np.unique(self.person)
        if len(ids) <= people:
            return self
        chosen = np.isin(self.person, np.random.default_rng(seed).choice(ids, people, replace=False))
        return Records(self.person[chosen], {f: v[chosen] for f, v in self.values.items()})


def read_population(folder: Path, sources: tuple[str, ...] | None = None) -> Records:
    """Every source file of a ``bold synth`` folder, normalised as ``bold encode`` normalises it."""
    import pyarrow.parquet as pq

    from bold.linkage.encode import read_identifiers
    from bold.synth.config import SOURCES

    truth = pq.read_table(folder / "truth" / "records.parquet", columns=["source", "record_id", "person_id"])
    person_of = dict(
        zip(zip(truth["source"].to_pylist(), truth["record_id"].to_pylist()), truth["person_id"].to_pylist())
    )
    person: list[int] = []
    values: dict[str, list] = {f: [] for f in NAME_FIELDS}
    for source in sources or SOURCES:
        ids = read_identifiers(folder / f"{source}.parquet", source)
        person += [person_of[(source, r)] for r in ids.record_ids]
        for f in NAME_FIELDS:
            values[f] += ids.values.get(f, [None] * ids.rows)
    arrays = {f: np.array(v, dtype=object) for f, v in values.items()}
    arrays["year_of_birth"] = np.array([d[:4] if d else None for d in values["date_of_birth"]], dtype=object)
    return Records(np.array(person), arrays)


def bigrams(value: str) -> set[str]:
    padded = f"_{value}_"
    return {padded[i : i + 2] for i in range(len(padded) - 1)}


@dataclass
class Public:
    """What the attacker knows of the values: frequencies from another population."""

    counts: dict[str, Counter]

    @classmethod
    def from_records(cls, records: Records) -> Public:
        fields = (*(f for f in NAME_FIELDS if f != "date_of_birth"), "year_of_birth")  # years, not dates
        counts = {f: Counter(v for v in records.values[f] if v) for f in fields}
        return cls(counts)

    def candidates(self, fld: str) -> tuple[list[str], np.ndarray]:
        """Candidate values and their prior weights. Dates of birth: every day of every public birth year,
        weighted by the year's frequency (the public frequencies are of birth years, not of dates)."""
        if fld == "date_of_birth":
            import datetime as dt

            values, weights = [], []
            for year, n in self.counts["year_of_birth"].items():
                day = dt.date(int(year), 1, 1)
                while day.year == int(year):
                    values.append(day.strftime("%Y%m%d"))
                    weights.append(n / 365)
                    day += dt.timedelta(days=1)
            return values, np.array(weights)
        ranked = self.counts[fld].most_common()
        return [v for v, _ in ranked], np.array([n for _, n in ranked], dtype=float)

    def most_common(self, fld: str) -> str | None:
        values, weights = self.candidates(fld)
        return values[int(weights.argmax())] if values else None


@dataclass
class Column:
    """One encoded column as the linker holds it: a bit matrix (one row per record, all-False where the
    identifier is missing) and the public facts about it."""

    name: str
    bits: np.ndarray  # (records, bits) bool
    present: np.ndarray  # (records,) bool
    fields: tuple[str, ...]  # identifiers the column encodes (one for field-level filters, several for a record's)
    balanced: bool = False


@dataclass
class Guesses:
    """An attack's guess for each record and field (None: no guess)."""

    by_field: dict[str, np.ndarray] = field(default_factory=dict)

    def merge(self, other: Guesses) -> None:
        for f, g in other.by_field.items():
            if f in self.by_field:
                mine = self.by_field[f]
                self.by_field[f] = np.where(np.equal(mine, None), g, mine)
            else:
                self.by_field[f] = g


def _unique_rows(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    packed = np.packbits(bits, axis=1)
    _, first, inverse, counts = np.unique(packed, axis=0, return_index=True, return_inverse=True, return_counts=True)
    return bits[first], inverse.reshape(-1), counts


def _public_tuples(public: Public, fields: tuple[str, ...], public_records: Records | None) -> list[tuple]:
    if len(fields) == 1:
        values, weights = public.candidates(fields[0])
        return [(values[i],) for i in np.argsort(-weights, kind="stable")]
    if public_records is None:
        return []
    rows = zip(*(public_records.values[f] for f in fields), strict=True)
    return [v for v, _ in Counter(r for r in rows if all(r)).most_common()]


def frequency_alignment(col: Column, public: Public, public_records: Records | None = None) -> Guesses:
    """Rank identical encodings by frequency and align them with the public values ranked the same way."""
    idx = np.flatnonzero(col.present)
    uniq, inverse, counts = _unique_rows(col.bits[idx])
    order = np.argsort(-counts, kind="stable")
    ranked = _public_tuples(public, col.fields, public_records)
    rank_of = np.empty(len(order), dtype=int)
    rank_of[order] = np.arange(len(order))
    out = Guesses()
    for i, f in enumerate(col.fields):
        guess = np.full(len(col.present), None, dtype=object)
        ranks = rank_of[inverse]
        ok = ranks < len(ranked)
        guess[idx[ok]] = [ranked[r][i] for r in ranks[ok]]
        out.by_field[f] = guess
    return out


def unbalance(bits: np.ndarray) -> np.ndarray:
    """Undo balancing: drop the complement of every bit, keeping the sparser of each opposite pair."""
    n = bits.shape[0]
    cols = np.packbits(bits.T, axis=1)
    flipped = np.packbits(~bits.T, axis=1)
    index = {row.tobytes(): j for j, row in enumerate(cols)}
    freq = bits.sum(axis=0)
    keep = np.zeros(bits.shape[1], dtype=bool)
    for j, row in enumerate(flipped):
        partner = index.get(row.tobytes())
        if partner is None or freq[j] in (0, n):
            continue
        if freq[j] < freq[partner] or (freq[j] == freq[partner] and j < partner):
            keep[j] = True
    return bits[:, keep]


@dataclass
class Mining:
    """State of the pattern-mining attack on one column: the q-grams learnt and where they set bits."""

    grams: list[tuple[str, str]]  # (field, bigram)
    positions: np.ndarray  # (grams, bits) bool


def learn_positions(
    bits: np.ndarray,
    seeds: list[tuple[int, dict[str, str]]],
    weights: np.ndarray,
    share: float,
    min_seeds: int = 2,
    top: int | None = None,
) -> Mining:
    """Positions set in (at least ``share`` of, by weight) the filters of seed records sharing a q-gram:
    with ``share`` 1, Christen's "always set"; lower while some seeds may be wrongly aligned."""
    holders: dict[tuple[str, str], list[int]] = {}
    for row, values in seeds:
        for f, v in values.items():
            for g in bigrams(v):
                holders.setdefault((f, g), []).append(row)
    grams, positions = [], []
    for gram, rows in holders.items():
        if len(rows) < min_seeds:
            continue
        w = weights[rows].astype(np.float32)
        held = (w @ bits[rows].astype(np.float32)) / w.sum()
        always = held >= share - 1e-9
        if top and always.sum() > top:  # a q-gram sets at most k bits: keep the k most often set
            always &= held >= np.sort(held)[-top]
        if always.sum() >= 2:
            grams.append(gram)
            positions.append(always)
    return Mining(grams, np.array(positions).reshape(len(grams), bits.shape[1]))


def estimated_bigrams(bits: np.ndarray, k: int) -> np.ndarray:
    """How many distinct q-grams set each filter's bits (from its Hamming weight: a public fact)."""
    m = bits.shape[1]
    ones = np.minimum(bits.sum(axis=1), m - 1)
    return np.rint(-m / k * np.log1p(-ones / m)).astype(int)


def aligned_seeds(bits, counts, fields, ranked, k) -> list[tuple[int, dict[str, str]]]:
    """Frequency alignment within groups of equal length: the filters that set about b q-grams' bits,
    ranked by frequency, against the public values of b distinct q-grams, ranked the same way."""
    est = estimated_bigrams(bits, k)
    size = np.array([sum(len(bigrams(v)) for v in t) for t in ranked])
    seeds = []
    for b in np.unique(est):
        rows = np.flatnonzero((est == b) & (counts >= SEED_MIN_COUNT))
        rows = rows[np.argsort(-counts[rows], kind="stable")]
        values = np.flatnonzero(size == b)
        for row, v in zip(rows, values, strict=False):
            seeds.append((int(row), dict(zip(fields, ranked[v], strict=True))))
    seeds.sort(key=lambda s: -counts[s[0]])
    return seeds[:SEEDS]


def reidentify(
    bits: np.ndarray,
    mining: Mining,
    fld: str,
    values: list[str],
    prior: np.ndarray,
    lengths: np.ndarray | None,
    chunk: int = 2000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each filter's public value whose predicted filter (the union of its learnt q-grams' positions) is
    closest by Dice; with ``lengths`` (q-grams per filter, from its weight) only values of that many q-grams
    are candidates. Ties are broken by the public prior. Returns (value index or -1, best Dice, second best)."""
    known = {g: i for i, (f, g) in enumerate(mining.grams) if f == fld}
    n = bits.shape[0]
    if not known or not values:
        return np.full(n, -1), np.zeros(n), np.zeros(n)
    holds = np.zeros((len(values), len(mining.grams)), dtype=np.float32)
    size = np.zeros(len(values), dtype=int)
    for v, value in enumerate(values):
        grams = bigrams(value)
        size[v] = len(grams)
        for g in grams:
            if g in known:
                holds[v, known[g]] = 1
    predicted = ((holds @ mining.positions.astype(np.float32)) > 0).astype(np.float32)
    weight = predicted.sum(axis=1)
    tie = 1e-6 * np.log1p(prior) / np.log1p(prior.max())
    best, top, second = np.full(n, -1), np.zeros(n), np.zeros(n)
    f32 = bits.astype(np.float32)
    for start in range(0, n, chunk):
        f = f32[start : start + chunk]
        dice = 2 * (f @ predicted.T) / np.maximum(f.sum(axis=1, keepdims=True) + weight[None, :], 1) + tie[None, :]
        if lengths is not None:
            dice[size[None, :] != lengths[start : start + chunk, None]] = -1
        order = np.argsort(-dice, axis=1)[:, :2]
        rows = np.arange(len(order))
        best[start : start + chunk] = order[:, 0]
        top[start : start + chunk] = dice[rows, order[:, 0]]
        second[start : start + chunk] = dice[rows, order[:, 1]] if order.shape[1] > 1 else 0
    best[top <= 0] = -1
    return best, top, second


def mine_frequent_patterns(bits: np.ndarray, weights: np.ndarray, k: int, tolerance: float, limit: int = 400):
    """Seed-free mining: from each frequent bit, intersect the records holding the bits most often set
    with it until about ``k`` bits remain always (or nearly always) set together. Returns (positions, support)
    per pattern, support being the weighted share of records holding it."""
    w = weights.astype(np.float32)
    total = w.sum()
    b = bits.astype(np.float32)
    freq = w @ b
    patterns: list[tuple[np.ndarray, float]] = []
    covered = np.zeros(bits.shape[1], dtype=bool)
    for seed in np.argsort(-freq):
        if len(patterns) >= limit or freq[seed] == 0:
            break
        if covered[seed]:
            continue
        members = bits[:, seed].copy()
        chosen = {int(seed)}
        while True:
            mass = w[members].sum()
            overlap = w[members] @ b[members]
            overlap[list(chosen)] = -1
            nxt = int(overlap.argmax())
            if len(chosen) >= k or overlap[nxt] < 0.5 * mass:
                break
            chosen.add(nxt)
            members &= bits[:, nxt]
        mass = w[members].sum()
        if mass == 0:
            continue
        share_set = (w[members] @ b[members]) / mass
        positions = share_set >= 1 - tolerance
        if positions.sum() < max(2, k // 2):
            covered[seed] = True
            continue
        covered |= positions
        patterns.append((positions, float(mass / total)))
    return patterns


def label_by_frequency(patterns, public: Public, fields: tuple[str, ...]) -> Mining:
    """Label mined patterns with the public q-grams of the same share of records (rank against rank)."""
    expected: Counter = Counter()
    for f in fields:
        if f == "year_of_birth":
            continue
        counts = public.counts["year_of_birth"] if f == "date_of_birth" else public.counts[f]
        total = sum(counts.values())
        for value, n in counts.items():
            for g in bigrams(value) if f != "date_of_birth" else {g for g in bigrams(value + "0101")}:
                expected[(f, g)] += n / total
    ranked = [g for g, _ in expected.most_common()]
    order = sorted(range(len(patterns)), key=lambda i: -patterns[i][1])
    grams = ranked[: len(order)]
    positions = np.array([patterns[i][0] for i in order[: len(grams)]])
    return Mining(grams, positions.reshape(len(grams), -1) if len(grams) else np.zeros((0, 1), dtype=bool))


def pattern_mining(
    col: Column,
    public: Public,
    k: int,
    tolerance: float = 0.0,
    public_records: Records | None = None,
    rounds: int = ROUNDS,
) -> Guesses:
    """Infer the q-grams of each record from bit patterns and re-identify its values (see module doc)."""
    idx = np.flatnonzero(col.present)
    bits = col.bits[idx]
    if col.balanced:
        bits = unbalance(bits)
    uniq, inverse, counts = _unique_rows(bits)
    cand = {f: public.candidates(f) for f in col.fields if f != "year_of_birth"}
    # seeds: the most frequent encodings aligned by frequency
    ranked = _public_tuples(public, col.fields, public_records)
    seeds = aligned_seeds(uniq, counts, col.fields, ranked, k) if ranked else []
    if len(seeds) >= 10:
        mining = learn_positions(uniq, seeds, counts, share=0.3, top=k)
    else:
        mining = label_by_frequency(mine_frequent_patterns(uniq, counts, k, tolerance), public, col.fields)
    lengths = estimated_bigrams(uniq, k) if len(col.fields) == 1 else None
    best: dict[str, np.ndarray] = {}
    known: dict[int, dict[str, str]] = {}
    for round_ in range(rounds):
        confident = np.ones(len(uniq), dtype=bool)
        for f, (values, prior) in cand.items():
            b, top, second = reidentify(uniq, mining, f, values, prior, lengths)
            best[f] = b
            confident &= (b >= 0) & (top > 0.8) & (top - second > 0.05)
        if round_ == rounds - 1 or not confident.any():
            break
        known.update({int(r): {f: cand[f][0][best[f][r]] for f in cand} for r in np.flatnonzero(confident)})
        mining = learn_positions(uniq, list(known.items()), counts, share=0.8 - tolerance, top=k * len(cand))
    out = Guesses()
    for f, (values, _) in cand.items():
        guess = np.full(len(col.present), None, dtype=object)
        per_row = np.array([values[i] if i >= 0 else None for i in best[f]], dtype=object)
        guess[idx] = per_row[inverse]
        out.by_field[f] = guess
        if f == "date_of_birth":
            years = np.array([g[:4] if g else None for g in guess], dtype=object)
            out.by_field["year_of_birth"] = years
    return out


@dataclass
class Scheme:
    """An encoding under attack: a name, how it encodes a population's records into columns, and its k."""

    name: str
    encode: Callable[[Records], list[Column]]
    k: int
    tolerance: float = 0.0  # the share of a q-gram's bits the attacker allows to be missing (random bit flips)
    sample_people: int | None = None  # attack the records of this many people only


def _recovered(guess: np.ndarray | None, truth: np.ndarray) -> np.ndarray:
    if guess is None:
        return np.zeros(len(truth), dtype=bool)
    return np.array([g is not None and g == t for g, t in zip(guess, truth, strict=True)])


@dataclass
class Result:
    scheme: str
    attack: str
    records: dict[str, float]  # field -> share of records holding it whose value was recovered
    full_name_year: float  # share of people with forename, surname and year of birth recovered in one record


def score(records: Records, guesses: Guesses, scheme: str, attack: str) -> Result:
    shares = {}
    hit = {}
    for f in FIELDS:
        truth = records.values[f]
        has = ~np.equal(truth, None)
        hit[f] = _recovered(guesses.by_field.get(f), truth) & has
        shares[f] = float(hit[f].sum() / max(has.sum(), 1))
    together = hit["forename"] & hit["surname"] & hit["year_of_birth"]
    people = np.unique(records.person)
    found = np.unique(records.person[together])
    return Result(scheme, attack, shares, float(len(found) / max(len(people), 1)))


def floor(records: Records, public: Public) -> Result:
    """Guess every record's value as the most common public value."""
    g = Guesses({f: np.full(len(records), public.most_common(f), dtype=object) for f in FIELDS})
    return score(records, g, "", "floor (most common public value)")


def attack_all(scheme: Scheme, records: Records, public: Public, public_records: Records) -> list[Result]:
    """Every attack on every column of the scheme; guesses for a field from several columns are merged
    (the attacker keeps the first guess it has for a record)."""
    if scheme.sample_people:
        records = records.sample(scheme.sample_people)
    columns = scheme.encode(records)
    freq, mined = Guesses(), Guesses()
    for col in columns:
        freq.merge(frequency_alignment(col, public, public_records))
        mined.merge(pattern_mining(col, public, scheme.k, scheme.tolerance, public_records))
        if "date_of_birth" in col.fields:
            for g in (freq,):
                dob = g.by_field.get("date_of_birth")
                if dob is not None and "year_of_birth" not in g.by_field:
                    g.by_field["year_of_birth"] = np.array([d[:4] if d else None for d in dob], dtype=object)
    return [
        floor(records, public),
        score(records, freq, scheme.name, "frequency alignment"),
        score(records, mined, scheme.name, "bit-pattern mining"),
    ]
