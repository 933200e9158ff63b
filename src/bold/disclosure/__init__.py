"""Disclosure control: which numbers of a study's output may leave, and the release workflow."""
