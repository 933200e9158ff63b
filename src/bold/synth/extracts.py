"""Custodian extracts: one per source, in the custodian's own columns, codes and date formats,
carrying only the identifiers that source really holds (docs/design/DOMAIN.md section 5), with identifier
errors drawn per the configured corruption rates.

Identifier errors belong to a *registration* (a person's record in the source's own system,
keyed by its local id) where the source has one, so they repeat on every event filed under it;
a duplicate is the same event entered again under a new registration, with its own errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bold.synth import corruption
from bold.synth import identifiers as ids
from bold.synth.config import CorruptionRates, SynthConfig
from bold.synth.events import NEVER, Timeline
from bold.synth.population import People
from bold.synth.reference import (
    ETHNICITY_CODES,
    JUSTICE_NFA,
    NHS_NFA_POSTCODE,
    RELEASE_TYPES,
    areas,
)


@dataclass(frozen=True)
class ExtractSpec:
    """The shape of one source's extract: record id, identifier columns with their roles, the
    content columns, and the custodian's date format."""

    source: str
    record_id: str
    identifiers: dict[str, str]  # column -> identifier role
    content: tuple[str, ...]
    date_format: str
    persistent_id: str | None = None  # column of the source's own person id, if it has one

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.record_id, *self.identifiers, *self.content)


SPECS: dict[str, ExtractSpec] = {
    s.source: s
    for s in (
        ExtractSpec(
            "prison",
            "BOOKING_ID",
            {
                "NOMS_NUMBER": "prison_number",
                "PNC_ID": "pnc_id",
                "SURNAME": "surname",
                "FORENAME": "forename",
                "ALIASES": "aliases",
                "DATE_OF_BIRTH": "date_of_birth",
                "SEX": "sex",
                "RELEASE_POSTCODE": "postcode",
            },
            (
                "ESTABLISHMENT",
                "RECEPTION_DATE",
                "RELEASE_DATE",
                "RELEASE_TYPE",
                "RELEASE_LA",
                "SUBSTANCE_MISUSE_NEED",
                "OST_ON_RELEASE",
            ),
            "%d/%m/%Y",
            persistent_id="NOMS_NUMBER",
        ),
        ExtractSpec(
            "probation",
            "EVENT_ID",
            {
                "CRN": "crn",
                "PNC_NUMBER": "pnc_id",
                "FIRST_NAME": "forename",
                "LAST_NAME": "surname",
                "DATE_OF_BIRTH": "date_of_birth",
                "GENDER": "sex",
                "POSTCODE": "postcode",
            },
            (
                "ORDER_TYPE",
                "ORDER_START_DATE",
                "ORDER_END_DATE",
                "TERMINATION_DATE",
                "TERMINATION_REASON",
                "DRR",
                "ATR",
                "MHTR",
                "OASYS_DRUG_SCORE",
                "OASYS_ALCOHOL_SCORE",
            ),
            "%Y-%m-%d",
            persistent_id="CRN",
        ),
        ExtractSpec(
            "treatment",
            "JOURNEY_ID",
            {
                "CLIENT_ID": "local_id",
                "INITIALS": "initials",
                "DOB": "date_of_birth",
                "SEX": "sex",
                "PC_DISTRICT": "postcode_district",
            },
            (
                "REFERRAL_SOURCE",
                "REFERRAL_DATE",
                "TRIAGE_DATE",
                "TREATMENT_START_DATE",
                "DISCHARGE_DATE",
                "DISCHARGE_REASON",
                "SUBSTANCE_GROUP",
                "INJECTING_STATUS",
                "HOUSING_NEED",
                "MH_TREATMENT",
                "LA_CODE",
            ),
            "%d/%m/%Y",
            persistent_id="CLIENT_ID",
        ),
        ExtractSpec(
            "hospital",
            "EPIKEY",
            {"NHS_NUMBER": "nhs_number", "DOB": "date_of_birth", "SEX": "sex", "POSTCODE": "postcode"},
            ("ADMIDATE", "DISDATE", "ADMIMETH", "DIAG_4_01", "DIAG_4_02"),
            "%Y-%m-%d",
        ),
        ExtractSpec(
            "deaths",
            "REG_ID",
            {
                "NHS_NO": "nhs_number",
                "FORENAMES": "forename",
                "SURNAME": "surname",
                "DOB": "date_of_birth",
                "SEX": "sex",
                "USUAL_RES_POSTCODE": "postcode",
            },
            ("DOD", "UNDERLYING_CAUSE", "DRUG_RELATED"),
            "%Y%m%d",
        ),
        ExtractSpec(
            "homelessness",
            "CASE_REF",
            {
                "FORENAME": "forename",
                "SURNAME": "surname",
                "DOB": "date_of_birth",
                "SEX": "sex",
                "NI_NUMBER": "ni_number",
            },
            (
                "APPLICATION_DATE",
                "DUTY",
                "SN_DRUG",
                "SN_ALCOHOL",
                "SN_MENTAL_HEALTH",
                "SN_OFFENDING",
                "LA_CODE",
                "ETHNICITY",
            ),
            "%d-%m-%Y",
        ),
        ExtractSpec(
            "mental_health",
            "SERVICE_REQUEST_ID",
            {
                "LOCAL_PATIENT_ID": "local_id",
                "NHS_NUMBER": "nhs_number",
                "DATE_OF_BIRTH": "date_of_birth",
                "GENDER": "sex",
                "POSTCODE": "postcode",
            },
            ("REFERRAL_DATE", "CONTACTS", "PRIMARY_REASON", "ETHNIC_CATEGORY"),
            "%d-%b-%Y",
            persistent_id="LOCAL_PATIENT_ID",
        ),
    )
}


@dataclass
class Counters:
    """Running sequence numbers per source, so ids stay unique across chunks."""

    records: dict[str, int] = field(default_factory=dict)
    registrations: dict[str, int] = field(default_factory=dict)

    def take(self, kind: str, source: str, n: int) -> np.ndarray:
        store = getattr(self, kind)
        first = store.get(source, 0)
        store[source] = first + n
        return np.arange(first, first + n, dtype=np.int64)


@dataclass
class Built:
    """One chunk of one source: the extract rows and the truth rows about them."""

    extract: pa.Table
    records: pa.Table  # record_id -> person_id, with the errors applied
    events: pa.Table  # the true event behind each (non-duplicate) record


def dates(days: np.ndarray, fmt: str) -> pa.Array:
    """Format day numbers as the custodian writes dates; ``NEVER`` becomes null."""
    return pc.strftime(pc.cast(as_date32(days), pa.timestamp("s")), format=fmt)


def as_date32(days: np.ndarray) -> pa.Array:
    days = np.asarray(days)
    missing = days == NEVER
    return pa.array(np.where(missing, 0, days).astype(np.int32), mask=missing).view(pa.date32())


def yes_no(flag: np.ndarray) -> np.ndarray:
    return np.where(flag, "Y", "N").astype(object)


def la_codes(people: People, pid: np.ndarray, day: np.ndarray) -> np.ndarray:
    """ONS code of the local authority each person lived in on ``day`` (None where ``day`` is ``NEVER``).
    Derived from the person's areas and moves, so it draws no random numbers."""
    return np.where(day == NEVER, None, areas().la_code[people.la_on(pid, day)].astype(object))


# --- registrations and identities ---------------------------------------------------------------


def _expand(pid: np.ndarray, persistent: bool, rate: float, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row -> base record, is-duplicate flag, registration code) after adding duplicates.

    Persistent sources file a person's records under one registration, except when the person is
    registered afresh (at ``rate``); a duplicate always gets a new registration.
    """
    n = len(pid)
    dup = np.flatnonzero(rng.random(n) < rate)
    base = np.concatenate([np.arange(n), dup])
    is_dup = np.concatenate([np.zeros(n, bool), np.ones(dup.size, bool)])
    fresh = is_dup | (rng.random(base.size) < rate) | (not persistent)
    # registration key: the person for records filed under the main registration, else unique
    key = np.where(fresh, -1 - np.arange(base.size), pid[base])
    _, reg = np.unique(key, return_inverse=True)
    return base, is_dup, reg


@dataclass
class Identity:
    forename: np.ndarray
    surname: np.ndarray
    aliases: np.ndarray
    dob: np.ndarray
    nhs_number: np.ndarray
    ni_number: np.ndarray
    postcode: np.ndarray
    flags: dict[str, np.ndarray]


def _identity(
    people: People,
    pid: np.ndarray,
    day: np.ndarray,
    reg: np.ndarray,
    rates: CorruptionRates,
    rng,
    *,
    justice: bool = False,
    nfa: np.ndarray | None = None,
    nfa_text: str = "",
) -> Identity:
    """Identifiers as one source recorded them, errors drawn per registration."""
    n_reg = int(reg.max()) + 1 if len(reg) else 0
    u = rng.random((n_reg, 12))[reg]  # one set of draws per registration, repeated on its records
    n = len(pid)
    has_alias = people.alias_forename[pid] != ""
    alias = justice & has_alias & (u[:, 0] < rates.alias)
    forename = np.where(alias, people.alias_forename[pid], people.forename[pid]).astype(object)
    surname = np.where(alias, people.alias_surname[pid], people.surname_on(pid, day)).astype(object)
    forename, nick = corruption.nicknames(forename, ~alias & (u[:, 1] < rates.nickname), u[:, 2])
    f_typo = u[:, 3] < rates.forename_typo
    s_typo = u[:, 4] < rates.surname_typo
    forename = corruption.apply_typos(forename, f_typo, u[:, 5:8])
    surname = corruption.apply_typos(surname, s_typo, u[:, 8:11])

    dob = people.dob[pid].copy()
    swap = corruption.day_month_swappable(dob) & (u[:, 11] < rates.dob_day_month_swap)
    dob = np.where(swap, corruption.swap_day_month(dob), dob)
    v = rng.random((n_reg, 4))[reg]
    year = v[:, 0] < rates.dob_wrong_year
    dob = np.where(year, corruption.wrong_year(dob, v[:, 1]), dob)

    homeless = people.homeless[pid]
    nhs_missing = v[:, 2] < np.where(homeless, rates.nhs_missing_homeless, rates.nhs_missing)
    nino_missing = (people.ni_number[pid] == "") | (v[:, 3] < rates.nino_missing)
    if nfa is None:
        nfa = rng.random(n) < np.where(homeless, rates.nfa_homeless, rates.nfa_other)
    postcode = np.where(nfa, nfa_text, people.postcode_on(pid, day)).astype(object)
    aliases = np.where(
        alias,
        people.forename[pid] + " " + people.surname_on(pid, day),
        np.where(has_alias & justice, people.alias_forename[pid] + " " + people.alias_surname[pid], ""),
    ).astype(object)
    return Identity(
        forename=forename,
        surname=surname,
        aliases=aliases,
        dob=dob,
        nhs_number=np.where(nhs_missing, None, people.nhs_number[pid]).astype(object),
        ni_number=np.where(nino_missing, None, people.ni_number[pid]).astype(object),
        postcode=postcode,
        flags={
            "alias": alias,
            "nickname": nick,
            "forename_typo": f_typo,
            "surname_typo": s_typo,
            "dob_day_month_swap": swap,
            "dob_wrong_year": year,
            "nhs_missing": nhs_missing,
            "ni_missing": nino_missing,
            "no_fixed_abode": nfa,
        },
    )


def _case(names: np.ndarray, style: str, rng=None) -> np.ndarray:
    """Names as a system stores them: upper case, title case, or as typed (mixed)."""
    if style == "upper":
        return np.char.upper(names.astype(str)).astype(object)
    if style == "title":
        return np.array([s[:1].upper() + s[1:] for s in names], dtype=object)
    u = rng.random(len(names))
    out = names.copy()
    for i in np.flatnonzero(u < 0.2):
        out[i] = out[i].upper() if u[i] < 0.12 else out[i].lower()
    for i in np.flatnonzero(u > 0.97):
        out[i] = " " + out[i] + "  "  # stray whitespace from manual entry
    return out


def _pnc(people: People, pid: np.ndarray, long_form: bool) -> np.ndarray:
    year = people.pnc_year[pid]
    yy = year if long_form else year % 100
    width = 4 if long_form else 2
    return ids.digits(yy, width).astype(object) + "/" + people.pnc_serial[pid]


def _sex(people: People, pid: np.ndarray, codes: tuple[str, str]) -> np.ndarray:
    return np.where(people.female[pid], codes[1], codes[0]).astype(object)


# --- one builder per source ---------------------------------------------------------------------


def _finish(
    spec: ExtractSpec,
    cols: dict,
    pid_global: np.ndarray,
    base_index: np.ndarray,
    is_dup: np.ndarray,
    reg_ids: np.ndarray | None,
    identity: Identity,
    events: dict,
    counters: Counters,
    rng,
    seed: int,
    salt: int,
) -> Built:
    """Shuffle rows, give record ids, and pair the extract with its truth rows."""
    n = len(pid_global)
    order = rng.permutation(n)
    record_seq = counters.take("records", spec.source, n)
    record_id = ids.local_ids(record_seq, spec.record_id[:2].upper(), 10, seed, salt)
    columns = {spec.record_id: record_id}
    for c in spec.columns[1:]:
        columns[c] = cols[c]
    table = pa.table({k: pa.array(v) if not isinstance(v, pa.Array) else v for k, v in columns.items()})
    table = table.take(pa.array(order))
    record_truth = {
        "source": np.full(n, spec.source, dtype=object),
        "record_id": record_id,
        "person_id": pid_global,
        "duplicate": is_dup,
        "registration": reg_ids if reg_ids is not None else record_id,
    }
    record_truth.update(identity.flags)
    records = pa.table(record_truth).take(pa.array(order))
    first = ~is_dup
    ev = {
        "person_id": pid_global[first],
        "source": np.full(first.sum(), spec.source, dtype=object),
        "record_id": record_id[first],
    }
    ev.update({k: v[base_index[first]] for k, v in events.items()})
    for k in ("date", "end_date"):
        ev[k] = as_date32(ev[k])
    return Built(table, records, pa.table(ev))


def _registration_ids(spec: ExtractSpec, reg: np.ndarray, counters: Counters, seed: int, make) -> np.ndarray:
    n_reg = int(reg.max()) + 1 if len(reg) else 0
    return make(counters.take("registrations", spec.source, n_reg), seed)[reg]


def build_prison(people: People, t: Timeline, cfg: SynthConfig, rng, counters: Counters) -> Built:
    spec, rates = SPECS["prison"], cfg.corruption["prison"]
    s = t.spells
    base, is_dup, reg = _expand(s["pid"], True, rates.duplicate, rng)
    pid = s["pid"][base]
    day = s["reception"][base]
    ident = _identity(people, pid, day, reg, rates, rng, justice=True, nfa=s["nfa"][base], nfa_text=JUSTICE_NFA)
    noms = _registration_ids(spec, reg, counters, cfg.seed, ids.prison_numbers)
    a = areas()
    cols = {
        "NOMS_NUMBER": noms,
        "PNC_ID": np.where(rng.random(len(pid)) < 0.02, None, _pnc(people, pid, True)),
        "SURNAME": _case(ident.surname, "upper"),
        "FORENAME": _case(ident.forename, "upper"),
        "ALIASES": np.where(ident.aliases == "", None, _case(ident.aliases, "upper")),
        "DATE_OF_BIRTH": dates(ident.dob, spec.date_format),
        "SEX": _sex(people, pid, ("M", "F")),
        "RELEASE_POSTCODE": ident.postcode,
        "ESTABLISHMENT": a.prison_code[s["prison"][base]],
        "RECEPTION_DATE": dates(s["reception"][base], spec.date_format),
        "RELEASE_DATE": dates(s["release"][base], spec.date_format),
        "RELEASE_TYPE": np.where(
            s["release"][base] == NEVER,
            None,
            np.array([c for c, *_ in RELEASE_TYPES], dtype=object)[s["release_type"][base]],
        ),
        "RELEASE_LA": la_codes(people, pid, s["release"][base]),  # where released to; none while still inside
        "SUBSTANCE_MISUSE_NEED": yes_no(s["need_flag"][base]),
        "OST_ON_RELEASE": yes_no(s["ost"][base]),
    }
    events = {
        "event": np.full(len(s["pid"]), "prison_spell", dtype=object),
        "date": s["reception"],
        "end_date": s["release"],
        "detail": areas().prison_code[s["prison"]],
        "local_authority": la_codes(people, s["pid"], s["release"]),
    }
    return _finish(spec, cols, people.person_id[pid], base, is_dup, noms, ident, events, counters, rng, cfg.seed, 11)


def build_probation(people: People, t: Timeline, cfg: SynthConfig, rng, counters: Counters) -> Built:
    spec, rates = SPECS["probation"], cfg.corruption["probation"]
    o = t.orders
    base, is_dup, reg = _expand(o["pid"], True, rates.duplicate, rng)
    pid = o["pid"][base]
    day = o["start"][base]
    ident = _identity(people, pid, day, reg, rates, rng, justice=True, nfa_text=JUSTICE_NFA)
    crn = _registration_ids(spec, reg, counters, cfg.seed, ids.crns)
    f = spec.date_format
    cols = {
        "CRN": crn,
        "PNC_NUMBER": np.where(rng.random(len(pid)) < 0.05, None, _pnc(people, pid, False)),
        "FIRST_NAME": _case(ident.forename, "title"),
        "LAST_NAME": _case(ident.surname, "title"),
        "DATE_OF_BIRTH": dates(ident.dob, f),
        "GENDER": _sex(people, pid, ("Male", "Female")),
        "POSTCODE": ident.postcode,
        "ORDER_TYPE": o["order_type"][base],
        "ORDER_START_DATE": dates(o["start"][base], f),
        "ORDER_END_DATE": dates(o["scheduled_end"][base], f),
        "TERMINATION_DATE": dates(o["terminated"][base], f),
        "TERMINATION_REASON": np.where(o["termination"][base] == "", None, o["termination"][base]),
        "DRR": yes_no(o["drr"][base]),
        "ATR": yes_no(o["atr"][base]),
        "MHTR": yes_no(o["mhtr"][base]),
        "OASYS_DRUG_SCORE": o["drug_score"][base].astype(np.int32),
        "OASYS_ALCOHOL_SCORE": o["alcohol_score"][base].astype(np.int32),
    }
    events = {
        "event": np.full(len(o["pid"]), "probation_order", dtype=object),
        "date": o["start"],
        "end_date": o["terminated"],
        "detail": o["order_type"],
        "local_authority": la_codes(people, o["pid"], o["start"]),
    }
    return _finish(spec, cols, people.person_id[pid], base, is_dup, crn, ident, events, counters, rng, cfg.seed, 12)


def build_treatment(people: People, t: Timeline, cfg: SynthConfig, rng, counters: Counters) -> Built:
    spec, rates = SPECS["treatment"], cfg.corruption["treatment"]
    j = t.journeys
    base, is_dup, reg = _expand(j["pid"], True, rates.duplicate, rng)
    pid = j["pid"][base]
    day = j["referral"][base]
    ident = _identity(people, pid, day, reg, rates, rng, nfa_text=NHS_NFA_POSTCODE)
    client = _registration_ids(spec, reg, counters, cfg.seed, lambda seq, seed: ids.local_ids(seq, "C", 8, seed, 21))
    initials = np.array(
        [(f.strip()[:1] + s.strip()[:1]).upper() for f, s in zip(ident.forename, ident.surname, strict=True)],
        dtype=object,
    )
    district = np.array([p.split(" ")[0] for p in ident.postcode], dtype=object)
    f = spec.date_format
    cols = {
        "CLIENT_ID": client,
        "INITIALS": initials,
        "DOB": dates(ident.dob, f),
        "SEX": _sex(people, pid, ("1", "2")),
        "PC_DISTRICT": district,
        "REFERRAL_SOURCE": j["source"][base],
        "REFERRAL_DATE": dates(j["referral"][base], f),
        "TRIAGE_DATE": dates(j["triage"][base], f),
        "TREATMENT_START_DATE": dates(j["start"][base], f),
        "DISCHARGE_DATE": dates(j["discharge"][base], f),
        "DISCHARGE_REASON": np.where(j["reason"][base] == "", None, j["reason"][base]),
        "SUBSTANCE_GROUP": j["substance"][base],
        "INJECTING_STATUS": np.where(j["injecting"][base], "C", np.where(j["substance"][base] == "OPI", "P", "N")),
        "HOUSING_NEED": j["housing"][base],
        "MH_TREATMENT": yes_no(j["mh_treatment"][base]),
        "LA_CODE": la_codes(people, pid, j["referral"][base]),  # the local authority the person was referred in
    }
    events = {
        "event": np.full(len(j["pid"]), "treatment_journey", dtype=object),
        "date": j["start"],
        "end_date": j["discharge"],
        "detail": j["reason"],
        "local_authority": la_codes(people, j["pid"], j["referral"]),
    }
    return _finish(spec, cols, people.person_id[pid], base, is_dup, client, ident, events, counters, rng, cfg.seed, 13)


def build_hospital(people: People, t: Timeline, cfg: SynthConfig, rng, counters: Counters) -> Built:
    spec, rates = SPECS["hospital"], cfg.corruption["hospital"]
    a = t.admissions
    base, is_dup, reg = _expand(a["pid"], False, rates.duplicate, rng)
    pid = a["pid"][base]
    ident = _identity(people, pid, a["admit"][base], reg, rates, rng, nfa_text=NHS_NFA_POSTCODE)
    f = spec.date_format
    cols = {
        "NHS_NUMBER": ident.nhs_number,
        "DOB": dates(ident.dob, f),
        "SEX": _sex(people, pid, ("1", "2")),
        "POSTCODE": ident.postcode,
        "ADMIDATE": dates(a["admit"][base], f),
        "DISDATE": dates(a["discharge"][base], f),
        "ADMIMETH": a["method"][base],
        "DIAG_4_01": a["diag1"][base],
        "DIAG_4_02": np.where(a["diag2"][base] == "", None, a["diag2"][base]),
    }
    events = {
        "event": np.full(len(a["pid"]), "hospital_admission", dtype=object),
        "date": a["admit"],
        "end_date": a["discharge"],
        "detail": a["diag1"],
        "local_authority": la_codes(people, a["pid"], a["admit"]),
    }
    return _finish(spec, cols, people.person_id[pid], base, is_dup, None, ident, events, counters, rng, cfg.seed, 14)


def build_deaths(people: People, t: Timeline, cfg: SynthConfig, rng, counters: Counters) -> Built:
    spec, rates = SPECS["deaths"], cfg.corruption["deaths"]
    d = t.deaths
    base, is_dup, reg = _expand(d["pid"], False, rates.duplicate, rng)
    pid = d["pid"][base]
    ident = _identity(people, pid, d["day"][base], reg, rates, rng, nfa_text=NHS_NFA_POSTCODE)
    f = spec.date_format
    cols = {
        "NHS_NO": ident.nhs_number,
        "FORENAMES": _case(ident.forename, "upper"),
        "SURNAME": _case(ident.surname, "upper"),
        "DOB": dates(ident.dob, f),
        "SEX": _sex(people, pid, ("1", "2")),
        "USUAL_RES_POSTCODE": ident.postcode,
        "DOD": dates(d["day"][base], f),
        "UNDERLYING_CAUSE": d["cause"][base],
        "DRUG_RELATED": np.where(d["drug_related"][base], "1", "0"),
    }
    events = {
        "event": np.full(len(d["pid"]), "death", dtype=object),
        "date": d["day"],
        "end_date": d["day"],
        "detail": d["cause"],
        "local_authority": la_codes(people, d["pid"], d["day"]),
    }
    return _finish(spec, cols, people.person_id[pid], base, is_dup, None, ident, events, counters, rng, cfg.seed, 15)


def build_homelessness(people: People, t: Timeline, cfg: SynthConfig, rng, counters: Counters) -> Built:
    spec, rates = SPECS["homelessness"], cfg.corruption["homelessness"]
    h = t.applications
    base, is_dup, reg = _expand(h["pid"], False, rates.duplicate, rng)
    pid = h["pid"][base]
    ident = _identity(people, pid, h["day"][base], reg, rates, rng)
    f = spec.date_format
    cols = {
        "FORENAME": _case(ident.forename, "mixed", rng),
        "SURNAME": _case(ident.surname, "mixed", rng),
        "DOB": dates(ident.dob, f),
        "SEX": _sex(people, pid, ("M", "F")),
        "NI_NUMBER": ident.ni_number,
        "APPLICATION_DATE": dates(h["day"][base], f),
        "DUTY": h["duty"][base],
        "SN_DRUG": yes_no(h["sn_drug"][base]),
        "SN_ALCOHOL": yes_no(h["sn_alcohol"][base]),
        "SN_MENTAL_HEALTH": yes_no(h["sn_mental_health"][base]),
        "SN_OFFENDING": yes_no(h["sn_offending"][base]),
        "LA_CODE": areas().la_code[h["la"][base]],
        "ETHNICITY": np.array(ETHNICITY_CODES, dtype=object)[people.ethnicity[pid]],
    }
    events = {
        "event": np.full(len(h["pid"]), "homelessness_application", dtype=object),
        "date": h["day"],
        "end_date": h["day"],
        "detail": h["duty"],
        "local_authority": areas().la_code[h["la"]].astype(object),
    }
    return _finish(spec, cols, people.person_id[pid], base, is_dup, None, ident, events, counters, rng, cfg.seed, 16)


def build_mental_health(people: People, t: Timeline, cfg: SynthConfig, rng, counters: Counters) -> Built:
    spec, rates = SPECS["mental_health"], cfg.corruption["mental_health"]
    m = t.mh_referrals
    base, is_dup, reg = _expand(m["pid"], True, rates.duplicate, rng)
    pid = m["pid"][base]
    ident = _identity(people, pid, m["day"][base], reg, rates, rng, nfa_text=NHS_NFA_POSTCODE)
    patient = _registration_ids(spec, reg, counters, cfg.seed, lambda seq, seed: ids.local_ids(seq, "MH", 9, seed, 22))
    f = spec.date_format
    cols = {
        "LOCAL_PATIENT_ID": patient,
        "NHS_NUMBER": ident.nhs_number,
        "DATE_OF_BIRTH": dates(ident.dob, f),
        "GENDER": _sex(people, pid, ("1", "2")),
        "POSTCODE": ident.postcode,
        "REFERRAL_DATE": dates(m["day"][base], f),
        "CONTACTS": m["contacts"][base],
        "PRIMARY_REASON": m["reason"][base],
        "ETHNIC_CATEGORY": np.array(ETHNICITY_CODES, dtype=object)[people.ethnicity[pid]],
    }
    events = {
        "event": np.full(len(m["pid"]), "mental_health_referral", dtype=object),
        "date": m["day"],
        "end_date": np.full(len(m["pid"]), NEVER, dtype=np.int32),
        "detail": m["reason"],
        "local_authority": la_codes(people, m["pid"], m["day"]),
    }
    return _finish(spec, cols, people.person_id[pid], base, is_dup, patient, ident, events, counters, rng, cfg.seed, 17)


BUILDERS = {
    "prison": build_prison,
    "probation": build_probation,
    "treatment": build_treatment,
    "hospital": build_hospital,
    "deaths": build_deaths,
    "homelessness": build_homelessness,
    "mental_health": build_mental_health,
}
