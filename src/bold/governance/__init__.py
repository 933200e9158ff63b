"""Governance: projects as data sharing agreements, their assessment, approval, extracts and retention."""
