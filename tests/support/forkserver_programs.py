"""Small programs ``tests/integration/test_forkserver.py`` runs as forked children."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time


def _report() -> None:
    print("argv", *sys.argv[1:])
    print("env", os.environ.get("GREETING"))
    print("cwd", os.getcwd())
    print("pid", os.getpid())
    print("stdin", repr(sys.stdin.buffer.read()))


def _context() -> None:
    try:
        raise ValueError("fresh")
    except ValueError as error:
        print("context", error.__context__)


def _atexit() -> None:
    atexit.register(lambda: print("atexit ran", flush=True))

    def work() -> None:
        time.sleep(0.2)
        print("thread done", flush=True)

    threading.Thread(target=work).start()


def _sleep() -> None:
    time.sleep(60)


def _ignore_term() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(60)


def main() -> None:
    what = sys.argv[1]
    if what == "report":
        _report()
    elif what == "exit":
        sys.exit(int(sys.argv[2]))
    elif what == "raise":
        raise ValueError("raised on purpose")
    elif what == "context":
        _context()
    elif what == "atexit":
        _atexit()
    elif what == "sleep":
        _sleep()
    elif what == "ignore-term":
        _ignore_term()


if __name__ == "__main__":
    main()
