"""Files people send (an extract, a column mapping, an agreement): kept under the workspace's ``tmp/`` while the work
on them runs, in a folder of their own with a generated name, owner-only, then removed.

The name the browser sent is never a path: a file is stored under a name made safe by the caller (or a fixed
one), inside a folder nobody chose, opened with ``O_EXCL | O_NOFOLLOW`` so it can neither follow a link nor
replace a file. Messages from the work name the files as their sender knows them, never where the server kept
them (``without_paths``). A folder's name carries the server's pid, so what a killed server left is removed when
the next one starts (``sweep``).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from bold.errors import BoldError
from bold.security.paths import name_from
from bold.security.private import private_dir, process_alive
from bold.workspace import Workspace

CHUNK = 1 << 20
PREFIX = "upload-"  # then the pid of the server process, then a random part
MAPPING_NAME = ".column-mapping.yaml"  # a name a stored file can never have: name_from strips leading dots


def stored_name(sent: str | None, default: str) -> str:
    """The name a file is stored under: the last part of the name its sender gave, whichever separator it used
    (``../../evil.csv`` is ``evil.csv``), made safe as one file name."""
    return name_from(re.split(r"[\\/]", sent or "")[-1], default)


def new_folder(ws: Workspace) -> Path:
    """A new owner-only folder ``tmp/upload-<random>``. In a workspace set up for services ``tmp/`` is shared by
    their group and left as it is; elsewhere it is made owner-only if needed."""
    if not (ws.services_prefix and ws.tmp_dir.is_dir()):
        private_dir(ws.tmp_dir)
    folder = ws.tmp_dir / f"{PREFIX}{os.getpid()}-{secrets.token_hex(12)}"
    folder.mkdir(mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def save(source: BinaryIO, target: Path) -> Path:
    """Stream ``source`` into the new owner-only file ``target`` (never through a link, never over a file)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        if source.seekable():
            source.seek(0)
        shutil.copyfileobj(source, out, CHUNK)
    return target


def save_mapping(upload, folder: Path) -> Path | None:
    """A column mapping sent with an extract (an ``UploadFile``), if one was chosen, stored in the upload's folder."""
    if upload is None or not upload.filename:
        return None
    return save(upload.file, folder / MAPPING_NAME)


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def sweep(ws: Workspace) -> list[str]:
    """Remove the upload folders of server processes that have ended (a server killed while an upload waited or
    was ingested leaves its files: extracts people sent must not stay behind). Called when a server starts."""
    removed = []
    for folder in ws.tmp_dir.glob(f"{PREFIX}*") if ws.tmp_dir.is_dir() else ():
        pid = folder.name.removeprefix(PREFIX).split("-", 1)[0]
        if folder.is_dir() and not (pid.isdigit() and process_alive(int(pid))):
            remove(folder)
            removed.append(folder.name)
    return removed


@contextmanager
def received(ws: Workspace) -> Iterator[Path]:
    """A new upload folder for the length of a ``with`` block, removed afterwards whatever happened."""
    folder = new_folder(ws)
    try:
        yield folder
    finally:
        remove(folder)


def without_paths(exc: BoldError, names: dict[Path, str]) -> BoldError:
    """``exc`` with each stored file's path (and the folder's) replaced by the name its sender knows it by."""
    message = str(exc)
    for path, name in sorted(names.items(), key=lambda item: -len(str(item[0]))):
        message = message.replace(str(path), name)
    for path in names:
        message = message.replace(f"{path.parent}{os.sep}", "")
    return BoldError(message, kind=exc.kind) if message != str(exc) else exc
