"""Ordered flows between services (step 1 -> step 2 -> step 3): merging small flows so every flow published
describes enough people, and the flow (alluvial, Sankey-like) chart drawn from the merged flows table alone.

The chart is built with Vega-Lite transforms over the one table it draws, never from geometry computed here:
disclosure control redraws a chart from the table's protected version (``bold.disclosure.check``), so anything
drawn must follow from the table's own rows."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from bold.studies.builtin.common import WIDTH
from bold.studies.language import PERSON

OTHER = "other"
NODE_WIDTH = 0.08  # half the width of a node bar, in steps
GAP = 0.03  # the space between two nodes of a step, as a share of the releases


def merge_small(frame: pd.DataFrame, steps: Sequence[str], minimum: int, order: Sequence[str] = ()) -> pd.DataFrame:
    """One row per index event with its ``steps`` labels, small flows merged into ``OTHER``: from the first step
    to the last, within each flow so far, the labels reached by fewer than ``minimum`` distinct people become
    ``OTHER``, and while the merged ``OTHER`` still has fewer, the smallest remaining label (ties: ``order``,
    then alphabetical) joins it. Each flow so far then has ``minimum`` people or more, so its branches can be
    merged until they do too: every whole flow meets ``minimum`` unless the whole frame has fewer people. Rows
    are never dropped, so totals are unchanged."""
    frame = frame.copy()
    rank = {label: i for i, label in enumerate(order)}
    for depth, step in enumerate(steps):
        prefix = list(steps[:depth])
        groups = frame.groupby(prefix, sort=False, dropna=False) if prefix else [((), frame)]
        for _, group in groups:
            merged = _merged_labels(group, step, minimum, rank)
            if merged:
                frame.loc[group.index[group[step].isin(merged)], step] = OTHER
    return frame


def _merged_labels(group: pd.DataFrame, step: str, minimum: int, rank: dict[str, int]) -> set[str]:
    """The labels of ``step`` in one flow so far that must merge into ``OTHER``."""
    people = group.groupby(step, sort=False)[PERSON].nunique()
    merged = {label for label, n in people.items() if n < minimum}
    if not merged:
        return merged
    rest = sorted(set(people.index) - merged, key=lambda s: (people[s], rank.get(s, len(rank)), s))
    while rest and group.loc[group[step].isin(merged), PERSON].nunique() < minimum:
        merged.add(rest.pop(0))
    return merged


def flow_chart(table: pd.DataFrame, steps: Sequence[str], order: Sequence[str], title: str) -> alt.LayerChart:
    """Flows of ``table`` (one row per flow: a label per step in ``steps``, ``n`` the index events) as ribbons
    through a stacked bar of nodes per step, nodes in ``order`` (unlisted labels last), ribbons coloured by the
    first step. Every position comes from Vega-Lite transforms of the table: fold the steps, stack each step's
    flows by node, then by the nodes of the steps before it (nearest first) and after it, so ribbons keep their
    order and cross little, with a gap between nodes."""
    order_js = "[" + ",".join(f"'{s}'" for s in order) + "]"
    last = len(steps)

    def rank(field: str) -> str:
        found = f"indexof({order_js}, datum.{field})"
        return f"({found} < 0 ? {len(order)} : {found})"

    def neighbours(j: int) -> list[str]:  # the other steps, by nearness: before it first, then after it
        return [steps[i] for i in (*range(j - 2, -1, -1), *range(j, last))]

    keys = {
        f"key_{k}": " : ".join(f"datum.step == {j} ? {rank(neighbours(j)[k])}" for j in range(1, last)) + f" : "
        f"{rank(neighbours(last)[k])}"
        for k in range(last - 1)
    }
    sort = [alt.SortField(k) for k in ("node_rank", *keys)]
    base = (
        alt.Chart(table, title=title)
        .transform_calculate(path=" + ' > ' + ".join(f"datum.{s}" for s in steps))
        .transform_fold(list(steps), as_=["step_name", "node"])
        .transform_calculate(step="indexof([" + ",".join(f"'{s}'" for s in steps) + "], datum.step_name) + 1")
        .transform_calculate(node_rank=rank("node"), **keys)
        .transform_joinaggregate(total="sum(n)", groupby=["step"])
        .transform_window(top="sum(n)", groupby=["step"], sort=sort)
        .transform_window(node_index="dense_rank()", groupby=["step"], sort=[alt.SortField("node_rank")])
        .transform_calculate(
            y1=f"datum.top + (datum.node_index - 1) * {GAP} * datum.total",
            y0=f"datum.top - datum.n + (datum.node_index - 1) * {GAP} * datum.total",
        )
    )
    y = alt.Y("y0:Q", axis=None, scale=alt.Scale(reverse=True))
    ribbons = (
        base.transform_calculate(left=f"datum.step - {NODE_WIDTH}", right=f"datum.step + {NODE_WIDTH}")
        .transform_fold(["left", "right"], as_=["side", "x"])
        .mark_area(opacity=0.45, interpolate="monotone")
        .encode(
            x=alt.X("x:Q", axis=alt.Axis(values=list(range(1, last + 1)), title="step", format="d")),
            y=y,
            y2="y1:Q",
            detail="path:N",
            color=alt.Color(
                f"{steps[0]}:N", title="first service", sort=list(order), legend=alt.Legend(orient="bottom")
            ),
            tooltip=[*(alt.Tooltip(f"{s}:N") for s in steps), alt.Tooltip("n:Q", title="releases")],
        )
    )
    nodes = base.transform_aggregate(
        y0="min(y0)", y1="max(y1)", n="sum(n)", groupby=["step", "node"]
    ).transform_calculate(
        x0=f"datum.step - {NODE_WIDTH}",
        x1=f"datum.step + {NODE_WIDTH}",
        middle="(datum.y0 + datum.y1) / 2",
        label="datum.node + ' (' + datum.n + ')'",
    )
    bars = nodes.mark_rect(color="#555").encode(x="x0:Q", x2="x1:Q", y=y, y2="y1:Q")
    middle = alt.Y("middle:Q", axis=None, scale=alt.Scale(reverse=True))
    right = (  # labels right of the nodes, left of the last step's
        nodes.transform_filter(f"datum.step < {last}")
        .transform_calculate(at="datum.x1 + 0.02")
        .mark_text(align="left", fontSize=10)
        .encode(x="at:Q", y=middle, text="label:N")
    )
    left = (
        nodes.transform_filter(f"datum.step == {last}")
        .transform_calculate(at="datum.x0 - 0.02")
        .mark_text(align="right", fontSize=10)
        .encode(x="at:Q", y=middle, text="label:N")
    )
    return alt.layer(ribbons, bars, right, left).properties(width=WIDTH, height=360)
