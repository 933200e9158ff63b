"""The Java key client Spark needs to read and write BOLD's encrypted Parquet (``WorkspaceKms.java``).

Parquet's key tools ship no key client outside their tests, so BOLD compiles its own against the Parquet jars
of the installed PySpark, once, into a jar in the user's cache (owner-only) named by a digest of the source and
the PySpark version: a changed source or PySpark gives a new jar, never a stale one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from bold.errors import Conflict
from bold.security.private import private_dir

SOURCE = Path(__file__).with_name("WorkspaceKms.java")
CLASS = "bold.spark.WorkspaceKms"


class KmsClientUnavailable(Conflict, RuntimeError):
    """The key client cannot be built (no JDK)."""


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bold"


def jar() -> Path:
    """The key client's jar, compiled at first use."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    digest = hashlib.sha256(SOURCE.read_bytes() + pyspark.__version__.encode()).hexdigest()[:16]
    target = _cache_dir() / f"bold-kms-{digest}.jar"
    if target.exists():
        return target
    javac = shutil.which("javac")
    if javac is None:
        raise KmsClientUnavailable(
            "Spark reads BOLD's encrypted files through a key client compiled at first use, which needs a JDK "
            "(javac; Debian: apt install openjdk-17-jdk-headless)"
        )
    private_dir(target.parent)
    with tempfile.TemporaryDirectory(dir=target.parent) as build:
        done = subprocess.run(
            [javac, "--release", "17", "-nowarn", "-cp", f"{jars}/*", "-d", build, str(SOURCE)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise KmsClientUnavailable(f"cannot compile {SOURCE.name}: {done.stderr.strip()}")
        partial = Path(build) / "kms.jar"
        with zipfile.ZipFile(partial, "w") as archive:
            for path in sorted(Path(build).rglob("*.class")):
                archive.write(path, path.relative_to(build).as_posix())
        os.replace(partial, target)  # whole or not at all, if two processes build it at once
    return target
