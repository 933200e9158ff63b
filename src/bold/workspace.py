"""A workspace: one folder holding the zones, keys, settings and governance store.

    workspace/
      bold.toml                 settings
      keys/                     secrets (mode 0600 in a 0700 folder)
      governance.db             batches, opt-out register, the audit chain (SQLite)
      audit.head                the audit chain's last entry, sealed with the audit key
      identifiers.duckdb        encrypted with the identifiers key: record_key + identifiers
      content.duckdb            record_key + content, never an identifier
      links.duckdb              record_key -> person_key per linkage run (made by bold link)
      quarantine/<source>/      rejected rows, encrypted Parquet, with the reason for each
      tmp/                      DuckDB's spill files, one folder per connection, removed when it closes

Everything in the workspace is owner-only (folders 0700, files 0600; ``bold.security.private``): every
connection here runs under an owner-only umask, so the files DuckDB and SQLite make are too, and
``Workspace.open`` tightens a workspace that older code or a person left readable by others. DuckDB spills
go to ``tmp/``, never to its default ``.tmp/`` in the current folder.

The identifiers zone is a DuckDB database encrypted with AES (DuckDB's ATTACH ... ENCRYPTION_KEY);
writing one needs the OpenSSL-backed httpfs extension, shipped for DuckDB 1.4.4 by the
``duckdb-ext-httpfs`` package and loaded from its file, never downloaded. There is no fallback to
an unencrypted or weaker mode: without the extension the zone cannot be opened.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
import stat
import string
import tomllib
from contextlib import contextmanager
from pathlib import Path

import duckdb

from bold import __version__
from bold.errors import BoldError, Kind
from bold.security.private import owner_only, private_dir, tighten, write_private

KEY_NAMES = ("identifiers", "optout", "quarantine", "audit")


class WorkspaceError(BoldError):
    """The folder is not a usable workspace (missing, not initialised, keys unsafe)."""

    kind = Kind.NOT_FOUND


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _httpfs_extension() -> Path:
    """The httpfs extension file for this DuckDB version, from the duckdb-ext-httpfs package."""
    try:
        import duckdb_ext

        roots = [Path(p) / "extensions" / f"v{duckdb.__version__}" for p in duckdb_ext.__path__]
    except ImportError:
        roots = []
    found = sorted(f for root in roots for f in root.glob("*/httpfs.duckdb_extension"))
    if not found:
        raise WorkspaceError(
            f"cannot encrypt the identifiers zone: no httpfs extension for DuckDB {duckdb.__version__} "
            "(install the duckdb-ext-httpfs package built for this DuckDB version)"
        )
    return found[0]


def _random_key(length: int = 32) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class Workspace:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.tightened: list[Path] = []  # what ``open`` made owner-only

    # --- paths ----------------------------------------------------------------------------------
    @property
    def settings_path(self) -> Path:
        return self.root / "bold.toml"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def governance_path(self) -> Path:
        return self.root / "governance.db"

    @property
    def identifiers_path(self) -> Path:
        return self.root / "identifiers.duckdb"

    @property
    def content_path(self) -> Path:
        return self.root / "content.duckdb"

    @property
    def links_path(self) -> Path:
        return self.root / "links.duckdb"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def quarantine_dir(self, source: str) -> Path:
        from bold.security.paths import check_name

        return self.root / "quarantine" / check_name(source, "source name")

    # --- create and open --------------------------------------------------------------------------
    @classmethod
    def init(cls, root: Path, name: str | None = None) -> Workspace:
        ws = cls(root)
        if ws.settings_path.exists():
            raise WorkspaceError(f"{root} is already a workspace", kind=Kind.CONFLICT)
        _httpfs_extension()  # fail before creating anything if the zone cannot be encrypted
        try:
            if root.is_dir() and any(root.iterdir()):
                raise WorkspaceError(f"{root} is not empty; choose a new folder for the workspace", kind=Kind.CONFLICT)
            private_dir(root)
            private_dir(ws.keys_dir)
            for key in KEY_NAMES:
                write_private(ws.keys_dir / f"{key}.key", _random_key(), exclusive=True)
            private_dir(root / "quarantine")
            write_private(
                ws.settings_path,
                f"[workspace]\nname = {json.dumps(name or root.name)}\n"  # quoted: a name never adds settings
                f'created_at = "{now()}"\ncreated_with = "bold {__version__}"\n\n'
                "[limits]\nstudy_seconds = 600  # wall-clock seconds a study may compute for\n",
                exclusive=True,
            )
        except OSError as exc:
            raise WorkspaceError(
                f"cannot create a workspace in {root}: {exc.strerror or exc}", kind=Kind.INVALID
            ) from exc
        from bold import store

        with store.connect(ws):  # creates the governance store at the current schema version
            pass
        with ws.identifiers():  # create the encrypted file now, so it never exists in the clear
            pass
        with ws.content():
            pass
        return ws

    @classmethod
    def open(cls, root: Path) -> Workspace:
        ws = cls(root)
        if not ws.settings_path.exists():
            raise WorkspaceError(f"{root} is not a BOLD workspace (no bold.toml); create one with 'bold init {root}'")
        try:
            tomllib.loads(ws.settings_path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise WorkspaceError(f"{ws.settings_path}: {exc}", kind=Kind.INVALID) from exc
        # A workspace made by older code (files 0644) or loosened by hand is made owner-only again. Keys are
        # left alone: one that others could read may have been copied, so ``key`` refuses it instead.
        try:
            ws.tightened = tighten(ws.root, skip=[ws.keys_dir])
        except OSError as exc:
            raise WorkspaceError(
                f"cannot make {exc.filename or root} owner-only: {exc.strerror or exc}", kind=Kind.REFUSED
            ) from exc
        return ws

    @property
    def settings(self) -> dict:
        return tomllib.loads(self.settings_path.read_text())

    def key(self, name: str) -> str:
        path = self.keys_dir / f"{name}.key"
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            raise WorkspaceError(f"key {path} is missing") from None
        if mode & 0o077:
            raise WorkspaceError(
                f"key {path} is readable by others (mode {mode:o}); run: chmod 600 {path}", kind=Kind.REFUSED
            )
        return path.read_text().strip()

    # --- connections ------------------------------------------------------------------------------
    def duckdb_config(self) -> dict[str, str]:
        """Settings for every DuckDB connection that touches the workspace (given when it is opened, so they
        hold before any query): DuckDB spills to a folder of its own under ``tmp/``, which it makes when it
        first spills and removes when it closes. Never DuckDB's default, ``.tmp/`` in the current folder
        (outside the workspace, readable by whoever can read that folder); never one folder shared by
        connections either, as DuckDB instances sharing a temp folder overwrite and delete each other's
        files. Open the connection inside ``owner_only()`` so the spill folder and files are owner-only."""
        private_dir(self.tmp_dir)
        return {"temp_directory": str(self.tmp_dir / f"duckdb-{secrets.token_hex(8)}")}

    @contextmanager
    def duckdb_connection(self, database: Path | str = ":memory:", read_only: bool = False):
        """A DuckDB connection for work on the workspace: what it writes (attached databases, their WAL,
        spill files, ``COPY`` output) is owner-only, and it spills inside the workspace."""
        with owner_only():
            config = self.duckdb_config()
            con = duckdb.connect(str(database), read_only=read_only, config=config)
            try:
                con.execute("set enable_progress_bar = false")  # BOLD shows its own progress
                yield con
            finally:
                con.close()
                shutil.rmtree(config["temp_directory"], ignore_errors=True)  # DuckDB removes it; to be sure

    def _attach_identifiers(self, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        con.execute(f"LOAD '{_httpfs_extension()}'")
        # Whatever spills to disk while identifiers are in memory (large joins in linkage) is encrypted too.
        con.execute("set temp_file_encryption = true")
        mode = ", READ_ONLY" if read_only else ""
        con.execute(
            f"ATTACH '{self.identifiers_path}' AS identifiers (ENCRYPTION_KEY '{self.key('identifiers')}'{mode})"
        )

    @contextmanager
    def identifiers(self, read_only: bool = False):
        """A DuckDB connection with only the identifiers zone attached (as ``identifiers``)."""
        with self.duckdb_connection() as con:
            self._attach_identifiers(con, read_only)
            yield con

    @contextmanager
    def content(self, read_only: bool = False):
        """A DuckDB connection with only the content zone attached (as ``content``)."""
        with self.duckdb_connection() as con:
            mode = " (READ_ONLY)" if read_only else ""
            con.execute(f"ATTACH '{self.content_path}' AS content{mode}")
            yield con

    @contextmanager
    def ingest_session(self):
        """Ingest alone sees both zones: it is where a row is split between them."""
        with self.duckdb_connection() as con:
            self._attach_identifiers(con, read_only=False)
            con.execute(f"ATTACH '{self.content_path}' AS content")
            yield con
