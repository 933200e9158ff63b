"""Owner-only files and folders: the one place that decides how workspace files are created.

A workspace holds row-level data about people (the zones, the links, project extracts, quarantined rows,
pending outputs), so nothing in it may be readable by another local user: folders are 0700 and files 0600,
whatever the umask of the person who runs BOLD. Files BOLD writes itself go through ``write_private`` and
``private_dir``. Files that DuckDB and SQLite create (databases, their WAL, journal and spill files, Parquet
written by ``COPY``) take their mode from the process umask, so every workspace connection runs inside
``owner_only()``, which sets the umask to 0o077 for its duration. ``tighten`` repairs a tree made by older
code or loosened by hand.
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

OWNER_ONLY_UMASK = 0o077
_lock = threading.Lock()
_depth = 0
_saved = 0


@contextmanager
def owner_only() -> Iterator[None]:
    """Create files and folders owner-only while inside: the process umask gains 0o077, and is restored
    when the outermost ``owner_only`` ends. The umask belongs to the whole process, so nested and
    concurrent uses share one count and the umask is restored only when the last one leaves."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            previous = os.umask(OWNER_ONLY_UMASK)
            os.umask(previous | OWNER_ONLY_UMASK)  # keep any stricter bits the person had set
            _saved = previous
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                os.umask(_saved)


def private_dir(path: Path) -> Path:
    """Make the folder (and any missing parents) mode 0700; a folder already there is set to 0700.

    ``Path.mkdir`` gives parents the umask's mode, not ``mode``, hence the owner-only umask; the chmod
    covers a folder that already existed, or a umask that masked nothing."""
    path = Path(path)
    with owner_only():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def write_private(path: Path, data: bytes | str, exclusive: bool = False) -> Path:
    """Write ``data`` to a file of mode 0600 (text as UTF-8).

    ``exclusive``: the file must not exist (keys, outputs that are checksummed once). Otherwise the data go
    to a new 0600 file beside it that then replaces it, so a file that was there with looser permissions
    (or a link planted in its place) is replaced, never written through, and a reader never sees half a
    file."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    target = path if exclusive else path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)  # the mode given to open is still masked by the umask
            f.write(raw)
        if not exclusive:
            os.replace(target, path)
    except BaseException:
        if not exclusive:
            target.unlink(missing_ok=True)
        raise
    return path


def tighten(root: Path, skip: Iterable[Path] = (), mask: int = 0o077) -> list[Path]:
    """Remove group and other permission bits (``mask``) from ``root`` and everything under it (symbolic links
    are neither followed nor changed); folders in ``skip`` are left alone. Returns the paths changed. A
    workspace run as one user per service (``bold.security.services``) passes 0o007: its groups are the split."""
    root = Path(root)
    skipped = {Path(p) for p in skip}
    changed: list[Path] = []

    def fix(path: Path) -> None:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:  # a spill file its connection has just removed
            return
        if stat.S_ISLNK(mode) or not mode & mask:
            return
        os.chmod(path, stat.S_IMODE(mode) & ~mask)
        changed.append(path)

    fix(root)
    if root.is_dir() and not root.is_symlink():
        for folder, dirs, files in os.walk(root):
            here = Path(folder)
            dirs[:] = [d for d in dirs if here / d not in skipped]
            for name in dirs + files:
                fix(here / name)
    return changed
