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
  with the closest q-gram set, and confident re-identifications teach more q-grams, for a few rounds;
- **similarity-graph matching** (after Vidanage, Christen, Ranbaduge and Schnell 2020-2022): the encodings
  form one graph (edges weighted by the Dice similarity of their filters) and the public values another
  (weighted by the Dice similarity of their q-gram sets); each node is described by features that survive
  encoding (how often it occurs, its strongest similarities and how many neighbours it has above each level,
  each graph's similarities taken as quantiles of its own, so that the two scales need no calibration), and
  the two graphs' nodes are matched one-to-one on those features (Hungarian assignment). It needs neither
  q-gram positions nor repeated encodings, only that similar values still give similar encodings.

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
    keys = zip(truth["source"].to_pylist(), truth["record_id"].to_pylist(), strict=True)
    person_of = dict(zip(keys, truth["person_id"].to_pylist(), strict=True))
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


def _public_ranked(
    public: Public, fields: tuple[str, ...], public_records: Records | None, limit: int | None = None
) -> tuple[list[tuple], np.ndarray]:
    """The public values (tuples of `fields`) most frequent first, with their frequencies."""
    if len(fields) == 1:
        values, weights = public.candidates(fields[0])
        order = np.argsort(-weights, kind="stable")[:limit]
        return [(values[o],) for o in order], weights[order].astype(float)
    if public_records is None:
        return [], np.zeros(0)
    rows = zip(*(public_records.values[f] for f in fields), strict=True)
    common = Counter(r for r in rows if all(r)).most_common(limit)
    return [v for v, _ in common], np.array([c for _, c in common], dtype=float)


def frequency_alignment(col: Column, public: Public, public_records: Records | None = None) -> Guesses:
    """Rank identical encodings by frequency and align them with the public values ranked the same way."""
    idx = np.flatnonzero(col.present)
    _, inverse, counts = _unique_rows(col.bits[idx])
    order = np.argsort(-counts, kind="stable")
    ranked = _public_ranked(public, col.fields, public_records)[0]
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


def aligned_seeds(
    bits, counts, fields, ranked, k, min_count: int = SEED_MIN_COUNT, limit: int | None = SEEDS
) -> list[tuple[int, dict[str, str]]]:
    """Frequency alignment within groups of equal length: the filters that set about b q-grams' bits,
    ranked by frequency, against the public values of b distinct q-grams, ranked the same way."""
    est = estimated_bigrams(bits, k)
    size = np.array([sum(len(bigrams(v)) for v in t) for t in ranked])
    seeds = []
    for b in np.unique(est):
        rows = np.flatnonzero((est == b) & (counts >= min_count))
        rows = rows[np.argsort(-counts[rows], kind="stable")]
        values = np.flatnonzero(size == b)
        for row, v in zip(rows, values, strict=False):
            seeds.append((int(row), dict(zip(fields, ranked[v], strict=True))))
    seeds.sort(key=lambda s: -counts[s[0]])
    return seeds[:limit]


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


def mine_atoms(bits: np.ndarray, weights: np.ndarray, k: int, tolerance: float) -> np.ndarray:
    """Seed-free mining of the bit patterns q-grams leave (unlabelled "atoms", about ``k`` bits each).

    From every bit, the records holding it are intersected with those holding the bit most often set with
    them until ``k`` bits are set in all that remain (Christen's "always set"); the pattern is then refined
    as a fixed point: the records holding nearly all its bits, and the ``k`` bits most often set among them.
    Returns (atoms, bits) bool."""
    w = weights.astype(np.float32)
    b = bits.astype(np.float32)
    found: dict[bytes, np.ndarray] = {}
    for seed in range(bits.shape[1]):
        members = bits[:, seed].copy()
        if w[members].sum() == 0:
            continue
        for _ in range(3 * k):
            share = (w[members] @ b[members]) / w[members].sum()
            always = share >= 1 - tolerance - 1e-9
            if always.sum() >= k:
                break
            overlap = w[members] @ b[members]
            overlap[always] = -1
            members &= bits[:, int(overlap.argmax())]
            if w[members].sum() == 0:
                break
        if w[members].sum() < 2:
            continue
        pattern = always
        for _ in range(4):
            held = b[:, pattern].sum(axis=1)
            need = min(k, int(pattern.sum()))
            holders = held >= need - max(3, int(tolerance * k) + 1)
            if not holders.any():
                break
            share = (w[holders] @ b[holders]) / w[holders].sum()
            pattern = np.zeros(bits.shape[1], dtype=bool)
            pattern[np.argsort(-share)[:k]] = True
        found[np.packbits(pattern).tobytes()] = pattern
    return np.array(list(found.values())).reshape(len(found), bits.shape[1])


@dataclass
class Alphabet:
    """The public values of each field a column holds, as q-gram indicator rows over one (field, q-gram) list."""

    grams: list[tuple[str, str]]
    values: dict[str, list[str]]
    prior: dict[str, np.ndarray]
    holds: dict[str, np.ndarray]  # field -> (values, grams) float32
    size: dict[str, np.ndarray]  # field -> q-grams per value
    share: np.ndarray  # public share of records holding each (field, q-gram)

    @classmethod
    def of(cls, public: Public, fields: tuple[str, ...]) -> Alphabet:
        cand = {f: public.candidates(f) for f in fields if f != "year_of_birth"}
        index: dict[tuple[str, str], int] = {}
        share: list[float] = []
        holds, size = {}, {}
        for f, (values, prior) in cand.items():
            rows, cols = [], []
            total = prior.sum()
            for v, value in enumerate(values):
                for g in bigrams(value):
                    j = index.setdefault((f, g), len(index))
                    if j == len(share):
                        share.append(0.0)
                    share[j] += prior[v] / total
                    rows.append(v)
                    cols.append(j)
            holds[f] = (rows, cols)
            size[f] = np.array([len(bigrams(v)) for v in values])
        grams = list(index)
        dense = {}
        for f, (rows, cols) in holds.items():
            m = np.zeros((len(cand[f][0]), len(grams)), dtype=np.float32)
            m[rows, cols] = 1
            dense[f] = m
        return cls(
            grams, {f: c[0] for f, c in cand.items()}, {f: c[1] for f, c in cand.items()}, dense, size, np.array(share)
        )


def _assign(held, labels, alphabet: Alphabet, lengths, chunk: int = 1000) -> dict[str, np.ndarray]:
    """Each filter's value per field: the public value whose q-grams, mapped to the atoms labelled with
    them, best match (Dice) the atoms the filter holds; ties broken by the public prior."""
    onehot = np.zeros((held.shape[1], len(alphabet.grams)), dtype=np.float32)
    onehot[np.arange(held.shape[1]), labels] = 1
    out = {}
    h = held.astype(np.float32)
    for f, holds in alphabet.holds.items():
        expected = holds @ onehot.T  # values x atoms
        weight = expected.sum(axis=1)
        prior = alphabet.prior[f]
        tie = 1e-6 * np.log1p(prior) / np.log1p(prior.max())
        best = np.zeros(h.shape[0], dtype=int)
        for start in range(0, h.shape[0], chunk):
            x = h[start : start + chunk]
            dice = 2 * (x @ expected.T) / np.maximum(x.sum(axis=1, keepdims=True) + weight[None, :], 1) + tie[None, :]
            if lengths is not None:
                dice[alphabet.size[f][None, :] != lengths[start : start + chunk, None]] = -1
            best[start : start + chunk] = dice.argmax(axis=1)
        out[f] = best
    return out


def _label(held, weights, assigned: dict[str, np.ndarray], alphabet: Alphabet, mask=None) -> np.ndarray:
    """Label each atom with the (field, q-gram) whose holders (by the current assignment) best match the
    filters holding the atom (weighted Jaccard)."""
    w = weights.astype(np.float32) * (1 if mask is None else mask)
    h = held.astype(np.float32)
    grams = sum(alphabet.holds[f][assigned[f]] for f in assigned)
    inter = (h * w[:, None]).T @ grams
    union = (w @ h)[:, None] + (w @ grams)[None, :] - inter
    return np.argmax(inter / np.maximum(union, 1e-9), axis=1)


def pattern_mining(
    col: Column,
    public: Public,
    k: int,
    tolerance: float = 0.0,
    public_records: Records | None = None,
    rounds: int = 15,
    sample: int = 3000,
) -> Guesses:
    """Infer each record's q-grams from bit patterns and re-identify its values (see the module doc):
    unbalance; mine atoms; label them from the frequency-aligned encodings (or, where no encoding repeats,
    by public q-gram frequency); then alternate re-identifying every filter from its atoms and relabelling
    the atoms from the re-identifications; for a one-field column, finish by learning every q-gram's bits from
    the re-identified filters and re-identifying once more bit by bit."""
    idx = np.flatnonzero(col.present)
    bits = col.bits[idx]
    if col.balanced:
        bits = unbalance(bits)
    uniq, inverse, counts = _unique_rows(bits)
    alphabet = Alphabet.of(public, col.fields)
    fields = list(alphabet.values)
    single = len(fields) == 1
    lengths = estimated_bigrams(uniq, k) if single else None
    rng = np.random.default_rng(0)
    train = np.sort(rng.choice(len(uniq), min(sample, len(uniq)), replace=False, p=counts / counts.sum()))
    train = np.unique(train)
    atoms = mine_atoms(uniq[train], counts[train], k, tolerance)
    if len(atoms) == 0:
        return Guesses()
    need = np.ceil((1 - tolerance) * atoms.sum(axis=1))

    def holding(rows):
        return (uniq[rows].astype(np.float32) @ atoms.T.astype(np.float32)) >= need[None, :]

    held = holding(train)
    ranked = _public_ranked(public, tuple(fields), public_records)[0] if single else []
    seeds = aligned_seeds(uniq, counts, tuple(fields), ranked, k, min_count=1, limit=None) if ranked else []
    position = {int(r): i for i, r in enumerate(train)}
    seeded = [(position[r], v) for r, v in seeds if r in position]
    if len(seeded) >= 10:
        value_index = {v: i for i, v in enumerate(alphabet.values[fields[0]])}
        assigned = {fields[0]: np.zeros(len(train), dtype=int)}
        mask = np.zeros(len(train), dtype=np.float32)
        for r, v in seeded:
            assigned[fields[0]][r] = value_index[v[fields[0]]]
            mask[r] = 1
        labels = _label(held, counts[train], assigned, alphabet, mask)
    else:  # rank against rank: the atoms held by most records take the commonest q-grams
        share = (counts[train] @ held) / counts[train].sum()
        order = np.argsort(-alphabet.share)
        labels = np.empty(len(atoms), dtype=int)
        labels[np.argsort(-share)] = order[np.minimum(np.arange(len(atoms)), len(order) - 1)]
    train_lengths = lengths[train] if lengths is not None else None
    previous = None
    for _ in range(rounds):
        assigned = _assign(held, labels, alphabet, train_lengths)
        labels = _label(held, counts[train], assigned, alphabet)
        if previous is not None and all((previous[f] == assigned[f]).all() for f in fields):
            break
        previous = assigned
    final = _assign(holding(np.arange(len(uniq))), labels, alphabet, lengths)
    if single:
        f = fields[0]
        seeds = [(r, {f: alphabet.values[f][final[f][r]]}) for r in range(len(uniq))]
        mining = learn_positions(uniq, seeds, counts, share=0.6 - tolerance, top=k)
        best, _, _ = reidentify(uniq, mining, f, alphabet.values[f], alphabet.prior[f], lengths)
        final[f] = np.where(best >= 0, best, final[f])
    out = Guesses()
    for f in fields:
        per_row = np.array([alphabet.values[f][i] for i in final[f]], dtype=object)
        guess = np.full(len(col.present), None, dtype=object)
        guess[idx] = per_row[inverse]
        out.by_field[f] = guess
        if f == "date_of_birth":
            out.by_field["year_of_birth"] = np.array([g[:4] if g else None for g in guess], dtype=object)
    return out


@dataclass
class Scheme:
    """An encoding under attack: a name, how it encodes a population's records into columns, and its k."""

    name: str
    encode: Callable[[Records], list[Column]]
    k: int
    tolerance: float = 0.0  # the share of a q-gram's bits the attacker allows to be missing (random bit flips)
    sample_people: int | None = None  # attack the records of this many people only
    rounds: int = 15  # of re-identifying and relabelling in the pattern mining


GRAPH_NODES = 1500  # nodes of each similarity graph: the most frequent encodings and public values
GRAPH_LEVELS = (0.9, 0.99, 0.999)  # similarity quantiles at which each node's neighbours are counted
GRAPH_TOP = 10  # a node's strongest similarities kept as features


def _dice_matrix(incidence: np.ndarray) -> np.ndarray:
    """Pairwise Dice similarity of the rows of a 0/1 matrix (bits of filters, or q-grams of values)."""
    m = incidence.astype(np.float32)
    weight = m.sum(axis=1)
    sim = 2 * (m @ m.T) / np.maximum(weight[:, None] + weight[None, :], 1)
    np.fill_diagonal(sim, 0)
    return sim


def _as_quantiles(sim: np.ndarray) -> np.ndarray:
    """Each similarity as its quantile among the graph's own similarities (the two graphs' scales differ: a
    Bloom filter's Dice is higher than its values' q-gram Dice, and flips lower it)."""
    upper = sim[np.triu_indices(len(sim), 1)]
    ranks = np.sort(upper)
    q = np.searchsorted(ranks, sim, side="right") / max(len(ranks), 1)
    np.fill_diagonal(q, 0)
    return q.astype(np.float32)


def _node_features(sim: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per node: its frequency (as a share of the graph's records, in logs), its ``GRAPH_TOP`` strongest
    similarity quantiles and the share of nodes it is more similar to than each of ``GRAPH_LEVELS``."""
    q = _as_quantiles(sim)
    top = -np.sort(-q, axis=1)[:, :GRAPH_TOP]
    degree = np.stack([(q > level).mean(axis=1) for level in GRAPH_LEVELS], axis=1)
    freq = np.log(counts / counts.sum())[:, None]
    return np.hstack([freq, top, degree * 100]).astype(np.float64)


def _value_grams(values: list[tuple], fields: tuple[str, ...]) -> np.ndarray:
    """0/1 matrix of each public value's q-grams (field by field, so two fields' q-grams never merge)."""
    vocab: dict[tuple[str, str], int] = {}
    rows = [
        {vocab.setdefault((f, g), len(vocab)) for f, v in zip(fields, t, strict=True) for g in bigrams(v)}
        for t in values
    ]
    out = np.zeros((len(values), max(len(vocab), 1)), dtype=bool)
    for i, cols in enumerate(rows):
        out[i, list(cols)] = True
    return out


def similarity_graph_matching(
    col: Column, public: Public, public_records: Records | None = None, nodes: int = GRAPH_NODES
) -> Guesses:
    """Match the encodings' similarity graph to the public values' (see the module doc). The encoded nodes are
    the most frequent distinct encodings (where every encoding is distinct, as with bit flips, the first
    ``nodes`` records), the public nodes the most frequent public values; each encoded node is guessed as the
    public value it is assigned, and every record holding that encoding gets the guess."""
    from scipy.optimize import linear_sum_assignment

    idx = np.flatnonzero(col.present)
    fields = col.fields
    out = Guesses({f: np.full(len(col.present), None, dtype=object) for f in fields})
    if not fields or len(idx) < 3:
        return out
    plain, public_counts = _public_ranked(public, fields, public_records, limit=nodes)
    if len(plain) < 3:
        return out
    bits = unbalance(col.bits[idx]) if col.balanced else col.bits[idx]
    uniq, inverse, counts = _unique_rows(bits)
    encoded = np.argsort(-counts, kind="stable")[:nodes]
    n = min(len(encoded), len(plain))
    encoded, plain, public_counts = encoded[:n], plain[:n], np.maximum(public_counts[:n], 1)
    a = _node_features(_dice_matrix(uniq[encoded]), counts[encoded].astype(float))
    b = _node_features(_dice_matrix(_value_grams(plain, fields)), public_counts)
    pooled = np.vstack([a, b])
    scale = pooled.std(axis=0)
    scale[scale == 0] = 1
    a, b = (a - pooled.mean(axis=0)) / scale, (b - pooled.mean(axis=0)) / scale
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    rows, matched = linear_sum_assignment(cost)
    guess_of_node = np.full(len(uniq), -1)
    guess_of_node[encoded[rows]] = matched
    per_record = guess_of_node[inverse]
    for i, f in enumerate(fields):
        values = np.array([t[i] for t in plain] + [None], dtype=object)
        out.by_field[f][idx] = values[np.where(per_record >= 0, per_record, len(plain))]
        if f == "date_of_birth":
            out.by_field["year_of_birth"] = np.array([g[:4] if g else None for g in out.by_field[f]], dtype=object)
    return out


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
    freq, mined, graph = Guesses(), Guesses(), Guesses()
    for col in columns:
        freq.merge(frequency_alignment(col, public, public_records))
        mined.merge(pattern_mining(col, public, scheme.k, scheme.tolerance, public_records, scheme.rounds))
        graph.merge(similarity_graph_matching(col, public, public_records))
        if "date_of_birth" in col.fields:
            for g in (freq,):
                dob = g.by_field.get("date_of_birth")
                if dob is not None and "year_of_birth" not in g.by_field:
                    g.by_field["year_of_birth"] = np.array([d[:4] if d else None for d in dob], dtype=object)
    return [
        floor(records, public),
        score(records, freq, scheme.name, "frequency alignment"),
        score(records, mined, scheme.name, "bit-pattern mining"),
        score(records, graph, scheme.name, "similarity-graph matching"),
    ]


def field_level_columns(records: Records, secret: bytes) -> list[Column]:
    """Encoding version 1 (what ``bold encode`` makes today): one balanced, keyed Bloom filter per identifier."""
    import base64

    from bold.linkage.encode import FieldEncoder

    out = []
    for fld in ("forename", "surname", "initials", "date_of_birth", "postcode_district"):
        enc = FieldEncoder(secret, fld)
        values = records.values[fld]
        cache: dict[str, np.ndarray] = {}
        bits = np.zeros((len(values), 2 * enc.bits), dtype=bool)
        for i, v in enumerate(values):
            if v:
                if v not in cache:
                    raw = np.frombuffer(base64.b64decode(enc.encode(v)), dtype=np.uint8)
                    cache[v] = np.unpackbits(raw).astype(bool)
                bits[i] = cache[v]
        out.append(Column(fld, bits, ~np.equal(values, None), (fld,), balanced=True))
    return out


def record_level_columns(
    records: Records, secret: bytes, flip: float, filters: dict[str, dict[str, int]] | None = None
) -> list[Column]:
    """The candidate hardenings: record-level filters (per-field keys and weights) with BLIP bit flips. By
    default one filter over the whole record and the initials-level one every source can make for meeting
    the treatment source; ``filters`` names others (``encode.COMBINED``: one per combination of fields)."""
    from bold.linkage.encode import INITIALS_K, RECORD_K, RecordEncoder

    out = []
    for name, weights in (filters or {"record": RECORD_K, "record (initials)": INITIALS_K}).items():
        enc = RecordEncoder(secret, weights, flip=flip, name=name if filters else "")
        fields = tuple(weights)
        bits = np.zeros((len(records), enc.bits), dtype=bool)
        present = np.zeros(len(records), dtype=bool)
        for i in range(len(records)):
            b = enc.encode_bits({f: records.values[f][i] for f in fields})
            if b is not None:
                bits[i], present[i] = b, True
        out.append(Column(name, bits, present, tuple(f for f in fields if f in FIELDS)))
    return out
