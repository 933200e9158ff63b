"""Identifiers in the real formats, made without collisions and vectorised.

Each identifier is a keyed bijection of a sequence number (an affine map modulo the size of the
identifier's space), so identifiers are unique by construction and the same seed
gives the same identifiers. NHS numbers come from the range never issued to patients
(900 000 0000 - 999 999 9999, "synthetic/test patients" in the nhs-number package's table), with
a valid modulus-11 check digit, so no synthetic record can carry a real person's number.
"""

from __future__ import annotations

import numpy as np

_PRIMES = (1_000_003, 1_299_709, 15_485_863, 32_452_843, 49_979_687, 67_867_967, 86_028_121, 104_395_301)
_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_PRISON_LETTERS = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ"))  # no I or O
_PNC_CHECK = np.array(list("ZABCDEFGHJKLMNPQRTUVWXY"))
_INWARD_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))  # letters used in inward codes


def scramble(seq: np.ndarray, modulus: int, seed: int, salt: int) -> np.ndarray:
    """A keyed permutation of ``range(modulus)`` applied to ``seq``: unique in, unique out."""
    seq = np.asarray(seq, dtype=np.int64)
    if seq.size and (seq.min() < 0 or seq.max() >= modulus):
        raise ValueError(f"identifier space of {modulus:,} exhausted")
    if modulus > 10**10:  # keeps multiplier * seq inside int64
        raise ValueError("identifier space too large")
    rng = np.random.default_rng([seed, salt])
    multiplier = next(int(p) for p in np.roll(_PRIMES, salt % len(_PRIMES)) if modulus % p)
    offset = int(rng.integers(0, modulus))
    return (seq * multiplier + offset) % modulus


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal strings of a non-negative integer array (numpy's zfill fails on an empty one)."""
    text = values.astype(np.int64).astype(str)
    return np.char.zfill(text, width) if len(text) else text.astype(f"<U{width}")


def nhs_numbers(seq: np.ndarray, seed: int) -> np.ndarray:
    """Valid 10-digit NHS numbers in the never-issued 9xx range, one per sequence number.

    For a fixed first eight digits, at most one value of the ninth digit gives a check digit of
    10 (invalid), so each 8-digit prefix carries at least 9 valid numbers: sequence number ``g``
    takes prefix ``g // 9`` and the ``g % 9``-th valid ninth digit.
    """
    seq = np.asarray(seq, dtype=np.int64)
    prefix7 = scramble(seq // 9, 10**7, seed, salt=1)  # digits 2..8 after the leading 9
    k = seq % 9
    digits = [np.full(seq.shape, 9)] + [(prefix7 // 10 ** (6 - i)) % 10 for i in range(7)]
    partial = sum(d * (10 - i) for i, d in enumerate(digits))  # weights 10..3 for digits 1..8
    bad = ((1 - partial) * 6) % 11  # the ninth digit (weight 2) that would make the check digit 10
    ninth = np.where((bad <= 9) & (k >= bad), k + 1, k)
    total = partial + 2 * ninth
    check = (11 - total % 11) % 11
    number = 9 * 10**9 + prefix7 * 100 + ninth * 10 + check
    return number.astype(np.int64).astype(str)


def ni_numbers(seq: np.ndarray, seed: int, rng: np.random.Generator) -> np.ndarray:
    """National Insurance numbers (two prefix letters, six digits, suffix A-D)."""
    first = [c for c in "ABCEGHJKLMNOPRSTWXYZ"]
    second = [c for c in "ABCEGHJKLMNPRSTWXYZ"]
    banned = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
    prefixes = np.array([a + b for a in first for b in second if a + b not in banned])
    value = scramble(seq, len(prefixes) * 10**6, seed, salt=2)
    suffix = np.array(list("ABCD"))[rng.integers(0, 4, len(seq))]
    return prefixes[value // 10**6].astype(object) + digits(value % 10**6, 6).astype(object) + suffix


def pnc_ids(seq: np.ndarray, year: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """PNC IDs as (year, serial-with-check) parts; callers format them as their system does.

    The check character is the (two-digit year and seven-digit serial) modulo 23, looked up in
    the PNC's 23-letter table.
    """
    serial = scramble(seq, 10**7, seed, salt=3)
    check = _PNC_CHECK[((year % 100) * 10**7 + serial) % 23]
    return year.astype(np.int64), digits(serial, 7).astype(object) + check


def prison_numbers(seq: np.ndarray, seed: int) -> np.ndarray:
    """p-NOMIS style prison numbers, e.g. A1234BC."""
    n = len(_PRISON_LETTERS)
    value = scramble(seq, n * 10**4 * n * n, seed, salt=4)
    a, rest = value // (10**4 * n * n), value % (10**4 * n * n)
    num, rest = rest // (n * n), rest % (n * n)
    return (
        _PRISON_LETTERS[a].astype(object)
        + digits(num, 4).astype(object)
        + _PRISON_LETTERS[rest // n]
        + _PRISON_LETTERS[rest % n]
    )


def local_ids(seq: np.ndarray, prefix: str, width: int, seed: int, salt: int) -> np.ndarray:
    """A source's own record or client ids: a prefix and ``width`` scrambled digits."""
    return prefix + digits(scramble(seq, 10**width, seed, salt), width).astype(object)


def crns(seq: np.ndarray, seed: int) -> np.ndarray:
    """nDelius case reference numbers: one letter and six digits, e.g. X123456."""
    value = scramble(seq, 26 * 10**6, seed, salt=5)
    return _LETTERS[value // 10**6].astype(object) + digits(value % 10**6, 6).astype(object)


def postcode_units(district: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random full postcodes inside the given districts (not real addresses)."""
    n = len(district)
    sector = rng.integers(1, 10, n).astype(str).astype(object)
    a = _INWARD_LETTERS[rng.integers(0, len(_INWARD_LETTERS), n)]
    b = _INWARD_LETTERS[rng.integers(0, len(_INWARD_LETTERS), n)]
    return district.astype(object) + " " + sector + a + b
