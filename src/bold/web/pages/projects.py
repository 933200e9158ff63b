"""Projects as data sharing agreements: the list, submitting one, and a project's page with the moves the
signed-in person may make on it now (the board decides and closes, the team amends or withdraws, the admin
builds the extract). Every move is the action's, which checks the role table; the stage checks the lifecycle
and separation of duties (a submitter never decides their own project), and its refusal is the page's error."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from bold.actions import audit, projects
from bold.errors import HTTP_STATUSES, BoldError, Invalid
from bold.governance.permissions import Permission
from bold.web import uploads
from bold.web.guard import Caller, needs
from bold.web.render import page
from bold.workspace import Workspace

router = APIRouter()

# What the project page says after a move (a fixed text per move: nothing a link could make it say).
DONE = {
    "submitted": "The agreement is submitted: the governance board will decide on it.",
    "approved": "The project is approved. Once each custodian has signed it off, the admin can build its extract.",
    "dpia": "The DPIA of this version is recorded.",
    "signed-off": "Your sign-off is recorded.",
    "refused": "The project is refused. Its team may amend and resubmit it, or withdraw it.",
    "changes": "The team is asked for changes. When they amend the agreement it comes back to the board.",
    "amended": "The amended agreement is submitted: it goes back to the board for a decision.",
    "withdrawn": "The project is withdrawn.",
    "closed": "The project is closed: its extract and key are deleted.",
}
# The moves that need a page of their own to confirm, and what each confirmation says will happen.
CONFIRM = {
    "close": (
        "Close this project",
        "Closing deletes the project's extract and its key, so its pseudonyms can never be worked out again and "
        "no more studies can be run. Released outputs and the audit chain are kept. This cannot be undone.",
        "I understand that closing deletes the project's extract",
    ),
    "withdraw": (
        "Withdraw this project",
        "Withdrawing ends the project before it is approved: the board will not decide on it, and it cannot be "
        "resubmitted under the same name. This cannot be undone.",
        "I understand that a withdrawn project cannot be resubmitted",
    ),
}


@contextmanager
def agreement_file(ws: Workspace, file: UploadFile | None, text: str) -> Iterator[Path]:
    """The agreement sent (the file uploaded, else the text pasted) in a new upload folder (``web.uploads``),
    removed when the work is done."""
    if file is not None and file.filename:
        source = file.file
    elif text.strip():
        source = io.BytesIO(text.encode())
    else:
        raise Invalid("choose the agreement's file, or paste its text")
    with uploads.received(ws) as folder:
        yield uploads.save(source, folder / "agreement.yaml")


def _said(exc: BoldError, path: Path) -> str:
    """The stage's one line, without the temporary file's name (it names the file it read)."""
    return str(uploads.without_paths(exc, {path: "the agreement sent"})).replace("the agreement sent: ", "")


# --- the list and submitting ------------------------------------------------------------------------------


@router.get("/projects")
def project_list(request: Request, who: Caller = needs(Permission.PROJECT_LIST)):
    found = projects.list_projects(who.ws, who.user)
    board = who.may(Permission.PROJECT_APPROVE)
    waiting = [p for p in found if p.status == "submitted"] if board else []
    others = [p for p in found if p not in waiting]
    others.sort(key=lambda p: p.submitted_at, reverse=True)
    return page(
        request,
        "projects_list.html",
        waiting=waiting,
        others=others,
        board=board,
        may_submit=who.may(Permission.PROJECT_SUBMIT),
        changes_prefix=projects.CHANGES_REQUESTED,
    )


@router.get("/projects/submit")
def submit_form(request: Request, who: Caller = needs(Permission.PROJECT_SUBMIT)):
    return page(request, "projects_submit.html", text="", error=None, project=None)


@router.post("/projects/submit")
def submit(
    request: Request,
    file: UploadFile | None = File(None),
    text: str = Form(""),
    who: Caller = needs(Permission.PROJECT_SUBMIT),
):
    path = None
    try:
        with agreement_file(who.ws, file, text) as path:
            project = projects.submit(who.ws, who.user, path)
    except BoldError as exc:
        message = _said(exc, path) if path else str(exc)
        return page(
            request,
            "projects_submit.html",
            status_code=HTTP_STATUSES[exc.kind],
            text=text,
            error=message,
            project=None,
        )
    return RedirectResponse(f"/projects/{project.id}?done=submitted", status_code=303)


# --- one project ------------------------------------------------------------------------------------------


def _history(p) -> list[tuple[str, str, str]]:
    """(when, who, what) from the project's record, oldest first."""
    events = [(p.submitted_at, p.submitted_by, "submitted")]
    if p.amendments:
        events.append(("", "", f"amended {p.amendments} time{'s' if p.amendments > 1 else ''} (the latest is shown)"))
    if p.decided_at:
        reason = p.decision_reason or ""
        if reason.startswith(projects.CHANGES_REQUESTED):
            what = f"asked for changes: {reason.removeprefix(projects.CHANGES_REQUESTED)}"
        else:
            what = ("approved" if p.approved_at else "refused") + (f": {reason}" if reason else "")
        events.append((p.decided_at, p.decided_by or "", what))
    if p.built_at:
        events.append((p.built_at, "", "extract built"))
    if p.closed_at:
        events.append((p.closed_at, "", p.status.value))
    return events


def _project_page(request: Request, who: Caller, project_id: str, error: str | None = None, status: int = 200):
    p = projects.show(who.ws, who.user, project_id)
    entries = []
    if who.may(Permission.AUDIT_SHOW):
        entries = list(reversed(audit.show(who.ws, who.user, obj=project_id, limit=500)))
    done = DONE.get(request.query_params.get("done", "")) if error is None else None
    reason = p.decision_reason or ""
    return page(
        request,
        "projects_show.html",
        status_code=status,
        p=p,
        versions=[v.summary() for v in projects.versions(who.ws, who.user, project_id)],
        criteria=projects.HUMAN_CRITERIA,
        a=p.agreement,
        moves=projects.moves(who.ws, who.user, project_id),
        history=_history(p),
        entries=entries,
        error=error,
        done=done,
        changes_requested=p.status == "refused" and reason.startswith(projects.CHANGES_REQUESTED),
        submitter=who.user.name == p.submitted_by,
        board=who.may(Permission.PROJECT_APPROVE),
        work=[
            (href, label)
            for href, label, permission, ok in (
                (f"/projects/{p.id}/run", "Run a study", Permission.STUDY_RUN, p.status == "approved"),
                (f"/projects/{p.id}/outputs", "Outputs of this project", Permission.OUTPUTS_LIST, True),
                (f"/projects/{p.id}/releases", "Released outputs of this project", Permission.RELEASES_LIST, True),
            )
            if ok and who.may(permission)
        ],
    )


def _moved(request: Request, who: Caller, project_id: str, move, done: str):
    """Make the move; then the project page, with the stage's refusal as its error if it refused."""
    try:
        move()
    except BoldError as exc:
        return _project_page(request, who, project_id, error=str(exc), status=HTTP_STATUSES[exc.kind])
    return RedirectResponse(f"/projects/{project_id}?done={done}", status_code=303)


@router.get("/projects/{project_id}")
def show(request: Request, project_id: str, who: Caller = needs(Permission.PROJECT_SHOW)):
    return _project_page(request, who, project_id)


@router.post("/projects/{project_id}/approve")
async def approve(request: Request, project_id: str, who: Caller = needs(Permission.PROJECT_APPROVE)):
    """Approve with the board's answer (``answer_ID``: yes or no) and reason (``reason_ID``) on each criterion."""
    form = await request.form()
    items = [
        {"criterion": c, "answer": form.get(f"answer_{c}", ""), "reason": form.get(f"reason_{c}", "")}
        for c in projects.HUMAN_CRITERIA
    ]

    def move():
        return projects.approve(who.ws, who.user, project_id, projects.answers_from(items))

    return _moved(request, who, project_id, move, "approved")


@router.post("/projects/{project_id}/dpia")
def dpia(
    request: Request,
    project_id: str,
    file: UploadFile | None = File(None),
    who: Caller = needs(Permission.PROJECT_DPIA),
):
    def move():
        if file is None or not file.filename:
            raise Invalid("choose the DPIA's file (YAML)")
        with uploads.received(who.ws) as folder:
            path = uploads.save(file.file, folder / "dpia.yaml")
            try:
                projects.record_dpia(who.ws, who.user, project_id, path)
            except BoldError as exc:
                raise uploads.without_paths(exc, {path: "the DPIA sent"}) from None

    return _moved(request, who, project_id, move, "dpia")


@router.post("/projects/{project_id}/sign-off")
def sign_off(
    request: Request,
    project_id: str,
    source: str = Form(""),
    conditions: str = Form(""),
    who: Caller = needs(Permission.PROJECT_SIGN_OFF),
):
    def move():
        return projects.sign_off(who.ws, who.user, project_id, source, conditions)

    return _moved(request, who, project_id, move, "signed-off")


@router.post("/projects/{project_id}/refuse")
def refuse(
    request: Request,
    project_id: str,
    reason: str = Form(""),
    decision: str = Form("refuse"),
    who: Caller = needs(Permission.PROJECT_REFUSE),
):
    """Refuse, or ask for changes (a refusal that says what to amend): both need the reason, for the team."""
    if decision == "changes":
        return _moved(
            request, who, project_id, lambda: projects.ask_for_changes(who.ws, who.user, project_id, reason), "changes"
        )
    return _moved(request, who, project_id, lambda: projects.refuse(who.ws, who.user, project_id, reason), "refused")


@router.get("/projects/{project_id}/amend")
def amend_form(request: Request, project_id: str, who: Caller = needs(Permission.PROJECT_AMEND)):
    p = projects.show(who.ws, who.user, project_id)
    return page(request, "projects_submit.html", text=p.text, error=None, project=p)


@router.post("/projects/{project_id}/amend")
def amend(
    request: Request,
    project_id: str,
    file: UploadFile | None = File(None),
    text: str = Form(""),
    who: Caller = needs(Permission.PROJECT_AMEND),
):
    path = None
    try:
        with agreement_file(who.ws, file, text) as path:
            projects.amend(who.ws, who.user, project_id, path)
    except BoldError as exc:
        p = projects.show(who.ws, who.user, project_id)
        message = _said(exc, path) if path else str(exc)
        status = HTTP_STATUSES[exc.kind]
        return page(request, "projects_submit.html", status_code=status, text=text, error=message, project=p)
    return RedirectResponse(f"/projects/{project_id}?done=amended", status_code=303)


def _confirm_page(request: Request, who: Caller, project_id: str, move: str, error=None, status: int = 200):
    title, warning, statement = CONFIRM[move]
    p = projects.show(who.ws, who.user, project_id)
    return page(
        request,
        "projects_confirm.html",
        status_code=status,
        p=p,
        move=move,
        heading=title,
        warning=warning,
        statement=statement,
        error=error,
    )


@router.get("/projects/{project_id}/close")
def close_form(request: Request, project_id: str, who: Caller = needs(Permission.PROJECT_CLOSE)):
    return _confirm_page(request, who, project_id, "close")


@router.post("/projects/{project_id}/close")
def close(request: Request, project_id: str, confirm: str = Form(""), who: Caller = needs(Permission.PROJECT_CLOSE)):
    if confirm != "yes":
        return _confirm_page(request, who, project_id, "close", "tick the box to confirm: nothing was closed", 422)
    return _moved(request, who, project_id, lambda: projects.close(who.ws, who.user, project_id), "closed")


@router.get("/projects/{project_id}/withdraw")
def withdraw_form(request: Request, project_id: str, who: Caller = needs(Permission.PROJECT_WITHDRAW)):
    return _confirm_page(request, who, project_id, "withdraw")


@router.post("/projects/{project_id}/withdraw")
def withdraw(
    request: Request, project_id: str, confirm: str = Form(""), who: Caller = needs(Permission.PROJECT_WITHDRAW)
):
    if confirm != "yes":
        return _confirm_page(
            request, who, project_id, "withdraw", "tick the box to confirm: nothing was withdrawn", 422
        )
    return _moved(request, who, project_id, lambda: projects.withdraw(who.ws, who.user, project_id), "withdrawn")


@router.post("/projects/{project_id}/build")
def build(request: Request, project_id: str, who: Caller = needs(Permission.PROJECT_BUILD)):
    """The extract is built in the background; the job's page links back to the project when it is done."""
    p = projects.show(who.ws, who.user, project_id)  # a project that does not exist: 404 now, not a failed job
    ws, user = who.ws, who.user

    def work(progress):
        progress("building the extract: the agreed fields of every linked record, under this project's pseudonyms")
        return projects.build(ws, user, p.id)

    job = request.app.state.jobs.start(
        user.name, f"Build the extract of {p.id}", work, lambda _: (f"/projects/{p.id}", f"Back to project {p.id}")
    )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
