"""Forgetting stored records everywhere: the one path opt-outs and retention both take.

Given the records to forget (record keys by source), every built extract loses the rows of the people they
belonged to (found by their project pseudonyms at the extract's own run and threshold, from the links:
``bold.governance.projects``), the links of every run lose them (``bold.linkage.run.forget_records``), and both
zones lose them with every earlier version in their history (``bold.ingest.optout.delete_records``). In this
order, because each step finds its rows through what the next deletes: a run killed part-way is finished by
running it again. The zones and the links are then rewritten afresh (``Workspace.rewrite``), so the deleted rows
do not linger in the files' free blocks. Callers run it inside their store transaction, with their audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bold.governance import projects
from bold.ingest import optout
from bold.linkage import run as linkage
from bold.workspace import ZONES, Workspace


@dataclass
class Forgotten:
    """What forgetting some records removed: records per source, link rows per table, extract rows per project."""

    records: dict[str, int] = field(default_factory=dict)
    links: dict[str, int] = field(default_factory=dict)
    extracts: dict[str, tuple[int, int]] = field(default_factory=dict)  # project -> (people, rows)


def keys(hits: dict[str, list]) -> list:
    return [k for found in hits.values() for k in found]


def people_in_extracts(ws: Workspace, record_keys: list) -> dict[str, list[str]]:
    """For each built extract holding any of these records' people: their pseudonyms there (nothing changed)."""
    found = {}
    for project_id in projects.built_extracts(ws):
        people = projects.people_in_extract(ws, project_id, record_keys)
        if people:
            found[project_id] = people
    return found


def forget(ws: Workspace, hits: dict[str, list]) -> Forgotten:
    """Remove these records (record keys by source) from the extracts, the links and both zones."""
    record_keys = keys(hits)
    done = Forgotten()
    for project_id, people in people_in_extracts(ws, record_keys).items():
        done.extracts[project_id] = (len(people), projects.remove_people(ws, project_id, people))
    done.links = linkage.forget_records(ws, record_keys)
    done.records = optout.delete_records(ws, hits)
    if record_keys:
        for zone in ZONES:
            ws.rewrite(zone)
    return done
