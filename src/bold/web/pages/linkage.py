"""The linker's pages: the latest linkage runs, starting a run (a background job), and the quality report.

The quality report is the self-contained HTML file BOLD writes (``bold link report``), served as it is under
the report CSP (``REPORT_HEADERS``: its inline styles may apply, nothing may run). Governance reads it too.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bold.actions import linkage
from bold.errors import BoldError, Kind
from bold.governance.permissions import Permission
from bold.web.guard import Caller, needs
from bold.web.render import page
from bold.web.security import REPORT_HEADERS

router = APIRouter()


@router.get("/linkage")
def runs(request: Request, who: Caller = needs(Permission.LINK)):
    return page(
        request, "linkage_runs.html", runs=linkage.runs(who.ws, who.user), reports=who.may(Permission.LINK_REPORT)
    )


@router.post("/linkage/runs")
def start(
    request: Request,
    retrain: bool = Form(False),
    encoded: bool = Form(False),
    incremental: bool = Form(False),
    who: Caller = needs(Permission.LINK),
):
    ws, user = who.ws, who.user

    def outcome(run):
        scored = f" ({run.rescored:,} new or changed scored)" if run.incremental else ""
        text = f"Run {run.run_id}: {run.records:,} records linked{scored}; see its quality report"
        return f"/linkage/report?run={run.run_id}", text

    title = ", training the model again" if retrain else ", scoring only what changed" if incremental else ""
    job = request.app.state.jobs.start(
        user.name,
        "Link the workspace" + title,
        lambda progress: linkage.link(
            ws, user, retrain=retrain, encoded=encoded, incremental=incremental, progress=progress
        ),
        outcome,
    )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/linkage/report")
def report(request: Request, run: int | None = None, who: Caller = needs(Permission.LINK_REPORT)):
    """Built afresh from the run (the latest unless ``run`` is given), then served as BOLD wrote it."""
    try:
        path = linkage.report(who.ws, who.user, run=run)
    except BoldError as exc:
        if exc.kind != Kind.CONFLICT:  # no run yet: say so in the site's own words, with the way on
            raise
        return page(request, "linkage_no_report.html", may_link=who.may(Permission.LINK))  # not an error: no run yet
    return HTMLResponse(path.read_text(encoding="utf-8"), headers=REPORT_HEADERS)
