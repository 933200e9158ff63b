"""Spark in local mode, for when one machine's DuckDB is not enough: linkage (Splink's Spark backend)
and studies (Ibis's PySpark backend) run unchanged on it.

Nothing Spark holds reaches a disk in the clear: tables go between DuckDB and Spark as Parquet files encrypted
with Parquet modular encryption (``bold.spark.sealed``), every Parquet file Spark writes (Splink's
checkpoints too) is encrypted the same way, and Spark's own spill and shuffle files are encrypted with
``spark.io.encryption.enabled``. They all live inside the workspace's ``tmp/``.

``BOLD_SPARK_MASTER`` points the session at a cluster (``spark://host:7077``, ``yarn``; default
``local[<cores>]``) and ``BOLD_SPARK_DRIVER_MEMORY`` sizes the driver (default ``4g``); anything else comes from
Spark's own ``spark-defaults.conf`` (``docs/linkage.md``, "Spark").
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import threading
from pathlib import Path

from bold import machine
from bold.errors import Conflict
from bold.security.private import private_dir


class SparkUnavailable(Conflict, RuntimeError):
    """PySpark, Java or a JDK to build the key client is missing."""


_FACTORY = "org.apache.parquet.crypto.keytools.PropertiesDrivenCryptoFactory"  # Parquet's own key tools
_lock = threading.Lock()
_local_dir: Path | None = None  # the running session's spill folder


def _driver_memory(memory: str | None) -> str:
    given = memory or os.environ.get("BOLD_SPARK_DRIVER_MEMORY") or "4g"
    if not re.fullmatch(r"\d+[kmgt]?", given.strip().lower()):
        raise machine.MachineSettingError(f"BOLD_SPARK_DRIVER_MEMORY={given!r}: expected a size such as 4g or 512m")
    return given.strip().lower()


def session(tmp_dir: Path, cores: int | None = None, memory: str | None = None):
    """A local Spark session whose spill and shuffle files go, encrypted, to a folder under ``tmp_dir`` (a
    workspace's ``tmp/``), with Splink's similarity functions and BOLD's Parquet key client.

    Spark fixes its spill folder when the session starts, so a session started for another workspace is
    stopped and a new one started here."""
    global _local_dir
    if shutil.which("java") is None:
        raise SparkUnavailable("Spark needs Java (17 or later) on the PATH")
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError as exc:
        raise SparkUnavailable("Spark needs PySpark: pip install 'bold[spark]'") from exc
    from bold.spark.kms import CLASS, KmsClientUnavailable, jar

    try:
        kms_jar = jar()
    except KmsClientUnavailable as exc:
        raise SparkUnavailable(str(exc)) from None
    cluster = os.environ.get("BOLD_SPARK_MASTER")
    cores = cores or machine.cores()
    settings = {
        "spark.jars": f"{similarity_jar_location()},{kms_jar}",
        "spark.driver.memory": _driver_memory(memory),
        "spark.io.encryption.enabled": "true",  # spills, shuffles and cached blocks on disk
        "spark.io.encryption.keySizeBits": "256",
        "spark.authenticate": "true",  # and what Spark's processes say to each other
        "spark.network.crypto.enabled": "true",
        "spark.hadoop.parquet.crypto.factory.class": _FACTORY,
        "spark.hadoop.parquet.encryption.kms.client.class": CLASS,
        "spark.hadoop.parquet.encryption.data.key.length.bits": "256",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",  # BOLD's own progress, not Spark's stage bars
        # a cluster sizes its own shuffles (spark-defaults.conf); two cores want few partitions
        **({} if cluster else {"spark.sql.shuffle.partitions": str(4 * cores)}),
        # Spark's pseudo-cluster (executors in JVMs of their own on this machine) lives and dies with this
        # process, so it gets a secret of its own; a real cluster's comes from the site (docs/linkage.md).
        **({"spark.authenticate.secret": secrets.token_hex(32)} if (cluster or "").startswith("local-cluster") else {}),
    }
    local_dir = Path(tmp_dir) / f"spark-{os.getpid()}"
    settings["spark.local.dir"] = str(local_dir)
    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None and _local_dir == local_dir:
            return active
        if active is not None:
            active.stop()
        private_dir(local_dir)
        builder = SparkSession.builder.master(cluster or f"local[{cores}]").appName("bold")
        for name, value in settings.items():
            builder = builder.config(name, value)
        try:
            spark = builder.getOrCreate()
        except Exception as exc:  # Py4J carries the JVM's whole stack; the first line says what is wrong
            message = str(exc).strip().splitlines()
            cause = next((line for line in message if "Exception:" in line), message[0] if message else "")
            raise SparkUnavailable(f"cannot start Spark on {cluster or 'this machine'}: {cause.strip()}") from None
        spark.sparkContext.setLogLevel("ERROR")
        _local_dir = local_dir
        atexit.register(shutil.rmtree, local_dir, ignore_errors=True)
    return spark
