"""Every HTML report BOLD writes is built on the one template tree (bold.html): one layout, one stylesheet,
carried inline so the file reads anywhere, with nothing that loads or runs. A report that grew its own <style>
again would drift from the web pages and from the other reports; one that lost its <title> marker could no
longer be rewritten by BOLD (``holds(MARKER)``)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from bold import html
from bold.actions import sources
from bold.disclosure.profiles import profile
from bold.governance import assets, register
from bold.linkage import explain
from bold.reports import linkage_report, released

SRC = Path(__file__).parents[2] / "src" / "bold"
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40" viewBox="0 0 10 4"><rect width="4" height="4"/></svg>'
TABLE = pd.DataFrame({"group": ["a", "b"], "people": [120.0, float("nan")], "share": [0.123456, 0.5]})

PROJECT = {
    "id": "p1",
    "title": "Substance use after leaving prison",
    "status": "approved",
    "purpose": "To learn who reaches treatment.",
    "public_benefit": "Fewer deaths.",
    "legal_basis": "Public task.",
    "controllers": [
        {"name": "Ministry of Justice", "sector": "criminal justice"},
        {"name": "OHID", "sector": "central government"},
    ],
    "parties": [],
    "questions": ["Who starts treatment within three weeks?"],
    "datasets": {"prison": {"release_date": "index date for every outcome"}},
    "start": "2026-01-01",
    "end": None,
    "submitted": "2026-01-02",
    "approved": "2026-01-03",
    "closed": None,
    "acceptable": False,
    "red_lines": ["no decisions about people"],
    "opt_out_exemption": None,
    "released_outputs": [
        {
            "study": "continuity-of-care",
            "release": "r1",
            "released": "2026-02-01",
            "checked": "2026-01-30",
            "profile": "sacro@1",
            "definition": "Treatment within 21 days.",
            "disclosure_summary": {"suppressed": 1, "rounded": 0},
            "checksums": {"overall.csv": "ab" * 32},
        }
    ],
}
# The data asset register as bold.actions.sources publishes it, from measures of one source (rounded by it)
_PRISON = assets.Measures(
    "prison",
    records=1234,
    coverage=("2019-01", "2024-12"),
    identifiers={"surname": 1.0, "postcode": 0.873},
    linked=0.8,
    linkage_run=3,
    quarantine_share=0.012,
    updates=[assets.Update(1, "2026-01-01", 2, 1300, 1234, 0, 66, None)],
)
DATA_HELD = {
    "counts": "counts below 20 are not shown",
    "smallest_shown": 20,
    "sources": [sources._source(_PRISON, profile(sources.PROFILE))],
}
REGISTER = {
    "made": "2026-02-02T10:00:00+00:00",
    "projects": [PROJECT],
    "data_held": DATA_HELD,
    "audit_head": {"entry": 7, "hash": "cd" * 32},
}
MANIFEST = {
    "title": "Continuity of care",
    "output": "o1",
    "project": "p1",
    "created_by": "ana",
    "created_at": "2026-01-30T09:00:00",
    "engine": "duckdb",
    "seconds": 1.5,
    "question": "Who starts treatment within three weeks?",
    "definition": "Treatment within 21 days.",
    "fields_used": ["prison.release_date"],
    "parameters": {"days": 21},
    "notes": ["A note."],
}
CHECK = {
    "profile": {"name": "sacro", "version": 1},
    "summary": {"suppressed": 1, "secondary": 0, "rounded": 0, "for_review": 0},
    "outcome": "pass",
}
RELEASE = SimpleNamespace(id="r1", output="o1", version=1, released_by="oscar", released_at="2026-02-01T10:00:00")
SECTION = {
    "release": RELEASE,
    "manifest": {"study": "continuity-of-care", "profile": "sacro@1", "disclosure_summary": {"suppressed": 1}},
    "charts": [("overall", SVG)],
    "tables": [("overall", TABLE)],
}
EXPLANATION = explain.Explanation(
    "a1", "b2", -8.0, [explain.Step("forename", "Exact match on forename", 11.5, "ANN", "ANN")], 3.5, 0.918
)
THRESHOLDS = ("high", "medium", "low")
MEASURES = {
    "run": {
        "run_id": 3,
        "started_at": "2026-01-01T10:00:00",
        "actor": "lin",
        "records": 5000,
        "sources": ["prison", "hospital"],
        "comparisons": 12345,
        "seconds": 12.0,
        "model_sha256": "ef" * 32,
    },
    "encoded": False,
    "completeness": [
        {"source": "prison", "records": 100, "no_fixed_abode": 0.1}
        | dict.fromkeys(linkage_report.IDENTIFIER_LABELS, 0.5)
    ],
    "completeness_by_subgroup": [
        {"subgroup": "sex", "value": "F", "records": 40, "nhs_number": 0.9, "forename": 1.0, "postcode_district": 0.8}
    ],
    "blocking": {
        "comparisons": 100,
        "all_pairs": 10000,
        "rules": [{"rule": "l.dob = r.dob", "added": 100, "cumulative": 100}],
    },
    "parameters": [{"comparison": "surname", "level": "exact", "m": 0.9, "u": 0.001, "match_weight": 9.8}],
    "thresholds": {"high": 0.99, "medium": 0.9, "low": 0.5},
    "sensitivity": [
        {
            "threshold": t,
            "match_probability": 0.9,
            "people": 4000,
            "pairs_kept": 900,
            "expected_false_matches": 3.2,
            "expected_missed_matches": 4.1,
            "linked_across_sources": 0.42,
        }
        for t in THRESHOLDS
    ],
    "match_rates": [{"subgroup": "all", "value": "all", "records": 5000, "high": 0.4, "medium": 0.45, "low": 0.5}],
    "linked_vs_unlinked": [
        {
            "status": "linked",
            "records": 3000,
            "no_fixed_abode": 0.1,
            "with_nhs_number": 0.9,
            "with_full_name": 1.0,
            "mean_age": 40.2,
        }
    ],
    "two_deaths": [{"threshold": t, "people_with_two_deaths": 2} for t in THRESHOLDS],
    "accuracy": [
        {
            "threshold": "medium",
            "subgroup": "all",
            "value": "all",
            "precision": 0.99,
            "recall": 0.97,
            "f1": 0.98,
            "true_pairs": 800,
        }
    ],
    "recall_between_sources": [
        {"threshold": "medium", "source_a": "prison", "source_b": "treatment", "true_pairs": 700, "recall": 0.97}
    ],
}
CHECKS = [
    {
        "threshold": t,
        "people_with_events_after_death": 1,
        "records_after_death": 2,
        "people_with_overlapping_prison_spells": 0,
        "people_with_the_same_spell_twice": 5,
    }
    for t in THRESHOLDS
]

# (package, template, context, what its <title> starts with, a fact the page must show)
REPORTS = {
    "register": (
        "bold.governance",
        "register.html",
        {"r": REGISTER},
        register.REGISTER_FILES["index.html"].decode(),
        "index date for every outcome",
    ),
    "promises": (
        "bold.governance",
        "promises.html",
        {"r": REGISTER, "will": register.PROMISES_WILL, "wont": register.PROMISES_WONT},
        register.REGISTER_FILES["promises.html"].decode(),
        "Can I opt out?",
    ),
    "data held": (
        "bold.governance",
        "data.html",
        {"r": REGISTER},
        register.REGISTER_FILES["data.html"].decode(),
        "<code>prison.release_date</code>",
    ),
    "pending output": (
        "bold.studies",
        "output.html",
        {"m": MANIFEST, "charts": {"overall": SVG}, "tables": {"overall": TABLE}},
        "<title>Continuity of care: pending output o1",
        "Pending output, not released",
    ),
    "checked output": (
        "bold.disclosure",
        "checked.html",
        {"m": MANIFEST, "r": CHECK, "charts": {"overall": SVG}, "tables": {"overall": TABLE}},
        "<title>Continuity of care: checked output o1",
        "Checked under sacro (version 1)",
    ),
    "released findings": (
        "bold.reports",
        "released.html",
        {"project": "p1", "sections": [SECTION], "left_out": ["r0"], "made_at": "2026-02-02T10:00:00"},
        released.MARKER.decode(),
        "Left out because their files no longer match",
    ),
    "linkage quality": (
        "bold.reports",
        "linkage_report.html",
        {
            "m": MEASURES,
            "checks": CHECKS,
            "ethnicity": [{"threshold": "medium", "ethnicity": "White", "people": 300, "linked_across_sources": 0.4}],
            "charts": dict.fromkeys(
                ("completeness", "weights", "rates", "sizes", "accuracy", "splink_weights", "splink_m_u"), SVG
            ),
            "labels": linkage_report.IDENTIFIER_LABELS,
            "version": "1.0",
            "made": "2026-01-01 10:00 UTC",
            "truth": True,
        },
        linkage_report.REPORT_MARKER.decode(),
        "Accuracy against the ground truth",
    ),
    "pair explanation": (
        "bold.linkage",
        "explain.html",
        {"e": EXPLANATION, "chart": SVG, "source": "Records from out (bold link-files)", "total": 3.5},
        explain.MARKER.decode(),
        "Exact match on forename",
    ),
}


def _render(name: str) -> str:
    package, template, context, _, _ = REPORTS[name]
    strict = package != "bold.governance"  # the register is rendered not strict, as register.build does
    return html.environment(package, strict=strict).get_template(template).render(**context)


@pytest.mark.parametrize("name", REPORTS)
def test_each_report_is_the_shared_layout_with_the_stylesheet_inline_and_nothing_that_loads_or_runs(name):
    page = _render(name)
    *_, title, fact = REPORTS[name]
    assert page.startswith("<!doctype html>") and '<header class="site">' in page and '<main id="main"' in page
    assert page.count("<style") == 1 and f"<style>{html.stylesheet()}</style>" in page  # the one stylesheet, inline
    assert "<script" not in page and "<link" not in page and " src=" not in page  # one file: nothing loads or runs
    assert 'href="/' not in page  # opened from a disk, a link to "/" would lead to its root, not to BOLD
    assert title in page and page.index(title) < (1 << 16)  # the marker BOLD knows its own files by
    assert fact in page


@pytest.mark.parametrize("name", ["pending output", "checked output", "released findings"])
def test_output_tables_show_figures_as_the_files_hold_them(name):
    """A table is components.frame: numbers to four significant figures and aligned right, a suppressed cell
    empty (never "nan")."""
    page = _render(name)
    assert '<td class="num">120</td>' in page and '<td class="num">0.1235</td>' in page
    assert ">nan<" not in page and "<td></td>" in page
    assert page.count("<svg") == 1  # the chart, inline


def test_the_register_links_its_own_pages_and_no_web_page():
    index, promises, data = _render("register"), _render("promises"), _render("data held")
    for page, here in ((index, "index.html"), (promises, "promises.html"), (data, "data.html")):
        nav = re.search(r'<nav class="pages".*?</nav>', page, re.S).group(0)
        assert re.findall(r'href="([^"]+)"', nav) == ["index.html", "promises.html", "data.html", "register.json"]
        assert f'href="{here}" aria-current="page"' in nav and nav.count("aria-current") == 1
        assert 'class="roles"' not in page  # the web's navigation is not in a published file
    assert '<span class="state state-approved">approved</span>' in index  # the shared state badge
    assert '<span class="red">Red lines crossed:' in index
    # the data held: counts rounded (1,234 records: 1230; 66 quarantined: 70), shares to 0.1%
    assert "1230" in data and ">70<" in data and "87.3%" in data and "80.0%" in data and "1234" not in data


def test_report_templates_extend_the_shared_base_and_carry_no_style_of_their_own():
    templates = {REPORTS[n][0].removeprefix("bold.") + "/templates/" + REPORTS[n][1] for n in REPORTS}
    for path in templates:
        text = (SRC / path).read_text()
        assert text.startswith('{% extends "base.html" %}'), path
        assert "{% set standalone = true %}" in text, path
    styled = [p for p in SRC.rglob("templates/*.html") if "<style" in p.read_text() and p.name != "base.html"]
    assert styled == []
    assert not (SRC / "governance" / "templates" / "base_style.html").exists()


@pytest.mark.skipif(shutil.which("duplicates") is None, reason="the duplicates tool is not installed here")
def test_no_template_or_stylesheet_repeats_another_to_the_letter():
    """`duplicates` pairs places that share lines; a report template sharing lines word for word with another,
    or with the stylesheet, is a copied style block or layout (like alike templates are "shape" rows: fine)."""
    found = subprocess.run(
        ["duplicates", "--repo", str(SRC), "--min-lines", "4", "--most", "200", "--seconds", "60"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "pairs of places" in found or "no duplicates" in found, found
    rows = [line for line in found.splitlines() if re.match(r"D\d+ ", line)]
    # web pages share closing tags ({% endfor %}{% endcall %}...) with reports, and can hold no style (their CSP)
    copied = [r for r in rows if re.search(r"templates/|style\.css", r) and " shape" not in r and "web/" not in r]
    assert copied == [], copied
