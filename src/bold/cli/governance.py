"""``bold audit``, ``bold register`` and ``bold sources``: the tamper-evident audit chain, the public transparency
register and its data asset register."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bold.cli.common import JsonOption, WorkspaceOption, console, err, parse_date, print_json, shown, signed_in, table
from bold.errors import Conflict, Invalid

audit_app = typer.Typer(help="The tamper-evident audit chain of every action.", no_args_is_help=True)
register_app = typer.Typer(help="The public transparency register.", no_args_is_help=True)


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


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.add_typer(register_app, name="register")
    app.command("sources")(sources)
