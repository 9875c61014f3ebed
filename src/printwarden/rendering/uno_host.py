"""The program inside a rendering sandbox, run by the system Python (the one with ``uno``).

Not imported by the server: :mod:`printwarden.rendering.sandbox` copies this file, with
the ``unoserver`` package beside it, into a runtime directory the unprivileged user can read
and runs it as ``/usr/bin/python3 -I uno_host.py ...``. Only the standard library, ``uno``
and ``unoserver.converter`` are used, imported inside the functions (the server's own
interpreter has no ``uno``).

Two commands, both starting the same way while still privileged — bring up the loopback
interface of the fresh network namespace (``--loopback``), set the resource limits, drop to
the unprivileged user (``--uid``/``--gid``), and only then touch the document:

``serve``
    Start LibreOffice (``soffice --headless --accept=socket,...``) on a loopback port,
    connect unoserver's :class:`~unoserver.converter.UnoConverter` to it, warm it up (one tiny
    document of each kind, converted to OOXML and back to PDF, so that the first real
    document finds its filters loaded), and answer unoserver's XML-RPC API (``info``,
    ``convert``) on a Unix socket, one call at a time, with :class:`HiddenConverter`.
    Prints ``READY <soffice pid>`` on stdout once it answers; exits when LibreOffice dies.
``exec``
    Replace itself with the given command (the one-shot ``soffice --convert-to`` fallback).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import resource
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from xmlrpc.server import SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

API_VERSION = "3"  # unoserver's XML-RPC API (unoserver.client.API_VERSION)
UNO_PORT = 2002
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def loopback_up() -> None:
    """Bring ``lo`` up: a new network namespace starts with it down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", _ioctl(sock, _SIOCGIFFLAGS, request))[1]
        _ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def _ioctl(sock: socket.socket, request: int, arg: bytes) -> bytes:
    import fcntl

    result: bytes = fcntl.ioctl(sock.fileno(), request, arg)
    return result


def confine(args: argparse.Namespace) -> None:
    """Limits, then the unprivileged user: everything done before any document is read."""
    if args.loopback:
        loopback_up()
    if args.memory:
        resource.setrlimit(resource.RLIMIT_AS, (args.memory, args.memory))
    if args.file_size:
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.file_size, args.file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if args.uid is not None:
        os.setgroups([])
        os.setresgid(args.gid, args.gid, args.gid)
        os.setresuid(args.uid, args.uid, args.uid)
    os.umask(0o077)
    home = Path(args.home)
    os.environ.update({"HOME": str(home), "TMPDIR": str(home / "tmp"), "LANG": "C.UTF-8"})
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SESSION_MANAGER", "DBUS_SESSION_BUS_ADDRESS"):
        os.environ.pop(name, None)
    os.chdir(home)


def soffice_command(soffice: str, profile: Path, port: int) -> list[str]:
    accept = f"socket,host=127.0.0.1,port={port},tcpNoDelay=1;urp;StarOffice.ComponentContext"
    return [
        soffice,
        "--headless",
        "--invisible",
        "--nocrashreport",
        "--nodefault",
        "--nologo",
        "--nofirststartwizard",
        "--nolockcheck",
        "--norestore",
        f"-env:UserInstallation={profile.as_uri()}",
        f"--accept={accept}",
    ]


class _Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2")
    disable_nagle_algorithm = False  # a Unix socket has no Nagle

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:
        pass


class UnixXMLRPCServer(socketserver.UnixStreamServer, SimpleXMLRPCDispatcher):
    """unoserver's XML-RPC API on a Unix socket, one request at a time."""

    logRequests = False  # noqa: N815 (the name SimpleXMLRPCRequestHandler reads)

    def __init__(self, path: str) -> None:
        SimpleXMLRPCDispatcher.__init__(self, allow_none=True, use_builtin_types=False)
        socketserver.UnixStreamServer.__init__(self, path, _Handler)


# The PDF export filter for each kind of document LibreOffice loaded (the first that the
# document supports: a presentation is a drawing document too).
_PDF_EXPORT = (
    ("com.sun.star.sheet.SpreadsheetDocument", "calc_pdf_Export"),
    ("com.sun.star.presentation.PresentationDocument", "impress_pdf_Export"),
    ("com.sun.star.drawing.DrawingDocument", "draw_pdf_Export"),
    ("com.sun.star.text.TextDocument", "writer_pdf_Export"),
)
_NEVER_EXECUTE = 0  # com.sun.star.document.MacroExecMode.NEVER_EXECUTE
_NO_UPDATE = 0  # com.sun.star.document.UpdateDocMode.NO_UPDATE

_ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"'
)


def _flat(kind: str, body: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document {_ODF_NS} '
        f'office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.{kind}">'
        f"<office:body><office:{kind}>{body}</office:{kind}></office:body></office:document>"
    )


# The warm-up: (flat ODF, its import filter, the OOXML filter it is stored with and
# loaded back by). A fresh LibreOffice spends ~0.2 s on its first document of a kind
# (libraries, fonts, filter configuration); this pays it before the worker is READY.
WARM_UP = (
    (_flat("text", "<text:p>warm-up</text:p>"), "OpenDocument Text Flat XML", "MS Word 2007 XML"),
    (
        _flat(
            "spreadsheet",
            '<table:table table:name="S"><table:table-row><table:table-cell '
            'office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell>'
            "</table:table-row></table:table>",
        ),
        "OpenDocument Spreadsheet Flat XML",
        "Calc MS Excel 2007 XML",
    ),
    (
        _flat(
            "presentation",
            '<draw:page draw:name="P"><draw:frame svg:x="1cm" svg:y="1cm" svg:width="9cm" '
            'svg:height="2cm"><draw:text-box><text:p>warm-up</text:p></draw:text-box>'
            "</draw:frame></draw:page>",
        ),
        "OpenDocument Presentation Flat XML",
        "Impress MS PowerPoint 2007 XML",
    ),
)


class HiddenConverter:
    """Documents to PDF through unoserver's connection, each loaded **hidden**.

    unoserver's ``UnoConverter.convert`` loads into the ``_default`` frame with a visible
    view; on LibreOffice 7.4's headless backend a spreadsheet's view then crashes soffice
    (SIGSEGV/abort in ``vcl::Window::GetCursor`` or ``ScTabViewShell::GetClipData``, run from
    the scheduler while the document loads over UNO). Loaded with ``Hidden=True`` into a
    new (``_blank``) frame no view is ever shown and xlsx/xls/ods convert like the rest.
    Also: the import filter is named (no type detection), macros never run, links are not
    updated, and the filter table is read once, not per call.
    """

    def __init__(self, uno_converter: Any, temp_dir: Path) -> None:
        self.uno = importlib.import_module("uno")
        self.property_value = importlib.import_module("unoserver.converter").PropertyValue
        self.desktop = uno_converter.desktop
        self.import_filters: dict[str, str] = uno_converter.get_filter_names(
            uno_converter.get_available_import_filters()
        )
        self.source = temp_dir / "document"
        self.target = temp_dir / "document.pdf"

    def _props(self, **values: Any) -> tuple[Any, ...]:
        return tuple(self.property_value(Name=name, Value=value) for name, value in values.items())

    def load(self, path: Path, import_filter: str | None, password: str | None = None) -> Any:
        values: dict[str, Any] = {
            "Hidden": True,
            "ReadOnly": True,
            "MacroExecutionMode": _NEVER_EXECUTE,
            "UpdateDocMode": _NO_UPDATE,
        }
        if import_filter:
            if import_filter not in self.import_filters:
                raise ValueError(f"There is no '{import_filter}' import filter")
            values["FilterName"] = self.import_filters[import_filter]
        if password:
            values["Password"] = password
        url = self.uno.systemPathToFileUrl(str(path))
        document = self.desktop.loadComponentFromURL(url, "_blank", 0, self._props(**values))
        if document is None:
            raise RuntimeError(f"Could not load the document with the {import_filter} filter")
        return document

    def store(self, document: Any, path: Path, export_filter: str) -> None:
        url = self.uno.systemPathToFileUrl(str(path))
        document.storeToURL(url, self._props(FilterName=export_filter, Overwrite=True))

    def pdf(
        self,
        data: bytes,
        import_filter: str | None,
        update_index: bool = True,
        password: str | None = None,
    ) -> bytes:
        """The PDF of ``data`` (written to, and removed from, the private ``tmp/``)."""
        self.source.write_bytes(data)
        try:
            document = self.load(self.source, import_filter, password)
            try:
                if update_index:
                    _update_indexes(document)
                self.store(document, self.target, pdf_export_filter(document))
            finally:
                document.close(True)
            return self.target.read_bytes()
        finally:
            for path in (self.source, self.target):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def warm_up(self) -> float:
        """Convert :data:`WARM_UP`; the seconds it took. A failure is only reported."""
        started = time.monotonic()
        flat = self.source.with_name("warm-up.xml")
        ooxml = self.source.with_name("warm-up.ooxml")
        for text, flat_filter, ooxml_filter in WARM_UP:
            try:
                flat.write_text(text, encoding="utf-8")
                document = self.load(flat, flat_filter)
                try:
                    self.store(document, ooxml, self.import_filters[ooxml_filter])
                finally:
                    document.close(True)
                self.pdf(ooxml.read_bytes(), ooxml_filter)
            except Exception as exc:
                print(f"warm-up with {ooxml_filter} failed: {exc}", file=sys.stderr, flush=True)
        for path in (flat, ooxml):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return time.monotonic() - started


def pdf_export_filter(document: Any) -> str:
    for service, export_filter in _PDF_EXPORT:
        if document.supportsService(service):
            return export_filter
    raise RuntimeError("LibreOffice loaded a document of an unknown kind")


def _update_indexes(document: Any) -> None:
    """unoserver's ``update_index``: tables of contents get their entries, then their page
    numbers (two passes). Only documents that have indexes pay for it."""
    try:
        indexes = document.getDocumentIndexes()
    except AttributeError:
        return  # not a text document
    if not indexes.getCount():
        return
    for _ in range(2):
        document.refresh()
        for number in range(indexes.getCount()):
            indexes.getByIndex(number).update()


def connect(port: int, home: Path, soffice: subprocess.Popen[bytes], deadline: float) -> Any:
    """unoserver's converter, connected to LibreOffice once it accepts."""
    converter = importlib.import_module("unoserver.converter")
    while True:
        try:
            return converter.UnoConverter("127.0.0.1", str(port), temp_dir=str(home / "tmp"))
        except Exception as exc:
            if soffice.poll() is not None:
                raise SystemExit(f"LibreOffice exited at start ({soffice.returncode})") from exc
            if time.monotonic() > deadline:
                raise SystemExit(f"LibreOffice did not accept in time: {exc}") from exc
            time.sleep(0.05)


def serve(args: argparse.Namespace) -> int:
    home = Path(args.home)
    (home / "tmp").mkdir(exist_ok=True)
    port = UNO_PORT if args.loopback else _free_port()
    soffice = subprocess.Popen(
        soffice_command(args.soffice, home / "profile", port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )

    def watch() -> None:
        soffice.wait()
        os._exit(3)  # LibreOffice died: so does this worker (the pool sees it and replaces it)

    conv = HiddenConverter(
        connect(port, home, soffice, time.monotonic() + args.start_timeout), home / "tmp"
    )
    threading.Thread(target=watch, daemon=True).start()
    if args.warm_up:
        print(f"warmed up in {conv.warm_up():.2f} s", file=sys.stderr, flush=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(args.socket)
    server = UnixXMLRPCServer(args.socket)
    binary = importlib.import_module("xmlrpc.client").Binary

    def info() -> dict[str, Any]:
        return {"api": API_VERSION, "soffice_pid": soffice.pid, "unoserver": "printwarden"}

    def convert(
        inpath: Any = None,
        indata: Any = None,
        outpath: Any = None,
        convert_to: Any = None,
        filtername: Any = None,
        filter_options: Any = (),
        update_index: Any = True,
        infiltername: Any = None,
        password: Any = None,
    ) -> Any:
        """unoserver's ``convert``, for what this service asks: data in, PDF data out."""
        if inpath is not None or outpath is not None or indata is None:
            raise ValueError("only documents sent as data are converted here")
        if convert_to != "pdf" or filtername is not None or filter_options:
            raise ValueError("only PDF with its default options is made here")
        return binary(conv.pdf(indata.data, infiltername, bool(update_index), password))

    server.register_function(info, "info")
    server.register_function(convert, "convert")
    print(f"READY {soffice.pid}", flush=True)
    server.serve_forever()
    return 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="uno_host")
    parser.add_argument("--home", required=True)
    parser.add_argument("--uid", type=int)
    parser.add_argument("--gid", type=int)
    parser.add_argument("--memory", type=int, default=0)
    parser.add_argument("--file-size", type=int, default=0)
    parser.add_argument("--loopback", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve")
    serve_cmd.add_argument("--socket", required=True)
    serve_cmd.add_argument("--soffice", default="soffice")
    serve_cmd.add_argument("--start-timeout", type=float, default=60.0)
    serve_cmd.add_argument("--no-warm-up", dest="warm_up", action="store_false")
    exec_cmd = commands.add_parser("exec")
    exec_cmd.add_argument("argv", nargs=argparse.REMAINDER)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    confine(args)
    if args.command == "exec":
        command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        os.execvp(command[0], command)  # noqa: S606 (the one-shot soffice, no shell)
    return serve(args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
