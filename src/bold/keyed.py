"""Keyed hashes (HMAC-SHA256), in Python and in SQL, in one place.

Opt-out entries, encoded record ids and project pseudonyms are all HMACs of a labelled value. The SQL
form lets DuckDB hash millions of rows without a Python loop and gives the same hex digest as the
Python form (tested): HMAC(K, m) = H((K xor opad) || H((K xor ipad) || m)).
"""

from __future__ import annotations

import hashlib
import hmac


def digest(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def digest_sql(key: bytes, label: str, value_sql: str) -> str:
    """SQL for ``digest(key, label + value)``; ``label`` is a literal prefix such as ``'nhs_number:'``."""
    block = key if len(key) <= 64 else hashlib.sha256(key).digest()
    block = block.ljust(64, b"\0")
    ipad, opad = bytes(b ^ 0x36 for b in block).hex(), bytes(b ^ 0x5C for b in block).hex()
    prefix = "'" + label.replace("'", "''") + "'"
    inner = f"sha256(unhex('{ipad}') || encode({prefix} || {value_sql}))"
    return f"sha256(unhex('{opad}') || unhex({inner}))"
