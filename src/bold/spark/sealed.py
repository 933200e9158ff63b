"""Tables between DuckDB and Spark as encrypted Parquet files, never through the driver's memory whole.

A ``Handoff`` holds a folder (inside a workspace's ``tmp/``) and a master key of its own, random and held only
in memory: files a killed process leaves behind cannot be read by anyone, and no lasting key is ever used.
DuckDB's rows go out in batches through PyArrow into Parquet files encrypted with Parquet modular encryption
(AES-GCM, footer and every column, 256-bit data keys wrapped by the master key), which Spark reads with Parquet's
own key tools and BOLD's key client (``WorkspaceKms.java``); Spark's results come back the same way. While the
handoff is open every Parquet file the session writes is encrypted under its key, so Splink's checkpoints are
too; when it closes the folder is removed and the key taken out of the session.

On a cluster the folder must be on a filesystem every executor mounts; the master key reaches the executors in
the job's configuration, so the cluster's RPC must be authenticated and encrypted (``docs/linkage.md``).
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import threading
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe

from bold.security.private import private_dir

BATCH_ROWS = 100_000
NONCE_BYTES = 12
KMS_INSTANCE = "parquet.encryption.kms.instance.id"
_lock = threading.Lock()
_open: list[Handoff] = []  # handoffs not yet closed, newest last: the session writes under the newest's key


class _WorkspaceKms(pe.KmsClient):
    """PyArrow's side of ``WorkspaceKms.java``: the same AES-GCM wrapping, so either side reads the other's files."""

    def __init__(self, master_keys: dict[str, bytes]):
        super().__init__()
        self.master_keys = master_keys

    def _master(self, key_id: str):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if key_id not in self.master_keys:
            raise KeyError(f"no master key {key_id}")
        return AESGCM(self.master_keys[key_id])

    def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._master(master_key_identifier).encrypt(nonce, key_bytes, master_key_identifier.encode())
        return base64.b64encode(nonce + sealed).decode()

    def unwrap_key(self, wrapped_key: str, master_key_identifier: str) -> bytes:
        raw = base64.b64decode(wrapped_key)
        return self._master(master_key_identifier).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], master_key_identifier.encode()
        )


class Handoff:
    """An open exchange of encrypted Parquet between one DuckDB connection's tables and a Spark session."""

    def __init__(self, spark, tmp_dir: Path):
        self.spark = spark
        token = secrets.token_hex(8)
        self.folder = private_dir(Path(tmp_dir) / f"spark-files-{token}")
        self.key_id = f"bold-{token}"  # names the key in file footers and job settings
        key = secrets.token_bytes(32)
        self._crypto = pe.CryptoFactory(lambda _config: _WorkspaceKms({self.key_id: key}))
        self._kms = pe.KmsConnectionConfig(kms_instance_id=self.key_id)
        self._settings = {
            f"bold.kms.secret.{self.key_id}": key.hex(),
            KMS_INSTANCE: self.key_id,  # a key client per key: none caches another's
            "parquet.encryption.uniform.key": self.key_id,  # every Parquet file the session writes
        }
        with _lock:
            _open.append(self)
            self._apply()

    def __enter__(self) -> Handoff:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _apply(self) -> None:
        hadoop = self.spark.sparkContext._jsc.hadoopConfiguration()
        for name, value in self._settings.items():
            hadoop.set(name, value)
        self.spark.sparkContext.setCheckpointDir(str(self.folder / "checkpoints"))

    def close(self) -> None:
        """Remove the files and the key; the session writes under the handoff opened before this one, if it is
        still open (so never in the clear while any is), else under none."""
        with _lock:
            if self in _open:
                _open.remove(self)
                hadoop = self.spark.sparkContext._jsc.hadoopConfiguration()
                for name in self._settings:
                    hadoop.unset(name)
                if _open:
                    _open[-1]._apply()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}-{secrets.token_hex(4)}"

    def to_spark(self, con, table: str, view: str) -> None:
        """DuckDB table ``table`` as Spark temporary view ``view``, through an encrypted Parquet file written
        batch by batch (Parquet keeps the column types, even of columns that are all empty)."""
        reader = con.execute(f"select * from {table}").fetch_record_batch(BATCH_ROWS)
        path = self._path(view)
        path.mkdir()
        properties = self._crypto.file_encryption_properties(
            self._kms,
            pe.EncryptionConfiguration(footer_key=self.key_id, uniform_encryption=True, data_key_length_bits=256),
        )
        with pq.ParquetWriter(path / "part-0.parquet", reader.schema, encryption_properties=properties) as writer:
            for batch in reader:
                writer.write_batch(batch, row_group_size=BATCH_ROWS)
        self.spark.read.option(KMS_INSTANCE, self.key_id).parquet(str(path)).createOrReplaceTempView(view)

    def to_duckdb(self, con, spark_table: str, table: str) -> None:
        """Spark table or view ``spark_table`` as DuckDB temporary table ``table``, written by Spark as
        encrypted Parquet and read back batch by batch."""
        path = self._path(table)
        mine = {name: self._settings[name] for name in ("parquet.encryption.uniform.key", KMS_INSTANCE)}
        self.spark.table(spark_table).write.options(**mine).parquet(str(path))  # under this key, whichever is newest
        decryption = pads.ParquetDecryptionConfig(self._crypto, self._kms, pe.DecryptionConfiguration())
        files = pads.ParquetFileFormat(
            default_fragment_scan_options=pads.ParquetFragmentScanOptions(decryption_config=decryption)
        )
        reader = pads.dataset(str(path), format=files).scanner(batch_size=BATCH_ROWS).to_reader()
        con.register(f"{table}_batches", reader)
        con.execute(f"create or replace temp table {table} as select * from {table}_batches")
        con.unregister(f"{table}_batches")
        shutil.rmtree(path, ignore_errors=True)
