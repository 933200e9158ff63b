"""Ingest: read -> validate -> quarantine -> normalise -> opt-outs -> split into zones."""
