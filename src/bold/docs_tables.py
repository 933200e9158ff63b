"""The parts of the documentation that are made from the code, so they cannot drift from it: the role table
(``bold.governance.permissions``, with the release workflow's part in docs/release.md), the project and output
lifecycles (``bold.governance.lifecycle``), the disclosure profiles (``bold.disclosure.profiles``), the
services of a deployment with their keys and groups (``bold.security.services``), the web application's routes
with who may use each (``bold.web.routes``) and the field reference of every source (``bold.sources.catalogue``,
from the contracts).

Each is written into a Markdown file between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``.
``python -m bold.docs_tables`` (``make docs``) rewrites them; a test fails when a file is out of date.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from bold.disclosure.profiles import PROFILES
from bold.errors import EXIT_CODES, HTTP_STATUSES, KIND_MEANING, Kind
from bold.governance.agreement import PERSON_DATASET, PERSON_FIELDS
from bold.governance.lifecycle import LIFECYCLES, Lifecycle
from bold.governance.permissions import NEEDS_CLEARANCE, PERMISSIONS, Permission, Role
from bold.security import services
from bold.sources import catalogue, load_contract, source_types
from bold.web import routes

ROLE_HEADINGS = {r: r.value.replace("_", " ") for r in Role}


RELEASE_PERMISSIONS = tuple(p for p in Permission if p.value.startswith(("outputs ", "releases ")))


def role_table(permissions=tuple(Permission)) -> str:
    """Which roles may do each action, and whether it acts on data (then needing current training and approval)."""
    header = "| action | " + " | ".join(ROLE_HEADINGS[r] for r in Role) + " | needs training and approval |"
    lines = [header, "|---|" + "---|" * (len(Role) + 1)]
    for p in permissions:
        cells = ["yes" if r in PERMISSIONS[p] else "" for r in Role] + ["yes" if p in NEEDS_CLEARANCE else ""]
        lines.append(f"| `{p.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def lifecycle(lc: Lifecycle) -> str:
    """The moves as a table, who owns each state, and a state diagram (Mermaid, drawn by GitHub and most viewers)."""
    lines = [
        f"{'An' if lc.thing[0] in 'aeiou' else 'A'} {lc.thing} starts `{lc.initial.value}` (`{lc.created_by.value}`).",
        "",
        "| move | from | to | permission | roles |",
        "|---|---|---|---|---|",
    ]
    for t in lc.transitions.values():
        sources = ", ".join(f"`{s.value}`" for s in sorted(t.sources, key=list(lc.states).index))
        roles = ", ".join(sorted(r.value for r in PERMISSIONS[t.permission]))
        lines.append(f"| {t.name} | {sources} | `{t.target.value}` | `{t.permission.value}` | {roles} |")
    if not lc.transitions:
        lines.append("| (none yet) | | | | |")
    lines += ["", "| state | whose move it is |", "|---|---|"]
    lines += [f"| `{s.value}` | {o.value if o else 'nobody: final'} |" for s, o in lc.owners.items()]
    lines += ["", "```mermaid", "stateDiagram-v2", f"    [*] --> {lc.initial.value}"]
    for t in lc.transitions.values():
        for s in sorted(t.sources, key=list(lc.states).index):
            lines.append(f"    {s.value} --> {t.target.value}: {t.name}")
    lines += [f"    {s.value} --> [*]" for s, o in lc.owners.items() if o is None and lc.transitions]
    lines.append("```")
    return "\n".join(lines)


def error_table() -> str:
    lines = ["| kind | means | exit code | HTTP status |", "|---|---|---|---|"]
    for kind in Kind:
        lines.append(f"| `{kind.value}` | {KIND_MEANING[kind]} | {EXIT_CODES[kind]} | {HTTP_STATUSES[kind]} |")
    return "\n".join(lines)


PROFILE_ROWS = {
    "version": "version",
    "min_people": "fewest people behind a number",
    "rounding": "rounding of counts, after suppression",
    "rounding_base": "rounding base",
    "rate_rounding": "rounding of the counts behind rates",
    "p_percent": "p% rule",
    "nk_n": "(n, k) dominance: n",
    "nk_k": "(n, k) dominance: k",
    "min_df": "residual degrees of freedom",
    "zeros": "zero counts",
    "extreme_shares": "shares of 0% or 100%",
    "min_people_percentile": "people for a median or percentile",
    "extremes": "minimum and maximum",
    "source": "source",
}


def profile_table() -> str:
    """Every profile's parameters side by side (``bold.disclosure.profiles``)."""
    names = list(PROFILES)
    lines = ["| parameter | " + " | ".join(f"`{n}`" for n in names) + " |", "|---|" + "---|" * len(names)]
    for field, label in PROFILE_ROWS.items():
        cells = []
        for name in names:
            value = getattr(PROFILES[name], field)
            cells.append(f"{value:.0%}" if field in ("p_percent", "nk_k") else str(value))
        lines.append(f"| {label} (`{field}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def field_reference() -> str:
    """Every source's fields from its contract (``bold.sources.catalogue``): what agreements and studies are written
    from. Content fields are what an agreement may request; identifiers never leave the identifiers zone."""
    lines = [
        f"The dataset `{PERSON_DATASET}` is made by the linker for each linked person; an agreement may request "
        + ", ".join(f"`{PERSON_DATASET}.{f}` ({why})" for f, why in PERSON_FIELDS.items())
        + "."
    ]
    for source in source_types():
        contract = load_contract(source)
        lines += [
            "",
            f"### {contract.title} (`{source}`)",
            "",
            f"{_cell(contract.description)} Custodian: {contract.custodian}. Contract version {contract.version}"
            + (f"; coverage is measured on `{contract.event_date}`." if contract.event_date else "."),
            "",
            "| field | zone | type | format or codes | required | meaning | an agreement asks for it as |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in catalogue.fields(contract):
            shape = f"`{f.format}`" if f.format else ", ".join(f"`{c}`" for c in f.codes)
            ask = f"`{f.request}`" if f.request else "never: an identifier"
            lines.append(
                f"| `{f.name}` | {f.zone} | {f.type} | {_cell(shape)} | {'yes' if f.required else ''} "
                f"| {_cell(f.description)} | {ask} |"
            )
    return "\n".join(lines)


def sections() -> dict[str, str]:
    return {
        "roles": role_table(),
        "release-roles": role_table(RELEASE_PERMISSIONS),
        "profiles": profile_table(),
        "errors": error_table(),
        **{f"{lc.thing}-lifecycle": lifecycle(lc) for lc in LIFECYCLES},
        "services": services.table(),
        "service-groups": services.share_table(),
        "web-routes": routes.table(),
        "fields": field_reference(),
    }


def render(text: str) -> str:
    """``text`` with every generated section brought up to date."""
    made = sections()

    def replace(match: re.Match) -> str:
        name = match["name"]
        if name not in made:
            raise KeyError(f"no generated section {name!r}; known: {', '.join(made)}")
        return f"<!-- generated: {name} -->\n{made[name]}\n<!-- end: {name} -->"

    return re.sub(r"<!-- generated: (?P<name>[\w-]+) -->.*?<!-- end: (?P=name) -->", replace, text, flags=re.S)


DOCS = (
    "docs/governance.md",
    "docs/architecture.md",
    "docs/disclosure.md",
    "docs/release.md",
    "docs/security.md",
    "docs/web.md",
    "docs/fields.md",
)


def main(root: Path = Path(".")) -> list[Path]:
    changed = []
    for name in DOCS:
        path = root / name
        text = path.read_text()
        new = render(text)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")):
        print(f"updated {path}")
