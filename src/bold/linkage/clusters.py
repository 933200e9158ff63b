"""Records into people: the connected components of the pairs scored at or above a threshold.

Splink clusters in SQL, joining the pairs to themselves until no cluster id changes: at a million people
(tens of millions of pairs, three thresholds) that is most of a linkage run. The same components come from
SciPy's sparse-graph search in one pass over the pairs, held as two integer arrays (eight bytes a pair):
records are numbered in DuckDB, the pairs at the lowest threshold fetched once, and each threshold's
components are the labels of the pairs at or above it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def cluster(con, records: str, pairs: str, thresholds: dict[str, float]) -> dict[str, str]:
    """For each named threshold, a temp table ``clusters_<name>(unique_id, cluster_id)`` with every record of
    ``records`` (a record in no pair is its own cluster); ``pairs`` holds ``unique_id_l``, ``unique_id_r`` and
    ``match_probability``. Cluster ids are integers, meaningful only within one table."""
    con.execute(
        f"create or replace temp table cluster_ids as select unique_id, (row_number() over () - 1)::integer as idx "
        f"from {records}"
    )
    n = con.execute("select count(*) from cluster_ids").fetchone()[0]
    edges = con.execute(
        f"""select l.idx as i, r.idx as j, p.match_probability as p from {pairs} p
            join cluster_ids l on l.unique_id = p.unique_id_l join cluster_ids r on r.unique_id = p.unique_id_r
            where p.match_probability >= ?""",
        [min(thresholds.values())],
    ).fetchnumpy()
    out = {}
    for name, threshold in thresholds.items():
        keep = edges["p"] >= threshold
        graph = coo_matrix((np.ones(int(keep.sum()), dtype=np.int8), (edges["i"][keep], edges["j"][keep])), (n, n))
        _, labels = connected_components(graph, directed=False)
        con.register("cluster_labels", pa.table({"idx": np.arange(n, dtype=np.int32), "cluster_id": labels}))
        table = f"clusters_{name}"
        con.execute(
            f"create or replace temp table {table} as select c.unique_id, l.cluster_id::bigint as cluster_id "
            "from cluster_ids c join cluster_labels l using (idx)"
        )
        con.unregister("cluster_labels")
        out[name] = table
    return out
