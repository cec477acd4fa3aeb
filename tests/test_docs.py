"""docs/maths.md defines every equation, section and table the code cites.

Citations are recognised in these forms (the file's lines are joined first,
so a citation may wrap across comment lines):

- a parenthesis opening with a label: "(1.24)", "(1.31, 1.32)",
  "(1.33-1.35)", "(1.1–1.4)", "(2.16/2.21)", "(1.9 generalised)", "(P.3)";
- "eq." / "eqs." before labels: "eq. 1.7", "eq. (1.7)", "eqs. 2.21 and 2.28";
- "section 2.5", "table 1.1";
- "seed 001 eq. (21)", "seed 001 eq. 1-2": the perceptron chapter's old
  numbers, which docs/maths.md's citation map translates to its own labels.

Labels are (1.n) and (2.n) with an optional letter (1.9a), and (P.n), (T.n),
(N.n).  docs/maths.md defines an equation label with \\tag{...}, a section
with a numbered heading and a table with a "**Table n.m**" caption.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MATHS = ROOT / "docs" / "maths.md"
SCANNED_DIRS = ("fastnet", "tests", "benchmarks")
SCANNED_FILES = ("README.md", "docs/maths.md")
SUFFIXES = {".py", ".pyx", ".pxd", ".pxi", ".h", ".md"}

# A label: 1.24, 2.5a, P.3 -- never 1.0, nor part of a longer number or word
# (1.2e-38, 1.01x, 3.11.7 do not match).
LABEL = r"(?<![\w.])(?:[12]\.[1-9]\d?[a-d]?|[PTN]\.[1-9]\d?[a-d]?)(?![\w.]\d|\w)"
LABEL_RE = re.compile(LABEL)
RANGE_RE = re.compile(rf"({LABEL})\s*[-–]\s*({LABEL})")
SEPARATOR = r"\s*(?:,|/|;|-|–|\band\b|\bto\b)?\s*"
PAREN_RE = re.compile(rf"\(({LABEL}[^()]*)")
EQ_RE = re.compile(rf"\beqs?\.\s*((?:\(?{LABEL}\)?{SEPARATOR})+)", re.IGNORECASE)
SECTION_RE = re.compile(r"\bsection\s+(\d+(?:\.\d+)+)", re.IGNORECASE)
TABLE_RE = re.compile(r"\btable\s+(\d+\.\d+)", re.IGNORECASE)
SEED_001_RE = re.compile(r"seed\s+001\s+eqs?\.\s*\(?(\d+)\)?(?:\s*[-–]\s*\(?(\d+)\)?)?",
                         re.IGNORECASE)

TAG_RE = re.compile(r"\\tag\{([^}]*)\}")
HEADING_RE = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\s", re.MULTILINE)
CAPTION_RE = re.compile(r"^\*\*Table (\d+\.\d+)\*\*", re.MULTILINE)
MAP_ROW_RE = re.compile(r"^\|\s*`seed 001 eq\. \((\d+)\)`\s*\|([^|]*)\|", re.MULTILINE)


def _join_lines(text):
    """One line per file: comment markers and indentation at line starts go."""
    return re.sub(r"[ \t]*\n[ \t]*(?:#[ \t]*)?", " ", text)


def _expand(group):
    """Labels in a citation group, ranges such as 1.33-1.35 spelled out."""
    labels = set(LABEL_RE.findall(group))
    for first, last in RANGE_RE.findall(group):
        (chapter, lo), (chapter2, hi) = first.split("."), last.split(".")
        if chapter == chapter2 and lo.isdigit() and hi.isdigit():
            labels.update(f"{chapter}.{n}" for n in range(int(lo), int(hi) + 1))
    return labels


def find_citations(text):
    """{'eq': labels, 'section': numbers, 'table': numbers, 'seed001': numbers}."""
    text = _join_lines(text)
    eqs = set()
    for match in PAREN_RE.finditer(text):
        eqs |= _expand(match.group(1))
    for match in EQ_RE.finditer(text):
        eqs |= _expand(match.group(1))
    seed001 = set()
    for first, last in SEED_001_RE.findall(text):
        seed001.update(range(int(first), int(last or first) + 1))
    return {"eq": eqs, "section": set(SECTION_RE.findall(text)),
            "table": set(TABLE_RE.findall(text)), "seed001": seed001}


def _maths():
    return MATHS.read_text(encoding="utf-8")


def defined_labels():
    return {label.strip() for label in TAG_RE.findall(_maths())}


def seed_001_map():
    """Old perceptron-chapter number -> the targets docs/maths.md gives it."""
    return {int(n): targets for n, targets in MAP_ROW_RE.findall(_maths())}


def scanned_files():
    files = [ROOT / name for name in SCANNED_FILES if (ROOT / name).exists()]
    for folder in SCANNED_DIRS:
        files += sorted(p for p in (ROOT / folder).rglob("*")
                        if p.suffix in SUFFIXES and p.is_file())
    return files


# ---------------------------------------------------------------------------
# The citation reader itself.
# ---------------------------------------------------------------------------

def test_reads_every_citation_format():
    sample = """
    return L * _expit(k * (z - x0))  # (1.7)
    # z_i = sum_j w_ij a_j  (1.1).  lam (1.20, 1.21) and the update (1.31,
    # 1.32, seed 001 eq. 21); init (1.33-1.35); forward (1.1–1.4)
    '''Output delta (2.16/2.21) and (1.29 with 2.12 / 2.28); seed 000 eq. 1.9;
    eqs. 2.23 and 2.27, the rule (P.3), eq. (T.8); (1.9a generalised).'''
    # section 2.5, Table 1.1, Seed 001 eq. (1)-(2), seed 001 eq. (19)-(21)
    """
    found = find_citations(sample)
    assert found["eq"] == {"1.7", "1.1", "1.2", "1.3", "1.4", "1.20", "1.21", "1.31",
                           "1.32", "1.33", "1.34", "1.35", "2.16", "2.21", "1.29",
                           "2.12", "2.28", "1.9", "2.23", "2.27", "P.3", "T.8", "1.9a"}
    assert found["section"] == {"2.5"}
    assert found["table"] == {"1.1"}
    assert found["seed001"] == {1, 2, 19, 20, 21}


def test_ignores_numbers_that_are_not_citations():
    sample = """
    return self.params() == (1.0, 1.0, 0.0)
    p = (1.0 if x else 0.0)  # only values below 2.2e-308 (float32: 1.2e-38)
    '''scikit-learn 1.9's MLP; FANN 2.2; Python 3.11.7 (1.01x faster)'''
    w = rng.uniform(0.5, 2.0, n)  # (0.25 + 0.375 - 0.5)
    """
    assert find_citations(sample) == {"eq": set(), "section": set(), "table": set(),
                                      "seed001": set()}


# ---------------------------------------------------------------------------
# docs/maths.md is complete and every citation in the repository resolves.
# ---------------------------------------------------------------------------

def test_maths_defines_the_notes_numbering_once_each():
    tags = [label.strip() for label in TAG_RE.findall(_maths())]
    duplicates = sorted({t for t in tags if tags.count(t) > 1})
    assert not duplicates, f"labels defined twice: {duplicates}"
    notes = {f"1.{n}" for n in range(1, 36)} | {f"2.{n}" for n in range(1, 29)}
    assert not notes - set(tags), f"undefined: {sorted(notes - set(tags))}"
    assert all(LABEL_RE.fullmatch(t) for t in tags), "a \\tag that citations cannot name"


def test_maths_names_no_paths_of_a_machine():
    text = _maths()
    # the design notes' directory, spelt in two pieces so that this guard is
    # not itself a citation of it
    for fragment in ("/work/", "shared" "/seeds", "../" "shared", "/root/", "/tmp/"):
        assert fragment not in text


def test_seed_001_map_points_at_defined_labels():
    mapping = seed_001_map()
    assert {1, 2, 17, 19, 20, 21} <= set(mapping)  # what the code cites today
    labels, tables = defined_labels(), set(CAPTION_RE.findall(_maths()))
    for number, targets in mapping.items():
        found = find_citations(targets)
        assert found["eq"] or found["table"], f"seed 001 eq. ({number}) maps to nothing"
        assert found["eq"] <= labels, (number, found["eq"] - labels)
        assert found["table"] <= tables, (number, found["table"] - tables)


@pytest.mark.parametrize("path", scanned_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_citation_is_defined(path):
    found = find_citations(path.read_text(encoding="utf-8"))
    maths = _maths()
    labels = defined_labels()
    sections = set(HEADING_RE.findall(maths))
    tables = set(CAPTION_RE.findall(maths))
    mapping = seed_001_map()
    assert not found["eq"] - labels, f"undefined equations: {sorted(found['eq'] - labels)}"
    assert not found["section"] - sections, f"undefined sections: {found['section'] - sections}"
    assert not found["table"] - tables, f"undefined tables: {found['table'] - tables}"
    unmapped = found["seed001"] - set(mapping)
    assert not unmapped, f"seed 001 equations missing from the citation map: {unmapped}"


def test_the_repository_cites_equations():
    """Guards the reader: if it silently stopped matching, the test above
    would pass vacuously."""
    cited = set()
    for path in scanned_files():
        if path != MATHS:
            cited |= find_citations(path.read_text(encoding="utf-8"))["eq"]
    assert len(cited) >= 10
