"""What keeps linkage bounded at scale: capped blocks, clustering in one pass, DuckDB's share of the machine."""

import duckdb
import pytest
from splink import DuckDBAPI
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from bold import machine
from bold.errors import BoldError
from bold.linkage import clusters, model


def test_clusters_are_the_connected_components_at_each_threshold():
    con = duckdb.connect()
    con.execute("create table records as select unnest(['a', 'b', 'c', 'd', 'e', 'f']) as unique_id")
    con.execute(
        "create table pairs as select * from (values ('a', 'b', 0.95), ('b', 'c', 0.6), ('d', 'e', 0.99), "
        "('c', 'd', 0.4)) t(unique_id_l, unique_id_r, match_probability)"
    )
    tables = clusters.cluster(con, "records", "pairs", {"high": 0.9, "low": 0.5})

    def groups(table):
        rows = con.execute(f"select list(unique_id order by unique_id) from {table} group by cluster_id").fetchall()
        return sorted(r[0] for r in rows)

    assert groups(tables["high"]) == [["a", "b"], ["c"], ["d", "e"], ["f"]]
    assert groups(tables["low"]) == [["a", "b", "c"], ["d", "e"], ["f"]]  # 0.4 is below both thresholds


def test_a_block_larger_than_the_cap_is_left_to_the_other_rules():
    con = duckdb.connect()
    # 60 JOHN SMITHs born on different days, and two JANE DOEs (the same person twice)
    con.execute(
        """create table input as
           select i::varchar as unique_id, 'JOHN' as forename, 'SMITH' as surname,
                  date '1980-01-01' + i::integer as date_of_birth from range(60) t(i)
           union all select 'j1', 'JANE', 'DOE', date '1990-05-05'
           union all select 'j2', 'JANE', 'DOE', date '1990-05-05'"""
    )
    model.add_block_sizes(con, "input")

    def pairs(cap):
        rules = model.blocking_rules({"forename", "surname"}, cap=cap)[:1]  # forename and surname alone
        counts = count_comparisons_from_blocking_rules(
            DuckDBAPI(con).register("input"),
            blocking_rules=rules,
            link_type="dedupe_only",
            record_sample_proportion=1.0,
        )
        return counts[0]["marginal_comparison_count"]

    assert pairs(cap=None) == 60 * 59 // 2 + 1
    assert pairs(cap=50) == 1  # JANE DOE's pair is kept; the 60-record block is not scored on names alone
    # the person's own numbers are never capped
    assert all("block_n_" not in str(r) for r in model.blocking_rules({"nhs_number", "pnc_id"}))


def test_duckdb_gets_a_share_of_the_machine_that_can_be_overridden(monkeypatch, tmp_path):
    from bold.workspace import Workspace

    monkeypatch.delenv("BOLD_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("BOLD_THREADS", raising=False)
    limits = machine.duckdb_limits()
    share = max(machine.MIN_MEMORY, int(machine.physical_memory() * machine.MEMORY_SHARE))
    assert limits["memory_limit"] == f"{share >> 20}MB" and share < machine.physical_memory() // 4 + machine.MIN_MEMORY
    assert int(limits["threads"]) == machine.cores()
    monkeypatch.setenv("BOLD_MEMORY_LIMIT", "700MB")
    monkeypatch.setenv("BOLD_THREADS", "1")
    ws = Workspace.init(tmp_path / "ws")
    with ws.duckdb_connection() as con:
        memory, threads, spill = con.execute(
            "select current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')"
        ).fetchone()
    assert (memory, threads) == ("667.5 MiB", 1)
    assert spill.startswith(str(ws.tmp_dir))
    for name, value in (("BOLD_MEMORY_LIMIT", "lots"), ("BOLD_THREADS", "0")):
        monkeypatch.setenv(name, value)
        with pytest.raises(BoldError, match=name):
            machine.duckdb_limits()
        monkeypatch.delenv(name)
