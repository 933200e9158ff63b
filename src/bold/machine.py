"""How much of the machine DuckDB may use: memory and threads, set from the machine and overridable.

DuckDB's own default is 80% of physical memory, which lets one linkage of millions of records crowd out
everything else on a shared machine (and the operating system kill it). BOLD gives each connection an
eighth of physical memory, at least 1 GB, and every core the process may run on; DuckDB spills past
the limit (inside the workspace, ``Workspace.duckdb_config``). An eighth keeps a million-person linkage
(7.3 million records) under 5 GB in all on a 24 GB machine (3 GB for DuckDB; measured 4.7 GB, 333 s; with a
quarter, 7.6 GB and 227 s). ``BOLD_MEMORY_LIMIT`` (e.g. ``6GB``,
``800MB``) and ``BOLD_THREADS`` override them, for a busier machine or a bigger one.
"""

from __future__ import annotations

import os
import re

from bold.errors import BoldError, Kind

MEMORY_SHARE = 0.125
MIN_MEMORY = 1 << 30
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)


class MachineSettingError(BoldError):
    kind = Kind.INVALID


def physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def memory_limit() -> str:
    """DuckDB's ``memory_limit``: ``BOLD_MEMORY_LIMIT`` if set, else an eighth of physical memory."""
    given = os.environ.get("BOLD_MEMORY_LIMIT")
    if given:
        if not _SIZE.match(given):
            raise MachineSettingError(f"BOLD_MEMORY_LIMIT={given!r}: expected a size such as 6GB or 800MB")
        return given.strip().replace(" ", "")
    return f"{max(MIN_MEMORY, int(physical_memory() * MEMORY_SHARE)) >> 20}MB"


def threads() -> int:
    """DuckDB's ``threads``: ``BOLD_THREADS`` if set, else the cores this process may use."""
    given = os.environ.get("BOLD_THREADS")
    if given:
        if not given.strip().isdigit() or int(given) < 1:
            raise MachineSettingError(f"BOLD_THREADS={given!r}: expected a whole number of threads, 1 or more")
        return int(given)
    return cores()


def duckdb_limits() -> dict[str, str]:
    """The settings to give ``duckdb.connect(config=...)``."""
    return {"memory_limit": memory_limit(), "threads": str(threads())}
