"""BOLD: Better Outcomes through Linked Data."""

__version__ = "0.1.0"
