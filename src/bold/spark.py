"""Spark in local mode, for when one machine's DuckDB is not enough: linkage (Splink's Spark backend)
and studies (Ibis's PySpark backend) run unchanged on it.

Tables go from DuckDB to Spark in memory, never through an unencrypted file; results come back to DuckDB
or to the study runner.
"""

from __future__ import annotations

import shutil
import tempfile

from bold.errors import Conflict


class SparkUnavailable(Conflict, RuntimeError):
    """PySpark or Java is missing."""


def session(cores: int = 2, memory: str = "4g"):
    """A local Spark session with Splink's similarity functions and a checkpoint folder."""
    if shutil.which("java") is None:
        raise SparkUnavailable("Spark needs Java (17 or later) on the PATH")
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError as exc:
        raise SparkUnavailable("Spark needs PySpark: pip install 'bold[spark]'") from exc
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("bold")
        .config("spark.jars", similarity_jar_location())
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", str(4 * cores))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="bold-spark-checkpoints-"))
    return spark


def to_spark(spark, con, table: str, view: str) -> None:
    """Copy a DuckDB table into a Spark temporary view of the same shape (types mapped explicitly, as
    Spark cannot infer them from columns that may be all empty)."""
    from pyspark.sql import types as T

    mapping = {
        "VARCHAR": T.StringType(),
        "DATE": T.DateType(),
        "BOOLEAN": T.BooleanType(),
        "BIGINT": T.LongType(),
        "INTEGER": T.IntegerType(),
        "DOUBLE": T.DoubleType(),
        "VARCHAR[]": T.ArrayType(T.StringType()),
    }
    described = con.execute(f"select column_name, column_type from (describe {table})").fetchall()
    unknown = [f"{c} {t}" for c, t in described if t not in mapping]
    if unknown:
        raise TypeError(f"no Spark type for {', '.join(unknown)}")
    schema = T.StructType([T.StructField(c, mapping[t], True) for c, t in described])
    # Rows go over in memory, never through a file: linkage inputs hold identifiers, extracts person data.
    rows = con.execute(f"select * from {table}").fetchall()
    spark.createDataFrame(rows, schema=schema).createOrReplaceTempView(view)
