"""Impossible-event checks on linked data: the content side of the linkage quality report.

Whether a person has a hospital admission after their death, or two prison spells at once, can only be
seen from event dates, which live in the content zone. This module reads the content zone and the
links (record_key -> person_key) and never the identifiers zone, so whoever runs it sees dates and
codes but no names; it returns counts only.
"""

from __future__ import annotations

from bold.sources import load_contract
from bold.workspace import zone_tables

LEVELS = ("high", "medium", "low")


def _event_dates(con) -> str:
    """One row per record and dated event: (record_key, source, event_date), from every content date
    field that records something that happened (scheduled dates such as an order's end are skipped)."""
    parts = []
    for _, source in zone_tables(con, "content"):
        for col in load_contract(source).content:
            if col.type == "date" and not col.allow_future:
                parts.append(
                    f"select record_key, '{source}' as source, {col.field} as event_date "
                    f"from content.{source} where {col.field} is not null"
                )
    return " union all ".join(parts)


def impossible_events(ws, run_id: int) -> list[dict]:
    """Per threshold: people with an event after their registered death, people with overlapping
    prison spells, and the records involved."""
    out = []
    with ws.content(read_only=True) as con:
        ws.attach(con, "links", read_only=True)
        con.execute(f"create temp table events as {_event_dates(con)}")
        stored = {source for _, source in zone_tables(con, "content")}
        has_deaths, has_prison = "deaths" in stored, "prison" in stored
        for level in LEVELS:
            row = {
                "threshold": level,
                "people_with_events_after_death": 0,
                "records_after_death": 0,
                "people_with_overlapping_prison_spells": 0,
            }
            con.execute(f"""create or replace temp view person_of as select record_key, person_{level} as person
                            from links.record_person where run_id = {int(run_id)}""")
            if has_deaths:
                row["people_with_events_after_death"], row["records_after_death"] = con.execute(
                    """with death as (select p.person, min(d.date_of_death) as died
                                      from content.deaths d join person_of p using (record_key) group by 1)
                       select count(distinct p.person), count(distinct e.record_key)
                       from events e join person_of p using (record_key) join death using (person)
                       where e.event_date > death.died and e.source != 'deaths'"""
                ).fetchone()
            if has_prison:
                # the same spell twice is a duplicate record in the source, not a false link
                row["people_with_overlapping_prison_spells"], row["people_with_the_same_spell_twice"] = con.execute(
                    """with spells as (select p.person, s.record_key, s.reception_date as s,
                                              coalesce(s.release_date, date '9999-12-31') as e
                                       from content.prison s join person_of p using (record_key))
                       select count(distinct a.person) filter (where not (a.s = b.s and a.e = b.e)),
                              count(distinct a.person) filter (where a.s = b.s and a.e = b.e)
                       from spells a join spells b
                         on a.person = b.person and a.record_key < b.record_key and a.s <= b.e and b.s <= a.e"""
                ).fetchone()
            out.append(row)
    return out


def match_rates_by_ethnicity(ws, run_id: int) -> list[dict]:
    """Share of records whose person appears in more than one source, by the ethnicity recorded in the
    content of the sources that hold it (homelessness and mental health): ethnicity is content, so the
    linker never sees it, and this is computed here from content and links only."""
    with ws.content(read_only=True) as con:
        ws.attach(con, "links", read_only=True)
        stored = {source for _, source in zone_tables(con, "content")}
        parts = [
            f"select record_key, ethnicity from content.{t}"
            for t in sorted(stored)
            if any(c.field == "ethnicity" for c in load_contract(t).content)
        ]
        if not parts:
            return []
        con.execute(f"create temp table eth as {' union all '.join(parts)}")
        out = []
        for level in LEVELS:
            out += [
                {"threshold": level, "ethnicity": e, "people": n, "linked_across_sources": share}
                for e, n, share in con.execute(
                    f"""with r as (select record_key, source, person_{level} as person from links.record_person
                                   where run_id = {int(run_id)}),
                             p as (select person, count(distinct source) > 1 as multi from r group by 1),
                             e as (select r.person, mode(eth.ethnicity) as ethnicity from eth join r using (record_key)
                                   group by 1)
                        select coalesce(e.ethnicity, 'not recorded'), count(*), avg(p.multi::int)
                        from e join p using (person) group by 1 order by 1"""
                ).fetchall()
            ]
        return out
