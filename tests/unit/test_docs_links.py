"""Every relative link in README.md and docs/*.md resolves inside the repository.

A link's file must exist and lie inside the repository, and its ``#anchor`` must name a
heading (GitHub's slug) or an ``<a id>`` of that file. Links to other schemes (``https:``,
``mailto:``) are not followed; links inside code (fenced blocks, backticks) are not links.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]*)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
REFERENCE = re.compile(r"^ {0,3}\[([^\]^][^\]]*)\]:\s*(<[^>]*>|\S+)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
LINK_TEXT = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
REFERENCE_USE = re.compile(r"\]\[([^\]^][^\]]*)\]")


def outside_fences(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines that are not in a fenced code block."""
    fence = ""
    for number, line in enumerate(text.splitlines(), start=1):
        opened = FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
        elif opened:
            fence = opened.group(1)
        else:
            yield number, line


def prose(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines outside fenced code blocks, with code spans blanked out."""
    for number, line in outside_fences(text):
        yield number, CODE_SPAN.sub(lambda span: " " * len(span.group(0)), line)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: lower case, punctuation dropped, spaces to -."""
    text = LINK_TEXT.sub(r"\1", heading)
    text = CODE_SPAN.sub(r"\2", text).replace("*", "").lower()
    kept = "".join(char for char in text if char.isalnum() or char in " -_")
    return kept.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """The anchors a Markdown file offers: its headings' slugs (GitHub numbers repeats
    ``-1``, ``-2``, …) and its ``<a id>``/``<a name>`` tags."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in outside_fences(path.read_text(encoding="utf-8")):
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        found.update(HTML_ANCHOR.findall(line))
    return frozenset(found)


def links(text: str) -> Iterator[tuple[int, str]]:
    """(line, target) of every inline and reference-style link and image."""
    for number, line in prose(text):
        for match in INLINE_LINK.finditer(line):
            yield number, match.group(1).strip("<>")
        reference = REFERENCE.match(line)
        if reference:
            yield number, reference.group(2).strip("<>")


def undefined_references(text: str) -> Iterator[tuple[int, str]]:
    """(line, label) of each ``[text][label]`` whose label no ``[label]: target`` defines."""
    lines = list(prose(text))
    defined = {m.group(1).lower() for _, line in lines if (m := REFERENCE.match(line))}
    for number, line in lines:
        for label in REFERENCE_USE.findall(line):
            if label.lower() not in defined:
                yield number, label


def problems(document: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each link of ``document``, one line per broken link."""
    name = document.relative_to(root)
    text = document.read_text(encoding="utf-8")
    found = [
        f"{name}:{number}: [{label}] is not defined" for number, label in undefined_references(text)
    ]
    for number, target in links(text):
        if SCHEME.match(target):
            continue
        where, _, fragment = target.partition("#")
        path = (document.parent / unquote(where)).resolve() if where else document
        if not path.is_relative_to(root.resolve()):
            found.append(f"{name}:{number}: {target} leaves the repository")
        elif not path.exists():
            found.append(f"{name}:{number}: {target}: no such file")
        elif fragment and path.suffix == ".md" and unquote(fragment) not in anchors(path):
            found.append(f"{name}:{number}: {target}: no heading #{fragment} there")
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_links_resolve(document: Path) -> None:
    assert not problems(document), "broken links:\n" + "\n".join(problems(document))


def test_the_documents_are_found() -> None:
    names = {str(path.relative_to(ROOT)) for path in DOCUMENTS}
    assert {"README.md", "docs/architecture.md", "docs/benchmarks.md"} <= names


def test_broken_links_are_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## Its part: two\n")
    document = tmp_path / "docs" / "page.md"
    document.write_text(
        "# Page\n"
        "[fine](other.md#its-part-two) [fine](#page) [web](https://example.org/x)\n"
        "[gone](missing.md) [bad anchor](other.md#nowhere) [outside](../../elsewhere.md)\n"
        "![image](pic.png) [here](#no-such-heading) [used][ref] [undefined][nowhere]\n"
        "`[code](missing.md)`\n"
        "```\n[fenced](missing.md)\n```\n"
        "[ref]: gone-too.md\n"
    )
    assert problems(document, root=tmp_path) == [
        "docs/page.md:4: [nowhere] is not defined",
        "docs/page.md:3: missing.md: no such file",
        "docs/page.md:3: other.md#nowhere: no heading #nowhere there",
        "docs/page.md:3: ../../elsewhere.md leaves the repository",
        "docs/page.md:4: pic.png: no such file",
        "docs/page.md:4: #no-such-heading: no heading #no-such-heading there",
        "docs/page.md:9: gone-too.md: no such file",
    ]


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Trust boundaries: a stolen site", "trust-boundaries-a-stolen-site"),
        ("Logins: where, throttling, addresses", "logins-where-throttling-addresses"),
        ("Failed logins and `POST /auth/device`", "failed-logins-and-post-authdevice"),
        ("`inputs.job`", "inputsjob"),
        ("Engine: V8 (mini-racer), not QuickJS", "engine-v8-mini-racer-not-quickjs"),
        ("One job — from *IPP* to [ledger](x.md)", "one-job--from-ipp-to-ledger"),
        ("report_state and §9", "report_state-and-9"),
    ],
)
def test_slugs_follow_github(heading: str, expected: str) -> None:
    assert slug(heading) == expected


def test_repeated_headings_are_numbered(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text('# Notes\n## Notes\n```\n# Notes\n```\n<a id="here"></a>\n## Notes\n')
    assert anchors(page) == {"notes", "notes-1", "notes-2", "here"}
