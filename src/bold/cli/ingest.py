"""``bold ingest``, ``bold batch`` and ``bold optout``: custodians' files into the two zones, withdrawing a batch,
and the opt-out register."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bold.cli import remote
from bold.cli.common import JsonOption, WorkspaceOption, console, phases, print_json, shown, signed_in, table
from bold.errors import Invalid
from bold.ingest.reader import IngestError


def ingest(
    file: Annotated[Path, typer.Argument(help="The custodian's file: CSV, gzipped CSV or Parquet.")],
    source: Annotated[str, typer.Option("--source", "-s", help="Source type (its contract), e.g. prison.")],
    workspace: WorkspaceOption = Path("."),
    batch: Annotated[str | None, typer.Option(help="A name for this batch (default: the file name).")] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="YAML mapping of your column names to the contract's (THEIRS: CONTRACT)."),
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of a CSV file: utf-8, latin-1 or utf-16.")] = "utf-8",
    encoded: Annotated[bool, typer.Option(help="The file was made by bold encode (privacy-preserving mode).")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Read and validate the file, say what ingest would do; store nothing.")
    ] = False,
    max_quarantine: Annotated[
        float | None,
        typer.Option(
            help="Refuse the file (store nothing, exit 2) if more than this share of its rows would be "
            "quarantined, e.g. 0.2. A file whose every row would be quarantined is always refused."
        ),
    ] = None,
    as_json: JsonOption = False,
):
    """Validate a file against its contract; store identifiers and content apart; quarantine the rest."""
    if (url := remote.server()) is not None:
        with phases(f"{source}: sending {file.name} to {url}"):
            answer = remote.ingest(
                url,
                file,
                source,
                batch=batch,
                mapping=mapping,
                encoding=encoding,
                encoded=encoded,
                check=check,
                max_quarantine=max_quarantine,
            )
        if as_json:
            print_json(answer)
        else:
            _print_report(remote.ingest_view(answer))
        _refused(answer.get("refusal"))
        return
    from bold.actions.ingest import ingest as ingest_file

    ws, user = signed_in(workspace)
    with phases() as phase:
        report = ingest_file(
            ws,
            user,
            file,
            source,
            batch=batch,
            mapping=mapping,
            encoding=encoding,
            encoded=encoded,
            progress=lambda name: phase(f"{source}: {name}"),
            check=check,
            max_quarantine=max_quarantine,
        )
    if as_json:
        print_json(report)
    else:
        _print_report(report)
    _refused(report.refusal)


def _refused(refusal: str | None) -> None:
    """A check that found the file would be refused fails as the ingest would (exit 2), after its report."""
    if refusal:
        raise IngestError(refusal)


def _print_report(r) -> None:
    checked = getattr(r, "checked", False)
    if r.already_ingested_as:
        nothing = "ingesting it would add nothing" if checked else "nothing added"
        console.print(
            f"{shown(r.file)}: already ingested for {shown(r.source)} as batch {shown(repr(r.already_ingested_as))}; "
            f"{nothing}."
        )
        return
    if checked:
        console.print(
            f"[bold]Check only, nothing stored:[/] {shown(r.source)} batch {shown(r.batch)} from {shown(r.file)}"
        )
    else:
        console.print(f"[bold]{shown(r.source)}[/] batch [bold]{shown(r.batch)}[/] from {shown(r.file)}")
    would = "would be " if checked else ""
    console.print(
        f"  rows read {r.rows_read:,} = {would}accepted {r.accepted:,} + unchanged {r.unchanged:,} "
        f"+ {would}quarantined {r.quarantined:,} + opted out {r.opted_out:,}"
    )
    if r.updated or r.unchanged:
        console.print(
            f"  accepted: {r.accepted - r.updated:,} new, {r.updated:,} updated (sent before, now changed; the "
            "earlier version is kept as history); unchanged: sent before exactly so, not stored again"
        )
    if r.relink:
        console.print(
            f"  {r.relink:,} updated record(s) changed identifiers: "
            "the next bold link (or bold link --incremental) links them again"
        )
    if getattr(r, "resolved", 0):
        console.print(
            f"  {r.resolved:,} row(s) quarantined in earlier batches {'would be' if checked else 'are'} resolved: "
            "their record ids are accepted here"
        )
    for warning in r.warnings:
        console.print(f"  [yellow]warning:[/] {shown(warning)}")
    if r.reasons:
        rows = [
            (reason, f"{n:,}", ", ".join(str(x) for x in r.examples[reason])) for reason, n in r.reasons.most_common()
        ]
        title = "Quarantined rows by reason (values are never shown)"
        if r.several_reasons:
            title += f"; {r.several_reasons:,} row(s) have several reasons and are listed under each"
        console.print(table(("column: reason", "rows", "first rows"), rows, title=title, title_justify="left"))
        if r.quarantine_file:
            console.print(f"  quarantine (encrypted): {shown(r.quarantine_file)}")


optout_app = typer.Typer(help="The opt-out register: people whose records are never stored.", no_args_is_help=True)


@optout_app.command("add")
def optout_add(
    file: Annotated[Path, typer.Argument(help="CSV with nhs_number, or forename, surname, date_of_birth.")],
    workspace: WorkspaceOption = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what it would do, and change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (for scripts).")] = False,
):
    """Add opt-outs (stored only as keyed hashes) and delete what matches: stored records in both zones, their
    links, and the people's rows in every extract already built. Says what it will do and asks first."""
    from bold.actions.ingest import optout_add as add
    from bold.actions.ingest import optout_plan

    ws, user = signed_in(workspace)
    plan = optout_plan(ws, user, file)
    if plan.already_added_file:
        console.print(f"{shown(file)}: already added to the opt-out register; nothing changed.")
        return
    _print_plan(plan)
    if dry_run:
        console.print("Dry run: nothing changed.")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise Invalid(f"{file}: pass --yes to add these opt-outs (no terminal to ask on); nothing changed")
        if not typer.confirm("Add these opt-outs and delete what matches? This cannot be undone"):
            console.print("Nothing changed.")
            raise typer.Exit(1)
    result = add(ws, user, file, confirmed=True)
    if result.already_added_file:
        console.print(f"{shown(file)}: added to the opt-out register meanwhile by someone else; nothing changed.")
        return
    console.print(f"Opt-out register: {result.added:,} entries added, {result.already_listed:,} already listed.")
    removed = {s: n for s, n in result.records_removed.items() if n}
    if removed:
        console.print(
            "Records already stored and now deleted from both zones: "
            + ", ".join(f"{s} {n:,}" for s, n in removed.items())
        )
    if any(result.links_removed.values()):
        console.print("Deleted from the links (every run): " + _link_counts(result.links_removed))
    for change in result.extracts:
        console.print(
            f"Extract of {change.project}: {change.people:,} people removed ({change.rows:,} rows); "
            f"{change.pending_outputs:,} pending outputs marked for the output checkers"
        )


def _link_counts(rows: dict[str, int]) -> str:
    return ", ".join(f"{table} {n:,} rows" for table, n in rows.items())


def _print_plan(plan) -> None:
    console.print(
        f"{shown(plan.file)}: {plan.entries_new:,} entries to add to the opt-out register, "
        f"{plan.already_listed:,} already listed."
    )
    for line in plan.rejected[:20]:
        console.print(f"  [yellow]not used:[/] {shown(line)}")
    if len(plan.rejected) > 20:
        console.print(f"  ... and {len(plan.rejected) - 20:,} more rows not used")
    deleted = {s: n for s, n in plan.records.items() if n}
    if deleted:
        rows = [(s, f"{n:,}", f"{plan.stored.get(s, 0):,}") for s, n in deleted.items()]
        title = "Stored records it would delete from both zones"
        console.print(table(("source", "delete", "stored"), rows, title=title, title_justify="left"))
    else:
        console.print("No stored record matches.")
    if any(plan.links.values()):
        console.print("It would delete from the links (every run): " + _link_counts(plan.links))
    for change in plan.extracts:
        console.print(
            f"It would remove {change.people:,} people from the extract of {change.project} and mark its "
            f"{change.pending_outputs:,} pending outputs"
        )
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


@optout_app.command("count")
def optout_count(workspace: WorkspaceOption = Path("."), as_json: JsonOption = False):
    """How many entries the register holds (the entries themselves are hashes and never shown)."""
    from bold.actions.ingest import optout_count as count

    counts = count(*signed_in(workspace))
    if as_json:
        print_json(counts)
        return
    for kind, n in counts.items():
        console.print(f"{kind}: {n:,}")


batch_app = typer.Typer(
    help="A custodian's batches: withdraw one sent in error, delete a participant list after its report, export "
    "its quarantine.",
    no_args_is_help=True,
)


@batch_app.command("withdraw")
def batch_withdraw(
    source: Annotated[str, typer.Argument(help="The batch's source type, e.g. prison.")],
    batch: Annotated[str, typer.Argument(help="The batch's name (as bold status lists it), or its number.")],
    workspace: WorkspaceOption = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what it would remove, and change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (for scripts).")] = False,
    as_json: JsonOption = False,
):
    """Withdraw a batch sent in error: delete its records from both zones, the links and its quarantine file; the
    batch stays listed, marked withdrawn. Extracts built from it leave it out at their next build."""
    from bold.actions.ingest import withdraw, withdraw_plan

    ws, user = signed_in(workspace)
    _plan_confirm_apply(
        withdraw_plan(ws, user, source, batch),
        lambda: withdraw(ws, user, source, batch, confirmed=True),
        _print_withdrawal,
        dry_run=dry_run,
        yes=yes,
        as_json=as_json,
        refusal=f"{source} batch {batch!r}: pass --yes to withdraw it (no terminal to ask on); nothing changed",
        question="Withdraw this batch and delete its records? This cannot be undone",
    )


def _plan_confirm_apply(plan, apply, show, *, dry_run: bool, yes: bool, as_json: bool, refusal: str, question: str):
    """What an irreversible deletion would remove, then (unless a dry run) the person's yes, then the deletion:
    ``show(plan_or_result, done=...)`` prints either; ``refusal`` is the error when there is no terminal to ask on."""
    if as_json and dry_run:
        print_json(plan)
        return
    if not as_json:
        show(plan, done=False)
    if dry_run:
        console.print("Dry run: nothing changed.")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise Invalid(refusal)
        if not typer.confirm(question):
            console.print("Nothing changed.")
            raise typer.Exit(1)
    result = apply()
    if as_json:
        print_json(result)
        return
    show(result, done=True)


def _print_withdrawal(w, *, done: bool) -> None:
    head = f"{shown(w.source)} batch {shown(repr(w.batch))} (number {w.batch_id})"
    records = f"identifiers {w.records.get('identifiers', 0):,}, content {w.records.get('content', 0):,}"
    if done:
        console.print(f"{head} withdrawn by {shown(w.withdrawn_by)} on {w.withdrawn_at[:16].replace('T', ' ')}.")
        console.print(f"  Records deleted from the zones: {records} (the batch stored {w.accepted:,})")
        console.print("  Deleted from the links (every run): " + _link_counts(w.links))
        if w.quarantine_file_deleted:
            console.print(f"  Quarantine file deleted ({w.quarantined:,} rows)")
        if getattr(w, "unresolved", 0):
            console.print(f"  {w.unresolved:,} quarantined row(s) of earlier batches it resolved are unresolved again")
    else:
        console.print(f"Withdrawing {head} would delete:")
        console.print(f"  records from the zones: {records} (the batch stored {w.accepted:,})")
        console.print("  from the links (every run): " + _link_counts(w.links))
        if w.quarantine_file_deleted:
            console.print(f"  its quarantine file ({w.quarantined:,} rows)")
        if getattr(w, "unresolved", 0):
            console.print(f"  and unresolve {w.unresolved:,} quarantined row(s) of earlier batches it resolved")
    if w.extracts:
        verb = "are told" if done else "would be told"
        console.print(
            f"  Extracts built from it: {', '.join(shown(p) for p in w.extracts)}; they keep it until rebuilt, and "
            f"{verb} at their next build, which leaves it out"
        )


@batch_app.command("delete-list")
def batch_delete_list(
    source: Annotated[str, typer.Argument(help="The participant list's source type, e.g. participants.")],
    workspace: WorkspaceOption = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what it would remove, and change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (for scripts).")] = False,
    as_json: JsonOption = False,
):
    """Delete a participant list after its report (Justice Data Lab style): every batch of it withdrawn, its dataset
    dropped from the extracts built with it, the zones and links written afresh; audited."""
    from bold.actions.ingest import delete_list, delete_list_plan

    ws, user = signed_in(workspace)
    _plan_confirm_apply(
        delete_list_plan(ws, user, source),
        lambda: delete_list(ws, user, source, confirmed=True),
        _print_list_deletion,
        dry_run=dry_run,
        yes=yes,
        as_json=as_json,
        refusal=f"the {source} list: pass --yes to delete it (no terminal to ask on); nothing changed",
        question="Delete this list from the platform? This cannot be undone",
    )


def _print_list_deletion(d, *, done: bool) -> None:
    records = f"identifiers {d.records.get('identifiers', 0):,}, content {d.records.get('content', 0):,}"
    batches = ", ".join(shown(repr(b.batch)) for b in d.batches)
    if done:
        console.print(f"The {shown(d.source)} list (batches {batches}) deleted by {shown(d.deleted_by)}.")
    else:
        console.print(f"Deleting the {shown(d.source)} list (batches {batches}) would delete:")
    console.print(f"  records from the zones: {records}")
    console.print("  from the links (every run): " + _link_counts(d.links))
    if d.extracts:
        console.print("  the list from the extracts of: " + ", ".join(shown(p) for p in d.extracts))
    console.print("  and write the zones and the links afresh" if not done else "  Zones and links written afresh.")


quarantine_app = typer.Typer(help="A batch's quarantined rows, for its sender.", no_args_is_help=True)


@quarantine_app.command("export")
def quarantine_export(
    batch: Annotated[str, typer.Argument(help="The batch: its id, or SOURCE/NAME (e.g. prison/prison-2026-11).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The CSV file to write (outside the workspace).")],
    workspace: WorkspaceOption = Path("."),
):
    """Write a batch's quarantined rows, with the reason for each and the values as sent, to an owner-only CSV to
    fix and send again. Only the person who sent the batch, or an admin; audited."""
    from bold.actions.ingest import quarantine_export as export

    done = export(*signed_in(workspace), batch, out)
    console.print(
        f"{done.rows:,} quarantined row(s) of batch {shown(done.source)}/{shown(done.batch)} written to "
        f"{shown(done.file)} (owner-only; it holds identifiers)"
        + (f"; {done.resolved:,} resolved by a later batch (column resolved_by_batch)" if done.resolved else "")
    )


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.add_typer(optout_app, name="optout")
    batch_app.add_typer(quarantine_app, name="quarantine")
    app.add_typer(batch_app, name="batch")
