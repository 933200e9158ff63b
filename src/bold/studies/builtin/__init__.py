"""The BOLD question library: built-in studies, one module per question of docs/design/DOMAIN.md section 6.

Each module exposes ``STUDIES``, a list of ``Study`` objects; ``catalogue()`` gathers them by id.
"""

from __future__ import annotations

import functools
import importlib

from bold.studies.study import Study

MODULES = (
    "continuity",
    "deaths",
    "hospital",
    "probation",
    "dual_diagnosis",
    "treatment_outcomes",
    "homelessness",
    "repeat_homelessness",
    "deaths_after_homelessness",
    "everyone_in_treatment",
    "triage",
    "evaluation",
    "pilot_evaluation",
    "participant_outcomes",
    "economic_value",
    "mh_after_treatment",
    "multiple_conditions",
    "pathway_after_release",
)


@functools.cache
def catalogue() -> dict[str, Study]:
    studies: dict[str, Study] = {}
    for name in MODULES:
        try:
            module = importlib.import_module(f"bold.studies.builtin.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bold.studies.builtin.{name}":
                continue  # not written yet
            raise
        for study in module.STUDIES:
            if study.id in studies:
                raise ValueError(f"two built-in studies share the id {study.id!r}")
            studies[study.id] = study
    return studies
