"""Reading the YAML files people write (agreements, mappings, studies, corruption rates), with errors that
never echo the file.

A person may pass the wrong file: a custodian's data file given as a mapping or an agreement would, with
the YAML library's own messages, come back quoted in the error, identifiers and all. So every error here
names the file, the line and what was expected; a value from the file is never shown, and a key only when it
looks like a template field name (lower-case letters, digits and ``_``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bold.errors import Invalid

_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]{0,40}")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def read(path: Path, what: str, error: type[Exception] = Invalid) -> tuple[Any, str, yaml.Node | None]:
    """The parsed file, its text and its node tree (for line numbers); ``error`` naming the line if it is not
    YAML. ``what`` says what the file should be ("the agreement")."""
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise error(f"{path}: cannot read {what}: not a text file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror or 'unreadable'}") from None
    try:
        loader = yaml.SafeLoader(text)  # parsed once: the node tree for line numbers, the data built from it
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = _QUOTED.sub("(a value)", getattr(exc, "problem", None) or "not valid YAML")
        raise error(f"{path}: {line}cannot read {what}: not valid YAML ({problem})") from None
    return data, text, node


def line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """The line (from 1) of the entry at ``loc`` (keys and indexes), or of the nearest entry above it."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(
                (kv for kv in node.value if isinstance(kv[0], yaml.ScalarNode) and kv[0].value == str(part)), None
            )
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def field_path(loc: tuple) -> str:
    """``loc`` as people read it, with any key that is not a plain field name withheld."""
    parts = [str(p) if isinstance(p, int) or _FIELD_NAME.fullmatch(str(p)) else "(a key)" for p in loc]
    return ".".join(parts)


def invalid(path: Path, exc: ValidationError, node: yaml.Node | None, prefix: tuple = ()) -> str:
    """A one-line message for the first validation error: the file, its line, the field and what was
    expected (pydantic's message, which never includes the value)."""
    first = exc.errors()[0]
    loc = (*prefix, *first["loc"])
    line = line_of(node, loc)
    where = field_path(loc)
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "not a field of the template"
    return f"{path}: {f'line {line}: ' if line else ''}{where + ': ' if where else ''}{message}"


def parse(path: Path, model, what: str, error: type[Exception], expected: str):
    """``path`` read as the pydantic ``model``, and its text; ``error`` naming the file, line and field when it
    is not YAML, not a mapping (``expected`` says what it should hold) or not valid."""
    data, text, node = read(path, what, error)
    if not isinstance(data, dict):
        raise error(f"{path}: expected {expected}")
    try:
        return model(**data), text
    except ValidationError as exc:
        raise error(invalid(path, exc, node)) from None
