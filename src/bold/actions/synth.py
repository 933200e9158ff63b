"""Generating a synthetic population (no workspace, no data about real people)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from bold.errors import Invalid
from bold.synth.config import SynthConfig, load_corruption_overrides
from bold.synth.generate import FORMATS, generate


def one_line(exc: ValidationError) -> str:
    """A pydantic error as one line: where, then what."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where + ': ' if where else ''}{first['msg'].removeprefix('Value error, ')}"


def config(
    people: int,
    seed: int = 1,
    start: dt.date = dt.date(2018, 1, 1),
    end: dt.date = dt.date(2024, 12, 31),
    pilot_start: dt.date | None = None,
    corruption: Path | None = None,
) -> SynthConfig:
    settings = {"people": people, "seed": seed, "start": start, "end": end}
    if pilot_start:
        settings["pilot_start"] = pilot_start
    try:
        if corruption:
            settings["corruption"] = load_corruption_overrides(corruption)
        return SynthConfig(**settings)
    except ValidationError as exc:
        raise Invalid(one_line(exc)) from None
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def synth(cfg: SynthConfig, out: Path, fmt: str = "both", progress: Callable[[int], None] = lambda n: None) -> dict:
    """Write the extracts and truth/ for ``cfg`` into ``out``; the figures the generator measured."""
    formats = FORMATS if fmt == "both" else (fmt,)
    if not set(formats) <= set(FORMATS):
        raise Invalid(f"--format {fmt!r} is not one of csv, parquet, both")
    try:
        return generate(cfg, out, formats, progress=progress)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
