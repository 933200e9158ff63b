"""Synthetic multi-agency population: people, their life events, custodian extracts, ground truth."""
