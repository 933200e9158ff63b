"""Public geography lookups for studies: local authorities and prisons with the region they belong to.

Official statistics on people leaving prison are broken down by area (OHID publishes continuity of care by
the local authority a person is released to; NDTMS reports treatment by local authority), so studies need to
turn the codes carried in content columns (``prison.release_local_authority``, ``treatment.local_authority``,
``homelessness.local_authority``, ``prison.prison``) into names and regions. These tables hold only public
codes and names (ONS codes for local authorities and regions, establishment codes for prisons), never anything
about a person, so any study may use them.

They are read from ``reference/areas.yaml``, which the synthetic generator also uses; only its codes and names
are exposed here, never the generator's parameters (population weights, continuity shifts, pilot areas).
Each call returns a fresh copy of a cached table, so callers may modify what they get.
"""

from __future__ import annotations

import functools
from importlib import resources

import pandas as pd
import yaml

AREAS_FILE = resources.files("bold.sources").joinpath("reference/areas.yaml")


@functools.cache
def _areas() -> dict:
    return yaml.safe_load(AREAS_FILE.read_text())


@functools.cache
def _local_authorities() -> pd.DataFrame:
    rows = [
        (la["code"], la["name"], region["code"], region["name"])
        for region in _areas()["regions"]
        for la in region["local_authorities"]
    ]
    return pd.DataFrame(rows, columns=["local_authority", "local_authority_name", "region_code", "region"])


@functools.cache
def _prisons() -> pd.DataFrame:
    region_name = {r["code"]: r["name"] for r in _areas()["regions"]}
    rows = [(p["code"], p["name"], region_name[p["region"]]) for p in _areas()["prisons"]]
    return pd.DataFrame(rows, columns=["prison", "prison_name", "prison_region"])


def local_authorities() -> pd.DataFrame:
    """One row per local authority: ``local_authority`` (ONS code), ``local_authority_name``,
    ``region_code`` (ONS code) and ``region`` (the region's name)."""
    return _local_authorities().copy()


def prisons() -> pd.DataFrame:
    """One row per prison: ``prison`` (establishment code), ``prison_name`` and ``prison_region`` (the
    name of the region it mainly releases to)."""
    return _prisons().copy()
