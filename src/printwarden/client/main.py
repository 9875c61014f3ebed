"""``printwarden client``: the window where there is a display, else the terminal."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from printwarden.client import tokenfile
from printwarden.client.session import log_out, restore
from printwarden.client.terminal import Output, terminal_lines
from printwarden.client.tokenfile import Saved
from printwarden.client.tui import TerminalClient, ask_login

if TYPE_CHECKING:
    from printwarden.client.gui import Window


def parser() -> argparse.ArgumentParser:
    """The command's options (no password option: it is asked for, or read from
    ``$PRINTWARDEN_CLIENT_PASSWORD``)."""
    found = argparse.ArgumentParser(
        prog="printwarden client",
        description="Your balance, your jobs and the server's print questions.",
    )
    found.add_argument("--server", metavar="URL", help="the server, e.g. https://print.example")
    found.add_argument("--user", metavar="NAME", help="log in as NAME")
    found.add_argument("--tui", action="store_true", help="use the terminal, not a window")
    found.add_argument("--logout", action="store_true", help="revoke and forget this login")
    found.add_argument("--poll", action="store_true", help="long-poll instead of streaming")
    return found


def display_available(env: Mapping[str, str] | None = None, platform: str = sys.platform) -> bool:
    """Whether a window can be shown: always on Windows and macOS, with X11 or Wayland else."""
    env = os.environ if env is None else env
    if platform in ("win32", "darwin"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def run(argv: list[str]) -> int:
    """Run the client with the arguments after ``printwarden client``; the exit status."""
    args = parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    directory = tokenfile.config_dir()
    if args.logout:
        worked, message = log_out(directory)
        print(message, flush=True)
        return 0 if worked else 1
    saved = restore(directory, args.server, args.user)
    if not args.tui:
        window, why = open_gui(args, directory)
        if window is not None:
            from printwarden.client.gui import run_window

            return run_window(window, saved)
        print(f"No window ({why}): using the terminal.", flush=True)
    return run_terminal(args, directory, saved)


def open_gui(args: argparse.Namespace, directory: Path) -> tuple[Window | None, str]:
    """The window, or None and why there is none."""
    if not display_available():
        return None, "no display"
    try:
        from printwarden.client.gui import open_window
    except ImportError as error:
        return None, f"no tkinter: {error}"
    known = tokenfile.load(directory)
    server = args.server or (known.server if known else "")
    username = args.user or (known.username if known else "")
    try:
        return open_window(directory, server=server, username=username, poll=args.poll), ""
    except Exception as error:  # tk.TclError: no display that Tk can open
        return None, str(error).splitlines()[0] if str(error) else type(error).__name__


def run_terminal(args: argparse.Namespace, directory: Path, saved: Saved | None) -> int:
    """The text mode, logging in first when needed."""
    out = Output(sys.stdout)
    lines = terminal_lines(out)
    if saved is None:
        known = tokenfile.load(directory)
        server = args.server or (known.server if known else None)
        saved = ask_login(out, lines, directory, server, args.user)
    if saved is None:
        return 1
    return TerminalClient(saved, directory, out, lines, poll=args.poll).run()
