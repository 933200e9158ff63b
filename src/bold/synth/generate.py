"""Generate a synthetic population in chunks and write the extracts and the ground truth.

People are simulated in fixed-size chunks, each with its own random stream derived from the seed
and the chunk number, so memory stays flat as the population grows and the same seed always gives
the same files. Each chunk is appended to the open CSV and Parquet writers.

Layout of the output folder::

    OUT/<source>.csv, OUT/<source>.parquet     one extract per source (what custodians send)
    OUT/truth/records.parquet                  record id -> person id, and the errors applied
    OUT/truth/events.parquet                   the true event behind each record, with its local authority
    OUT/truth/people.parquet                   each person's true identifiers, needs and areas
    OUT/truth/releases.parquet                 each release with what truly followed
    OUT/truth/pilot_effects.parquet            each journey the pilot changed, as it would have been without it
    OUT/truth/summary.json                     headline figures, the pilot's areas and start, the settings used
    OUT/optouts.csv                            NHS numbers of the people who asked to opt out
    OUT/participants.csv, .parquet             a programme's participant list (Justice Data Lab style; not a
                                               custodian's extract, so not in ``SOURCES``: bold.synth.participants)
    OUT/truth/participants.parquet             each participant's person, release and outcome
    OUT/truth/participants.json                the list's planted and realised effect on re-imprisonment
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bold.security.paths import holds, output_folder
from bold.synth import identifiers, truth
from bold.synth.config import SOURCES, SynthConfig
from bold.synth.events import day_number, simulate
from bold.synth.extracts import BUILDERS, Counters, as_date32
from bold.synth.participants import SOURCE as LIST
from bold.synth.participants import ParticipantList
from bold.synth.population import People, make_people
from bold.synth.reference import ETHNICITY_CODES, areas

CHUNK_PEOPLE = 50_000  # fixed: changing it changes the random streams, and so the files
OPT_OUT_SHARE = 0.001  # people who asked that their records never be stored
FORMATS = ("csv", "parquet")


class Writers:
    """Appending writers for every output file, opened on the first non-empty chunk's schema.

    An empty chunk (a very small population: a source with no records yet) has columns of null type, so it
    opens no writer; a file that only ever had empty chunks is written at ``finish`` with those columns as text."""

    def __init__(self, stack: ExitStack, out: Path, formats: tuple[str, ...]):
        self.stack, self.out, self.formats = stack, out, formats
        self.open: dict[str, object] = {}
        self.schemas: dict[str, pa.Schema] = {}  # each open writer's (a CSV writer does not say)
        self.empty: dict[str, tuple[str, pa.Table, tuple[str, ...]]] = {}

    def write(self, name: str, table: pa.Table, formats: tuple[str, ...]) -> None:
        if table.num_rows == 0:
            if not any(f"{name}.{fmt}" in self.open for fmt in formats):
                self.empty.setdefault(name, (name, table, formats))
            return
        self.empty.pop(name, None)
        for fmt in formats:
            key = f"{name}.{fmt}"
            path = self.out / key
            if key in self.open and table.schema != self.schemas[key]:
                table = table.cast(self.schemas[key])  # a later chunk's all-null column
            if key not in self.open:
                self.schemas[key] = table.schema
                if fmt == "csv":
                    options = pacsv.WriteOptions(quoting_style="needed")
                    self.open[key] = self.stack.enter_context(
                        pacsv.CSVWriter(path, table.schema, write_options=options)
                    )
                else:
                    self.open[key] = self.stack.enter_context(pq.ParquetWriter(path, table.schema, compression="zstd"))
            self.open[key].write_table(table)

    def finish(self) -> None:
        """Write the files that had no rows at all, with text columns where the type was never seen."""
        for name, table, formats in list(self.empty.values()):
            schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema])
            self.empty.pop(name)
            self._open_empty(name, schema, formats)

    def _open_empty(self, name: str, schema: pa.Schema, formats: tuple[str, ...]) -> None:
        for fmt in formats:
            path = self.out / f"{name}.{fmt}"
            if fmt == "csv":
                with pacsv.CSVWriter(path, schema, write_options=pacsv.WriteOptions(quoting_style="needed")):
                    pass
            else:
                with pq.ParquetWriter(path, schema, compression="zstd"):
                    pass


def _people_truth(people: People, death_day: np.ndarray) -> pa.Table:
    a = areas()
    la, la2 = people.la, people.la_after_move
    return pa.table(
        {
            "person_id": people.person_id,
            "sex": np.where(people.female, "F", "M"),
            "date_of_birth": as_date32(people.dob),
            "ethnicity": np.array(ETHNICITY_CODES)[people.ethnicity],
            "forename": people.forename.astype(str),
            "surname": people.surname.astype(str),
            "surname_after_change": people.new_surname.astype(str),
            "surname_change_date": as_date32(people.surname_change_day),
            "alias_forename": people.alias_forename.astype(str),
            "alias_surname": people.alias_surname.astype(str),
            "nhs_number": people.nhs_number,
            "ni_number": people.ni_number.astype(str),
            "pnc_id": identifiers.digits(people.pnc_year, 4).astype(object) + "/" + people.pnc_serial,
            "drug": people.drug,
            "opiate": people.opiate,
            "alcohol": people.alcohol,
            "offending": people.offending,
            "homeless": people.homeless,
            "mental_health": people.mental_health,
            "region": a.region_name[a.la_region[la]],
            "local_authority": a.la_code[la],
            "postcode": people.postcode.astype(str),
            "move_date": as_date32(people.move_day),
            "local_authority_after_move": a.la_code[la2],
            "postcode_after_move": people.postcode_after_move.astype(str),
            "date_of_death": as_date32(death_day),
        }
    )


def _pilot_truth(people: People, without_pilot: dict) -> pa.Table:
    """The counterfactual of the pilot's effect on treatment: with the actual journeys (truth/events, keyed by person
    and start date) it gives any design's true effect, by measuring both worlds."""
    w = without_pilot
    return pa.table(
        {
            "person_id": people.person_id[w["pid"]],
            "treatment_start_date": as_date32(w["start"]),
            "discharge_date": as_date32(w["discharge"]),
            "discharge_reason": w["reason"].astype(str),
        }
    )


def _releases_truth(rel: dict) -> pa.Table:
    cols = dict(rel)
    cols["release_date"] = as_date32(cols["release_date"])
    return pa.table(cols)


def check_output_folder(out: Path) -> None:
    """Fail early, in one line, when the folder cannot be created or written."""
    try:
        (out / "truth").mkdir(parents=True, exist_ok=True)
        probe = out / ".bold-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"cannot write to output folder {out}: {exc.strerror or exc}") from exc


def generate(
    cfg: SynthConfig,
    out: Path,
    formats: tuple[str, ...] = FORMATS,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Write the population to ``out``; returns the summary figures (also in truth/summary.json)."""
    summary_file = Path(out) / "truth" / "summary.json"
    output_folder(  # never inside a workspace, never over files an earlier bold synth did not write
        out,
        kind="synthetic population",
        files=[*(f"{s}.{f}" for s in (*SOURCES, LIST) for f in FORMATS), "optouts.csv", "truth/summary.json"],
        written_by_bold=lambda _: holds(b'"figures"')(summary_file),
    )
    check_output_folder(out)
    for source in (*SOURCES, LIST):  # a file from an earlier run in another format would no longer match truth/
        for fmt in set(FORMATS) - set(formats):
            (out / f"{source}.{fmt}").unlink(missing_ok=True)
    start, end = day_number(cfg.start), day_number(cfg.end)
    counters = Counters()
    summary = truth.Summary()
    changed = 0
    participants = ParticipantList()
    with ExitStack() as stack:
        writers = Writers(stack, out, formats)
        for chunk, first in enumerate(range(0, cfg.people, CHUNK_PEOPLE)):
            n = min(CHUNK_PEOPLE, cfg.people - first)
            rng = np.random.default_rng([cfg.seed, chunk])
            people = make_people(rng, first, n, start, end, cfg.seed)
            timeline = simulate(people, rng, cfg)
            for source in SOURCES:
                built = BUILDERS[source](people, timeline, cfg, rng, counters)
                writers.write(source, built.extract, formats)
                writers.write("truth/records", built.records, ("parquet",))
                writers.write("truth/events", built.events, ("parquet",))
                summary.add_records(source, built.extract.num_rows)
            rel = truth.releases(people, timeline, cfg, end)
            writers.write("truth/people", _people_truth(people, timeline.death_day), ("parquet",))
            writers.write("truth/releases", _releases_truth(rel), ("parquet",))
            writers.write("truth/pilot_effects", _pilot_truth(people, timeline.without_pilot), ("parquet",))
            changed += len(timeline.without_pilot["pid"])
            opted = rng.random(len(people)) < OPT_OUT_SHARE
            writers.write("optouts", pa.table({"nhs_number": people.nhs_number[opted]}), ("csv",))
            listed, listed_truth = participants.chunk(people, timeline, end, cfg.seed, chunk, counters)  # own stream
            writers.write(LIST, listed, formats)
            writers.write("truth/participants", listed_truth, ("parquet",))
            summary.add_chunk(people, timeline, rel)
            if progress:
                progress(n)
        writers.finish()
    figures = summary.figures()
    participants.write_truth(out)
    settings = json.loads(cfg.model_dump_json())
    a = areas()
    # The pilot is a fact of the synthetic world, not public geography: studies that want to recover it
    # read where and when it ran from here (truth/), never from the generator's reference data.
    pilot = {
        "pilot_local_authorities": a.la_code[a.la_pilot].tolist(),
        "pilot_start": cfg.pilot_start.isoformat(),
        "pilot_journeys_changed": changed,  # by its effect on treatment outcomes (truth/pilot_effects.parquet)
    }
    (out / "truth" / "summary.json").write_text(
        json.dumps({"figures": figures, **pilot, "settings": settings}, indent=2)
    )
    return figures
