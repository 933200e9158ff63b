"""The analyst's pages: the question library, running studies on a project, the project's outputs and their
disclosure check reports, asking for release, and the releases with their files.

Each route calls actions only; the rules that depend on the record (only the analysts an agreement names run
its studies; only the analyst who ran an output or the agreement's checkers read its report; only the team
reads a release) are the stages', and their one-line refusals reach the page or the job as they are.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from bold.actions import outputs, projects, studies
from bold.errors import HTTP_STATUSES, BoldError, NotFound
from bold.governance.lifecycle import OutputState
from bold.governance.permissions import Permission
from bold.web.guard import Caller, needs
from bold.web.render import page
from bold.web.security import REPORT_HEADERS

router = APIRouter()

PARAM = "param_"  # the form field of a study parameter is PARAM + its name


# --- the question library --------------------------------------------------------------------------------


def _study(who: Caller, study_id: str):
    """A built-in study by id; never a study file (a path on the server is not for a web form to name)."""
    found = next((s for s in studies.list_studies(who.ws, who.user) if s.id == study_id), None)
    if found is None:
        raise NotFound(f"there is no study {study_id!r} in the question library")
    return found


def parameter_kind(name: str, default: Any) -> str:
    """How a parameter is asked for: yes/no, a whole number, a number, a date or text (from its default)."""
    if isinstance(default, bool):
        return "yes/no"
    if isinstance(default, int):
        return "whole number"
    if isinstance(default, float):
        return "number"
    if name in ("start", "end") or name.endswith(("_start", "_date")):
        return "date"
    return "text"


def _parameters(study) -> list[dict]:
    return [
        {
            "name": name,
            "label": name.replace("_", " ").capitalize(),
            "kind": parameter_kind(name, default),
            "default": default,
            "required": name in study.required,
        }
        for name, default in study.parameters.items()
    ]


@router.get("/studies")
def study_list(request: Request, who: Caller = needs(Permission.STUDY_LIST)):
    found = studies.list_studies(who.ws, who.user)
    return page(request, "analyst_studies.html", studies=[(s, _parameters(s)) for s in found])


@router.get("/studies/{study_id}")
def study_page(request: Request, study_id: str, who: Caller = needs(Permission.STUDY_LIST)):
    study = _study(who, study_id)
    return page(request, "analyst_study.html", study=study, parameters=_parameters(study))


# --- running a study --------------------------------------------------------------------------------------


def read_parameters(study, form) -> tuple[dict[str, Any], list[str]]:
    """The parameter values a form sent, typed as their defaults are; and one plain message per bad value.
    A field left empty keeps the study's default (a required one has none: it must be filled in)."""
    values, problems = {}, []
    for p in _parameters(study):
        raw = str(form.get(PARAM + p["name"], "")).strip()
        label = p["label"]
        if not raw:
            if p["required"]:
                problems.append(f"{label}: this study needs a value")
            continue
        kind = p["kind"]
        try:
            if kind == "yes/no":
                if raw.lower() not in ("yes", "no", "true", "false"):
                    raise ValueError
                values[p["name"]] = raw.lower() in ("yes", "true")
            elif kind == "whole number":
                values[p["name"]] = int(raw)
                if p["name"].endswith(("_days", "_years")) and values[p["name"]] < 0:
                    problems.append(f"{label}: a number of days or years cannot be negative (got {raw})")
            elif kind == "number":
                values[p["name"]] = float(raw)
                if not math.isfinite(values[p["name"]]):
                    raise ValueError
            elif kind == "date":
                values[p["name"]] = dt.date.fromisoformat(raw).isoformat()
            else:  # as the command line reads --param: numbers as numbers, anything else as text
                loaded = yaml.safe_load(raw)
                values[p["name"]] = loaded if isinstance(loaded, int | float) and not isinstance(loaded, bool) else raw
        except (ValueError, yaml.YAMLError):
            expected = {"yes/no": "yes or no", "date": "a date such as 2024-04-01"}.get(kind, f"a {kind}")
            problems.append(f"{label}: expected {expected}, not {raw[:40]!r}")
    return values, problems


def _run_page(request: Request, who: Caller, project_id: str, study_id: str | None, **extra):
    project = projects.show(who.ws, who.user, project_id)
    plan = studies.plan_all(who.ws, who.user, project_id)
    allowed = [*plan.runs, *plan.need_parameters]
    catalogue = {s.id: s for s in studies.list_studies(who.ws, who.user)}
    allowed = [s for s in catalogue if s in allowed]  # in the library's order
    chosen = catalogue.get(study_id) if study_id in allowed else None
    if study_id and chosen is None:
        extra.setdefault(
            "error",
            f"{study_id} is not a study this agreement allows"
            if study_id in catalogue
            else f"there is no study {study_id!r} in the question library",
        )
    return page(
        request,
        "analyst_run.html",
        status_code=extra.pop("status_code", 200),
        project=project,
        plan=plan,
        allowed=[(s, catalogue[s].title) for s in allowed],
        titles={s: catalogue[s].title for s in catalogue},
        study=chosen,
        parameters=_parameters(chosen) if chosen else [],
        values=extra.pop("values", {}),
        error=extra.pop("error", None),
        **extra,
    )


@router.get("/projects/{project_id}/run")
def run_form(request: Request, project_id: str, study: str | None = None, who: Caller = needs(Permission.STUDY_RUN)):
    return _run_page(request, who, project_id, study or None)


@router.post("/projects/{project_id}/run")
async def run_study(request: Request, project_id: str, who: Caller = needs(Permission.STUDY_RUN)):
    """Start a study run as a job; a bad parameter value is said on the form, before anything runs."""
    form = await request.form()
    study_id = str(form.get("study", ""))
    study = _study(who, study_id)
    values, problems = read_parameters(study, form)
    if problems:
        sent = {k.removeprefix(PARAM): str(v) for k, v in form.items() if k.startswith(PARAM)}
        return _run_page(request, who, project_id, study_id, error="; ".join(problems), values=sent, status_code=422)
    ws, user = who.ws, who.user

    def outcome(output):
        return (
            f"/projects/{project_id}/outputs/{output.id}/report",
            f"Read the disclosure check report of {output.id} ({output.check_outcome or 'not checked'})",
        )

    def work(progress):
        progress(f"running {study.id} on the extract of {project_id}")
        return studies.run(ws, user, project_id, study.id, parameters=values)

    job = request.app.state.jobs.start(user.name, f"Run {study.title} on {project_id}", work, outcome)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/projects/{project_id}/run-all")
def run_all(request: Request, project_id: str, who: Caller = needs(Permission.STUDY_RUN)):
    """Every study the agreement allows that needs no parameter, one after another, as one job."""
    ws, user = who.ws, who.user

    def work(progress):
        return list(studies.run_all(ws, user, project_id, started=lambda s: progress(f"running {s}")))

    def outcome(runs):
        """The link to the new outputs, and each failed study with its reason (the others ran all the same)."""
        made = sum(not r.failed for r in runs)
        failed = [f"{r.study}: {r.error}" for r in runs if r.failed]
        return f"/projects/{project_id}/outputs", f"See the {made} new outputs of {project_id}", failed

    job = request.app.state.jobs.start(user.name, f"Run every study on {project_id}", work, outcome)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


# --- outputs ------------------------------------------------------------------------------------------------


def _outputs_page(request: Request, who: Caller, project_id: str, status_code: int = 200, **extra):
    project = projects.show(who.ws, who.user, project_id)
    found = outputs.list_outputs(who.ws, who.user, project_id)
    requests = outputs.list_requests(who.ws, who.user, project_id)
    me = who.user.name
    analyst = me in project.team("analyst")
    checker = me in project.team("output_checker")
    request_of = {item.output: r for r in requests for item in r.outputs}
    rows = []
    for o in found:
        mine = analyst and o.created_by == me
        rows.append(
            {
                "output": o,
                "report": who.may(Permission.OUTPUTS_REPORT) and (o.created_by == me or checker),
                "request": request_of.get(o.id),
                "requestable": mine
                and who.may(Permission.OUTPUTS_REQUEST)
                and o.status == OutputState.PENDING
                and bool(o.check_sha256),
                "withdrawable": mine
                and who.may(Permission.OUTPUTS_WITHDRAW)
                and o.status in (OutputState.PENDING, OutputState.RETURNED),
            }
        )
    returned = [
        r
        for r in requests
        if r.requested_by == me
        and who.may(Permission.OUTPUTS_REQUEST)
        and any(i.status == OutputState.RETURNED for i in r.outputs)
    ]
    return page(
        request,
        "analyst_outputs.html",
        status_code=status_code,
        project=project,
        rows=rows,
        returned=returned,
        can_run=who.may(Permission.STUDY_RUN) and analyst,
        done=extra.pop("done", None),
        error=extra.pop("error", None),
        sent=extra.pop("sent", {}),
    )


def _or_error(request: Request, who: Caller, project_id: str, move, done: str, sent: dict | None = None):
    """Make a move, then show the outputs page again: with what was done, or with why it was not."""
    try:
        result = move()
    except BoldError as exc:
        status = HTTP_STATUSES[exc.kind]
        return _outputs_page(request, who, project_id, status_code=status, error=str(exc), sent=sent or {})
    return _outputs_page(request, who, project_id, done=done.format(result=result))


@router.get("/projects/{project_id}/outputs")
def outputs_page(request: Request, project_id: str, who: Caller = needs(Permission.OUTPUTS_LIST)):
    return _outputs_page(request, who, project_id)


@router.post("/projects/{project_id}/outputs/request")
def request_release(
    request: Request,
    project_id: str,
    output: list[str] = Form([]),
    context: str = Form(""),
    controls: str = Form(""),
    summary: str = Form(""),
    who: Caller = needs(Permission.OUTPUTS_REQUEST),
):
    sent = {"output": output, "context": context, "controls": controls, "summary": summary}
    if not output or not context.strip() or not controls.strip():
        missing = [
            what
            for what, value in (
                ("choose at least one output", output),
                ("say what the outputs are for and who will see them", context.strip()),
                ("say which controls you applied", controls.strip()),
            )
            if not value
        ]
        message = "To ask for release, " + "; ".join(missing) + "."
        return _outputs_page(request, who, project_id, status_code=422, error=message, sent=sent)
    return _or_error(
        request,
        who,
        project_id,
        lambda: outputs.request(who.ws, who.user, project_id, output, context, controls, summary),
        "Request {result.id} is sent: two output checkers will review it.",
        sent,
    )


@router.post("/projects/{project_id}/requests/{request_id}/resubmit")
def resubmit(
    request: Request,
    project_id: str,
    request_id: str,
    context: str = Form(""),
    who: Caller = needs(Permission.OUTPUTS_REQUEST),
):
    return _or_error(
        request,
        who,
        project_id,
        lambda: outputs.resubmit(who.ws, who.user, project_id, request_id, context.strip() or None),
        "Request {result.id} is sent back for review (round {result.round}).",
    )


@router.post("/projects/{project_id}/outputs/{output_id}/withdraw")
def withdraw(request: Request, project_id: str, output_id: str, who: Caller = needs(Permission.OUTPUTS_WITHDRAW)):
    return _or_error(
        request,
        who,
        project_id,
        lambda: outputs.withdraw(who.ws, who.user, project_id, output_id),
        f"Output {output_id} is withdrawn: it will not be released.",
    )


@router.get("/projects/{project_id}/outputs/{output_id}/report")
def report(request: Request, project_id: str, output_id: str, who: Caller = needs(Permission.OUTPUTS_REPORT)):
    """The disclosure check report: which rule flagged which cell and why, never a value the check hid."""
    found = outputs.report(who.ws, who.user, project_id, output_id)
    output = next(o for o in outputs.list_outputs(who.ws, who.user, project_id) if o.id == output_id)  # it exists
    by_table: dict[str, list[dict]] = {}
    for flag in sorted(
        found.get("flags", []), key=lambda f: (f.get("row") is not None, f.get("row") or 0, f["column"] or "")
    ):
        by_table.setdefault(flag.get("table") or "the output as a whole", []).append(flag)
    summary = next(
        (r for r in outputs.list_requests(who.ws, who.user, project_id) if output_id in {i.output for i in r.outputs}),
        None,
    )
    shown = outputs.show_request(who.ws, who.user, project_id, summary.id) if summary else None  # audited
    return page(
        request,
        "analyst_report.html",
        project_id=project_id,
        output=output,
        r=found,
        by_table=by_table,
        req=shown,
    )


# --- releases -----------------------------------------------------------------------------------------------


def _releases_page(request: Request, who: Caller, project_id: str, error: str | None = None, status: int = 200):
    project = projects.show(who.ws, who.user, project_id)
    found = outputs.list_releases(who.ws, who.user, project_id)
    return page(
        request,
        "analyst_releases.html",
        status_code=status,
        project=project,
        releases=sorted(found, key=lambda r: (r.released_at, r.id), reverse=True),
        can_open=who.may(Permission.RELEASES_SHOW),
        may_note=who.may(Permission.RELEASES_IMPACT),
        done=error is None and request.query_params.get("done") == "impact",
        error=error,
    )


@router.get("/projects/{project_id}/releases")
def releases(request: Request, project_id: str, who: Caller = needs(Permission.RELEASES_LIST)):
    return _releases_page(request, who, project_id)


@router.post("/projects/{project_id}/releases/impact")
def impact_note(
    request: Request,
    project_id: str,
    release_id: str = Form("", alias="release"),
    note: str = Form(""),
    who: Caller = needs(Permission.RELEASES_IMPACT),
):
    """Governance's note of what a release changed (published on the register)."""
    try:
        outputs.add_impact_note(who.ws, who.user, project_id, release_id, note)
    except BoldError as exc:
        return _releases_page(request, who, project_id, error=str(exc), status=HTTP_STATUSES[exc.kind])
    return RedirectResponse(f"/projects/{project_id}/releases?done=impact", status_code=303)


@router.get("/projects/{project_id}/releases/{release_id}")
def release_page(request: Request, project_id: str, release_id: str, who: Caller = needs(Permission.RELEASES_SHOW)):
    view = outputs.release_view(who.ws, who.user, project_id, release_id)
    return page(request, "analyst_release.html", project_id=project_id, v=view)


@router.get("/projects/{project_id}/releases/{release_id}/files/{name}")
def release_file(
    project_id: str, release_id: str, name: str, download: bool = False, who: Caller = needs(Permission.RELEASES_SHOW)
):
    """One released file, after its checksum is verified (audited): a chart is shown as an image (its own
    inline styles allowed, nothing else); anything else, or a chart asked for with ``?download=1``, is
    downloaded."""
    data = outputs.release_file(who.ws, who.user, project_id, release_id, name)
    svg = name.endswith(".svg")
    media = {".svg": "image/svg+xml", ".csv": "text/csv", ".json": "application/json", ".html": "text/html"}.get(
        name[name.rfind(".") :], "text/plain"
    )
    headers = dict(REPORT_HEADERS)  # sandboxed whatever it is: nothing in a released file may run
    if download or not svg:
        headers["content-disposition"] = f'attachment; filename="{name}"'
    return Response(data, media_type=media, headers=headers)
