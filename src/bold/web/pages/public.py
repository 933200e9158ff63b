"""What anyone may read without signing in: the transparency register with every released output, what the
platform will and won't do, opting out, and the data it can hold."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from bold.actions import register
from bold.web.guard import caller, workspace
from bold.web.render import page

router = APIRouter()


@router.get("/")
def index(request: Request):
    return RedirectResponse("/home" if caller(request).session else "/register", status_code=303)


@router.get("/register")
def register_page(request: Request, ws=Depends(workspace)):
    return page(request, "register.html", r=register.public_register(ws))


@router.get("/register.json")
def register_json(ws=Depends(workspace)):
    return JSONResponse(register.public_register(ws))


@router.get("/register/{project_id}")
def project_page(request: Request, project_id: str, ws=Depends(workspace)):
    entry, sections, left_out = register.public_project(ws, project_id)
    return page(request, "register_project.html", p=entry, sections=sections, left_out=left_out)


@router.get("/register/{project_id}/releases/{release_id}/{name}")
def released_file(project_id: str, release_id: str, name: str, ws=Depends(workspace)):
    path = register.public_release_file(ws, project_id, release_id, name)
    media = "image/svg+xml" if name.endswith(".svg") else "text/csv" if name.endswith(".csv") else None
    return FileResponse(path, media_type=media, filename=name if media != "image/svg+xml" else None)


@router.get("/promises")
def promises(request: Request):
    will, wont = register.promises()
    return page(request, "promises.html", will=will, wont=wont)


@router.get("/opt-out")
def opt_out(request: Request):
    return page(request, "opt_out.html", counts=None)


@router.get("/data")
def data(request: Request, ws=Depends(workspace)):
    return page(request, "data.html", data_held=register.data_held(ws))
