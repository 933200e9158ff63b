"""The design documents are part of the repository (docs/design/), and everything that cites them points there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DESIGN_DIR = ROOT / "docs" / "design"
# The working originals, in the folder beside the repository root (absent in a plain clone).
SHARED = ROOT.parent / "shared"
COPIES = ("DESIGN.md", "DOMAIN.md", "seeds/README.md")

# Where citations may appear: the code, the tests, the benchmarks, the documentation and the README.
CITING = ("src", "tests", "benchmarks", "docs", "README.md", "pyproject.toml")
# A citation: DESIGN.md or DOMAIN.md with whatever path is written in front of it ("docs/design/", "design/",
# "../", or nothing).
CITATION = re.compile(r"(?<![\w./-])(?P<folder>(?:[\w.-]+/)*)(?P<name>DESIGN|DOMAIN)\.md")


@pytest.mark.skipif(not (SHARED / "DESIGN.md").exists(), reason="no shared folder with DESIGN.md beside the repository")
@pytest.mark.parametrize("name", COPIES)
def test_copies_match_the_shared_originals(name):
    original, copy = SHARED / name, DESIGN_DIR / name
    assert original.exists(), f"{original} is missing"
    assert copy.read_bytes() == original.read_bytes(), f"docs/design/{name} differs from {original}: copy it again"


def _text_files():
    for entry in CITING:
        path = ROOT / entry
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            built = any(part == "__pycache__" or part.endswith(".egg-info") for part in file.parts)
            if built or file.resolve() == Path(__file__).resolve():
                continue
            try:
                yield file, file.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue


def _inside_repository(path: Path) -> bool:
    resolved = path.resolve()
    return resolved.is_relative_to(ROOT) and resolved.is_file()


def test_citations_point_inside_the_repository():
    for name in ("DESIGN.md", "DOMAIN.md"):
        assert (DESIGN_DIR / name).is_file(), f"docs/design/{name} is missing"
    bad = []
    count = 0
    for file, text in _text_files():
        for match in CITATION.finditer(text):
            count += 1
            folder, name = match["folder"], f"{match['name']}.md"
            if not folder:
                # A bare name ("DOMAIN.md 6.2") names the document in docs/design/, checked above.
                continue
            # A path is read from the citing file's own folder (a Markdown link) or from the repository root.
            candidates = (file.parent / folder / name, ROOT / folder / name)
            if "shared/" in folder or not any(_inside_repository(c) for c in candidates):
                line = text.count("\n", 0, match.start()) + 1
                bad.append(f"{file.relative_to(ROOT)}:{line}: {match.group(0)}")
    assert count, "no citations found: is the repository layout as expected?"
    assert not bad, "citations pointing outside the repository:\n" + "\n".join(bad)
