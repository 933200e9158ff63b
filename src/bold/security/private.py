"""Owner-only files and folders: the one place that decides how workspace files are created.

A workspace holds row-level data about people (the zones, the links, project extracts, quarantined rows,
pending outputs), so nothing in it may be readable by another local user: folders are 0700 and files 0600,
whatever the umask of the person who runs BOLD. Files BOLD writes itself go through ``write_private`` and
``private_dir``. Files that DuckDB and SQLite create (databases, their WAL, journal and spill files, Parquet
written by ``COPY``) take their mode from the process umask, so every workspace connection runs inside
``owner_only()``, which sets the umask to 0o077 for its duration. ``tighten`` repairs a tree made by older
code or loosened by hand.

A workspace run as one operating-system user per service (``bold service setup``) shares some folders with a
group: those are setgid and not sticky (``group_folder``), and what BOLD makes inside one is readable by that
group (files 0640, folders 2750: the group is inherited), never by others. There the connections run under
``owner_only(GROUP_UMASK)`` (0o027), so the files DuckDB and SQLite make are group-readable too. Nothing else
changes: in the local single-user mode no folder is setgid and the umask is 0o077.
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
GROUP_UMASK = 0o027  # a workspace set up for one user per service: readable by the file's group, never others
_lock = threading.Lock()
_active: list[int] = []  # the masks of the owner_only blocks open now
_saved = 0


def _combined() -> int:
    mask = 0
    for m in _active:
        mask |= m
    return mask


def process_alive(pid: int) -> bool:
    """Whether the process that made a temporary file or folder (its pid in the name) is still running: what a
    process killed mid-write left is removed by the next one, what a live one is writing is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def owner_only(mask: int = OWNER_ONLY_UMASK) -> Iterator[None]:
    """Create files and folders owner-only (or, with ``GROUP_UMASK``, readable by their group) while inside:
    the process umask gains ``mask``, and is restored when the outermost ``owner_only`` ends. The umask belongs
    to the whole process, so nested and concurrent uses share it: the strictest mask open wins, and the
    umask is restored only when the last one leaves."""
    global _saved
    with _lock:
        if not _active:
            _saved = os.umask(mask)
        _active.append(mask)
        os.umask(_saved | _combined())  # keep any stricter bits the person had set
    try:
        yield
    finally:
        with _lock:
            _active.remove(mask)
            os.umask(_saved | _combined() if _active else _saved)


def workspace_umask(function):
    """Run ``function(ws, ...)`` under ``ws``'s umask (``Workspace.umask``)."""
    import functools

    @functools.wraps(function)
    def wrapped(ws, *args, **kwargs):
        with owner_only(ws.umask):
            return function(ws, *args, **kwargs)

    return wrapped


def group_folder(folder: Path) -> bool:
    """Whether ``bold service setup`` shares this folder with its group: setgid and not sticky (the sticky
    workspace root and ``tmp/`` are shared for writing only: what is made there stays its maker's)."""
    try:
        mode = Path(folder).stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    return bool(mode & stat.S_ISGID) and not mode & stat.S_ISVTX


def file_mode(folder: Path) -> int:
    """The mode of a file BOLD writes in ``folder``: 0640 in a group folder, else 0600."""
    return 0o640 if group_folder(folder) else 0o600


def dir_mode(parent: Path) -> int:
    """The mode of a folder BOLD makes in ``parent``: 2750 in a group folder (the group is inherited), else
    0700."""
    return 0o2750 if group_folder(parent) else 0o700


def private_dir(path: Path) -> Path:
    """Make the folder (and any missing parents) mode 0700, or 2750 inside a group folder (``dir_mode``); a
    folder already there is given that mode.

    ``Path.mkdir`` gives parents the umask's mode, not ``mode``, hence the owner-only umask; the chmod
    covers a folder that already existed, or a umask that masked nothing."""
    path = Path(path)
    with owner_only():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    want = dir_mode(path.parent)
    if stat.S_IMODE(path.stat().st_mode) != want:  # a folder another service owns is left as setup made it
        os.chmod(path, want)
    return path


def new_dir(path: Path) -> Path:
    """Make a new folder (it must not exist) with the mode ``private_dir`` gives."""
    path = Path(path)
    path.mkdir(mode=0o700)
    os.chmod(path, dir_mode(path.parent))
    return path


def shared_dir(path: Path) -> Path:
    """A folder every member of its parent's group may write (2770): in a group folder only, else 0700. For a
    folder another service must create files in (a project's ``evidence/``, made by the build service and
    written by the studies service)."""
    path = private_dir(path)
    if group_folder(path.parent):
        os.chmod(path, 0o2770)
    return path


def open_shared(path: Path, flags: int = os.O_RDWR, group: int | None = None) -> int:
    """Open (creating if missing) a file every member of a group writes: the audit lock, a witness. One this
    account has just made is 0660, of ``group`` (a file outside the workspace) or of its group folder's
    group, whatever the umask; elsewhere 0600. Its file descriptor."""
    path = Path(path)
    fd = os.open(path, flags | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        st = os.fstat(fd)
        want = 0o660 if group is not None or group_folder(path.parent) else 0o600
        if st.st_uid == os.geteuid() and st.st_size == 0:  # new, or never written: ours to set
            if group is not None and st.st_gid != group:
                os.fchown(fd, -1, group)
            if stat.S_IMODE(st.st_mode) != want:
                os.fchmod(fd, want)
    except BaseException:
        os.close(fd)
        raise
    return fd


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def write_private(path: Path, data: bytes | str, exclusive: bool = False) -> Path:
    """Write ``data`` to a file of mode 0600 (text as UTF-8), or 0640 in a group folder (``file_mode``).

    ``exclusive``: the file must not exist (keys, outputs that are checksummed once). Otherwise the data go
    to a new 0600 file beside it that then replaces it, so a file that was there with looser permissions
    (or a link planted in its place) is replaced, never written through, and a reader never sees half a
    file."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    target = path if exclusive else path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    mode = file_mode(path.parent)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # the mode given to open is still masked by the umask
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
