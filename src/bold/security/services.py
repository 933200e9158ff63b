"""The services a deployment runs, the keys each may read and the workspace files each may read or write: the
one place that says so (docs/security.md renders it; ``bold service setup`` applies it).

A deployment runs each service as an operating-system user of its own (``bold-ingest``, ``bold-linkage``...)
and gives each key, with the files it opens, a system group of its own: a file belongs to the service that
writes it and to the key's group, whose members are the services that read it (files 0640, folders 2750; no
bit for others). Groups rather than POSIX ACLs: ``setfacl`` is not installed everywhere (not on the CI image),
not every file system keeps ACLs, and ``ls -l`` shows a group, so an operator can check the split by eye.

Every service records its actions in the audit chain, so every one needs ``governance.db`` (written) and the
audit key. That lets no service read another's zone: the audit key only signs the chain (HMAC) and opens no
zone, and the store holds batches, people, projects, outputs and audit entries, never an identifier or a row
of content (the audit never holds who a record is about).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bold.errors import Invalid

DEFAULT_PREFIX = "bold-"


@dataclass(frozen=True)
class Share:
    """A key and the workspace files it opens: one system group.

    ``key`` is a file (or, ending in ``/``, a folder of keys) under ``keys/``; ``paths`` are files or folders
    (ending in ``/``) of the workspace; ``writer`` owns them; ``readers`` are the other members of the group;
    ``shared`` paths are writable by the whole group; ``also_writes`` maps a reader to a folder pattern under
    a path (``projects/*/evidence/``) that it owns. Shared folders are sticky (a member removes or replaces only
    its own files) except those in ``replaced``, where any member replaces a file by a rename: ``audit/``, whose
    head every service's commit replaces."""

    name: str
    key: str | None
    paths: tuple[str, ...]
    writer: str
    readers: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    also_writes: dict[str, str] = field(default_factory=dict)
    replaced: tuple[str, ...] = ()
    why: str = ""

    @property
    def members(self) -> tuple[str, ...]:
        return (self.writer, *self.readers)


@dataclass(frozen=True)
class Service:
    name: str
    does: str


SERVICES = (
    Service("ingest", "reads a custodian's file and splits each row between the identifiers and content zones"),
    Service("linkage", "links records into people from the identifiers zone; writes the links"),
    Service("build", "builds a project's extract from the content zone and the links"),
    Service("studies", "runs a project's studies on its extract; writes outputs and their evidence"),
    Service("governance", "keeps the governance store: people, projects, the audit chain, the register"),
)
SERVICE_NAMES = tuple(s.name for s in SERVICES)
EVERY_SERVICE = SERVICE_NAMES

SHARES = (
    Share("identifiers", "identifiers.key", ("identifiers.duckdb",), "ingest", ("linkage",),
          why="who a record is about: never content"),
    Share("content", "content.key", ("content.duckdb",), "ingest", ("build",),
          why="what happened: never an identifier"),
    Share("links", "links.key", ("links.duckdb",), "linkage", ("build",),
          why="record to person; linkage writes, build reads"),
    Share("model", None, ("linkage/",), "linkage", why="the trained linkage model (name frequencies): linkage only"),
    Share("reports", None, ("reports/",), "linkage", ("governance",), why="the linkage quality report"),
    Share("quarantine", "quarantine.key", ("quarantine/",), "ingest", why="rejected rows: ingest only"),
    Share("optout", "optout.key", (), "ingest", why="the opt-out register's digests"),
    Share("projects", "projects/", ("projects/",), "build", ("studies",), also_writes={"studies": "*/evidence/"},
          why="project keys derive the extract keys; studies read extracts and write evidence"),
    Share("outputs", None, ("outputs/",), "studies", ("governance",),
          why="pending outputs; governance checks their files (audit verify)"),
    Share("register", None, ("register/",), "governance", why="the public register"),
    Share("audit", "audit.key", ("./", "bold.toml", "keys/", "governance.db", "audit/", "tmp/"),
          "governance", tuple(s for s in SERVICE_NAMES if s != "governance"),
          shared=("./", "governance.db", "audit/", "tmp/"), replaced=("audit/",),
          why="every service records its actions; the audit key opens no zone"),
)  # fmt: skip
SHARE_BY_NAME = {s.name: s for s in SHARES}

_PREFIX = re.compile(r"[a-z_][a-z0-9_-]{0,19}")


def check_prefix(prefix: str) -> str:
    """A prefix for user and group names: lower case, at most 20 characters (names stay within 32)."""
    if not _PREFIX.fullmatch(prefix):
        raise Invalid(
            f"service prefix {prefix!r}: expected 1 to 20 lower-case letters, digits, '-' or '_', "
            "starting with a letter or '_' (such as 'bold-')"
        )
    return prefix


def user_name(service: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}{service}"


def group_name(share: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}key-{share}" if SHARE_BY_NAME[share].key else f"{prefix}{share}"


def shares_of(service: str) -> list[Share]:
    return [s for s in SHARES if service in s.members]


def keys_of(service: str) -> list[str]:
    """The key files (under ``keys/``) the service may read."""
    return [s.key for s in shares_of(service) if s.key]


def writes_of(service: str) -> list[str]:
    out = []
    for s in shares_of(service):
        if s.writer == service:
            out += [p for p in s.paths if p not in ("./", "keys/")]
        else:
            out += [p for p in s.shared if p != "./"]
        if service in s.also_writes:
            out += [f"{p}{s.also_writes[service]}" for p in s.paths if p.endswith("/")]
    return out


def reads_of(service: str) -> list[str]:
    written = set(writes_of(service))
    return [p for s in shares_of(service) for p in s.paths if p not in written and p not in ("./", "keys/")]


def table(prefix: str = DEFAULT_PREFIX) -> str:
    """The services as a Markdown table (docs/security.md)."""
    lines = [
        "| service | user | does | keys it reads | writes | reads | groups |",
        "|---|---|---|---|---|---|---|",
    ]

    def cell(items: list[str]) -> str:
        return ", ".join(f"`{i}`" for i in items) or "none"

    for s in SERVICES:
        keys = [f"keys/{k}" + ("*.key" if k.endswith("/") else "") for k in keys_of(s.name)]
        groups = [group_name(g.name, prefix) for g in shares_of(s.name) if g.readers]
        lines.append(
            f"| {s.name} | `{user_name(s.name, prefix)}` | {s.does} | {cell(keys)} | {cell(writes_of(s.name))} "
            f"| {cell(reads_of(s.name))} | {cell(groups)} |"
        )
    return "\n".join(lines)


def share_table(prefix: str = DEFAULT_PREFIX) -> str:
    """Each group: its key, the files it opens, who owns them and who else reads them."""
    lines = ["| group | key | files | owner | also read by | why |", "|---|---|---|---|---|---|"]
    for s in SHARES:
        key = f"`keys/{s.key}`" if s.key else "none"
        paths = (
            ", ".join(
                f"`{p}`" + (f" (group-writable{', not sticky' if p in s.replaced else ''})" if p in s.shared else "")
                for p in s.paths
            )
            or "the key only"
        )
        readers = ", ".join(s.readers) if len(s.readers) < len(SERVICE_NAMES) - 1 else "every other service"
        for reader, pattern in s.also_writes.items():
            paths += f"; `{s.paths[0]}{pattern}` owned by `{user_name(reader, prefix)}`"
        group = f"`{group_name(s.name, prefix)}`" if s.readers else "none: owner only (0600, folders 0700)"
        lines.append(
            f"| {group} | {key} | {paths} | `{user_name(s.writer, prefix)}` | {readers or 'nobody'} | {s.why} |"
        )
    return "\n".join(lines)


# --- applying it: users, groups, owners and modes ------------------------------------------------------------


@dataclass
class Setup:
    """What ``setup`` did; empty lists when the workspace was already set up."""

    prefix: str
    groups_created: list[str] = field(default_factory=list)
    users_created: list[str] = field(default_factory=list)
    memberships_added: list[tuple[str, str]] = field(default_factory=list)  # (user, group)
    files_changed: list[tuple[str, str, str, str]] = field(default_factory=list)  # (path, owner, group, mode)
    left_owner_only: list[str] = field(default_factory=list)  # files no service holds: root's alone

    @property
    def changed(self) -> bool:
        return bool(self.groups_created or self.users_created or self.memberships_added or self.files_changed)


def _run(command: list[str]) -> None:
    import subprocess

    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        from bold.errors import Conflict

        raise Conflict(f"{' '.join(command)} failed: {(done.stderr or done.stdout).strip() or done.returncode}")


def _nologin() -> str:
    from pathlib import Path

    return next((s for s in ("/usr/sbin/nologin", "/sbin/nologin") if Path(s).exists()), "/bin/false")


def ensure_accounts(prefix: str, result: Setup) -> None:
    """A system group per share read by more than its writer, a system user per service, each user in the
    groups of the shares it holds. Only what is missing is made."""
    import grp
    import pwd

    for share in SHARES:
        if not share.readers:
            continue
        name = group_name(share.name, prefix)
        try:
            grp.getgrnam(name)
        except KeyError:
            _run(["groupadd", "--system", name])
            result.groups_created.append(name)
    for service in SERVICE_NAMES:
        user = user_name(service, prefix)
        try:
            pwd.getpwnam(user)
        except KeyError:
            _run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                  "--shell", _nologin(), "--comment", f"BOLD {service} service", user])  # fmt: skip
            result.users_created.append(user)
        for share in shares_of(service):
            if not share.readers:
                continue
            group = group_name(share.name, prefix)
            if user not in grp.getgrnam(group).gr_mem:
                _run(["usermod", "--append", "--groups", group, user])
                result.memberships_added.append((user, group))


def _wanted(root, prefix: str) -> dict:
    """Every workspace path a share covers, with the (user, group, mode) it should have; later shares and a
    reader's own folders (``also_writes``) override earlier entries."""
    import grp
    import pwd

    wanted = {}

    def ids(share: Share, owner: str) -> tuple[int, int]:
        user = pwd.getpwnam(user_name(owner, prefix))
        gid = grp.getgrnam(group_name(share.name, prefix)).gr_gid if share.readers else user.pw_gid
        return user.pw_uid, gid

    def mode(share: Share, is_dir: bool, shared: bool, sticky: bool = True) -> int:
        if shared:
            if is_dir and not sticky:
                return 0o2770  # any member replaces a file here by a rename (the audit head)
            return 0o3770 if is_dir else 0o660  # sticky: a service removes or replaces only its own files
        if share.readers:
            return 0o2750 if is_dir else 0o640  # setgid: what is made inside keeps the share's group
        return 0o700 if is_dir else 0o600

    def cover(path, share: Share, owner: str, shared: bool, recursive: bool, sticky: bool = True) -> None:
        if path.is_symlink() or not path.exists():
            return
        uid, gid = ids(share, owner)
        wanted[path] = (uid, gid, mode(share, path.is_dir(), shared, sticky))
        if recursive and path.is_dir():
            for child in sorted(path.rglob("*")):
                if not child.is_symlink():
                    wanted[child] = (uid, gid, mode(share, child.is_dir(), shared))

    for share in SHARES:
        if share.key:
            key = root / "keys" / share.key
            if share.key.endswith("/"):
                key.mkdir(mode=0o700, exist_ok=True)
            cover(key, share, share.writer, False, recursive=True)
        for rel in share.paths:
            path = root if rel == "./" else root / rel
            folder = rel.endswith("/")
            if folder and rel not in ("./", "keys/") and (rel in share.shared or share.readers):
                path.mkdir(mode=0o700, exist_ok=True)  # so its readers (or the group) find it
            cover(path, share, share.writer, rel in share.shared, recursive=folder and rel not in ("./", "keys/"),
                  sticky=rel not in share.replaced)  # fmt: skip
            if not folder:
                for suffix in (".wal", "-journal"):  # DuckDB's write-ahead log; SQLite's kept journal
                    cover(path.with_name(path.name + suffix), share, share.writer, rel in share.shared, False)
            for reader, pattern in share.also_writes.items():
                for parent in sorted(path.glob(pattern.rstrip("/").rsplit("/", 1)[0])) if folder else ():
                    mine = parent / pattern.rstrip("/").rsplit("/", 1)[1]
                    mine.mkdir(mode=0o700, exist_ok=True)
                    cover(mine, share, reader, False, recursive=True)
    return wanted


def apply_files(root, prefix: str, result: Setup) -> None:
    """Give every path a share covers its owner, group and mode; list what changed and what no share covers."""
    import grp
    import os
    import pwd
    import stat

    wanted = _wanted(root, prefix)
    for path, (uid, gid, mode) in wanted.items():
        st = path.lstat()
        if (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (uid, gid, mode):
            continue
        os.chown(path, uid, gid, follow_symlinks=False)
        os.chmod(path, mode)  # after chown, which clears the setgid bit
        rel = "." if path == root else str(path.relative_to(root))
        change = (rel, pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name, f"{mode:04o}")
        if change not in result.files_changed:
            result.files_changed.append(change)
    result.left_owner_only = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p not in wanted)


def setup(root, prefix: str = DEFAULT_PREFIX) -> Setup:
    """Make the accounts and give the workspace's files to them (the caller checks it runs as root)."""
    from pathlib import Path

    result = Setup(check_prefix(prefix))
    ensure_accounts(prefix, result)
    apply_files(Path(root), prefix, result)
    return result
