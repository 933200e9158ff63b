"""Tables on the command line never cut an id, however narrow the terminal; long text wraps instead."""

from __future__ import annotations

from rich.console import Console

from bold.cli.common import plain, table
from bold.governance.lifecycle import ProjectState


def test_ids_are_never_cut_on_a_narrow_terminal():
    long_id = "continuity-of-care-20261201T091419-1b5b"
    rows = [(long_id, "pending", "ana", "a long description that can wrap as much as it likes " * 3)]
    console = Console(width=60, record=True)
    console.print(table(("output", "status", "by", "about"), rows, ids=("output",)))
    text = console.export_text()
    assert long_id in text and "…" not in text
    assert "pending" in text


def test_json_output_is_plain_data():
    assert plain({"state": ProjectState.APPROVED, "roles": frozenset({"b", "a"})}) == {
        "state": "approved",
        "roles": ["a", "b"],
    }
