"""Print scripts run in script host processes: a host that dies costs one call at most, and
a host that stopped a script is replaced (V8 is not safe creating isolates after that)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable

from printwarden.scripting import (
    ScriptLimits,
    ScriptOutcome,
    channel,
    check_script,
    host,
    run_print_hook,
    workers,
)
from support.scripts import JOB, NOW, USER

COMMENT = 'function printJobHook(inputs, actions) { actions.job.addComment("ran"); }'
LOOP = "function printJobHook(inputs, actions) { while (true) {} }"


class Store:
    """An empty ``KeyValueStore``."""

    def get(self, key: str) -> str | None:
        return None

    def set(self, key: str, value: str) -> None:
        pass


def run(source: str, limits: ScriptLimits = ScriptLimits()) -> ScriptOutcome:
    return run_print_hook(source, JOB, USER, Store(), NOW, limits)


def hosts() -> set[int]:
    """This process's script hosts."""
    found = subprocess.run(
        ["pgrep", "-P", str(os.getpid()), "-f", "printwarden.scripting.host"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {int(pid) for pid in found.stdout.split()}


def kill_hosts_for(seconds: float) -> None:
    """SIGSEGV every host that appears within ``seconds``, as a V8 crash would."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for pid in hosts():
            os.kill(pid, signal.SIGSEGV)
        time.sleep(0.05)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_scripts_run_outside_the_calling_process() -> None:
    assert run(COMMENT).comment == "ran"
    assert hosts(), "no script host process"
    assert os.getpid() not in hosts()


def test_a_host_that_dies_while_idle_is_replaced_without_failing_the_call() -> None:
    assert run(COMMENT).comment == "ran"
    dead = hosts()
    for pid in dead:
        os.kill(pid, signal.SIGSEGV)
    time.sleep(0.2)
    assert run(COMMENT).comment == "ran"  # retried on a fresh host
    assert hosts()
    assert not hosts() & dead


def test_a_host_that_crashes_in_every_attempt_fails_that_call_only() -> None:
    killer = threading.Thread(target=kill_hosts_for, args=(3.0,))
    killer.start()
    outcome = run(LOOP, ScriptLimits(time_ms=8_000))
    killer.join()
    assert outcome.error == "the script engine crashed"
    assert run(COMMENT).comment == "ran"


def test_a_host_that_stopped_a_script_is_replaced() -> None:
    assert run(COMMENT).comment == "ran"
    before = hosts()
    assert run(LOOP).error == "time limit exceeded (100 ms)"
    wait_for(lambda: len(before - hosts()) == 1 and len(hosts()) == len(before))
    assert run(COMMENT).comment == "ran"


def test_a_script_is_sent_to_a_host_once_and_named_by_its_digest_after() -> None:
    """More sources than the server counts on: each is still found by its digest."""
    for n in range(workers.MAX_SCRIPTS + 2):
        assert check_script(f"function printJobHook() {{}} // {n}") == ""
    for _ in range(2):
        assert run(COMMENT).comment == "ran"
    assert host.MAX_SOURCES > workers.MAX_SCRIPTS


def test_a_request_the_host_cannot_handle_is_answered_and_the_host_retires() -> None:
    host_reads, we_write = os.pipe()
    we_read, host_writes = os.pipe()
    serving = threading.Thread(target=host.serve, args=(host_reads, host_writes))
    serving.start()
    channel.write(we_write, {"op": "call", "script": "x", "source": "s"})  # no payload, limits
    answer = channel.read(we_read, time.monotonic() + 10)
    os.close(we_write)
    serving.join(timeout=10)
    for fd in (host_reads, we_read, host_writes):
        os.close(fd)
    assert answer == {"failure": "the script host failed (KeyError)", "retire": True}
