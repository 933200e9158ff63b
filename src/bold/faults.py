"""Fault injection for the crash-safety tests: a TEST HOOK, not a feature.

Each stage that writes to more than one place calls ``point("stage:where")`` between its writes. It does
nothing unless the environment variable ``BOLD_FAULT`` names that point, in which case the process kills
itself with SIGKILL, as ``kill -9``, a power cut or the out-of-memory killer would: no ``finally``, no
rollback, no clean-up. ``tests/integration/test_crash_safety.py`` runs each stage in a subprocess with
``BOLD_FAULT`` set, then runs it again and checks the result equals an uninterrupted run. Nothing else
sets the variable; the points are listed in ``POINTS`` so a test can check it covers every one.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "ingest:after-identifiers",  # identifiers rows written, content not yet, batch row not committed
    "ingest:after-content",  # both zones written, batch row and audit entry not committed
    "ingest:before-commit",  # the batch row and audit entry written in the open store transaction
    "ingest:identifiers-history-copied",  # superseded versions copied to identifiers' history, still in place
    "ingest:content-history-copied",  # ... and to content's history; identifiers' already removed
    "link:after-record-person",  # in the links transaction, before pairs and the run row
    "link:before-commit",  # every links row and the run row written, not committed
    "link:after-commit",  # the run committed in links.duckdb, its audit entry not yet written
    "build:partial",  # the extract half-written under its temporary name
    "build:before-rename",  # the extract complete, the store transaction open, not yet renamed
    "build:after-rename",  # the extract renamed into place, the store transaction not committed
    "study:partial",  # the output's files half-written in its temporary folder
    "study:after-rename",  # the output folder renamed into place, its store row not committed
    "optout:between-zones",  # an opt-out's records deleted from the content zone, not yet from identifiers
    "release:copied",  # a release's files copied into its folder, its row not committed
    "optout:before-commit",  # every zone, link and extract changed; the register entries not committed
    "withdraw:after-links",  # a withdrawn batch's records gone from the links, not yet from the zones
    "withdraw:between-zones",  # ... and from the content zone, not yet from identifiers
    "withdraw:before-commit",  # everything deleted, the batch row marked, the store transaction not committed
    "retention:after-extracts",  # expired projects' extracts deleted, the projects not yet marked (not committed)
    "retention:after-records",  # expired records gone from extracts, links and zones; history versions not yet
    "retention:before-commit",  # everything deleted, batches and projects marked, the store transaction open
    "sign-in:counted",  # a sign-in attempt counted as a failure and committed, its password not yet checked
)


def point(name: str) -> None:
    """Kill this process with SIGKILL if ``BOLD_FAULT`` is ``name``; otherwise nothing."""
    if os.environ.get("BOLD_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
