"""The tables the docs show (roles, lifecycles, error kinds) are made from the code, and the docs hold the latest."""

from __future__ import annotations

from pathlib import Path

import pytest

from bold import docs_tables
from bold.governance.permissions import Permission

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("name", docs_tables.DOCS)
def test_the_docs_hold_the_tables_made_from_the_code(name):
    text = (ROOT / name).read_text()
    assert "<!-- generated:" in text
    assert docs_tables.render(text) == text, f"{name} is out of date: run make docs"


def test_every_permission_is_in_the_role_table():
    table = docs_tables.role_table()
    assert all(f"| `{p.value}` |" in table for p in Permission)


def test_an_unknown_section_is_an_error():
    with pytest.raises(KeyError, match="no generated section 'nope'"):
        docs_tables.render("<!-- generated: nope -->\n<!-- end: nope -->")
