"""One template tree for every page BOLD makes: the web application's pages and the HTML reports it writes.

``templates/base.html`` is the one layout, ``templates/components.html`` the pieces pages share (tables, state
badges, form fields) and ``templates/style.css`` the one stylesheet. The web application links the stylesheet;
a report is a single file to be read anywhere, so it carries the stylesheet inline (``standalone=True``).
A stage keeps its own page templates beside its code and extends ``base.html`` from here.
"""

from __future__ import annotations

import functools
from importlib import resources

import jinja2

TEMPLATES = resources.files("bold.html").joinpath("templates")


class _Missing(jinja2.StrictUndefined):
    """A name a page was not given: an error when shown or used, simply false in ``{% if name %}``."""

    def __bool__(self) -> bool:
        return False


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
    return env
