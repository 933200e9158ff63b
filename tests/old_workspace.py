"""The workspace made by the previous release (commit d68ff1c, before store migrations), extracted safely.

``tests/fixtures/workspace-d68ff1c.tar.gz``: people adam (admin), cara (custodian), lin (linker), ana
(analyst), grace (governance), oscar and olivia (output_checker), all with ``PASSWORD``; sources prison,
treatment, deaths and hospital ingested; one linkage run; project ``continuity-of-care`` submitted by ana,
approved by grace and built; one pending study output; 18 audit entries. Its files are mode 0644 (made by
old code), its keys 0600.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

FIXTURE = Path(__file__).parent / "fixtures" / "workspace-d68ff1c.tar.gz"
PASSWORD = "fixture-password-1"
OLD_ENTRIES = 18
UPGRADE_ENTRIES = 1  # opening it encrypts its content zone, links and extract, audited as one entry


def safe_members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The archive's members, refusing any that could land outside the destination (absolute paths, ``..``,
    links) or that are not plain files and folders."""
    for member in archive.getmembers():
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts:
            raise ValueError(f"unsafe path in the fixture: {member.name}")
        if not (member.isfile() or member.isdir()):
            raise ValueError(f"unexpected member in the fixture: {member.name} (only files and folders)")
        yield member


def extract_fixture(dest: Path) -> Path:
    """Extract the old workspace under ``dest``; its root."""
    with tarfile.open(FIXTURE, "r:gz") as archive:
        # the 'data' filter refuses absolute paths, '..' and links out of dest too: two checks, not one
        archive.extractall(dest, members=safe_members(archive), filter="data")
    return dest / "ws"
