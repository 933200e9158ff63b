"""Identifier corruption: the errors real linkage meets, drawn per registration or record.

Each function takes the uniform random numbers it needs as arguments, so the caller decides
whether a draw belongs to a registration (and repeats on all its records) or to one record.
"""

from __future__ import annotations

import numpy as np

from bold.synth.reference import nickname_table

_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def typo(name: str, u_kind: float, u_pos: float, u_letter: float) -> str:
    """One keying error: substitute, delete, insert or swap adjacent letters."""
    if len(name) < 2:
        return name
    pos = min(int(u_pos * len(name)), len(name) - 1)
    letter = _ALPHABET[int(u_letter * 26) % 26]
    letter = letter.upper() if name[pos].isupper() else letter
    if u_kind < 0.4:
        return name[:pos] + letter + name[pos + 1 :]
    if u_kind < 0.6 and len(name) > 3:
        return name[:pos] + name[pos + 1 :]
    if u_kind < 0.8:
        return name[:pos] + letter + name[pos:]
    pos = min(pos, len(name) - 2)
    return name[:pos] + name[pos + 1] + name[pos] + name[pos + 2 :]


def apply_typos(names: np.ndarray, mask: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Apply :func:`typo` where ``mask`` is set; ``u`` holds three uniforms per row."""
    out = names.copy()
    for i in np.flatnonzero(mask):
        out[i] = typo(out[i], u[i, 0], u[i, 1], u[i, 2])
    return out


def nicknames(forenames: np.ndarray, mask: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace forenames by a nickname where one exists; returns (names, applied)."""
    table = nickname_table()
    out = forenames.copy()
    applied = np.zeros(len(forenames), dtype=bool)
    for i in np.flatnonzero(mask):
        options = table.get(out[i])
        if options:
            out[i] = options[int(u[i] * len(options)) % len(options)]
            applied[i] = True
    return out, applied


def day_month_swappable(dob: np.ndarray) -> np.ndarray:
    d = dob.astype("datetime64[D]")
    day = (d - d.astype("datetime64[M]")).astype(int) + 1
    month = d.astype("datetime64[M]").astype(int) % 12 + 1
    return (day <= 12) & (day != month)


def swap_day_month(dob: np.ndarray) -> np.ndarray:
    """Dates with day and month exchanged (callers apply this only where swappable)."""
    d = dob.astype("datetime64[D]")
    year = d.astype("datetime64[Y]")
    month = d.astype("datetime64[M]").astype(int) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(int) + 1
    day = np.minimum(day, 12)  # keep the result a valid date for rows the caller will not use
    swapped = year + (day - 1).astype("timedelta64[M]")
    return (swapped.astype("datetime64[D]") + (month - 1)).astype(np.int64).astype(np.int32)


def wrong_year(dob: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Move a date by one year either way (most often) or ten (a mistyped decade)."""
    d = dob.astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    offset_days = (d - month_start).astype(int)
    years = np.where(u < 0.35, -1, np.where(u < 0.7, 1, np.where(u < 0.85, -10, 10)))
    moved_month = month_start + (12 * years).astype("timedelta64[M]")
    next_month = moved_month + np.timedelta64(1, "M")
    last_day = (next_month.astype("datetime64[D]") - moved_month.astype("datetime64[D]")).astype(int) - 1
    out = moved_month.astype("datetime64[D]") + np.minimum(offset_days, last_day)
    return out.astype(np.int64).astype(np.int32)
