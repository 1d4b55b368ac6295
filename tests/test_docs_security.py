"""docs/security.md stays checkable: all 33 checklist items, in order, each saying
where it is enforced (or that it is not built yet) and which tests show it; every
file, function and test it cites exists; every "docs/security.md item N" cited in
the repository names one of its items.

Citation syntax (backticked in the page):

* ``src/shardvault/<path>.py::<name>``: a module-level function, class or constant
  (an assignment) of that module; ``src/shardvault/<path>.py::<Class>::<name>``: a
  method or class attribute of a module-level class;
* ``tests/<path>.py::<test>``: a module-level test function (``test*``; a
  parametrized test is cited by its function name); ``tests/<path>.py::<Class>::<test>``:
  a test method of a ``Test*`` class;
* a bare ``src/...`` or ``tests/...`` path: that file or directory must exist.

Items are ``### N. <title>`` headings; an item's section must quote the
checklist's text (``> ...`` lines) and carry an ``**Enforced:**`` or
``**Not built yet:**`` line and a ``**Tests:**`` line.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"
ITEMS = 33

_HEADING = re.compile(r"^### (\d+)\. \S", re.M)
_CITATION = re.compile(r"`((?:src/shardvault|tests)/[^`\s]*)`")
#: "docs/security.md item 16", "docs/security.md items 2, 4 and 13-16", and the
#: "checklist item 11" of docs/cggmp.md (which says that is an item of docs/security.md).
_ITEM_REFERENCE = re.compile(
    r"(?:docs/security\.md,?|[Cc]hecklist)\s+items?\s+(\d+(?:\s*(?:-|,?\s*and|,)\s*\d+)*)"
)


def item_sections(text: str) -> list[tuple[int, str]]:
    """(number, section text) of every ``### N.`` heading, in document order."""
    heads = list(_HEADING.finditer(text))
    ends = [h.start() for h in heads[1:]] + [len(text)]
    return [(int(h.group(1)), text[h.end() : end]) for h, end in zip(heads, ends, strict=True)]


def item_problems(text: str, count: int = ITEMS) -> list[str]:
    """What is wrong with the items of ``text``: numbering, quote and status lines."""
    sections = item_sections(text)
    numbers = [n for n, _ in sections]
    problems = []
    if numbers != list(range(1, count + 1)):
        problems.append(f"items are numbered {numbers}, expected 1..{count} in order")
    for number, body in sections:
        lines = body.splitlines()
        if not any(line.startswith("> ") for line in lines):
            problems.append(f"item {number}: no quoted checklist text")
        if not any(line.startswith(("**Enforced:**", "**Not built yet:**")) for line in lines):
            problems.append(f"item {number}: no **Enforced:** or **Not built yet:** line")
        if not any(line.startswith("**Tests:**") for line in lines):
            problems.append(f"item {number}: no **Tests:** line")
    return problems


@cache
def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _names(body: list[ast.stmt]) -> dict[str, ast.stmt]:
    """Functions, classes and assigned names defined directly in ``body``."""
    out: dict[str, ast.stmt] = {}
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = node
    return out


def citation_problem(citation: str, root: Path = ROOT) -> str | None:
    """Why ``citation`` does not resolve under ``root``, or None."""
    path_part, *symbols = citation.split("::")
    path = root / path_part
    if not path.exists():
        return f"{path_part} does not exist"
    if not symbols:
        return None
    if path.suffix != ".py" or not path.is_file():
        return f"{citation}: only a .py file has names"
    if len(symbols) > 2 or not all(symbols):
        return f"{citation}: expected path::name or path::Class::name"
    is_test = path_part.startswith("tests/")
    top = _names(_module(path).body).get(symbols[0])
    if len(symbols) == 1:
        if top is None:
            return f"{citation}: no module-level {symbols[0]} in {path_part}"
        if is_test and not (
            isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef) and top.name.startswith("test")
        ):
            return f"{citation}: {symbols[0]} is not a test function"
        return None
    if not isinstance(top, ast.ClassDef):
        return f"{citation}: no module-level class {symbols[0]} in {path_part}"
    member = _names(top.body).get(symbols[1])
    if member is None:
        return f"{citation}: class {symbols[0]} has no {symbols[1]}"
    if is_test and not (
        top.name.startswith("Test")
        and isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef)
        and member.name.startswith("test")
    ):
        return f"{citation}: {symbols[0]}::{symbols[1]} is not a test method"
    return None


def citations(text: str) -> list[str]:
    """The backticked ``src/shardvault/...`` and ``tests/...`` citations of ``text``
    (placeholders such as ``tests/<path>.py`` left out)."""
    return [c for c in _CITATION.findall(text) if "<" not in c]


def cited_item_numbers(text: str) -> set[int]:
    """Item numbers in every "docs/security.md item(s) N, M-K and L" of ``text``."""
    found: set[int] = set()
    for match in _ITEM_REFERENCE.finditer(text):
        for part in re.split(r"\s*(?:,|and)\s*", match.group(1)):
            if not part:
                continue
            low, _, high = part.partition("-")
            found.update(range(int(low), int(high or low) + 1))
    return found


def _repository_texts() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for folder in ("src", "tests", "benchmarks"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


# -- the page ------------------------------------------------------------------------------


def test_all_items_in_order_with_their_status_and_tests() -> None:
    assert item_problems(DOC.read_text()) == []


def test_every_citation_resolves() -> None:
    found = citations(DOC.read_text())
    assert len(found) > 3 * ITEMS
    assert [p for c in found if (p := citation_problem(c)) is not None] == []


def test_every_item_cites_code_or_says_it_is_not_built() -> None:
    for number, body in item_sections(DOC.read_text()):
        cited = citations(body)
        assert any(c.startswith("src/") for c in cited) or "**Not built yet:**" in body, number


def test_the_repository_cites_only_items_that_exist() -> None:
    for path in _repository_texts():
        numbers = cited_item_numbers(path.read_text())
        assert numbers <= set(range(1, ITEMS + 1)), (path.relative_to(ROOT), numbers)


def test_nothing_cites_the_old_checklist_or_a_file_outside_the_repository() -> None:
    stale = ("security" + "-checklist.md", "shared/" + "SECURITY.md")
    for path in _repository_texts():
        text = path.read_text()
        assert not [s for s in stale if s in text], path.relative_to(ROOT)


# -- the checks themselves catch offenders ---------------------------------------------------


def test_item_checks_catch_gaps() -> None:
    good = "### 1. A\n\n> text\n\n**Enforced:** x\n\n**Tests:** y\n"
    assert item_problems(good, count=1) == []
    assert item_problems(good.replace("### 1.", "### 2."), count=1)  # numbering
    assert item_problems(good + good.replace("### 1.", "### 3."), count=2)  # a gap
    assert item_problems(good.replace("> text", "text"), count=1)  # no quote
    assert item_problems(good.replace("**Enforced:**", "Enforced:"), count=1)
    assert item_problems(good.replace("**Tests:**", "Tests:"), count=1)
    not_built = good.replace("**Enforced:**", "**Not built yet:**")
    assert item_problems(not_built, count=1) == []


def test_citation_checks_catch_offenders() -> None:
    me = "tests/test_docs_security.py"
    assert citation_problem(f"{me}::test_citation_checks_catch_offenders") is None
    assert citation_problem("src/shardvault/crypto/rng.py::OS_RNG") is None
    assert citation_problem("src/shardvault/crypto/rng.py::SystemRng::token_bytes") is None
    assert citation_problem("src/shardvault/api/signing") is None
    bad = [
        "tests/no_such_file.py",
        "src/shardvault/no_such_module.py::anything",
        f"{me}::test_no_such_test",
        f"{me}::citation_problem",  # exists, but is not a test
        f"{me}::ROOT",
        "src/shardvault/crypto/rng.py::no_such_name",
        "src/shardvault/crypto/rng.py::OS_RNG::token_bytes",  # not a class
        "src/shardvault/crypto/rng.py::SystemRng::no_such_method",
        "src/shardvault/crypto/rng.py::SystemRng::token_bytes::more",
        "src/shardvault/api/signing::SigningService",  # a folder has no names
    ]
    assert [c for c in bad if citation_problem(c) is None] == []
    assert citations("`tests/a.py::t`, `src/shardvault/b.py`, not `docs/c.md`, `tests/<x>.py`") == [
        "tests/a.py::t",
        "src/shardvault/b.py",
    ]


def test_item_references_are_read_with_lists_and_ranges() -> None:
    doc = "docs/security.md"  # spelled apart, so this file cites no item itself
    text = f"({doc} item 16) {doc} items 2, 4, 5, and 40 ({doc}\nitems 13-15) checklist item 9"
    assert cited_item_numbers(text) == {2, 4, 5, 9, 13, 14, 15, 16, 40}
