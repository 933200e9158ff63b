"""Tests read the encrypted zones and extracts the way BOLD does: attached with their own key."""

from __future__ import annotations

from contextlib import contextmanager

import duckdb

from bold.governance import projects
from bold.security import encryption


@contextmanager
def opened(path, key: str):
    """A connection whose default database is the encrypted file ``path``, read-only."""
    con = duckdb.connect()
    try:
        encryption.attach(con, path, "zone", key, read_only=True)
        con.execute("use zone")
        yield con
    finally:
        con.close()


def links(ws):
    return opened(ws.links_path, ws.key("links"))


def extract(ws, project_id: str):
    return opened(projects.extract_path(ws, project_id), projects.extract_key(ws, project_id))
