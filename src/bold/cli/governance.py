"""``bold audit``, ``bold register``, ``bold sources`` and ``bold retention``: the tamper-evident audit
chain, the public transparency register and its data asset register, and deleting what is past its retention."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bold.cli.common import JsonOption, WorkspaceOption, console, err, parse_date, print_json, shown, signed_in, table
from bold.errors import Conflict, Invalid

audit_app = typer.Typer(help="The tamper-evident audit chain of every action.", no_args_is_help=True)
register_app = typer.Typer(help="The public transparency register.", no_args_is_help=True)
retention_app = typer.Typer(
    help="Retention: records past their source's period and extracts past their project's end are deleted.",
    no_args_is_help=True,
)


@audit_app.command("verify")
def audit_verify(
    workspace: WorkspaceOption = Path("."),
    published: Annotated[
        list[Path] | None,
        typer.Option(
            "--published",
            help="A register.json, audit head or witness file kept outside the workspace; its head must still "
            "be in the chain (repeat for more).",
        ),
    ] = None,
    as_json: JsonOption = False,
):
    """Check every link of the audit chain, the governance tables against the state it seals, every output's
    files, and that heads published or witnessed earlier are still in the chain."""
    from bold.actions import audit

    result = audit.verify(*signed_in(workspace), published or [])
    if as_json:
        print_json(result)
    elif result.ok:
        sealed = (
            f"governance state as sealed (sealed from entry {result.state_from:,})"
            if result.state_from
            else "governance state not sealed yet"
        )
        console.print(
            f"Audit chain intact: {result.entries:,} entries, every link verified; {sealed}; "
            f"{result.outputs_checked:,} outputs and {result.releases_checked:,} releases match their manifests; "
            f"{result.heads_checked:,} heads kept elsewhere found in the chain."
        )
    if not as_json:
        for note in result.notes:
            err.print(f"note: {note}")
        for problem in result.problems[1:]:
            err.print(f"also: {problem}")
    if not result.ok:
        more = f" (and {len(result.problems) - 1} more problems)" if len(result.problems) > 1 else ""
        raise Conflict(f"audit chain broken: {result.problem}{more}")


@audit_app.command("witness")
def audit_witness(
    out: Annotated[Path, typer.Option("--out", "-o", help="The witness file, outside the workspace (appended to).")],
    workspace: WorkspaceOption = Path("."),
):
    """Append the chain's head, sealed, to a witness file kept outside the workspace; `bold audit verify
    --published FILE` later proves the chain was not cut, rolled back or wiped since."""
    from bold.actions import audit

    seq, _ = audit.witness(*signed_in(workspace), out)
    console.print(f"Head of the audit chain (entry {seq:,}) appended to {out}")


@audit_app.command("show")
def audit_show(
    workspace: WorkspaceOption = Path("."),
    action: Annotated[str | None, typer.Option(help="Only this action (* as a wildcard), e.g. 'ingest*'.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only actions by this person.")] = None,
    obj: Annotated[str | None, typer.Option("--object", help="Only this object (* as a wildcard).")] = None,
    since: Annotated[str | None, typer.Option(help="Only from this date (YYYY-MM-DD).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries, newest first.")] = 50,
    as_json: JsonOption = False,
):
    """Show audit entries, newest first."""
    from bold.actions import audit
    from bold.actions.audit import describe

    start = parse_date(since, "--since")
    if limit < 1:
        raise Invalid(f"--limit {limit}: expected at least 1 entry")
    rows = audit.show(
        *signed_in(workspace), action=action, actor=actor, obj=obj, since=start and start.isoformat(), limit=limit
    )
    if as_json:
        print_json(rows)
        return
    lines = [
        (r["seq"], r["at"][:16].replace("T", " "), r["actor"], r["action"], r["object"], describe(r["details"]))
        for r in rows
    ]
    console.print(table(("#", "when (UTC)", "who", "action", "object", "details"), lines, ids=("#", "when (UTC)")))


@register_app.command("build")
def register_build(
    workspace: WorkspaceOption = Path("."),
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder for the site (default: register/ in the workspace).")
    ] = None,
):
    """Write the transparency register: every project, what the platform will and won't do, how to opt out."""
    from bold.actions import register

    folder = register.build(*signed_in(workspace), out)
    files = "index.html, promises.html, data.html, register.json"
    console.print(f"Transparency register written to {shown(folder)}/ ({files})")


def _percent(share: float | None, none: str = "") -> str:
    return f"{share:.1%}" if share is not None else none


def sources(
    workspace: WorkspaceOption = Path("."),
    source: Annotated[str | None, typer.Option("--source", help="Only this source (e.g. prison).")] = None,
    as_json: JsonOption = False,
):
    """The data asset register: each source, its custodian, coverage, records, fields with their meaning and type,
    quality (quarantine, identifier completeness, linkage rate) and update history, as the register publishes it."""
    from bold.actions import sources as source_actions
    from bold.sources import load_contract

    held = source_actions.sources(*signed_in(workspace))
    if source is not None:
        load_contract(source)  # an unknown source is refused with the names that exist
        held = {**held, "sources": [s for s in held["sources"] if s["source"] == source]}
    if as_json:
        print_json(held)
        return
    few = f"<{held['smallest_shown']}"

    def count(s: dict) -> str:
        return f"{s['records']:,}" if s["records"] is not None else (few if s["records_measured"] else "not measured")

    rows = [
        (s["source"], s["custodian"], count(s),
         f"{s['coverage']['from']} to {s['coverage']['to']}" if s["coverage"] else "",
         _percent(s["quality"]["quarantine_share"]), _percent(s["quality"]["linkage_rate"]), len(s["updates"]))
        for s in held["sources"]
    ]  # fmt: skip
    columns = ("source", "custodian", "records", "coverage", "quarantined", "linked", "batches")
    console.print(table(columns, rows, ids=("source",), title="Data held", title_justify="left"))
    console.print(f"Counts: {held['counts']}.")
    for s in held["sources"]:
        console.print()
        console.print(f"[bold]{shown(s['title'])}[/] ({shown(s['source'])}, contract version {s['contract_version']})")
        fields = [
            (f["name"], f["zone"], f["type"], f["description"], f["agreements_may_request"] or "never (identifier)")
            for f in s["fields"]
        ]
        console.print(table(("field", "zone", "type", "meaning", "agreements ask for"), fields, ids=("field",)))
        if s["quality"]["identifier_completeness"]:
            console.print(
                "Identifier completeness: "
                + ", ".join(f"{shown(r)} {_percent(v)}" for r, v in s["quality"]["identifier_completeness"].items())
            )
        updates = [
            (u["batch"], u["arrived"], u["contract_version"], *(f"{n:,}" if n is not None else few for n in (
                u["rows_accepted"], u["rows_updated"], u["rows_quarantined"])), u["withdrawn"] or "")
            for u in s["updates"]
        ]  # fmt: skip
        if updates:
            columns = ("batch", "arrived", "contract", "accepted", "updates", "quarantined", "withdrawn")
            console.print(table(columns, updates, ids=("batch", "arrived")))
        for note in s["not_measured"]:
            err.print(f"note: {shown(s['source'])}: not measured: {shown(note)}")


TodayOption = Annotated[
    str | None, typer.Option("--today", help="Apply the periods as on this date (YYYY-MM-DD; default: today).")
]


def _print_retention(result, done: bool) -> None:
    """Per source and per project, what is (or was) deleted."""
    rows = [
        (
            s.source,
            s.period or "kept (no period)",
            s.set_in or "",
            ", ".join(s.due_batches) or "none",
            f"{s.records:,}" if s.due_batches else "",
            f"{s.versions:,}" if s.due_batches else "",
            f"{s.deleted_so_far:,}",
            (s.last_deleted or "")[:10],
        )
        for s in result.sources
    ]
    verb = "deleted" if done else "due"
    columns = ("source", "period", "set in", f"batches {verb}", f"records {verb}", "old versions", "deleted before")
    console.print(table((*columns, "last deleted"), rows, ids=("source",), title=f"Retention on {result.today}"))
    for p in result.projects:
        extract = "its extract " + ("deleted" if done else "to be deleted") if p.extract else "no extract on disk"
        console.print(f"Project {shown(p.project)} ended on {p.end}: {extract}; builds are refused.")
    if any(result.links.values()) or result.extracts:
        people = ", ".join(f"{shown(k)} {n:,}" for k, n in result.extracts.items()) or "none"
        console.print(
            f"Links {verb}: {sum(result.links.values()):,} rows (every run); people leaving built extracts: {people}"
        )
    if not result.due:
        console.print("Nothing is due: nothing " + ("was deleted." if done else "would be deleted."))


@retention_app.command("show")
def retention_show(workspace: WorkspaceOption = Path("."), today: TodayOption = None, as_json: JsonOption = False):
    """Each source's retention period (and where it is set), and what is due now."""
    from bold.actions import retention

    result = retention.show(*signed_in(workspace, enforce_retention=False), parse_date(today, "--today"))
    print_json(result) if as_json else _print_retention(result, done=False)


@retention_app.command("apply")
def retention_apply(
    workspace: WorkspaceOption = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be deleted; delete nothing.")] = False,
    today: TodayOption = None,
    as_json: JsonOption = False,
):
    """Delete the records past their source's retention (both zones, their history, the links, built extracts)
    and the extracts of projects past their end date; audited, and shown in the register."""
    from bold.actions import retention

    ws, user = signed_in(workspace, enforce_retention=False)
    result = retention.apply(ws, user, parse_date(today, "--today"), dry_run=dry_run)
    print_json(result) if as_json else _print_retention(result, done=not dry_run)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.add_typer(register_app, name="register")
    app.add_typer(retention_app, name="retention")
    app.command("sources")(sources)
