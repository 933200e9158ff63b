"""Analyses of linked person-level data run inside the platform, returning aggregate results only."""
