"""BOLD: Better Outcomes through Linked Data.

The Python API (``bold.open``, ``bold.link_files``, ``bold.Session``) lives in ``bold.api`` and is loaded on
first use, so that ``import bold`` stays quick for the command line.
"""

__version__ = "0.1.0"
__all__ = ["LinkedFiles", "Session", "__version__", "link_files", "open"]


def __getattr__(name: str):
    if name in {"open", "link_files", "Session", "LinkedFiles"}:
        from bold import api

        return getattr(api, name)
    raise AttributeError(f"module 'bold' has no attribute {name!r}")
