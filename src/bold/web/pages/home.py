"""The signed-in home page, and the background work a person started."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from bold.actions import workspace as workspace_actions
from bold.governance.permissions import Permission
from bold.web.guard import Caller, signed_in
from bold.web.render import page

router = APIRouter()


@router.get("/home")
def home(request: Request, who: Caller = Depends(signed_in)):
    status = workspace_actions.status(who.ws, who.user) if who.may(Permission.STATUS) else None
    return page(request, "home.html", status=status)


@router.get("/jobs")
def jobs(request: Request, who: Caller = Depends(signed_in)):
    return page(request, "jobs.html", jobs=request.app.state.jobs.of(who.user.name))


@router.get("/jobs/{job_id}")
def job(request: Request, job_id: str, who: Caller = Depends(signed_in)):
    return page(request, "job.html", job=request.app.state.jobs.get(job_id, who.user.name))


@router.get("/jobs/{job_id}/status")
def job_status(request: Request, job_id: str, who: Caller = Depends(signed_in)):
    """The fragment the job page polls (htmx) until the job has finished."""
    return page(request, "job_status.html", job=request.app.state.jobs.get(job_id, who.user.name))
