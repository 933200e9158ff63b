"""The transparency register: a static site anyone can read, saying what the platform does with data.

People with lived experience asked "what data is shared, and with whom?" and "can I opt out?" (docs/design/DOMAIN.md
section 2). The register answers from the governance store itself, not from a document kept beside it:
every project with its purpose, benefit, legal basis, datasets and fields (with the reason for each),
status, dates and acceptability assessment; the released outputs (study, definition, disclosure profile, how
many cells were suppressed or rounded, checksums, dates: given by the release workflow, a later stage);
a plain-language page of what the platform will and won't do and how opting out works; how long each source's
records are kept and how many retention has deleted (``bold.governance.retention``); the data it holds
(the data asset register: ``bold.actions.sources``, passed in, as it applies the disclosure rules); and the current
head of the audit chain, so that anyone who keeps a copy can later check that history was not rewritten.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

from bold import __version__, html, store
from bold.governance import decisions, projects, retention
from bold.security.paths import holds, output_folder
from bold.security.private import private_dir, write_private
from bold.store import audit
from bold.workspace import Workspace

PROMISES_WILL = (
    "Share data only through this platform, under a data sharing agreement approved for each project.",
    "Keep who you are apart from what happened to you: the people who see names never see events, and the "
    "people who analyse events never see names.",
    "Use data only for research and improving services, and only for the questions each agreement names.",
    "Let out only statistics about groups, after two people have checked that no one can be recognised.",
    "Record every action in an audit trail that cannot be changed without it showing.",
)
PROMISES_WONT = (
    "Collect new data about you.",
    "Use data to make decisions about you or your case.",
    # seed 000's own words; every party to an agreement must be in one of PROMISED_SECTORS (an assessment red line)
    "Share your data with anyone outside of government or the criminal justice system.",
    "Use predictive technology to make decisions about people.",
    "Use data for any purpose outside those authorised in data sharing agreements.",
)


def _public_version(v) -> dict:
    """A version as the register shows it: what was decided, when and why, with no staff member's name."""
    s = v.summary()
    dpia = s["dpia"] and {k: s["dpia"][k] for k in ("summary", "risks", "public_involvement", "residual_risk")}
    return {
        "version": v.number,
        "submitted": v.submitted_at[:10],
        "outcome": v.outcome,
        "decided": v.decided_at[:10] if v.decided_at else None,
        "reason": v.reason,
        "board_answers": v.answers,
        "dpia": dpia,
        "custodians_signed_off": [
            {"source": o.source, "on": o.signed_at[:10], "conditions": o.conditions} for o in v.sign_offs
        ],
    }


def _project_entry(p: projects.Project, released: list[dict], versions: list) -> dict:
    a = p.agreement
    return {
        "id": a.id,
        "title": a.title,
        "status": p.status,
        "version": p.version,
        "versions": [_public_version(v) for v in versions],
        "purpose": a.purpose.strip(),
        "public_benefit": a.public_benefit.strip(),
        "legal_basis": a.legal_basis.strip(),
        "controllers": [p.model_dump(mode="json") for p in a.controllers],
        "parties": [p.model_dump(mode="json") for p in a.parties],
        "questions": [q.text for q in a.questions],
        "datasets": {d: dict(fields) for d, fields in a.datasets.items()},
        "start": str(a.start),
        "end": str(a.end) if a.end else None,
        "submitted": p.submitted_at[:10],
        "approved": p.approved_at[:10] if p.approved_at else None,
        "closed": p.closed_at[:10] if p.closed_at else None,
        "extract_expired": p.expired_at[:10] if p.expired_at else None,
        "acceptable": p.assessment["acceptable"],
        "red_lines": p.assessment["red_lines"],
        "checks_passed": p.assessment["passed"],
        "opt_out_exemption": a.opt_out_exemption.model_dump() if a.opt_out_exemption else None,
        "released_outputs": released,
    }


def _retention(ws: Workspace) -> list[dict]:
    """Per source: how long records are kept, and how many retention has deleted (and when it last did)."""
    return [
        {
            "source": s.source,
            "period": s.period,
            "set_in": s.set_in or None,
            "records_deleted": s.deleted_so_far,
            "last_deleted": s.last_deleted[:10] if s.last_deleted else None,
        }
        for s in retention.current(ws)
    ]


# The files of the register, each with what marks it as one BOLD wrote (so an --out never overwrites others).
REGISTER_FILES = {
    "register.json": b'"platform": "BOLD"',
    "index.html": b"<title>BOLD transparency register",
    "promises.html": b"<title>What BOLD will and won't do",
    "data.html": b"<title>Data BOLD holds",
}


def contents(
    ws: Workspace,
    released: Callable[[str], list[dict]] | None = None,
    data_held: Callable[[], dict] | None = None,
) -> dict:
    """What the register says, from the store as it is now (the published files and the web pages show it).
    ``data_held`` gives the data asset register (``bold.actions.sources.data_held``)."""
    found = projects.all_projects(ws)
    with store.connect(ws) as db:  # every project's versions through one connection
        versions = {p.id: decisions.versions(db, p.id) for p in found}
    entries = [_project_entry(p, released(p.id) if released else [], versions[p.id]) for p in found]
    head = audit.entries(ws, limit=1)
    return {
        "platform": "BOLD",
        "workspace": ws.settings["workspace"]["name"],
        "made": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bold_version": __version__,
        "data_held": data_held() if data_held else None,
        "projects": entries,
        "retention": _retention(ws),
        "audit_head": {"entry": head[0]["seq"], "hash": head[0]["hash"]} if head else None,
    }


def build(
    ws: Workspace,
    out: Path | None = None,
    *,
    by: str,
    released: Callable[[str], list[dict]] | None = None,
    data_held: Callable[[], dict] | None = None,
) -> Path:
    """Write ``register/index.html``, ``register/promises.html``, ``register/data.html`` and
    ``register/register.json``.

    ``released`` gives a project's released outputs (``bold.disclosure.release.register_entries``: passed in,
    since the release workflow is a later stage than governance); ``data_held`` the data asset register.

    The register is made to be published, but inside the workspace it is owner-only like everything there;
    publishing copies it out. A folder ``out`` outside the workspace is that copy, written as any file."""
    out = output_folder(
        out or ws.root / "register",
        kind="transparency register",
        files=REGISTER_FILES,
        workspace=ws.root,
        inside="register",
        written_by_bold=lambda path: holds(REGISTER_FILES[path.name])(path),
    )
    private = out.resolve().is_relative_to(ws.root.resolve())
    if private:
        private_dir(out)
    else:
        out.mkdir(parents=True, exist_ok=True)
    data = contents(ws, released, data_held)
    entries = data["projects"]
    env = html.environment("bold.governance", strict=False)
    pages = {
        "register.json": json.dumps(data, indent=2),
        "index.html": env.get_template("register.html").render(r=data),
        "promises.html": env.get_template("promises.html").render(will=PROMISES_WILL, wont=PROMISES_WONT, r=data),
        "data.html": env.get_template("data.html").render(r=data),
    }
    for name, text in pages.items():
        if private:
            write_private(out / name, text)
        else:
            (out / name).write_text(text)
    audit.record(
        ws,
        "register published",
        str(out.relative_to(ws.root)) if out.is_relative_to(ws.root) else str(out),
        {
            "projects": len(entries),
            "released_outputs": sum(len(e["released_outputs"]) for e in entries),
            "sources": len(data["data_held"]["sources"]) if data["data_held"] else 0,
        },
        by=by,
    )
    return out
