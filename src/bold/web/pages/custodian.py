"""The custodian's pages: the sources and their batches, uploading an extract, each batch's report, and
withdrawing a batch sent in error (its plan first, then a confirmed form).

An upload is streamed into a folder of its own under the workspace's ``tmp/`` (a generated name, owner-only);
the file inside is named from the client's file name made safe (``name_from``), never the name as sent, so
nothing the browser says can choose a path. The ingest then runs as a background job, and the folder is
deleted when the job ends, whether it succeeded or not. Messages never show the server's temporary path.
"""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from bold.actions import ingest
from bold.errors import HTTP_STATUSES, BoldError
from bold.governance.permissions import Permission
from bold.web import uploads
from bold.web.guard import Caller, needs
from bold.web.render import page

router = APIRouter()


@router.get("/sources")
def sources(request: Request, who: Caller = needs(Permission.INGEST)):
    found = ingest.sources(who.ws, who.user)
    register = ingest.optout_count(who.ws, who.user) if who.may(Permission.OPTOUT_COUNT) else None
    return page(
        request,
        "custodian_sources.html",
        sources=found,
        optout_entries=sum(register.values()) if register is not None else None,
    )


@router.get("/sources/upload")
def upload_form(request: Request, source: str = "", who: Caller = needs(Permission.INGEST)):
    return _form(request, who, source=source)


@router.post("/sources/upload")
def upload(
    request: Request,
    source: str = Form(""),
    file: UploadFile | None = File(None),
    mapping: UploadFile | None = File(None),
    batch: str = Form(""),
    encoded: bool = Form(False),
    check: bool = Form(False),
    who: Caller = needs(Permission.INGEST),
):
    """Check what is cheap to check here (the form re-shown with the message), save the upload, start the job."""
    known = {s.source: s for s in ingest.sources(who.ws, who.user)}
    batch = batch.strip()
    again = {"source": source, "batch": batch, "encoded": encoded, "check": check}
    if source not in known:
        message = f"there is no source type {_shown(source)}: choose one of the list"
        return _form(request, who, error=message, status_code=422, **again)
    if file is None or not file.filename:
        return _form(request, who, error="choose the extract file to upload", status_code=422, **again)
    file_name = uploads.stored_name(file.filename, "upload")
    try:
        name = ingest.batch_name(file_name, batch or None)
    except BoldError as exc:
        return _form(request, who, error=str(exc), status_code=422, **again)
    if any(b.name == name for b in known[source].batches):
        message = f"{known[source].title} already has a batch named {name!r}: give this one another batch name"
        return _form(request, who, error=message, status_code=409, **again)

    folder = uploads.new_folder(who.ws)
    try:
        path = uploads.save(file.file, folder / file_name)
        mapping_path = uploads.save_mapping(mapping, folder)
    except BaseException:
        uploads.remove(folder)
        raise
    ws, user = who.ws, who.user
    names = {path: file_name, **({mapping_path: "the column mapping"} if mapping_path else {})}

    def work(progress):
        try:
            report = ingest.ingest(
                ws,
                user,
                path,
                source,
                batch=name,
                mapping=mapping_path,
                encoded=encoded,
                progress=progress,
                check=check,
            )
        except BoldError as exc:  # say the file's name, not where the server kept it
            raise uploads.without_paths(exc, names) from None
        finally:
            uploads.remove(folder)
        if report.refusal:
            report.refusal = str(uploads.without_paths(BoldError(report.refusal), names))
        return report

    def outcome(report):
        if report.checked and report.already_ingested_as is None:
            reasons = "; ".join(f"{reason}: {n:,} rows" for reason, n in report.reasons.most_common(3))
            text = (
                f"Check only, nothing stored: {report.rows_read:,} rows read, {report.accepted:,} would be accepted "
                f"({report.updated:,} of them updates), {report.unchanged:,} unchanged, "
                f"{report.quarantined:,} quarantined, {report.opted_out:,} opted out"
                + (f" ({reasons})" if reasons else "")
                + (f". It would be refused: {report.refusal}" if report.refusal else "")
            )
            return f"/sources/upload?source={source}", text
        if report.already_ingested_as is not None:
            same = next(b for b in ingest.sources(ws, user) if b.source == source)
            earlier = next(b for b in same.batches if b.name == report.already_ingested_as)
            text = f"This file was already ingested as batch {earlier.name}, so nothing was added: see that batch"
            return f"/sources/batches/{earlier.batch_id}", text
        text = (
            f"See the report of batch {report.batch}: {report.rows_read:,} rows read, {report.accepted:,} accepted "
            f"({report.updated:,} of them updates), {report.unchanged:,} unchanged, "
            f"{report.quarantined:,} quarantined, {report.opted_out:,} opted out"
        )
        return f"/sources/batches/{report.batch_id}", text

    job = request.app.state.jobs.start(user.name, f"Ingest {file_name} as {known[source].title}", work, outcome)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/sources/batches/{batch_id}")
def batch_report(request: Request, batch_id: int, who: Caller = needs(Permission.INGEST)):
    report = ingest.batch(who.ws, who.user, batch_id)
    title = next((s.title for s in ingest.sources(who.ws, who.user) if s.source == report.source), report.source)
    may_withdraw = report.withdrawn_at is None and who.may(Permission.BATCH_WITHDRAW)
    return page(request, "custodian_batch.html", b=report, title=title, may_withdraw=may_withdraw)


def _withdraw_page(request: Request, who: Caller, batch_id: int, error=None, status_code: int = 200):
    report = ingest.batch(who.ws, who.user, batch_id)
    plan = ingest.withdraw_plan(who.ws, who.user, report.source, report.name)
    return page(request, "custodian_withdraw.html", status_code=status_code, w=plan, error=error)


@router.get("/sources/batches/{batch_id}/withdraw")
def withdraw_form(request: Request, batch_id: int, who: Caller = needs(Permission.BATCH_WITHDRAW)):
    """What withdrawing the batch would delete, and the form that confirms it."""
    return _withdraw_page(request, who, batch_id)


@router.post("/sources/batches/{batch_id}/withdraw")
def withdraw(request: Request, batch_id: int, confirm: str = Form(""), who: Caller = needs(Permission.BATCH_WITHDRAW)):
    if confirm != "yes":
        return _withdraw_page(request, who, batch_id, "tick the box to confirm: nothing was withdrawn", 422)
    report = ingest.batch(who.ws, who.user, batch_id)
    try:
        ingest.withdraw(who.ws, who.user, report.source, report.name, confirmed=True)
    except BoldError as exc:
        return _withdraw_page(request, who, batch_id, str(exc), HTTP_STATUSES[exc.kind])
    return RedirectResponse(f"/sources/batches/{batch_id}", status_code=303)


def _form(
    request: Request, who: Caller, *, source="", batch="", encoded=False, check=False, error=None, status_code=200
):
    options = [(s.source, f"{s.title} ({s.custodian})") for s in ingest.sources(who.ws, who.user)]
    return page(
        request,
        "custodian_upload.html",
        status_code=status_code,
        options=[("", "Choose the source type"), *options],
        source=source,
        batch=batch,
        encoded=encoded,
        check=check,
        error=error,
    )


def _shown(value: str) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in value)
    return repr(text[:40] + ("..." if len(text) > 40 else ""))
