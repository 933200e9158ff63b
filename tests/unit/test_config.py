import datetime as dt

import pytest
from pydantic import ValidationError

from bold.synth.config import SynthConfig, load_corruption_overrides


def test_pilot_defaults_inside_the_period():
    cfg = SynthConfig(people=10, seed=1)
    assert cfg.start < cfg.pilot_start < cfg.end


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"people": -1}, "greater than 0"),
        ({"people": 10, "start": dt.date(2020, 1, 1), "end": dt.date(2019, 1, 1)}, "must be after"),
        ({"people": 10, "pilot_start": dt.date(2030, 1, 1)}, "pilot start"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValidationError, match=message):
        SynthConfig(seed=1, **settings)


def test_corruption_overrides_merge_over_defaults(tmp_path):
    f = tmp_path / "rates.yaml"
    f.write_text("hospital:\n  nhs_missing: 0.5\n")
    rates = load_corruption_overrides(f)
    assert rates["hospital"].nhs_missing == 0.5
    assert rates["hospital"].nhs_missing_homeless == 0.3  # default kept
    f.write_text("pharmacy:\n  nhs_missing: 0.5\n")
    with pytest.raises(ValueError, match="line 1: not a source"):
        load_corruption_overrides(f)
    f.write_text("hospital:\n  nhs_missing: 1.5\n")
    with pytest.raises(
        ValueError, match=r"rates.yaml: line 2: hospital.nhs_missing: Input should be less than or equal to 1"
    ):
        load_corruption_overrides(f)
