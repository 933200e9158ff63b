"""``bold sources``: the data asset register, which ``bold register build`` and the web's public pages publish too.

Each source with its custodian, coverage, record count, fields (from its contract: ``bold.sources.catalogue``),
quality and update history. What it says is public, so counts follow the disclosure rules of the ``bold-strict``
profile: a count of fewer than 20 is not shown, and every other count is rounded to the nearest 10; coverage is
given in months, each holding at least 20 records (``bold.governance.assets``). Shares are given to 0.1%, and only
for a source whose record count is shown.
"""

from __future__ import annotations

from bold.actions.access import require
from bold.disclosure.profiles import Profile, profile
from bold.disclosure.rules import round_count
from bold.governance import assets
from bold.governance.people import User
from bold.governance.permissions import Permission
from bold.sources import catalogue, load_contract
from bold.store import audit
from bold.workspace import Workspace

PROFILE = "bold-strict"  # the disclosure profile the register's counts follow


def _count(n: int | None, rules: Profile) -> int | None:
    return None if n is None or n < rules.min_people else round_count(n, rules)


def _share(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _source(m: assets.Measures, rules: Profile) -> dict:
    contract = load_contract(m.source)
    shown = m.records is not None and m.records >= rules.min_people
    return {
        "source": m.source,
        "title": contract.title,
        "custodian": contract.custodian,
        "description": contract.description.strip(),
        "contract_version": contract.version,
        "records": 0 if m.records == 0 else _count(m.records, rules),  # none held is no one's secret
        "records_measured": m.records is not None,
        "coverage": {"event": contract.event_date, "from": m.coverage[0], "to": m.coverage[1]} if m.coverage else None,
        "quality": {
            "quarantine_share": _share(m.quarantine_share),
            "identifier_completeness": {r: _share(s) for r, s in (m.identifiers or {}).items()} if shown else {},
            "linkage_rate": _share(m.linked) if shown else None,
            "linkage_run": m.linkage_run if shown else None,
        },
        "fields": [f.as_dict() for f in catalogue.fields(contract)],
        "updates": [
            {
                "batch": u.batch_id,
                "arrived": u.arrived,
                "contract_version": u.contract_version,
                "rows_read": _count(u.rows_read, rules),
                "rows_accepted": _count(u.rows_accepted, rules),
                "rows_updated": _count(u.rows_updated, rules),
                "rows_quarantined": _count(u.rows_quarantined, rules),
                "withdrawn": u.withdrawn,
            }
            for u in m.updates
        ],
        "not_measured": m.not_measured,
    }


def data_held(ws: Workspace) -> dict:
    """The data asset register as it is now: what anyone may read (no sign-in needed)."""
    rules = profile(PROFILE)
    return {
        "counts": (
            f"counts below {rules.min_people} are not shown; others are rounded to the nearest "
            f"{rules.rounding_base} (the {PROFILE} disclosure profile)"
        ),
        "smallest_shown": rules.min_people,
        "sources": [_source(m, rules) for m in assets.measure(ws, rules.min_people)],
    }


_published: dict[str, tuple[tuple, dict]] = {}


def public_data_held(ws: Workspace) -> dict:
    """``data_held``, measured again only when the audit chain has moved on: every change to the zones is audited,
    so a web page read by anyone does not open the zones on every visit."""
    head = audit.entries(ws, limit=1)
    mark = (head[0]["seq"], head[0]["hash"]) if head else ()
    kept = _published.get(str(ws.root))
    if kept is None or kept[0] != mark:
        kept = (mark, data_held(ws))
        _published[str(ws.root)] = kept
    return kept[1]


def sources(ws: Workspace, user: User) -> dict:
    """``bold sources``: the data asset register, for anyone signed in."""
    require(ws, user, Permission.SOURCES)
    return data_held(ws)
