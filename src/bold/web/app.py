"""The web application: ``create_app(workspace)`` gives the FastAPI app ``bold serve`` runs.

Every page and API route calls the same actions as the command line, with the person signed in by
``bold.web.guard``. Errors are mapped once, here: a ``BoldError`` to its kind's HTTP status
(``bold.errors.HTTP_STATUSES``) with its one-line message; anything else to 500 with "internal error", the
traceback only in the server's log.
"""

from __future__ import annotations

import logging
import secrets
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from bold import __version__, html
from bold.actions.workspace import open_workspace
from bold.errors import HTTP_STATUSES, BoldError
from bold.web import api, uploads
from bold.web.guard import CsrfRefused, SignInNeeded, csrf_checked, sign_in_url
from bold.web.jobs import Jobs
from bold.web.pages import account, analyst, audit, custodian, home, linkage, people, projects, public, review
from bold.web.render import page
from bold.web.security import SecurityHeaders, SizeLimit

log = logging.getLogger("bold.web")

MAX_UPLOAD_MB = 512  # an extract of a few hundred thousand rows is tens of MB; the limit refuses what is not one
ROUTERS = (
    public.router,
    account.router,
    home.router,
    custodian.router,
    linkage.router,
    projects.router,
    audit.router,
    people.router,
    review.router,
    analyst.router,
    api.router,
)


def create_app(root: Path, *, max_upload_mb: int = MAX_UPLOAD_MB) -> FastAPI:
    ws = open_workspace(Path(root))
    uploads.sweep(ws)  # what a server killed mid-upload left

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        app.state.jobs.shutdown()

    app = FastAPI(
        title="BOLD",
        version=__version__,
        summary="Better Outcomes through Linked Data: the JSON API over the same actions as the web pages and CLI",
        dependencies=[Depends(csrf_checked)],
        lifespan=lifespan,
        docs_url=None,  # /api/docs is bold.web.api.docs: the same document, without a script from a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.ws = ws
    app.state.secret = secrets.token_bytes(32)  # binds signed-out CSRF tokens to their browser; new each start
    app.state.jobs = Jobs()
    app.state.max_upload = max_upload_mb * 1_000_000

    @app.get("/static/style.css", include_in_schema=False)
    def stylesheet():
        """The one stylesheet, from the shared template tree (reports carry the same rules inline)."""
        return Response(html.stylesheet(), media_type="text/css")

    app.mount("/static", StaticFiles(directory=str(resources.files("bold.web").joinpath("static"))), name="static")
    for router in ROUTERS:
        app.include_router(router)
    _errors(app)

    app.add_middleware(SizeLimit, limit=app.state.max_upload)
    app.add_middleware(SecurityHeaders)
    return app


def _api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, title: str, message: str):
    if _api(request):
        return JSONResponse({"error": message, "status": status}, status_code=status)
    return page(request, "error.html", status_code=status, title=title, message=message, back=None)


TITLES = {
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    409: "Not possible now",
    422: "Check what you sent",
}


def _errors(app: FastAPI) -> None:
    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, exc: SignInNeeded):
        if _api(request):
            return JSONResponse(
                {"error": "sign in first: POST /api/token", "status": 401},
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
        if request.method == "GET":
            return RedirectResponse(sign_in_url(request), status_code=303)
        return _error(request, 403, TITLES[403], "your session has ended: sign in again")

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused):
        return _error(request, 403, TITLES[403], str(exc))

    @app.exception_handler(BoldError)
    async def bold_error(request: Request, exc: BoldError):
        status = HTTP_STATUSES[exc.kind]
        return _error(request, status, TITLES.get(status, "Error"), str(exc))

    @app.exception_handler(OSError)
    async def os_error(request: Request, exc: OSError):
        status = 403 if isinstance(exc, PermissionError) else 422
        where = f"{Path(exc.filename).name}: " if exc.filename else ""
        return _error(request, status, TITLES[status], f"{where}{exc.strerror or exc}")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors())
        return _error(request, 422, TITLES[422], problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        text = {404: "there is no such page", 405: "this page does not accept that kind of request"}  # else detail
        message = text.get(exc.status_code, str(exc.detail))
        return _error(request, exc.status_code, TITLES.get(exc.status_code, "Error"), message)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        message = f"internal error ({type(exc).__name__}); this is a bug in BOLD, please report it"
        return _error(request, 500, "Something went wrong", message)
