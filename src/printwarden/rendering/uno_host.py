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
    connect unoserver's :class:`~unoserver.converter.UnoConverter` to it, and answer
    unoserver's XML-RPC API (``info``, ``convert``) on a Unix socket, one call at a time.
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

    conv = connect(port, home, soffice, time.monotonic() + args.start_timeout)
    threading.Thread(target=watch, daemon=True).start()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(args.socket)
    server = UnixXMLRPCServer(args.socket)

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
        if inpath is not None or outpath is not None:
            raise ValueError("only documents sent as data are converted here")
        data = indata.data if indata is not None else None
        result = conv.convert(
            None,
            data,
            None,
            convert_to,
            filtername,
            list(filter_options or ()),
            update_index,
            infiltername,
            password,
        )
        return None if result is None else importlib.import_module("xmlrpc.client").Binary(result)

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
