"""Encrypted DuckDB files: every zone of a workspace (identifiers, content, links) and every project extract
is a DuckDB database encrypted with AES under a key of its own, so a copy of one file, or a key for another,
gives nothing away.

Writing an encrypted DuckDB file needs the OpenSSL-backed httpfs extension, shipped for DuckDB 1.4.4 by the
``duckdb-ext-httpfs`` package and loaded from its file, never downloaded. There is no fallback to an
unencrypted or weaker mode (never ``force_mbedtls_unsafe``): without the extension nothing is opened.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import duckdb

from bold.errors import Conflict


def httpfs_extension() -> Path:
    """The httpfs extension file for this DuckDB version, from the duckdb-ext-httpfs package."""
    try:
        import duckdb_ext

        roots = [Path(p) / "extensions" / f"v{duckdb.__version__}" for p in duckdb_ext.__path__]
    except ImportError:
        roots = []
    found = sorted(f for root in roots for f in root.glob("*/httpfs.duckdb_extension"))
    if not found:
        raise Conflict(
            f"cannot encrypt the workspace's zones: no httpfs extension for DuckDB {duckdb.__version__} "
            "(install the duckdb-ext-httpfs package built for this DuckDB version)"
        )
    return found[0]


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Load the encryption and make anything the connection spills to disk encrypted too."""
    con.execute(f"LOAD '{httpfs_extension()}'")
    con.execute("set temp_file_encryption = true")


def attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str, key: str, read_only: bool = False) -> None:
    """Attach the encrypted database ``path`` as ``alias`` (made, encrypted, if it does not exist)."""
    prepare(con)
    mode = ", READ_ONLY" if read_only else ""
    quoted = str(path).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS {alias} (ENCRYPTION_KEY '{key}'{mode})")


def derive(secret: str, purpose: str) -> str:
    """A key for ``purpose`` derived from ``secret`` (HMAC-SHA256), so one secret can serve two uses apart."""
    return hmac.new(secret.encode(), f"bold:{purpose}".encode(), hashlib.sha256).hexdigest()


def is_encrypted(path: Path) -> bool:
    """Whether a DuckDB file is encrypted (it cannot be opened without a key)."""
    con = duckdb.connect()
    try:
        quoted = str(path).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS probe (READ_ONLY)")
        return False
    except duckdb.Error as exc:
        if "encrypt" in str(exc).lower():
            return True
        raise
    finally:
        con.close()


def encrypt_in_place(con: duckdb.DuckDBPyConnection, path: Path, key: str) -> None:
    """Rewrite a plaintext DuckDB file as an encrypted one under ``key`` (for workspaces made before every
    zone was encrypted): copied whole into a new file beside it, which then replaces it."""
    tmp = path.with_name(f".{path.name}.encrypting")
    tmp.unlink(missing_ok=True)
    quoted = str(path).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS plain (READ_ONLY)")
    attach(con, tmp, "sealed", key)
    con.execute("COPY FROM DATABASE plain TO sealed")
    con.execute("DETACH plain")
    con.execute("DETACH sealed")
    os.replace(tmp, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
