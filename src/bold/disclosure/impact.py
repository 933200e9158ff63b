"""What a released output changed: a plain-language summary the analyst writes when asking for release, and the
impact notes governance adds later, both for the public register.

The summary is part of the release request, so the two output checkers read it with the outputs and approve it
with them: free text is an output too, and could otherwise carry a small count past disclosure control. An impact
note is written by the governance board after release, about what the result was used for (a service changed, a
policy cited it); notes are kept in order, never edited, each audited, and published with the release.
"""

from __future__ import annotations

from dataclasses import dataclass

from bold import store
from bold.errors import Invalid
from bold.workspace import Workspace, now

MAX_TEXT = 2_000  # characters: a paragraph for the public, not a report


@dataclass(frozen=True)
class ImpactNote:
    release: str
    note: str
    written_by: str
    written_at: str


def plain_text(text: str | None, what: str) -> str | None:
    """``text`` stripped (None when empty); refused when longer than a paragraph or not plain text."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > MAX_TEXT:
        raise Invalid(f"{what} is {len(text):,} characters; keep it under {MAX_TEXT:,} (a paragraph for the public)")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        raise Invalid(f"{what} holds control characters; write plain text")
    return text


def add_note(ws: Workspace, project_id: str, release_id: str, note: str, *, by: str) -> ImpactNote:
    """Append an impact note to a release (``bold.disclosure.release.get_release`` has checked it exists)."""
    text = plain_text(note, "the impact note")
    if text is None:
        raise Invalid("an impact note needs its text: what the released result changed, in plain language")
    at = now()
    with store.transaction(ws) as tx:
        tx.execute(
            "insert into impact_notes (project, release, note, written_by, written_at) values (?, ?, ?, ?, ?)",
            (project_id, release_id, text, by, at),
        )
        tx.audit(by, "impact note added", project_id, {"release": release_id, "characters": len(text)})
    return ImpactNote(release_id, text, by, at)


def notes(ws: Workspace, release_id: str) -> list[ImpactNote]:
    with store.connect(ws) as db:
        rows = db.execute(
            "select release, note, written_by, written_at from impact_notes where release = ? order by id",
            (release_id,),
        ).fetchall()
    return [ImpactNote(*r) for r in rows]
