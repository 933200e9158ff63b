"""Names that become paths, and paths people choose for what BOLD writes.

A batch, project, output or person name ends up as a file or folder name (``quarantine/SOURCE/BATCH.parquet``,
``projects/ID/``, ``outputs/PROJECT/OUTPUT/``), so every such name passes ``check_name`` first: letters, digits,
``.``, ``-`` and ``_``, starting with a letter or digit, never ``..``; a ``/`` or ``../`` can never reach the
file system.

An ``--out`` is the person's choice of where to write, and must never land on the workspace's own files (its
store, keys, zones, extracts, outputs or quarantine): ``output_path`` finds the workspace a path is in (the
one given, or any folder above it holding ``bold.toml``) and allows only the one sub-folder meant for that kind
of output. It never overwrites a file that BOLD did not write as the same kind of output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from bold.errors import Invalid, Kind

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
NAME_RULE = "1 to 100 letters, digits, '.', '-' or '_', starting with a letter or digit"


class PathError(Invalid):
    """A name that cannot become a path, or an output path BOLD will not write to."""


def check_name(value: str, what: str) -> str:
    """``value`` if it is safe as one file or folder name; otherwise a one-line error naming ``what`` it is."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value) or ".." in value:
        raise PathError(f"{_shown(value)} is not a {what}: use {NAME_RULE}")
    return value


def name_from(text: str, fallback: str) -> str:
    """A safe name made from ``text`` (a file's stem): runs of other characters become '-'."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).replace("..", "-").strip(".-_")[:100].strip(".-_")
    return name or fallback


def _shown(value) -> str:
    """A name as it may be echoed: printable only, short (it may be anything a person typed)."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def workspace_of(path: Path) -> Path | None:
    """The workspace folder ``path`` is in (or is), if any: the nearest folder above holding bold.toml."""
    path = path.resolve()
    for folder in (path, *path.parents):
        if (folder / "bold.toml").is_file():
            return folder
    return None


def output_path(
    path: Path,
    *,
    kind: str,
    workspace: Path | None = None,
    inside: str | None = None,
    suffixes: Iterable[str] = (),
    written_by_bold: Callable[[Path], bool] | None = None,
) -> Path:
    """``path`` if BOLD may write ``kind`` there; otherwise a one-line error saying why.

    Inside a workspace (``workspace``, or the one ``path`` is found in) only the ``inside`` sub-folder is
    allowed (none when ``inside`` is None). ``suffixes``: the file must end in one of them. An existing file
    is overwritten only when ``written_by_bold(path)`` says it is an earlier output of the same kind."""
    path = Path(path)
    resolved = path.resolve()
    suffixes = tuple(suffixes)
    if suffixes and resolved.suffix.lower() not in suffixes:
        raise PathError(f"--out {path}: a {kind} is written to a {' or '.join(suffixes)} file")
    roots = {r.resolve() for r in (workspace, workspace_of(path)) if r is not None}
    for root in roots:
        if not resolved.is_relative_to(root):
            continue
        allowed = root / inside if inside else None
        if allowed is None or (resolved == allowed and suffixes) or not resolved.is_relative_to(allowed):
            where = f"only under {inside}/ there" if inside else "write it outside the workspace"
            raise PathError(
                f"--out {path}: inside the workspace {root}, whose own files BOLD never overwrites; {where}",
                kind=Kind.REFUSED,
            )
    if path.is_symlink() or (resolved.exists() and not resolved.is_file() and suffixes):
        raise PathError(f"--out {path}: not a plain file", kind=Kind.REFUSED)
    if resolved.is_file() and not (written_by_bold and written_by_bold(resolved)):
        raise PathError(
            f"--out {path}: the file exists and is not {_a(kind)} BOLD wrote; BOLD will not overwrite it",
            kind=Kind.CONFLICT,
        )
    return path


def confined_output(
    path: Path,
    *,
    kind: str,
    why: str,
    workspace: Path,
    inside: str,
    suffixes: Iterable[str] = (),
    written_by_bold: Callable[[Path], bool] | None = None,
) -> Path:
    """``output_path`` for a file that must stay in the workspace's ``inside`` folder (it shows identifiers:
    ``why`` says so in the error), never anywhere else."""
    if not Path(path).resolve().is_relative_to((Path(workspace) / inside).resolve()):
        raise PathError(f"--out {path}: {why}, so it stays under {inside}/ in the workspace", kind=Kind.REFUSED)
    return output_path(
        path, kind=kind, workspace=workspace, inside=inside, suffixes=suffixes, written_by_bold=written_by_bold
    )


def output_folder(
    path: Path,
    *,
    kind: str,
    files: Iterable[str],
    workspace: Path | None = None,
    inside: str | None = None,
    written_by_bold: Callable[[Path], bool] | None = None,
) -> Path:
    """``path`` as a folder BOLD may write ``files`` of ``kind`` into: confined like ``output_path``, and each
    of ``files`` that already exists must be an earlier output of this kind."""
    path = Path(path)
    output_path(path, kind=kind, workspace=workspace, inside=inside)
    if path.exists() and not path.is_dir():
        raise PathError(f"--out {path}: not a folder", kind=Kind.CONFLICT)
    for name in files:
        target = path / name
        if target.is_symlink() or (target.exists() and not (written_by_bold and written_by_bold(target))):
            raise PathError(
                f"--out {path}: {name} exists and is not {_a(kind)} file BOLD wrote; BOLD will not overwrite it",
                kind=Kind.CONFLICT,
            )
    return path


def holds(*markers: bytes) -> Callable[[Path], bool]:
    """A ``written_by_bold`` check: the file's first or last 64 KiB hold one of ``markers`` (a header, title or
    schema BOLD writes; Parquet keeps its schema at the end)."""

    def check(path: Path) -> bool:
        try:
            with path.open("rb") as f:
                head = f.read(1 << 16)
                f.seek(max(0, path.stat().st_size - (1 << 16)))
                tail = f.read()
        except OSError:
            return False
        return any(m in head or m in tail for m in markers)

    return check
