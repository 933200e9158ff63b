"""The store: the governance database (one schema, numbered migrations, transactions) and the audit chain."""

from bold.store import audit, schema
from bold.store.db import connect, transaction, version

__all__ = ["audit", "connect", "schema", "transaction", "version"]
