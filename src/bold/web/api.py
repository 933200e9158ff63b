"""The JSON API under ``/api/``: the same actions as the pages and the command line, for ``bold --server``.

A client signs in once (``POST /api/token``, name and password as JSON or a form) and sends the token it gets as
``Authorization: Bearer <token>`` with every other request; ``bold.web.guard`` never reads a cookie on these
paths, so a page on another site cannot make a browser act here, and there is no CSRF token to carry. An API
token is a session of its own kind (``via="api"``): a browser's session cookie is not one, and an API token is
not accepted by the pages. Every route declares its permission with ``needs`` and the action checks again.

Long work (an ingest, a study run) runs in the request: FastAPI runs these routes in a worker thread, and the
client waits for the answer, as ``bold`` does locally. An uploaded file goes into a new owner-only file with a
generated name under the workspace's ``tmp/`` (the client's file name is never a path here) and is deleted
when the ingest ends, whatever happens. Errors are ``{"error": message, "status": code}`` (``bold.web.app``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel, Field, ValidationError

from bold.actions import ingest as ingest_actions
from bold.actions import outputs as output_actions
from bold.actions import projects as project_actions
from bold.actions import sessions as session_actions
from bold.actions import studies as study_actions
from bold.actions import workspace as workspace_actions
from bold.errors import BoldError, Invalid
from bold.governance.agreement import Agreement
from bold.governance.permissions import Permission
from bold.governance.sessions import IDLE, LONGEST
from bold.web import uploads
from bold.web.guard import Caller, needs, signed_in, workspace


class Error(BaseModel):
    """What every refusal or failure answers: the one-line message the command line prints, and the status."""

    error: str
    status: int


_ERRORS = {
    401: "not signed in: no token, or its session has ended",
    403: "refused: a wrong name or password, or the person may not do this",
    404: "no such project, output, study or source",
    409: "not possible in the current state",
    422: "the input is wrong: a bad file, value or option",
}
router = APIRouter(
    prefix="/api",
    tags=["api"],
    responses={status: {"model": Error, "description": text} for status, text in _ERRORS.items()},
)


# --- the shapes of bodies and answers (the OpenAPI document at /api/openapi.json describes them) ------------


class Credentials(BaseModel):
    name: str = Field(description="the user name, as on the command line")
    password: str


class Token(BaseModel):
    token: str = Field(description="send it as 'Authorization: Bearer <token>'")
    expires_idle_minutes: int = Field(description="the session ends after this long without a request")
    expires_at_most_hours: int = Field(description="and, whatever happens, this long after sign-in")
    name: str
    roles: list[str]


class SignedOut(BaseModel):
    signed_out: bool = True


class Me(BaseModel):
    name: str
    roles: list[str]
    started_at: str


class BatchOut(BaseModel):
    source: str
    name: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    rows_opted_out: int
    finished_at: str
    batch_id: int
    rows_updated: int = 0  # of rows_accepted, updates of records sent before
    rows_unchanged: int = 0  # sent before exactly so, not stored again
    withdrawn_at: str | None = None
    withdrawn_by: str | None = None
    records_withdrawn: int = 0
    rows_resolved: int = 0  # earlier batches' quarantined rows it resolved when it arrived
    quarantine_unresolved: int = 0  # of its own quarantined rows, those no later batch resolved


class LinkRunOut(BaseModel):
    run_id: int
    finished_at: str
    records: int
    clusters: dict[str, int]
    mode: str = Field("full", description="full, or incremental: only records new or changed since based_on scored")
    based_on: int | None = Field(None, description="the run whose person keys (and, incremental, scores) it kept")
    rescored: int | None = Field(None, description="records whose pairs were scored (null: a run before BOLD counted)")


class StatusOut(BaseModel):
    name: str
    batches: list[BatchOut]
    sources_without_data: list[str]
    records_stored: int
    deleted_after_optout: int
    deleted_after_retention: int = 0
    optout_entries: int
    latest_run: LinkRunOut | None
    projects: dict[str, int] = Field(description="projects by state")
    outputs_waiting: int
    store_version: int
    quarantine_unresolved: dict[str, int] = Field(
        default_factory=dict, description="source -> quarantined rows no later batch resolved"
    )


class IngestOut(BaseModel):
    source: str
    batch: str
    file: str = Field(description="the name of the uploaded file")
    rows_read: int
    accepted: int = Field(description="stored: new records and updates of records sent before")
    updated: int = Field(0, description="of accepted, updates of records sent before (the earlier version kept)")
    unchanged: int = Field(0, description="sent before exactly so: counted, not stored again")
    relink: int = Field(0, description="of updated, those whose identifiers changed (linked again next run)")
    resolved: int = Field(0, description="earlier batches' quarantined rows, unresolved until now, it accepts")
    quarantined: int
    opted_out: int
    reasons: dict[str, int] = Field(description="column: reason -> rows (a row with several is under each)")
    several_reasons: int
    examples: dict[str, list[int]] = Field(description="reason -> its first row numbers (never a value)")
    warnings: list[str]
    quarantine_file: str | None
    already_ingested_as: str | None
    batch_id: int | None
    checked: bool = Field(False, description="a check: what ingest would do; nothing was stored")
    refusal: str | None = Field(None, description="a check: why ingest would refuse the file")


class ProjectSummary(BaseModel):
    id: str
    title: str
    status: str
    acceptable: bool
    start: dt.date
    end: dt.date | None
    submitted_by: str
    submitted_at: str
    decided_by: str | None
    decision_reason: str | None
    amendments: int
    built_at: str | None


class ProjectOut(ProjectSummary):
    agreement: Agreement
    assessment: dict[str, Any]


class StudyOut(BaseModel):
    id: str
    title: str
    question: str
    definition: str
    needs: list[str]
    optional: list[str]
    parameters: dict[str, Any]
    required: list[str]


class StudyRunIn(BaseModel):
    parameters: dict[str, Any] = Field(default_factory=dict, description="the study's parameters, name: value")
    backend: str = Field("duckdb", description="duckdb, or pyspark where the server has it")


class OutputOut(BaseModel):
    id: str
    project: str
    study: str
    status: str
    created_by: str
    created_at: str
    manifest_sha256: str
    optout_people: int
    optout_marked_at: str | None
    profile: str | None
    checked_at: str | None
    check_outcome: str | None
    check_sha256: str | None
    optout_note: str | None = Field(description="why the output should not be released, after opt-outs")


class TableRows(BaseModel):
    rows: int


class StudyRunOut(BaseModel):
    output: OutputOut
    tables: dict[str, TableRows]
    seconds: float


class ReviewIn(BaseModel):
    vote: str = Field(description="approve, changes_requested or reject")
    comment: str = Field(description="why: the analyst reads it once the request is decided")


class VoteOut(BaseModel):
    output: str
    version: int
    checker: str
    vote: str
    comment: str
    voted_at: str


class ReleaseOut(BaseModel):
    id: str
    project: str
    output: str
    request: str
    version: int
    released_by: str
    released_at: str
    checksums: dict[str, str]
    manifest_sha256: str


# --- signing in and out ----------------------------------------------------------------------------------

_CREDENTIALS_BODY = {
    "required": True,
    "content": {
        kind: {"schema": Credentials.model_json_schema()}
        for kind in ("application/json", "application/x-www-form-urlencoded")
    },
}


async def _credentials(request: Request) -> Credentials:
    """The name and password of a sign-in, sent as JSON or as a form (both are what scripts send)."""
    kind = request.headers.get("content-type", "")
    try:
        if kind.startswith("application/json"):
            data = await request.json()
        elif kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            data = dict(await request.form())
        else:
            raise Invalid("send name and password as JSON or as a form")
        return Credentials.model_validate(data)
    except (ValueError, ValidationError):  # a body that is not JSON, or lacks a name or a password
        raise Invalid("send name and password as JSON or as a form") from None


@router.post("/token", openapi_extra={"requestBody": _CREDENTIALS_BODY})
def token(request: Request, credentials: Credentials = Depends(_credentials)) -> Token:
    """Sign in: a token for the other routes. A wrong name or password is refused (403) with the same message
    as the command line's; failures are audited and repeated ones lock the person out, as everywhere."""
    session = session_actions.start(workspace(request), credentials.name, credentials.password, via="api")
    return Token(
        token=session.token,
        expires_idle_minutes=int(IDLE.total_seconds() // 60),
        expires_at_most_hours=int(LONGEST.total_seconds() // 3600),
        name=session.user.name,
        roles=sorted(session.user.roles),
    )


@router.post("/sign-out")
def sign_out(who: Caller = Depends(signed_in)) -> SignedOut:
    """End the session of this token; it is never accepted again."""
    session_actions.end(who.ws, who.session.token)
    return SignedOut()


@router.get("/me")
def me(who: Caller = Depends(signed_in)) -> Me:
    """Who this token signs in, with which roles."""
    return Me(name=who.user.name, roles=sorted(who.user.roles), started_at=who.session.started_at)


# --- the workspace, ingest -------------------------------------------------------------------------------


@router.get("/status")
def status(who: Caller = needs(Permission.STATUS)) -> StatusOut:
    """Each source's batches, the latest linkage run, projects by state and outputs waiting for checkers."""
    s = workspace_actions.status(who.ws, who.user)
    return StatusOut.model_validate(
        {**vars(s), "batches": [vars(b) for b in s.batches], "latest_run": s.latest_run and vars(s.latest_run)}
    )


def _upload_name(upload: UploadFile | None, default: str) -> str:
    name = Path((upload.filename if upload else None) or default).name  # a name to show, never a path
    return "".join(ch if ch.isprintable() else "?" for ch in name)[:200] or default


@router.post("/ingest")
def ingest(
    who: Caller = needs(Permission.INGEST),
    file: UploadFile = File(..., description="the custodian's file: CSV, gzipped CSV or Parquet"),
    source: str = Form(..., description="the source type (its contract), e.g. prison"),
    batch: str | None = Form(None, description="a name for the batch (default: from the file's name)"),
    mapping: UploadFile | None = File(None, description="YAML mapping of the file's column names to the contract's"),
    encoding: str = Form("utf-8", description="the text encoding of a CSV file: utf-8, latin-1 or utf-16"),
    encoded: bool = Form(False, description="the file was made by bold encode (privacy-preserving mode)"),
    check: bool = Form(False, description="read and validate the file, say what ingest would do; store nothing"),
    max_quarantine: float | None = Form(
        None, description="refuse the file if more than this share of its rows would be quarantined, e.g. 0.2"
    ),
) -> IngestOut:
    """Ingest a file, in the request (the answer comes when it is done): its identifiers and content are stored
    apart, rows that break the contract quarantined (encrypted), opted-out people never stored."""
    name = _upload_name(file, "upload")
    with uploads.received(who.ws) as folder:
        path = uploads.save(file.file, folder / uploads.stored_name(file.filename, "upload"))
        mapping_path = uploads.save_mapping(mapping, folder)
        shown = {path: name, **({mapping_path: _upload_name(mapping, "mapping.yaml")} if mapping_path else {})}
        try:
            report = ingest_actions.ingest(
                who.ws,
                who.user,
                path,
                source,
                batch=batch,  # none given: made from the file's name, as for bold ingest
                mapping=mapping_path,
                encoding=encoding,
                encoded=encoded,
                check=check,
                max_quarantine=max_quarantine,
            )
        except BoldError as exc:
            raise uploads.without_paths(exc, shown) from None
    refusal = str(uploads.without_paths(BoldError(report.refusal), shown)) if report.refusal else None
    return IngestOut.model_validate(
        {
            **vars(report),
            "file": name,
            "quarantine_file": str(report.quarantine_file) if report.quarantine_file else None,
            "refusal": refusal,
        }
    )


# --- projects, studies, outputs, releases -------------------------------------------------------------------


@router.get("/projects")
def projects_list(who: Caller = needs(Permission.PROJECT_LIST)) -> list[ProjectSummary]:
    """Every project (data sharing agreement) with its state."""
    return [ProjectSummary.model_validate(p.summary()) for p in project_actions.list_projects(who.ws, who.user)]


@router.get("/projects/{project_id}")
def projects_show(project_id: str, who: Caller = needs(Permission.PROJECT_SHOW)) -> ProjectOut:
    """A project: its agreement, state and assessment against the red lines."""
    p = project_actions.show(who.ws, who.user, project_id)
    return ProjectOut.model_validate({**p.summary(), "agreement": p.agreement, "assessment": p.assessment})


def _study(s) -> StudyOut:
    return StudyOut(
        id=s.id,
        title=s.title,
        question=s.question,
        definition=s.definition,
        needs=list(s.needs),
        optional=list(s.optional),
        parameters=dict(s.parameters),
        required=list(s.required),
    )


@router.get("/studies")
def studies_list(who: Caller = needs(Permission.STUDY_LIST)) -> list[StudyOut]:
    """The built-in studies: the question each answers, the fields it needs and its parameters."""
    return [_study(s) for s in study_actions.list_studies(who.ws, who.user)]


def _output(o) -> OutputOut:
    fields = {k: v for k, v in vars(o).items() if k != "folder"}
    return OutputOut.model_validate({**fields, "status": o.status.value, "optout_note": o.optout_note})


@router.post("/projects/{project_id}/studies/{study_id}/run")
def study_run(
    project_id: str, study_id: str, body: StudyRunIn | None = None, who: Caller = needs(Permission.STUDY_RUN)
) -> StudyRunOut:
    """Run a built-in study on the project's extract, in the request; its output waits, checked for disclosure,
    for the output checkers. A study file runs only on the server's own command line (it would name a file on
    the server here)."""
    body = body or StudyRunIn()
    if study_id.endswith((".yaml", ".yml")):  # a path on the server: never read for a client
        raise Invalid(f"{study_id}: a study file runs only on the command line of the machine it is on")
    output = study_actions.run(who.ws, who.user, project_id, study_id, parameters=body.parameters, backend=body.backend)
    manifest = output.manifest()
    return StudyRunOut(
        output=_output(output),
        tables={n: TableRows(rows=t["rows"]) for n, t in manifest["tables"].items()},
        seconds=manifest["seconds"],
    )


@router.get("/projects/{project_id}/outputs")
def outputs_list(project_id: str, who: Caller = needs(Permission.OUTPUTS_LIST)) -> list[OutputOut]:
    """A project's outputs and their states (never their contents)."""
    return [_output(o) for o in output_actions.list_outputs(who.ws, who.user, project_id)]


@router.post("/projects/{project_id}/outputs/{output_id}/review")
def outputs_review(
    project_id: str, output_id: str, body: ReviewIn, who: Caller = needs(Permission.OUTPUTS_REVIEW)
) -> VoteOut:
    """One output checker's vote on the current version of a requested output."""
    cast = output_actions.review(who.ws, who.user, project_id, output_id, body.vote.replace("-", "_"), body.comment)
    return VoteOut.model_validate(vars(cast))


@router.get("/projects/{project_id}/releases")
def releases_list(project_id: str, who: Caller = needs(Permission.RELEASES_LIST)) -> list[ReleaseOut]:
    """A project's releases: the outputs let out, with the checksums of their files."""
    found = output_actions.list_releases(who.ws, who.user, project_id)
    return [ReleaseOut.model_validate({k: v for k, v in vars(r).items() if k != "folder"}) for r in found]


# --- the API described for people, without a script (the pages' CSP allows none from elsewhere) -------------


@router.get("/docs", include_in_schema=False)
def docs(request: Request):
    """Every route with its permission, body and answer, and the shapes they use, from the OpenAPI document
    (FastAPI's own page loads its script from a CDN, which the site's CSP refuses, and rightly)."""
    from fastapi.routing import APIRoute

    from bold.web.render import page
    from bold.web.routes import declared

    document = request.app.openapi()
    routes = []
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        needed = declared(route)
        for method in sorted(route.methods):
            operation = document["paths"][route.path][method.lower()]
            routes.append(
                {
                    "method": method,
                    "path": route.path,
                    "summary": (route.description or route.summary or "").split("\n\n")[0],
                    "permission": "none" if needed == "public" else getattr(needed, "value", needed),
                    "body": _schema_names(operation.get("requestBody", {})),
                    "answer": _schema_names(operation.get("responses", {}).get("200", {})),
                }
            )
    known = document.get("components", {}).get("schemas", {})
    used = _referenced([document["paths"][r.path] for r in router.routes if r.path in document["paths"]], known)
    schemas = []
    for name, schema in sorted((n, s) for n, s in known.items() if n in used):
        required = set(schema.get("required", ()))
        fields = [
            {"name": f, "type": _type(s), "description": s.get("description", ""), "required": f in required}
            for f, s in schema.get("properties", {}).items()
        ]
        schemas.append((name, fields))
    return page(request, "api_docs.html", routes=routes, schemas=schemas, base=str(request.base_url).rstrip("/"))


def _referenced(parts: list, known: dict) -> set[str]:
    """The names of the schemas these parts of the document use, and the schemas those use, and so on."""
    found, todo = set(), list(parts)
    while todo:
        part = todo.pop()
        if isinstance(part, dict):
            ref = part.get("$ref")
            if isinstance(ref, str) and (name := ref.rsplit("/", 1)[-1]) not in found and name in known:
                found.add(name)
                todo.append(known[name])
            todo.extend(part.values())
        elif isinstance(part, list):
            todo.extend(part)
    return found


def _schema_names(part: dict) -> str:
    names = set()
    for content in part.get("content", {}).values():
        names.add(_type(content.get("schema", {})))
    return ", ".join(sorted(n for n in names if n)) or ""


def _type(schema: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if "title" in schema and "properties" in schema:
        return schema["title"]
    return schema.get("type", "any")
