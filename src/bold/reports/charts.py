"""Charts: Altair specifications rendered to inline SVG, so a report is one self-contained file
that opens offline and never loads a script from elsewhere."""

from __future__ import annotations

import io

import altair as alt
import pandas as pd

WIDTH = 560


def svg(chart: alt.TopLevelMixin) -> str:
    buf = io.StringIO()
    chart.save(buf, format="svg")
    return buf.getvalue()


def bars(
    rows: list[dict],
    x: str,
    y: str,
    color: str | None = None,
    title: str = "",
    horizontal: bool = False,
    x_title: str | None = None,
    y_title: str | None = None,
    percent: bool = False,
) -> str:
    """A bar chart of ``rows`` (grouped by ``color`` when given)."""
    if not rows:
        return ""
    data = pd.DataFrame(rows)
    value_axis = alt.Axis(format="%" if percent else ",.0f")
    value = alt.X if horizontal else alt.Y
    category = alt.Y if horizontal else alt.X
    enc = {
        ("x" if horizontal else "y"): value(f"{y}:Q", title=y_title or y, axis=value_axis),
        ("y" if horizontal else "x"): category(f"{x}:N", title=x_title or x, sort=None),
    }
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=color, sort=list(dict.fromkeys(data[color])))
        if horizontal:
            enc["yOffset"] = alt.YOffset(f"{color}:N")
        else:
            enc["xOffset"] = alt.XOffset(f"{color}:N")
    chart = alt.Chart(data, title=title).mark_bar().encode(**enc, tooltip=list(data.columns))
    return svg(chart.properties(width=WIDTH))


def heatmap(rows: list[dict], x: str, y: str, value: str, title: str = "") -> str:
    if not rows:
        return ""
    data = pd.DataFrame(rows)
    base = alt.Chart(data, title=title).encode(
        x=alt.X(f"{x}:N", title=None, sort=list(dict.fromkeys(data[x]))), y=alt.Y(f"{y}:N", title=None)
    )
    cells = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"), title="share")
    )
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text(f"{value}:Q", format=".0%"),
        color=alt.condition(f"datum.{value} > 0.6", alt.value("white"), alt.value("black")),
    )
    return svg((cells + text).properties(width=WIDTH))
