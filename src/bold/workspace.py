"""A workspace: one folder holding the zones, keys, settings and governance store.

    workspace/
      bold.toml                 settings
      keys/                     secrets (mode 0600 in a 0700 folder)
      governance.db             batches, opt-out register, the audit chain (SQLite)
      audit/audit.head          the audit chain's last entry, sealed with the audit key (and its lock)
      identifiers.duckdb        record_key + identifiers (encrypted with keys/identifiers.key)
      content.duckdb            record_key + content, never an identifier (encrypted with keys/content.key)
      links.duckdb              record_key -> person_key per linkage run (made by bold link; keys/links.key)
      projects/<id>/            the project's extract (encrypted with a key derived from keys/projects/<id>.key)
      quarantine/<source>/      rejected rows, encrypted Parquet (keys/quarantine.key), with the reason for each
      tmp/                      DuckDB's spill files, one folder per connection, removed when it closes

Everything in the workspace is owner-only (folders 0700, files 0600; ``bold.security.private``): every
connection here runs under an owner-only umask, so the files DuckDB and SQLite make are too, and
``Workspace.open`` tightens a workspace that older code or a person left readable by others. DuckDB spills
go to ``tmp/``, never to its default ``.tmp/`` in the current folder.

Each zone is a DuckDB database encrypted with AES under a key of its own (``bold.security.encryption``), so a
copy of one file, or the key of another zone, gives nothing away. There is no fallback to an unencrypted or
weaker mode: without the encryption extension no zone is opened.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
import stat
import string
import tomllib
from contextlib import contextmanager
from pathlib import Path

import duckdb

from bold import __version__, machine
from bold.errors import BoldError, Conflict, Kind
from bold.security import encryption
from bold.security.private import (
    GROUP_UMASK,
    OWNER_ONLY_UMASK,
    owner_only,
    private_dir,
    tighten,
    write_private,
)

KEY_NAMES = ("identifiers", "content", "links", "optout", "quarantine", "audit")
ZONES = ("identifiers", "content", "links")  # each an encrypted DuckDB file under the key of the same name


class WorkspaceError(BoldError):
    """The folder is not a usable workspace (missing, not initialised, keys unsafe)."""

    kind = Kind.NOT_FOUND


def zone_tables(con, *zones: str, schema: str = "main") -> list[tuple[str, str]]:
    """(zone, source) of each source table in the attached ``zones``: a zone's own tables are in ``main``; its
    ``history`` schema holds versions later batches superseded (``bold.ingest.versions``), which nothing but
    ingest, withdrawals and opt-outs reads."""
    marks = ", ".join("?" for _ in zones)
    return con.execute(
        f"""select database_name, table_name from duckdb_tables()
            where database_name in ({marks}) and schema_name = ? order by all""",
        [*zones, schema],
    ).fetchall()


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _toml_text(value: str) -> str:
    """``value`` as a TOML string: JSON's escapes are TOML's, and UTF-8 stays as it is."""
    return json.dumps(value, ensure_ascii=False)


def _random_key(length: int = 32) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


@contextmanager
def _busy_if_locked():
    """A zone another process holds (DuckDB allows one writer, or readers only, per file) is a ``Conflict``: the
    workspace is busy. Any other DuckDB error passes unchanged."""
    try:
        yield
    except duckdb.IOException as exc:
        found = re.search(r'Could not set lock on file "([^"]+)"', str(exc))
        if found is None:
            raise
        raise Conflict(
            f"the workspace is busy: another BOLD command is using {Path(found[1]).name}; try again"
        ) from None


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

    @property
    def audit_dir(self) -> Path:
        """The audit chain's head and its lock: a folder of their own, so that in a workspace run by one user per
        service every service may replace the head (group-writable, not sticky), unlike the workspace root."""
        return self.root / "audit"

    def quarantine_dir(self, source: str) -> Path:
        from bold.security.paths import check_name

        return self.root / "quarantine" / check_name(source, "source name")

    # --- create and open --------------------------------------------------------------------------
    @classmethod
    def init(cls, root: Path, name: str | None = None) -> Workspace:
        ws = cls(root)
        if ws.settings_path.exists():
            raise WorkspaceError(f"{root} is already a workspace", kind=Kind.CONFLICT)
        encryption.httpfs_extension()  # fail before creating anything if the zones cannot be encrypted
        try:
            if root.is_dir() and any(root.iterdir()):
                raise WorkspaceError(f"{root} is not empty; choose a new folder for the workspace", kind=Kind.CONFLICT)
            private_dir(root)
            private_dir(ws.keys_dir)
            private_dir(ws.audit_dir)
            for key in KEY_NAMES:
                write_private(ws.keys_dir / f"{key}.key", _random_key(), exclusive=True)
            private_dir(root / "quarantine")
            write_private(
                ws.settings_path,
                f'[workspace]\nname = {_toml_text(name or root.name)}\ncreated_at = "{now()}"\n'
                f'created_with = "bold {__version__}"\n\n'
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
        with ws.duckdb_connection() as con:  # create the encrypted zones now, so they never exist in the clear
            for zone in ("identifiers", "content"):  # the links are made by the first linkage run
                ws.attach(con, zone)
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
        # A workspace made by older code (files 0644) or loosened by hand is made owner-only again (in a
        # deployment of one user per service, only the bits for others are removed: the groups are the split).
        # Keys are left alone: one that others could read may have been copied, so ``key`` refuses it instead.
        try:
            ws.tightened = tighten(ws.root, skip=[ws.keys_dir], mask=0o007 if ws.services_prefix else 0o077)
        except OSError as exc:
            raise WorkspaceError(
                f"cannot make {exc.filename or root} owner-only: {exc.strerror or exc}", kind=Kind.REFUSED
            ) from exc
        ws._move_older_head()
        ws._encrypt_older_zones()
        return ws

    def _move_older_head(self) -> None:
        """A workspace made before the head had a folder of its own keeps ``audit.head`` at its root: move it
        (a rename, so it is never lost or half-written). In a workspace run by one user per service the folder
        must be made by ``bold service setup`` (as root), which gives it to the governance group."""
        old = self.root / "audit.head"
        if self.audit_dir.is_dir() and not old.exists():
            return
        if not self.audit_dir.is_dir():
            if self.services_prefix and os.geteuid() != 0:
                raise WorkspaceError(
                    f"{self.root} keeps its audit head where only one service may replace it; run (as root): "
                    f"bold service setup {self.root} --prefix {self.services_prefix}",
                    kind=Kind.CONFLICT,
                )
            private_dir(self.audit_dir)
        if old.exists() and not (self.audit_dir / "audit.head").exists():
            with contextlib.suppress(FileNotFoundError):  # another process moved it first
                os.replace(old, self.audit_dir / "audit.head")
            (self.root / "audit.lock").unlink(missing_ok=True)

    def _encrypt_older_zones(self) -> None:
        """A workspace made before every zone was encrypted gets a key per zone, and its content zone, links
        and project extracts are rewritten encrypted (once, under the audit lock, and audited)."""
        missing = [z for z in ZONES if not (self.keys_dir / f"{z}.key").exists()]
        if not missing:
            return
        from bold import store
        from bold.store.audit import head_lock

        store.version(self)  # the store must open (and migrate) before anything is rewritten
        with head_lock(self, exclusive=True), self.duckdb_connection() as con:
            missing = [z for z in ZONES if not (self.keys_dir / f"{z}.key").exists()]  # another process may have
            encrypted = []
            for zone in missing:
                # The key is written (as .pending) before the file is encrypted under it and made the zone's key
                # after: a kill at any point leaves either a plaintext file or an encrypted one whose key is kept.
                pending = self.keys_dir / f"{zone}.key.pending"
                if not pending.exists():
                    write_private(pending, _random_key(), exclusive=True)
                key = pending.read_text().strip()
                path = self.zone_path(zone)
                if path.exists() and not encryption.is_encrypted(path):
                    encryption.encrypt_in_place(con, path, key)
                    encrypted.append(zone)
                os.replace(pending, self.keys_dir / f"{zone}.key")
            from bold.governance.projects import encrypt_older_extracts

            extracts = encrypt_older_extracts(self, con)
        if missing:
            store.audit.record(
                self, "zones encrypted", self.root.name, {"zones": encrypted, "extracts": extracts}, by="bold"
            )

    @property
    def settings(self) -> dict:
        return tomllib.loads(self.settings_path.read_text())

    @property
    def services_prefix(self) -> str | None:
        """The prefix of the service users when the workspace is run as one operating-system user per service
        (``bold service setup``); ``None`` in the local single-user mode, where everything is owner-only."""
        prefix = self.settings.get("services", {}).get("prefix")
        return prefix if isinstance(prefix, str) else None

    @property
    def umask(self) -> int:
        """The umask the workspace's connections make files under: owner-only, or in a workspace run by one
        user per service readable by the file's group (never by others), so each service reads what another
        wrote after setup."""
        return GROUP_UMASK if self.services_prefix else OWNER_ONLY_UMASK

    def private(self):
        """``owner_only`` with this workspace's umask."""
        return owner_only(self.umask)

    def key(self, name: str) -> str:
        """A key's text. Owner-only (0600), or in a deployment of one user per service readable by its group
        too (0640: the services that hold it); never writable by the group, never open to others."""
        path = self.keys_dir / f"{name}.key"
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            raise WorkspaceError(f"key {path} is missing") from None
        services = self.services_prefix
        if mode & (0o027 if services else 0o077):
            fix = "bold service setup" if services else f"chmod 600 {path}"
            raise WorkspaceError(f"key {path} is readable by others (mode {mode:o}); run: {fix}", kind=Kind.REFUSED)
        try:
            return path.read_text().strip()
        except PermissionError:
            import pwd

            account = pwd.getpwuid(os.geteuid()).pw_name
            raise WorkspaceError(
                f"{account} may not read key {path}: it is not a key this account's service holds", kind=Kind.REFUSED
            ) from None

    # --- connections ------------------------------------------------------------------------------
    def duckdb_config(self) -> dict[str, str]:
        """Settings for every DuckDB connection that touches the workspace (given when it is opened, so they
        hold before any query): DuckDB spills to a folder of its own under ``tmp/``, which it makes when it
        first spills and removes when it closes. Never DuckDB's default, ``.tmp/`` in the current folder
        (outside the workspace, readable by whoever can read that folder); never one folder shared by
        connections either, as DuckDB instances sharing a temp folder overwrite and delete each other's
        files. Open the connection inside ``owner_only()`` so the spill folder and files are owner-only. Memory
        and threads are bounded by ``bold.machine`` (an eighth of the machine's memory by default)."""
        limits = machine.duckdb_limits()  # first: a bad override leaves no folder behind
        spill = self.tmp_dir / f"duckdb-{secrets.token_hex(8)}"
        if self.services_prefix and self.tmp_dir.is_dir():
            # shared by the services (group-writable, sticky: ``bold service setup``); each connection's own
            # folder is made owner-only here, as the group umask would let the group read the spills
            spill.mkdir(mode=0o700)
            os.chmod(spill, 0o700)
        else:
            private_dir(self.tmp_dir)
        return {"temp_directory": str(spill), **limits}

    @contextmanager
    def duckdb_connection(self, database: Path | str = ":memory:", read_only: bool = False):
        """A DuckDB connection for work on the workspace: what it writes (attached databases, their WAL,
        spill files, ``COPY`` output) is owner-only, and it spills inside the workspace."""
        with self.private(), _busy_if_locked():
            config = self.duckdb_config()
            con = duckdb.connect(str(database), read_only=read_only, config=config)
            try:
                con.execute("set enable_progress_bar = false")  # BOLD shows its own progress
                yield con
            finally:
                con.close()
                shutil.rmtree(config["temp_directory"], ignore_errors=True)  # DuckDB removes it; to be sure

    def zone_path(self, zone: str) -> Path:
        return {"identifiers": self.identifiers_path, "content": self.content_path, "links": self.links_path}[zone]

    def attach(self, con: duckdb.DuckDBPyConnection, zone: str, read_only: bool = False) -> None:
        """Attach one zone to ``con`` as ``zone``, decrypted with its own key (and nothing else): whatever the
        connection then spills to disk is encrypted too."""
        encryption.attach(con, self.zone_path(zone), zone, self.key(zone), read_only)
        if self.services_prefix and not read_only:
            self._give_to_share(self.zone_path(zone))

    def rewrite(self, zone: str) -> None:
        """Write a zone afresh from the rows it holds and put the copy in place of the file, after a deletion.

        DuckDB deletes a row by marking it: its bytes stay in the file (encrypted, but readable with the zone's
        key) until their blocks happen to be reused, even after a checkpoint. A copy holds only live rows. The
        old file stays attached, holding the zone's write lock, until the copy is in its place, so no other
        command reads or writes either in between; a kill midway leaves the old file and a partial copy, which
        the next rewrite removes."""
        path = self.zone_path(zone)
        if not path.exists():
            return
        fresh = path.with_name(f".{path.name}.rewrite")
        fresh.unlink(missing_ok=True)
        with self.duckdb_connection() as con:
            self.attach(con, zone)
            con.execute(f"checkpoint {zone}")  # and the WAL is gone: none is left to be read with the copy
            encryption.attach(con, fresh, "fresh", self.key(zone))
            con.execute(f"copy from database {zone} to fresh")
            con.execute("detach fresh")
            os.replace(fresh, path)
        if self.services_prefix:
            self._give_to_share(path)

    def _give_to_share(self, path: Path) -> None:
        """A zone file this service has just made (the first ``links.duckdb``) takes the root's group (the
        audit group: every service); give it the group of its share, as ``bold service setup`` would."""
        import grp

        from bold.security import services

        share = next((s for s in services.SHARES if path.name in s.paths), None)
        if share is None or not share.readers:
            return
        gid = grp.getgrnam(services.group_name(share.name, self.services_prefix)).gr_gid
        for made in (path, path.with_name(path.name + ".wal")):
            try:
                st = made.stat()
            except FileNotFoundError:
                continue
            if st.st_uid == os.geteuid() and st.st_gid != gid:
                os.chown(made, -1, gid)
                os.chmod(made, 0o640)

    @contextmanager
    def identifiers(self, read_only: bool = False):
        """A DuckDB connection with only the identifiers zone attached (as ``identifiers``)."""
        with self.duckdb_connection() as con:
            self.attach(con, "identifiers", read_only)
            yield con

    @contextmanager
    def content(self, read_only: bool = False):
        """A DuckDB connection with only the content zone attached (as ``content``)."""
        with self.duckdb_connection() as con:
            self.attach(con, "content", read_only)
            yield con

    @contextmanager
    def links(self, read_only: bool = False):
        """A DuckDB connection with only the links attached (as ``links``)."""
        with self.duckdb_connection() as con:
            self.attach(con, "links", read_only)
            yield con

    @contextmanager
    def ingest_session(self):
        """Ingest alone sees both zones: it is where a row is split between them."""
        with self.duckdb_connection() as con:
            self.attach(con, "identifiers")
            self.attach(con, "content")
            yield con
