"""Measure: does the pilot evaluation recover the synthetic pilot's planted effect on treatment outcomes?

On a synthetic population linked from the ground truth (benchmarks/studies.py ``prepare``: no linkage error), runs
``pilot-evaluation`` on effective treatment and on completion among all in treatment, against matched and against
all comparison areas, and sets each adjusted DiD and its interval beside the true effect: the pilot-after share as
it is minus the share had the pilot not acted (truth/pilot_effects.parquet), computed from the truth as the
integration tests do.

    .venv/bin/python benchmarks/pilot_evaluation.py [--people 60000] [--work bench-out/pilot] [--reuse]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' truth helpers, the benchmark's prepare

from benchmarks.studies import PROJECT, prepare
from tests.integration.test_studies_truth import true_pilot_effect

OUTCOMES = {"effective_treatment": ("effective", 83), "successful_completion_in_treatment": ("done", None)}
ADJUSTED = "adjusted DiD (percentage points, pilot-after units)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=60_000)
    parser.add_argument("--work", type=Path, default=Path("bench-out/pilot"))
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()

    import json

    from bold.studies import runner
    from bold.workspace import Workspace

    ws_dir = prepare(args.people, args.work, args.reuse)
    out = args.work / f"synth-{args.people}"
    ws = Workspace.open(ws_dir)
    events = pd.read_parquet(out / "truth" / "events.parquet")
    data_end = pd.to_datetime(events.date).max()
    summary = json.loads((out / "truth" / "summary.json").read_text())
    pilot = {"pilot_areas": ",".join(summary["pilot_local_authorities"]), "pilot_start": summary["pilot_start"]}
    rows = []
    for outcome, (measure, restrict) in OUTCOMES.items():
        n, _, truth = true_pilot_effect(out, events, data_end, measure, restrict)
        for comparison in ("matched", "all"):
            params = {**pilot, "outcome": outcome, "comparison": comparison}
            output = runner.run(ws, PROJECT, "pilot-evaluation", parameters=params, by="ana")
            est = output.table("estimates").set_index("measure").loc[ADJUSTED]
            rows.append(
                {
                    "outcome": outcome,
                    "comparison": comparison,
                    "pilot_after_units": n,
                    "true_pp": round(truth, 2),
                    "estimate_pp": round(est.estimate, 2),
                    "ci": f"{est.ci_low:.2f} to {est.ci_high:.2f}",
                    "covers_truth": est.ci_low <= truth <= est.ci_high,
                }
            )
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
