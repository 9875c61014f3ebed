"""Office documents for the rendering tests and benchmark, made by LibreOffice itself.

Flat OpenDocument files (``.fodt``/``.fods``/``.fodp``, plain XML written here, with an
exact number of pages, sheets or slides) are converted once with ``soffice --convert-to``
into every format the rendering service takes (docx, doc, odt, rtf, xlsx, xls, ods, pptx,
ppt, odp); beside them, an encrypted docx's container (:func:`encrypted_ooxml`). The result
is cached in a directory named after this module's recipe, so only the first run of a
machine pays (about 10-20 s).

    corpus = office_corpus.build()          # or build(directory)
    corpus.path("docx-4")                   # a 4-page Word document
    corpus.pages("docx-4")                  # 4
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"'
)
_LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat."
)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END = 0xFFFFFFFE  # ENDOFCHAIN
_FREE = 0xFFFFFFFF  # FREESECT, and NOSTREAM in the directory


def writer(pages: int, paragraphs_per_page: int = 4) -> str:
    """A flat ODT with exactly ``pages`` pages (a page break before each page's heading)."""
    body = []
    for page in range(1, pages + 1):
        style = ' text:style-name="PageBreak"' if page > 1 else ""
        body.append(f"<text:p{style}>Page {page}</text:p>")
        body.extend(
            f"<text:p>{page}.{line}: {escape(_LOREM)}</text:p>"
            for line in range(paragraphs_per_page)
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document {_NS} office:version="1.2" '
        'office:mimetype="application/vnd.oasis.opendocument.text">'
        "<office:automatic-styles>"
        '<style:style style:name="PageBreak" style:family="paragraph">'
        '<style:paragraph-properties fo:break-before="page"/></style:style>'
        "</office:automatic-styles>"
        f"<office:body><office:text>{''.join(body)}</office:text></office:body>"
        "</office:document>\n"
    )


def calc(sheets: int, rows: int = 10) -> str:
    """A flat ODS with ``sheets`` small sheets (one printed page each)."""
    tables = []
    for sheet in range(1, sheets + 1):
        cells = "".join(
            "<table:table-row>"
            f'<table:table-cell office:value-type="string"><text:p>item {row}</text:p>'
            "</table:table-cell>"
            f'<table:table-cell office:value-type="float" office:value="{row * sheet}">'
            f"<text:p>{row * sheet}</text:p></table:table-cell>"
            "</table:table-row>"
            for row in range(rows)
        )
        tables.append(f'<table:table table:name="Sheet{sheet}">{cells}</table:table>')
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document {_NS} office:version="1.2" '
        'office:mimetype="application/vnd.oasis.opendocument.spreadsheet">'
        f"<office:body><office:spreadsheet>{''.join(tables)}</office:spreadsheet></office:body>"
        "</office:document>\n"
    )


def impress(slides: int) -> str:
    """A flat ODP with ``slides`` slides, a text box on each."""
    pages = "".join(
        f'<draw:page draw:name="Slide{slide}">'
        '<draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="4cm">'
        f"<draw:text-box><text:p>Slide {slide}</text:p><text:p>{escape(_LOREM[:80])}</text:p>"
        "</draw:text-box></draw:frame></draw:page>"
        for slide in range(1, slides + 1)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document {_NS} office:version="1.2" '
        'office:mimetype="application/vnd.oasis.opendocument.presentation">'
        f"<office:body><office:presentation>{pages}</office:presentation></office:body>"
        "</office:document>\n"
    )


@dataclass(frozen=True)
class Item:
    name: str  # "docx-4": the file is docx-4.docx
    source: str  # "writer-4.fodt"
    target: str  # the --convert-to argument
    pages: int


_SOURCES = {
    "writer-2.fodt": writer(2),
    "writer-3.fodt": writer(3),
    "writer-4.fodt": writer(4),
    "writer-10.fodt": writer(10),
    "writer-70.fodt": writer(70),
    "calc-2.fods": calc(2),
    "impress-3.fodp": impress(3),
}
ITEMS = (
    Item("docx-4", "writer-4.fodt", "docx:MS Word 2007 XML", 4),
    Item("docx-10", "writer-10.fodt", "docx:MS Word 2007 XML", 10),
    Item("docx-70", "writer-70.fodt", "docx:MS Word 2007 XML", 70),
    Item("doc-2", "writer-2.fodt", "doc:MS Word 97", 2),
    Item("odt-3", "writer-3.fodt", "odt", 3),
    Item("rtf-2", "writer-2.fodt", "rtf", 2),
    Item("xlsx-2", "calc-2.fods", "xlsx:Calc MS Excel 2007 XML", 2),
    Item("xls-2", "calc-2.fods", "xls:MS Excel 97", 2),
    Item("ods-2", "calc-2.fods", "ods", 2),
    Item("pptx-3", "impress-3.fodp", "pptx:Impress MS PowerPoint 2007 XML", 3),
    Item("ppt-3", "impress-3.fodp", "ppt:MS PowerPoint 97", 3),
    Item("odp-3", "impress-3.fodp", "odp", 3),
)
_BY_NAME = {item.name: item for item in ITEMS}
_RECIPE = hashlib.sha256(repr((_SOURCES, ITEMS)).encode()).hexdigest()[:12]


def encrypted_ooxml() -> bytes:
    """What an encrypted .docx/.xlsx/.pptx is: an OLE2 compound file (CFB version 3) with
    an ``EncryptionInfo`` (agile, version 4.4) and an ``EncryptedPackage`` stream, 4 KiB
    each (random-looking bytes: the content is not decryptable, only the shape matters).

    LibreOffice 7.4's ``--convert-to`` cannot write a password-protected docx, so the
    container is built here, as Office writes it."""
    sector = 512
    info = struct.pack("<HHI", 4, 4, 0x40) + b'<?xml version="1.0"?><encryption/>'
    info = info.ljust(4096, b"\0")
    package = struct.pack("<Q", 1000) + hashlib.sha256(b"x").digest() * 127
    package = package.ljust(4096, b"\0")[:4096]
    header = bytearray(sector)
    header[0:8] = _OLE_MAGIC
    struct.pack_into("<HHHHH", header, 24, 0x003E, 0x0003, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 40, 0, 1, 1, 0, 4096, _END, 0, _END, 0)
    difat = [0] + [_FREE] * 108
    struct.pack_into("<109I", header, 76, *difat)
    fat = [0xFFFFFFFD, _END]  # the FAT itself, the directory
    for first in (2, 10):  # each stream: 8 chained sectors
        fat += [*range(first + 1, first + 8), _END]
    fat += [_FREE] * (sector // 4 - len(fat))
    directory = b"".join(
        (
            _entry("Root Entry", 5, child=1, start=_END, size=0),
            _entry("EncryptionInfo", 2, right=2, start=2, size=len(info)),
            _entry("EncryptedPackage", 2, start=10, size=len(package)),
            _entry("", 0, start=0, size=0),
        )
    )
    return bytes(header) + struct.pack(f"<{len(fat)}I", *fat) + directory + info + package


def _entry(
    name: str, kind: int, *, start: int, size: int, child: int = _FREE, right: int = _FREE
) -> bytes:
    encoded = (name + "\0").encode("utf-16-le") if name else b""
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        encoded,
        len(encoded),
        kind,
        1,
        _FREE,
        right,
        child,
        b"",
        0,
        0,
        0,
        start,
        size,
    )


@dataclass(frozen=True)
class Corpus:
    directory: Path

    def path(self, name: str) -> Path:
        """The document ``name`` (an :data:`ITEMS` name, e.g. ``"xlsx-2"``, or
        ``"docx-encrypted"``)."""
        if name == "docx-encrypted":
            return self.directory / "docx-encrypted.docx"
        return self.directory / f"{name}.{_extension(_BY_NAME[name])}"

    def pages(self, name: str) -> int:
        """How many pages its PDF has."""
        return _BY_NAME[name].pages

    def names(self) -> list[str]:
        return [item.name for item in ITEMS]


def build(directory: Path | None = None, soffice: str = "soffice") -> Corpus:
    """The corpus in ``directory`` (default: a cache under the temporary directory),
    made now unless it is there already. Safe to call from parallel test processes."""
    target = directory or Path(tempfile.gettempdir()) / f"printwarden-office-corpus-{_RECIPE}"
    done = target / ".complete"
    if done.exists():
        return Corpus(target)
    target.mkdir(parents=True, exist_ok=True)
    with _locked(target / ".lock"):
        if not done.exists():
            _make(target, soffice)
            done.write_text(_RECIPE)
    return Corpus(target)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _extension(item: Item) -> str:
    return item.target.split(":", 1)[0]


def _make(target: Path, soffice: str) -> None:
    with tempfile.TemporaryDirectory(prefix="office-corpus-") as scratch:
        work = Path(scratch)
        for name, text in _SOURCES.items():
            (work / name).write_text(text, encoding="utf-8")
        groups: dict[str, list[Item]] = {}
        for item in ITEMS:
            groups.setdefault(item.target, []).append(item)
        index = {target_: number for number, target_ in enumerate(groups)}
        jobs = [(index[target_], target_, items) for target_, items in groups.items()]
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda job: _convert(work, soffice, *job), jobs))
        (target / "docx-encrypted.docx").write_bytes(encrypted_ooxml())
        for item in ITEMS:
            made = (
                work / f"out-{index[item.target]}" / f"{Path(item.source).stem}.{_extension(item)}"
            )
            final = target / f"{item.name}.{_extension(item)}"
            shutil.copyfile(made, final)
            os.chmod(final, 0o644)


CONVERT_ATTEMPTS = 3  # soffice now and then aborts (exit 134), often while shutting down


def _convert(work: Path, soffice: str, index: int, target: str, items: list[Item]) -> None:
    """Convert ``items`` to ``target`` into ``out-{index}``: done when every file is there,
    whatever soffice's exit status (it can abort after writing them); else tried again with
    a fresh profile, and the last failure raised."""
    out = work / f"out-{index}"
    out.mkdir()
    sources = sorted({str(work / item.source) for item in items})
    expected = [out / f"{Path(source).stem}.{_extension(items[0])}" for source in sources]
    for attempt in range(CONVERT_ATTEMPTS):
        profile = (work / f"profile-{index}-{attempt}").as_uri()
        done = subprocess.run(
            [
                soffice,
                "--headless",
                "--norestore",
                "--nologo",
                "--nodefault",
                "--nolockcheck",
                f"-env:UserInstallation={profile}",
                "--convert-to",
                target,
                "--outdir",
                str(out),
                *sources,
            ],
            check=False,
            capture_output=True,
            timeout=180,
            cwd=work,
        )
        if all(path.exists() for path in expected):
            return
    done.check_returncode()
    raise RuntimeError(f"soffice made no {target} of {sources}: {done.stderr.decode()[-500:]}")
