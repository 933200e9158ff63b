"""The output checkers' pages: the review queue, a release request with its votes, the decision and the releases,
and one output laid out for review (its tables with the disclosure check's flags beside them, its charts, the
study it answers) with the vote form.

Every rule that depends on the record stays in the stage: who may read an output (a checker the agreement names,
never the person who ran it), whose votes a checker may see (the other's only after casting their own), when a
request may be decided or an output released. These pages show what the actions return, and offer only the
moves the signed-in person may make.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from bold.actions import outputs
from bold.disclosure.release import Request as ReleaseRequest
from bold.disclosure.release import Vote
from bold.errors import BoldError, Kind, NotFound
from bold.governance.lifecycle import OutputState
from bold.governance.permissions import Permission
from bold.security.paths import PathError
from bold.web.guard import Caller, needs
from bold.web.render import page

router = APIRouter()

VOTE_CHOICES = (
    ("approve", "Approve: every cell is safe to release"),
    ("changes_requested", "Changes requested: the analyst should change it and send it again"),
    ("reject", "Reject: it must not be released"),
)
VOTE_WORDS = {"approve": "approve", "changes_requested": "changes requested", "reject": "reject"}
OUTCOME_WORDS = {
    "fail": "suppressed",
    "secondary": "suppressed to protect another cell",
    "review": "for your judgement",
}
QUEUE_SECTIONS = (
    ("you", "Waiting for your vote", "Nothing is waiting for your vote."),
    ("others", "Waiting for the other checker or a decision", "Nothing is waiting for the other checker."),
    ("nobody", "Decided", "No request has been decided yet."),
)


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe="") for p in parts)


def _found(call):
    """An id that cannot be a name (``../x``) names nothing: said as not found, never as a bad request."""
    try:
        return call()
    except PathError as exc:
        raise NotFound("there is no such request or output") from exc


# --- the queue ------------------------------------------------------------------------------------------


@router.get("/review")
def queue(request: Request, who: Caller = needs(Permission.OUTPUTS_REVIEW)):
    found = outputs.review_queue(who.ws, who.user)
    return page(request, "review_queue.html", queue=found, sections=QUEUE_SECTIONS, path=_path)


# --- a release request ----------------------------------------------------------------------------------


@dataclass
class OutputVotes:
    """One output of a request as the viewer may see it: their own vote on its current version, the others'."""

    output: str
    version: int
    status: OutputState
    mine: Vote | None
    others: list[Vote]
    earlier: list[Vote] = field(default_factory=list)  # votes on versions before a resubmission
    release: str | None = None


def _by_output(req: ReleaseRequest, viewer: str, released: dict[str, str]) -> list[OutputVotes]:
    shown = []
    for item in req.outputs:
        current = [v for v in req.votes if v.output == item.output and v.version == item.version]
        shown.append(
            OutputVotes(
                output=item.output,
                version=item.version,
                status=item.status,
                mine=next((v for v in current if v.checker == viewer), None),
                others=[v for v in current if v.checker != viewer],
                earlier=[v for v in req.votes if v.output == item.output and v.version < item.version],
                release=released.get(item.output),
            )
        )
    return shown


def _decidable(items: list[OutputVotes]) -> bool:
    """Every output under review has two checkers' votes on its current version that this viewer can see
    (they see the other's only once they have voted, so the button never hints at a vote they cannot see)."""
    open_items = [i for i in items if i.status == OutputState.REQUESTED]
    return bool(open_items) and all(
        len({v.checker for v in [*i.others, *([i.mine] if i.mine else [])]}) >= 2 for i in open_items
    )


@router.get("/projects/{project_id}/requests/{request_id}")
def request_page(request: Request, project_id: str, request_id: str, who: Caller = needs(Permission.OUTPUTS_LIST)):
    return _request_page(request, who, project_id, request_id)


def _request_page(request: Request, who: Caller, project_id: str, request_id: str):
    req = _found(lambda: outputs.show_request(who.ws, who.user, project_id, request_id))
    checker = who.user.name != req.requested_by
    released = {}
    if who.may(Permission.RELEASES_LIST):
        released = {r.output: r.id for r in outputs.list_releases(who.ws, who.user, project_id) if r.request == req.id}
    items = _by_output(req, who.user.name, released)
    return page(
        request,
        "review_request.html",
        req=req,
        items=items,
        may_vote=checker and who.may(Permission.OUTPUTS_REVIEW),
        may_decide=checker and who.may(Permission.OUTPUTS_DECIDE) and _decidable(items),
        may_release=checker and who.may(Permission.OUTPUTS_RELEASE),
        vote_words=VOTE_WORDS,
        path=_path,
    )


@router.post("/projects/{project_id}/requests/{request_id}/decide")
def decide(request: Request, project_id: str, request_id: str, who: Caller = needs(Permission.OUTPUTS_DECIDE)):
    _found(lambda: outputs.decide(who.ws, who.user, project_id, request_id))
    return RedirectResponse(_path("projects", project_id, "requests", request_id), status_code=303)


@router.post("/projects/{project_id}/outputs/{output_id}/release")
def release(request: Request, project_id: str, output_id: str, who: Caller = needs(Permission.OUTPUTS_RELEASE)):
    made = _found(lambda: outputs.release_output(who.ws, who.user, project_id, output_id))
    return RedirectResponse(_path("projects", project_id, "requests", made.request), status_code=303)


# --- one output, for review -----------------------------------------------------------------------------


@dataclass
class Cell:
    text: str
    numeric: bool
    mark: str | None = None  # "suppressed", "rounded" (changed before publication) or "review"
    note: str = ""


@dataclass
class TableReview:
    name: str
    columns: list[str]
    rows: list[list[Cell]]
    flags: list[dict]
    reference: bool = False  # a reference table (published as it is: no counts of people to protect)


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{int(value):,}" if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _row_label(raw: pd.DataFrame, row: int | None) -> str:
    """How a flagged row is named beside its table: its number and its labels (the non-numeric cells)."""
    if row is None:
        return "every row"
    if not 0 <= row < len(raw):
        return f"row {row + 1}"
    labels = [f"{c} {raw.iloc[row][c]}" for c in raw.columns if not pd.api.types.is_numeric_dtype(raw[c])]
    return f"row {row + 1}" + (f" ({', '.join(map(str, labels))})" if labels else "")


def _table_review(name: str, raw: pd.DataFrame, published: pd.DataFrame | None, report: dict) -> TableReview:
    """The table as the study made it, each cell the check changed marked, with the check's flags for it."""
    intervals = {(i["table"], i["row"], i["column"]): i for i in report.get("intervals", [])}
    flags = []
    flagged: dict[tuple[int, str], str] = {}
    for f in report.get("flags", []):
        if f.get("table") != name:
            continue
        interval = intervals.get((name, f.get("row"), f.get("column")))
        flags.append(
            {
                **f,
                "where": _row_label(raw, f.get("row")),
                "outcome_words": OUTCOME_WORDS.get(f.get("outcome"), f.get("outcome")),
                "interval": interval,
            }
        )
        if f.get("row") is not None:
            flagged[(f["row"], f["column"])] = flagged.get((f["row"], f["column"]), "review")
            if f.get("outcome") in ("fail", "secondary"):
                flagged[(f["row"], f["column"])] = "suppressed"
    for d in report.get("differencing", []):
        if d.get("table") == name:
            flags.append(
                {
                    "table": name,
                    "row": d.get("row"),
                    "column": d.get("column"),
                    "rule": "differencing",
                    "outcome": "review",
                    "outcome_words": OUTCOME_WORDS["review"],
                    "where": _row_label(raw, d.get("row")),
                    "reason": (
                        f"compared with {d.get('other_output')} ({d.get('other_table')}, row "
                        f"{(d.get('other_row') or 0) + 1}, {d.get('other_column')}), the two groups differ by "
                        f"{d.get('differ_by')} people"
                    ),
                    "interval": None,
                }
            )
            flagged.setdefault((d["row"], d["column"]), "review")
    rows = []
    for r in range(len(raw)):
        cells = []
        for column in raw.columns:
            value = raw.iloc[r][column]
            number = _number(value)
            cell = Cell(_text(value), number is not None)
            if published is not None and str(column) in published.columns and r < len(published):
                out = _number(published.iloc[r][str(column)])
                if number is not None and out is None:
                    cell.mark, cell.note = "suppressed", "suppressed"
                elif number is not None and not math.isclose(number, out, rel_tol=1e-9, abs_tol=1e-12):
                    cell.mark, cell.note = "rounded", f"published as {_text(out)}"
            if cell.mark is None and (r, str(column)) in flagged:
                cell.mark = flagged[(r, str(column))]
                cell.note = "suppressed" if cell.mark == "suppressed" else "flagged"
            cells.append(cell)
        rows.append(cells)
    return TableReview(name, [str(c) for c in raw.columns], rows, flags)


def _output_page(request: Request, who: Caller, project_id: str, output_id: str, status_code: int = 200, **form):
    view = _found(lambda: outputs.show(who.ws, who.user, project_id, output_id))
    report = outputs.report(who.ws, who.user, project_id, output_id)
    manifest = view.manifest
    tables = []
    for name in manifest["tables"]:
        try:
            published = pd.read_csv(
                io.BytesIO(outputs.checked_file(who.ws, who.user, project_id, output_id, f"{name}.csv"))
            )
        except BoldError as exc:
            if exc.kind != Kind.NOT_FOUND:
                raise
            published = None  # a table the check did not write: every flag still stands beside it
        tables.append(_table_review(name, view.tables[name], published, report))
    for name in manifest.get("reference", {}):
        found = _table_review(name, view.tables[name], None, report)
        found.reference = True
        tables.append(found)
    general = [
        {**f, "outcome_words": OUTCOME_WORDS.get(f.get("outcome"), f.get("outcome"))}
        for f in report.get("flags", [])
        if f.get("table") not in manifest["tables"] and f.get("table") not in manifest.get("reference", {})
    ]
    request_id = outputs.request_of(who.ws, who.user, project_id, output_id)
    req = outputs.show_request(who.ws, who.user, project_id, request_id) if request_id else None
    item = next((o for o in req.outputs if o.output == output_id), None) if req else None
    current = [v for v in req.votes if v.output == output_id and v.version == item.version] if item else []
    mine = next((v for v in current if v.checker == who.user.name), None)
    return page(
        request,
        "review_output.html",
        status_code=status_code,
        view=view,
        output=view.output,
        m=manifest,
        report=report,
        tables=tables,
        general=general,
        charts=[c for c in manifest.get("charts", []) if c not in _withheld(report, manifest)],
        withheld=_withheld(report, manifest),
        req=req,
        item=item,
        mine=mine,
        others=[v for v in current if v.checker != who.user.name],
        hidden=req.hidden_votes if req else 0,
        may_vote=item is not None and item.status == OutputState.REQUESTED and mine is None,
        vote_choices=VOTE_CHOICES,
        vote_words=VOTE_WORDS,
        outcome_words=OUTCOME_WORDS,
        path=_path,
        **{"error": None, "vote": "", "comment": "", **form},
    )


def _withheld(report: dict, manifest: dict) -> list[str]:
    """The charts the check did not redraw (their data cannot be traced to one checked table; flagged)."""
    reasons = [f.get("reason", "") for f in report.get("flags", []) if f.get("rule") == "chart"]
    return [c for c in manifest.get("charts", []) if any(r.startswith(f"chart {c} ") for r in reasons)]


@router.get("/projects/{project_id}/outputs/{output_id}/review")
def output_page(request: Request, project_id: str, output_id: str, who: Caller = needs(Permission.OUTPUTS_SHOW)):
    return _output_page(request, who, project_id, output_id)


@router.post("/projects/{project_id}/outputs/{output_id}/review")
def vote(
    request: Request,
    project_id: str,
    output_id: str,
    vote: str = Form(""),
    comment: str = Form(""),
    who: Caller = needs(Permission.OUTPUTS_REVIEW),
):
    """A vote; refused by the stage (no comment, a second vote, not a checker of it) the form is shown again
    with the stage's message."""
    try:
        _found(lambda: outputs.review(who.ws, who.user, project_id, output_id, vote, comment))
    except BoldError as exc:
        if exc.kind in (Kind.NOT_FOUND, Kind.REFUSED):
            raise
        status = 409 if exc.kind == Kind.CONFLICT else 422
        return _output_page(request, who, project_id, output_id, status, error=str(exc), vote=vote, comment=comment)
    return RedirectResponse(_path("projects", project_id, "outputs", output_id, "review"), status_code=303)


@router.get("/projects/{project_id}/outputs/{output_id}/charts/{name}.svg")
def chart(project_id: str, output_id: str, name: str, who: Caller = needs(Permission.OUTPUTS_SHOW)):
    """A chart as the check redrew it from its protected table, for an ``<img>`` (never inline: the CSP)."""
    data = _found(lambda: outputs.checked_file(who.ws, who.user, project_id, output_id, f"{name}.svg"))
    return Response(data, media_type="image/svg+xml", headers={"cache-control": "no-store"})
