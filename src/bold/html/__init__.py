"""One template tree for every page BOLD makes: the web application's pages and the HTML reports it writes.

``templates/base.html`` is the one layout, ``templates/components.html`` the pieces pages share (tables, state
badges, form fields) and ``templates/style.css`` the one stylesheet. The web application links the stylesheet;
a report is a single file to be read anywhere, so it carries the stylesheet inline (``standalone=True``).
A stage keeps its own page templates beside its code and extends ``base.html`` from here. docs/architecture.md
("Pages and reports: one template tree") says which blocks a report fills.
"""

from __future__ import annotations

import functools
import math
from importlib import resources

import jinja2

TEMPLATES = resources.files("bold.html").joinpath("templates")


class _Missing(jinja2.StrictUndefined):
    """A name a page was not given: an error when shown or used, simply false in ``{% if name %}``."""

    def __bool__(self) -> bool:
        return False


class Figure(float):
    """A number a report shows to four significant figures (as its files' readers expect), still a number, so
    ``components.frame`` aligns it right."""

    def __str__(self) -> str:
        return f"{self:.4g}"

    __html__ = __str__


def figures(df):
    """``df`` ready for ``components.frame``: floats to four significant figures, missing values blank (a
    suppressed cell is an empty cell, never "nan")."""

    import numpy as np  # here: the web's pages need neither
    import pandas as pd

    def shown(v):
        if isinstance(v, float):
            return None if math.isnan(v) else Figure(v)
        return None if pd.isna(v) is True else v  # None, pd.NA, NaT

    values = np.empty(df.shape, dtype=object)  # filled by hand: pandas would turn a Figure back into a float
    for i, row in enumerate(df.itertuples(index=False)):
        values[i] = [shown(v) for v in row]
    return pd.DataFrame(values, columns=df.columns, dtype=object)


def parties(items) -> str:
    """Parties to an agreement (register entries or the agreement's own) as "name (sector)", comma-separated."""

    def one(party) -> str:
        name, sector = (party["name"], party["sector"]) if isinstance(party, dict) else (party.name, party.sector)
        return f"{name} ({sector or 'no sector given'})"

    return ", ".join(one(p) for p in items)


@functools.cache
def stylesheet() -> str:
    return TEMPLATES.joinpath("style.css").read_text()


def environment(*packages: str, strict: bool = True) -> jinja2.Environment:
    """Templates from ``packages``' own ``templates/`` folders first, then the shared tree; always escaped.
    ``strict``: a name a template shows but was not given is an error, not an empty string."""
    folders = [str(resources.files(p).joinpath("templates")) for p in packages]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*folders, str(TEMPLATES)]),
        autoescape=True,
        undefined=_Missing if strict else jinja2.Undefined,
    )
    env.globals["stylesheet"] = stylesheet
    env.filters["figures"] = figures
    env.filters["parties"] = parties
    return env
