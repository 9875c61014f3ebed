"""Integrated Scanning's destinations: a local folder, and an SMB share on a private Samba
server (smbd, run as root), checked on the server's disk and with Samba's own smbclient."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from printwarden.scanning.destinations import (
    DeliveryError,
    Document,
    LocalFolder,
    Target,
    parse_target,
    tagged_name,
)
from printwarden.scanning.smb_folder import SmbFolder
from printwarden.testing.samba import SambaServer

PDF = b"%PDF-1.7\n" + b"scanned page\n" * 4000 + b"%%EOF\n"
OTHER = b"%PDF-1.7\nsomeone else's file\n%%EOF\n"
BAD_NAMES = [
    "",
    ".",
    "..",
    "a/b.pdf",
    "a\\b.pdf",
    "a\x00b.pdf",
    "a\nb.pdf",
    "a\x1bb.pdf",
    "x" * 201,
    "é" * 101,  # 202 bytes
]
SMBCLIENT = shutil.which("smbclient")


def source(folder: Path, data: bytes = PDF, name: str = "in.pdf") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def document(path: Path, name: str = "scan.pdf") -> Document:
    return Document((path,), (name,))


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- the document, the names, the targets ------------------------------------------------


def test_a_document_needs_one_distinct_name_per_file(tmp_path: Path) -> None:
    path = source(tmp_path)
    with pytest.raises(ValueError, match="one name"):
        Document((path,), ("a.pdf", "b.pdf"))
    with pytest.raises(ValueError, match="one name"):
        Document((), ())
    with pytest.raises(ValueError, match="different names"):
        Document((path, path), ("a.pdf", "a.pdf"))


def test_the_tagged_name_keeps_the_suffix() -> None:
    assert tagged_name("scan.pdf", "job-7") == "scan (job-7).pdf"
    assert tagged_name("notes", "job-7") == "notes (job-7)"
    assert tagged_name("a.tar.gz", "t") == "a.tar (t).gz"


def test_parse_target() -> None:
    assert parse_target("/srv/scans/alice") == Target("local", "/srv/scans/alice")
    assert parse_target("smb://files.example:1445/scans/Dept%20A/alice") == Target(
        "smb", "\\\\files.example\\scans\\Dept A\\alice", 1445
    )
    assert parse_target("//files/scans/alice") == Target("smb", "\\\\files\\scans\\alice", 445)
    assert parse_target("\\\\files\\scans") == Target("smb", "\\\\files\\scans", 445)
    for bad in (
        "scans/alice",
        "/srv/../etc",
        "smb://user:pw@files/scans",
        "smb://files",
        "//files",
        "//files/scans/../x",
        "//files/sc:ans",
    ):
        with pytest.raises(ValueError, match=r"not |bad |needs |credentials"):
            parse_target(bad)


# --- a local folder ----------------------------------------------------------------------


def test_local_delivery_creates_the_folders_and_a_private_file(tmp_path: Path) -> None:
    target = tmp_path / "scans" / "alice" / "2026"
    where = LocalFolder(target).deliver(document(source(tmp_path / "in")), tag="job-1")
    assert where == str(target / "scan.pdf")
    assert (target / "scan.pdf").read_bytes() == PDF
    assert stat.S_IMODE((target / "scan.pdf").stat().st_mode) == 0o600
    for folder in (tmp_path / "scans", tmp_path / "scans" / "alice", target):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert listing(target) == ["scan.pdf"]


def test_local_delivery_of_several_files(tmp_path: Path) -> None:
    first, second = source(tmp_path / "in", b"one", "1"), source(tmp_path / "in", b"two", "2")
    doc = Document((first, second), ("page-1.pdf", "page-2.pdf"))
    where = LocalFolder(tmp_path / "out").deliver(doc, tag="job-2")
    assert where == f"{tmp_path}/out/page-1.pdf, {tmp_path}/out/page-2.pdf"
    assert (tmp_path / "out" / "page-2.pdf").read_bytes() == b"two"


def test_local_redelivery_leaves_one_file(tmp_path: Path) -> None:
    folder, doc = LocalFolder(tmp_path / "out"), document(source(tmp_path / "in"))
    first = folder.deliver(doc, tag="job-3")
    before = (tmp_path / "out" / "scan.pdf").stat()
    assert folder.deliver(doc, tag="job-3") == first
    assert folder.deliver(doc, tag="another-tag") == first  # same content: already there
    assert listing(tmp_path / "out") == ["scan.pdf"]
    assert (tmp_path / "out" / "scan.pdf").stat().st_ino == before.st_ino  # not rewritten


def test_local_someone_elses_file_is_kept_and_the_document_gets_the_tagged_name(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    source(out, OTHER, "scan.pdf")
    folder, doc = LocalFolder(out), document(source(tmp_path / "in"))
    assert folder.deliver(doc, tag="job-4") == str(out / "scan (job-4).pdf")
    assert folder.deliver(doc, tag="job-4") == str(out / "scan (job-4).pdf")
    assert (out / "scan.pdf").read_bytes() == OTHER
    assert (out / "scan (job-4).pdf").read_bytes() == PDF
    assert listing(out) == ["scan (job-4).pdf", "scan.pdf"]
    source(out, OTHER, "scan (job-5).pdf")  # both names taken by other content
    with pytest.raises(DeliveryError, match="already exist") as failed:
        folder.deliver(doc, tag="job-5")
    assert not failed.value.temporary
    assert (out / "scan (job-5).pdf").read_bytes() == OTHER


def test_local_a_symlink_at_the_name_is_not_followed(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", source(tmp_path / "elsewhere", OTHER, "precious")
    out.mkdir()
    (out / "scan.pdf").symlink_to(elsewhere)
    where = LocalFolder(out).deliver(document(source(tmp_path / "in")), tag="job-6")
    assert where == str(out / "scan (job-6).pdf")
    assert elsewhere.read_bytes() == OTHER


def test_local_a_leftover_of_a_failed_attempt_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    source(out, b"half a fi", ".scan.pdf.job-7.part")
    LocalFolder(out).deliver(document(source(tmp_path / "in")), tag="job-7")
    assert listing(out) == ["scan.pdf"]
    assert (out / "scan.pdf").read_bytes() == PDF


@pytest.mark.parametrize("name", BAD_NAMES)
def test_local_bad_names_are_refused_for_good(tmp_path: Path, name: str) -> None:
    with pytest.raises(DeliveryError, match="refused file name") as failed:
        LocalFolder(tmp_path / "out").deliver(document(source(tmp_path / "in"), name), tag="t")
    assert not failed.value.temporary
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tag", ["", "../up", "a/b", "x" * 49, "a:b"])
def test_bad_tags_are_refused_for_good(tmp_path: Path, tag: str) -> None:
    with pytest.raises(DeliveryError) as failed:
        LocalFolder(tmp_path / "out").deliver(document(source(tmp_path / "in")), tag=tag)
    assert not failed.value.temporary


@pytest.fixture(params=["read-only mount", "immutable"])
def unwritable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A folder no one may write into, root included (a read-only bind mount, or the
    immutable attribute); without root, one without write permission."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    where = str(folder)
    lock, unlock = {
        "read-only mount": (["mount", "--bind", "-o", "ro", where, where], ["umount", where]),
        "immutable": (["chattr", "+i", where], ["chattr", "-i", where]),
    }[request.param]
    if subprocess.run(lock, capture_output=True, check=False).returncode:
        pytest.skip(f"cannot make a {request.param} folder here")
    try:
        yield folder
    finally:
        subprocess.run(unlock, check=True)


def test_local_an_unwritable_folder_fails_for_good(tmp_path: Path, unwritable: Path) -> None:
    with pytest.raises(DeliveryError, match=str(unwritable)) as failed:
        LocalFolder(unwritable / "alice").deliver(document(source(tmp_path / "in")), tag="t")
    assert not failed.value.temporary
    with pytest.raises(DeliveryError) as failed:
        LocalFolder(unwritable).deliver(document(source(tmp_path / "in")), tag="t")
    assert not failed.value.temporary
    assert listing(unwritable) == []


def test_local_a_file_where_the_folder_should_be_fails_for_good(tmp_path: Path) -> None:
    source(tmp_path, b"", "taken")
    with pytest.raises(DeliveryError) as failed:
        LocalFolder(tmp_path / "taken" / "alice").deliver(document(source(tmp_path)), tag="t")
    assert not failed.value.temporary


# --- an SMB share --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def samba() -> Iterator[SambaServer]:
    with SambaServer() as server:
        yield server


@pytest.fixture(autouse=True)
def no_smb_leftovers() -> Iterator[None]:
    """Every delivery closes its connection: no worker thread, no unclosed socket left."""
    yield
    gc.collect()  # an unclosed socket or SMB handle would warn now (an error here)
    names = [t.name for t in threading.enumerate()]
    assert not [n for n in names if n.startswith(("msg_worker", "smb-watchdog"))]


def smb(
    samba: SambaServer,
    sub: str = "",
    *,
    share: str = "scans",
    password: str | None = None,
    encrypt: bool = False,
    timeout: float = 5.0,
) -> SmbFolder:
    return SmbFolder(
        samba.unc(sub, share),
        username=samba.username,
        password=samba.password if password is None else password,
        port=samba.port,
        encrypt=encrypt,
        timeout=timeout,
    )


def test_smb_delivery_arrives_on_the_server(samba: SambaServer, tmp_path: Path) -> None:
    where = smb(samba, "Scans/alice").deliver(document(source(tmp_path)), tag="job-1")
    assert where == "\\\\127.0.0.1\\scans\\Scans\\alice\\scan.pdf"
    arrived = samba.share_path / "Scans" / "alice"
    assert (arrived / "scan.pdf").read_bytes() == PDF
    assert listing(arrived) == ["scan.pdf"]


def test_smb_delivery_to_the_share_itself_and_deep_folders(
    samba: SambaServer, tmp_path: Path
) -> None:
    doc = document(source(tmp_path), "root-level.pdf")
    assert smb(samba).deliver(doc, tag="r") == "\\\\127.0.0.1\\scans\\root-level.pdf"
    assert (samba.share_path / "root-level.pdf").read_bytes() == PDF
    smb(samba, "deep/er/and/deeper").deliver(doc, tag="d")
    assert (samba.share_path / "deep/er/and/deeper/root-level.pdf").read_bytes() == PDF


def test_smb_encrypted_delivery(samba: SambaServer, tmp_path: Path) -> None:
    smb(samba, "encrypted", encrypt=True).deliver(document(source(tmp_path)), tag="e")
    assert (samba.share_path / "encrypted" / "scan.pdf").read_bytes() == PDF


def test_smb_redelivery_and_someone_elses_file(samba: SambaServer, tmp_path: Path) -> None:
    arrived = samba.share_path / "Scans" / "bob"
    folder, doc = smb(samba, "Scans/bob"), document(source(tmp_path))
    first = folder.deliver(doc, tag="job-2")
    assert folder.deliver(doc, tag="job-2") == first
    assert folder.deliver(doc, tag="job-3") == first  # the same content is already there
    assert listing(arrived) == ["scan.pdf"]
    other = document(source(tmp_path, OTHER, "other.pdf"))
    assert folder.deliver(other, tag="job-4").endswith("\\Scans\\bob\\scan (job-4).pdf")
    assert folder.deliver(other, tag="job-4").endswith("\\Scans\\bob\\scan (job-4).pdf")
    assert listing(arrived) == ["scan (job-4).pdf", "scan.pdf"]
    assert (arrived / "scan.pdf").read_bytes() == PDF
    assert (arrived / "scan (job-4).pdf").read_bytes() == OTHER


def test_smb_concurrent_deliveries(samba: SambaServer, tmp_path: Path) -> None:
    folder, results = smb(samba, "Scans/busy"), list[str]()
    docs = [document(source(tmp_path, bytes([i]) * 5000, f"{i}"), f"{i}.pdf") for i in range(4)]

    def deliver(doc: Document) -> None:
        results.append(folder.deliver(doc, tag="c"))

    threads = [threading.Thread(target=deliver, args=(doc,)) for doc in docs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 4
    assert listing(samba.share_path / "Scans" / "busy") == [f"{i}.pdf" for i in range(4)]


@pytest.mark.skipif(SMBCLIENT is None, reason="Debian's smbclient is not installed")
def test_samba_smbclient_sees_the_delivered_file(samba: SambaServer, tmp_path: Path) -> None:
    smb(samba, "Seen/by smbclient").deliver(document(source(tmp_path / "in")), tag="s")
    auth = tmp_path / "auth"
    auth.touch(mode=0o600)
    auth.write_text(f"username = {samba.username}\npassword = {samba.password}\n")
    fetched = tmp_path / "fetched.pdf"
    command = f'cd "Seen/by smbclient"; ls; get scan.pdf "{fetched}"'
    server = ["//127.0.0.1/scans", "-p", str(samba.port), "-s", str(samba.config)]
    done = subprocess.run(
        [SMBCLIENT or "smbclient", *server, "-A", str(auth), "-c", command],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"scan.pdf                            A    {len(PDF)}" in done.stdout
    assert ".part" not in done.stdout
    assert fetched.read_bytes() == PDF


def test_smb_wrong_password_fails_for_good_and_no_password_is_told(
    samba: SambaServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "Wr0ng-Passw0rd-xyzzy"
    good, bad = smb(samba, "Scans/eve"), smb(samba, "Scans/mallory", password=wrong)
    with caplog.at_level(logging.DEBUG):
        good.deliver(document(source(tmp_path)), tag="w")
        with pytest.raises(DeliveryError) as failed:
            bad.deliver(document(source(tmp_path)), tag="w")
    assert not failed.value.temporary
    assert "STATUS_LOGON_FAILURE" in str(failed.value)
    assert "smbprotocol" in caplog.text  # the library's debug log was captured
    said = [str(failed.value), repr(failed.value), repr(good), repr(bad), caplog.text]
    assert not [text for text in said if wrong in text or samba.password in text]
    assert not (samba.share_path / "Scans" / "mallory").exists()


@pytest.mark.parametrize(
    ("share", "sub", "status"),
    [
        ("nope", "x", "STATUS_NOT_FOUND"),
        ("readonly", "x", "STATUS_ACCESS_DENIED"),
        ("readonly", "", "STATUS_ACCESS_DENIED"),
    ],
)
def test_smb_refusals_are_permanent(
    samba: SambaServer, tmp_path: Path, share: str, sub: str, status: str
) -> None:
    with pytest.raises(DeliveryError, match=status) as failed:
        smb(samba, sub, share=share).deliver(document(source(tmp_path)), tag="p")
    assert not failed.value.temporary
    assert listing(samba.readonly_path) == []


@pytest.mark.parametrize("name", [*BAD_NAMES, "a:b.pdf", "what?.pdf", "CON.pdf", "trailing."])
def test_smb_bad_names_are_refused_for_good(samba: SambaServer, tmp_path: Path, name: str) -> None:
    with pytest.raises(DeliveryError, match="refused file name") as failed:
        smb(samba, "Scans/names").deliver(document(source(tmp_path), name), tag="n")
    assert not failed.value.temporary
    assert not (samba.share_path / "Scans" / "names").exists()


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_smb_server_down_is_temporary_and_a_restart_heals(
    samba: SambaServer, tmp_path: Path, how: str
) -> None:
    folder, doc = smb(samba, f"Scans/{how}", timeout=2.0), document(source(tmp_path))
    folder.deliver(doc, tag="before")
    (samba.share_path / "Scans" / how / "scan.pdf").unlink()
    getattr(samba, how)()
    try:
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=f"port {samba.port}") as failed:
            folder.deliver(doc, tag="down")
        assert failed.value.temporary
        assert time.monotonic() - started < 2.0
    finally:
        samba.start()
    folder.deliver(doc, tag="down")
    assert (samba.share_path / "Scans" / how / "scan.pdf").read_bytes() == PDF


def test_smb_a_server_gone_silent_mid_delivery_is_temporary(
    samba: SambaServer, tmp_path: Path
) -> None:
    big = source(tmp_path, os.urandom(32 << 20), "big.bin")
    folder, doc = smb(samba, "Scans/silent", timeout=1.5), document(big, "big.bin")
    outcome: list[BaseException | str] = []

    def deliver() -> None:
        try:
            outcome.append(folder.deliver(doc, tag="hush"))
        except DeliveryError as exc:
            outcome.append(exc)

    part = samba.share_path / "Scans" / "silent" / ".big.bin.hush.part"
    thread = threading.Thread(target=deliver)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not part.exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        samba.pause()  # mid-transfer: the connection stays open, nothing answers
        paused = time.monotonic()
        thread.join(10)
        waited = time.monotonic() - paused
    finally:
        samba.resume()
        thread.join(10)
    [failure] = outcome
    assert isinstance(failure, DeliveryError), failure
    assert failure.temporary
    assert "no answer from the server within 1.5 s" in str(failure)
    assert waited < 4.0
    folder.deliver(doc, tag="hush")  # the retry replaces the part file and finishes
    assert listing(samba.share_path / "Scans" / "silent") == ["big.bin"]
    assert (samba.share_path / "Scans" / "silent" / "big.bin").read_bytes() == big.read_bytes()
