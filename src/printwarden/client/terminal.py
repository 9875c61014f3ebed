"""Terminal input and output for the text mode: whole lines, flushed at once (a program
driving the client through pipes sees each prompt as soon as it is written), and prompts
that a closed question can withdraw while they wait."""

from __future__ import annotations

import contextlib
import getpass
import io
import os
import queue
import select
import sys
import threading
from collections.abc import Iterator
from typing import Protocol, TextIO

TICK = 0.2  # how often a waiting prompt looks whether it was withdrawn


class Cancelled(Exception):
    """The prompt was withdrawn (its question was answered elsewhere)."""


class Output:
    """Lines and prompts on ``stream``; a line written while a prompt waits goes above it,
    and the prompt is written again."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.RLock()
        self._prompt = ""

    def line(self, text: str) -> None:
        """Write one line."""
        with self._lock:
            if self._prompt:
                self._stream.write("\n")
            self._stream.write(text + "\n")
            self._stream.write(self._prompt)
            self._stream.flush()

    def prompt(self, text: str) -> None:
        """Write ``text`` (no newline) and wait for an answer."""
        with self._lock:
            self._prompt = text
            self._stream.write(text)
            self._stream.flush()

    def answered(self, newline: bool) -> None:
        """The prompt got its answer (``newline`` when the terminal did not echo one)."""
        with self._lock:
            if self._prompt and newline:
                self._stream.write("\n")
                self._stream.flush()
            self._prompt = ""

    def withdraw(self) -> None:
        """The waiting prompt is given up: what follows starts on a line of its own."""
        self.answered(newline=True)


class Lines(Protocol):
    """Reads answers to prompts."""

    def ask(
        self, prompt: str, *, secret: bool = False, cancel: threading.Event | None = None
    ) -> str:
        """The line typed after ``prompt`` (not echoed when ``secret`` on a terminal).
        EOFError at the end of input, Cancelled when ``cancel`` is set first."""
        ...


class PosixLines:
    """Lines read straight from a file descriptor (a terminal or a pipe) with ``select``, so
    that a prompt can be withdrawn; a secret is read with the terminal's echo off."""

    def __init__(self, fd: int, out: Output) -> None:
        self._fd = fd
        self._out = out
        self._tty = os.isatty(fd)
        self._buffer = b""
        self._ended = False

    def ask(
        self, prompt: str, *, secret: bool = False, cancel: threading.Event | None = None
    ) -> str:
        """See :class:`Lines`."""
        self._out.prompt(prompt)
        try:
            with self._hidden(secret and self._tty):
                return self._line(cancel)
        finally:
            self._out.answered(newline=secret or not self._tty)

    def _line(self, cancel: threading.Event | None) -> str:
        while True:
            if b"\n" in self._buffer:
                line, _, self._buffer = self._buffer.partition(b"\n")
                return line.decode("utf-8", "replace").rstrip("\r")
            if self._ended:
                if self._buffer:
                    line, self._buffer = self._buffer, b""
                    return line.decode("utf-8", "replace").rstrip("\r")
                raise EOFError
            if cancel is not None and cancel.is_set():
                raise Cancelled
            self._fill()

    def _fill(self) -> None:
        ready, _, _ = select.select([self._fd], [], [], TICK)
        if ready:
            data = os.read(self._fd, 4096)
            self._buffer += data
            self._ended = not data

    @contextlib.contextmanager
    def _hidden(self, hide: bool) -> Iterator[None]:
        if not hide or sys.platform == "win32":
            yield
            return
        import termios

        old = termios.tcgetattr(self._fd)
        new = termios.tcgetattr(self._fd)
        new[3] &= ~termios.ECHO
        termios.tcsetattr(self._fd, termios.TCSAFLUSH, new)
        try:
            yield
        finally:
            termios.tcsetattr(self._fd, termios.TCSAFLUSH, old)


class ThreadLines:
    """Lines of a stream read by a thread of their own (where ``select`` cannot wait on
    it: a pipe on Windows); secrets are read as plain lines."""

    def __init__(self, stream: TextIO, out: Output) -> None:
        self._out = out
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ended = False
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\r\n"))
        self._lines.put(None)

    def ask(
        self, prompt: str, *, secret: bool = False, cancel: threading.Event | None = None
    ) -> str:
        """See :class:`Lines`."""
        self._out.prompt(prompt)
        try:
            while not self._ended:
                if cancel is not None and cancel.is_set():
                    raise Cancelled
                with contextlib.suppress(queue.Empty):
                    line = self._lines.get(timeout=TICK)
                    if line is not None:
                        return line
                    self._ended = True
            raise EOFError
        finally:
            self._out.answered(newline=True)


class BlockingLines:
    """``input`` and ``getpass`` (a Windows console): a withdrawn prompt is noticed only
    once its line is typed."""

    def __init__(self, out: Output) -> None:
        self._out = out

    def ask(
        self, prompt: str, *, secret: bool = False, cancel: threading.Event | None = None
    ) -> str:
        """See :class:`Lines`."""
        self._out.prompt(prompt)
        try:
            line = getpass.getpass("") if secret else input()
        finally:
            self._out.answered(newline=False)
        if cancel is not None and cancel.is_set():
            raise Cancelled
        return line


def terminal_lines(out: Output) -> Lines:
    """The right reader for this process's standard input."""
    stdin = sys.stdin
    if stdin is None:
        return ThreadLines(io.StringIO(""), out)
    if sys.platform != "win32":
        try:
            return PosixLines(stdin.fileno(), out)
        except (OSError, ValueError):  # replaced by something that is not a file
            return ThreadLines(stdin, out)
    return BlockingLines(out) if stdin.isatty() else ThreadLines(stdin, out)
