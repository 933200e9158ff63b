"""The same seed gives the same files, byte for byte; another seed gives other files; the pilot's effect on
treatment changes the treatment extract and nothing else."""

from __future__ import annotations

import hashlib

import pandas as pd

from tests.conftest import make_population


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_files(tmp_path, monkeypatch):
    """More than one chunk (and a short last one), so chunked random streams are covered too: chunks of 1,000
    people rather than the real 50,000, which draw from the same per-chunk streams at a fiftieth of the size."""
    from bold.synth import generate

    monkeypatch.setattr(generate, "CHUNK_PEOPLE", 1_000)
    a, _ = make_population(tmp_path / "a", people=2_500, seed=9)
    b, _ = make_population(tmp_path / "b", people=2_500, seed=9)
    da, db = _digests(a), _digests(b)
    assert len(da) == 8 * 2 + 8 + 1  # extracts and the participant list, truth, opt-outs
    assert da == db


def test_other_seed_other_files(tmp_path):
    a, _ = make_population(tmp_path / "a", people=1_000, seed=1)
    b, _ = make_population(tmp_path / "b", people=1_000, seed=2)
    assert _digests(a)["prison.csv"] != _digests(b)["prison.csv"]


def test_the_pilots_effect_on_treatment_draws_from_its_own_stream(tmp_path):
    """Its randomness comes from a generator of its own, drawn after everything else, so with the effect off (odds
    ratios of 1) or on every other extract is the same file: only treatment journeys change."""
    off, _ = make_population(tmp_path / "off", people=5_000, seed=11, pilot_retention_odds_ratio=1,
                             pilot_completion_odds_ratio=1)  # fmt: skip
    on, _ = make_population(tmp_path / "on", people=5_000, seed=11)
    d_off, d_on = _digests(off), _digests(on)
    differ = {name for name in d_on if d_on[name] != d_off[name] and not name.startswith("truth/")}
    assert differ == {"treatment.csv", "treatment.parquet"}
    assert len(pd.read_parquet(off / "truth" / "pilot_effects.parquet")) == 0
    assert len(pd.read_parquet(on / "truth" / "pilot_effects.parquet")) > 0


def test_the_participant_list_draws_from_its_own_stream(tmp_path, monkeypatch):
    """Another stream for the list changes the list and nothing else: every other file is byte for byte the same,
    so adding the list left every seed's other files as they were."""
    from bold.synth import participants

    a, _ = make_population(tmp_path / "a", people=2_000, seed=4)
    monkeypatch.setattr(participants, "STREAM", participants.STREAM + 1)
    b, _ = make_population(tmp_path / "b", people=2_000, seed=4)
    da, db = _digests(a), _digests(b)
    listed = {"participants.csv", "participants.parquet", "truth/participants.parquet", "truth/participants.json"}
    assert da["participants.csv"] != db["participants.csv"]
    assert {k: v for k, v in da.items() if k not in listed} == {k: v for k, v in db.items() if k not in listed}
