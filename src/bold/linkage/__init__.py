"""Linkage: people across sources from the identifiers zone only (never the content zone)."""
