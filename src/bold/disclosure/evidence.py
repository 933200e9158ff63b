"""What BOLD knows about the people behind one published number: the basis of every rule."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CellEvidence:
    value: float  # the number as the study computed it (a count, a sum, a mean...)
    people: int  # distinct people behind it (counted from person keys, never rows)
    contributions: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # each person's contribution to the value (one entry per person; a count of people has ones,
    # a count of events each person's number of events, a sum each person's total); empty when unknown
