"""Print-script engines side by side: QuickJS (``quickjs``) and V8 (``mini-racer``).

    .venv/bin/python bench/script_engines.py                # 2,000 calls per engine
    .venv/bin/python bench/script_engines.py --calls 5000 --repeat 10

``quickjs`` is not a dependency (``pip install quickjs==1.19.4`` to compare; it is skipped if
missing). Both engines run the JavaScript ``printwarden.scripting`` uses: the script wrapped
as a factory, the driver, every reachable object frozen — but not the V8 hardening (``TAME``),
so the limit probes show each engine as it is. Measured:

- start-up: create a context and load a ~50-line script (median);
- one ``printJobHook(inputs, actions)`` call, p50/p99, alone and with two CPU-bound Python
  threads running (the App Server's worker threads compete for the GIL);
- RSS per loaded context;
- limit probes, each in a child process so a crash is a result: an infinite loop (100 ms),
  huge allocations of arrays, of strings, the same caught by the script, a 1 GiB typed array
  (32 MB limit), and a promise chain that runs on after the call returns. For each: stopped
  or not, after how long, whether the context can still run a normal call (else a new one is
  loaded, as a server would), and whether the process survives;
- ``printwarden.scripting.run_print_hook`` (V8, hardened) end to end, on the same probes.

Every loop is bounded (call counts, per-probe timeouts).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from py_mini_racer import MiniRacer

from harness import print_machine
from printwarden.scripting import ScriptJob, ScriptOutcome, ScriptUser, run_print_hook, v8call
from printwarden.scripting.payload import encode
from printwarden.scripting.prelude import DRIVER, FREEZE, WRAPPER_HEAD, WRAPPER_TAIL

TIME_LIMIT_MS = 100
MEMORY_LIMIT_MB = 32
PROBE_TIMEOUT_S = 120.0
CONTENDED_CALLS = 300
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
JOB = ScriptJob(
    pages=12,
    colour_pages=3,
    copies=2,
    cost=420,
    document_name="Week 12 exam draft.pdf",
    size=482_113,
    duplex=False,
    grayscale=False,
    paper_size="A4",
    printer="library-colour",
    is_held=False,
    username="ann",
    account="ann",
)
USER = ScriptUser(username="ann", groups=("staff", "maths"), balance=1_250, restricted=True)
PROPS: dict[str, str | None] = {"colour-2026-11-25": "17"}
PROBES = {
    "loop": "infinite loop",
    "arrays": "huge allocation: arrays",
    "strings": "huge allocation: strings",
    "caught": "strings, caught by the script",
    "typed": "1 GiB typed array",
    "promise": "promise chain after return",
}

# ~50 lines of the kind of policy administrators write, and a switch for the probes.
SCRIPT = """
var COLOUR_LIMIT = 40;
var STAFF = ["staff", "admin"];
var LARGE_JOB_BYTES = 50 * 1024 * 1024;

function isStaff(user) {
  for (var i = 0; i < STAFF.length; i++) {
    if (user.isInGroup(STAFF[i])) return true;
  }
  return false;
}

function today(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

function probe(kind, actions) {
  var hog = [];
  if (kind === "loop") for (;;) {}
  if (kind === "arrays") for (;;) hog.push(new Array(100000).fill(hog.length));
  if (kind === "strings") for (;;) hog.push("x".repeat(1000) + hog.length);
  if (kind === "caught") {
    try { for (;;) hog.push("x".repeat(1000) + hog.length); }
    catch (e) { actions.log.info("caught " + hog.length); }
  }
  if (kind === "typed") actions.log.info(String(new Uint8Array(1 << 30).fill(1).length));
  if (kind === "promise") { var again = function () { Promise.resolve().then(again); }; again(); }
}

function printJobHook(inputs, actions) {
  var job = inputs.job;
  var user = inputs.user;
  if (job.printerName.indexOf("probe-") === 0) return probe(job.printerName.slice(6), actions);
  if (job.totalPages > 200) {
    actions.job.cancelWithMessage("Jobs over 200 pages need the print room.");
    return;
  }
  var key = "colour-" + today(inputs.utils.getTime());
  var used = Number(inputs.utils.getProperty(key) || "0");
  if (job.totalColorPages > 0 && !isStaff(user) && used + job.totalColorPages > COLOUR_LIMIT) {
    actions.job.convertToGrayscale();
    actions.log.info("colour allowance used up: " + used);
  } else {
    inputs.utils.setProperty(key, String(used + job.totalColorPages));
  }
  if (/exam/i.test(job.documentName) && isStaff(user)) {
    actions.job.chargeToSharedAccount("Exams");
    actions.job.addComment("charged to Exams");
  }
  if (job.isDuplex) actions.job.setCost(Math.round(job.cost * 80 / 100));
  if (job.sizeBytes > LARGE_JOB_BYTES) actions.job.holdForRelease();
  actions.log.debug(user.username + " " + job.totalPages + " pages on " + job.printerName);
}
"""


class Engine(Protocol):
    """Load the script into a fresh context; call the driver (raises when the engine stops
    the call); free the context."""

    name: str

    def load(self, source: str) -> Any: ...

    def call(self, loaded: Any, payload: str, time_ms: int) -> str: ...

    def close(self, loaded: Any) -> None: ...


class QuickJS:
    name = "quickjs 1.19.4 (QuickJS 2021-03-27)"

    def __init__(self) -> None:
        self.module = importlib.import_module("quickjs")

    def load(self, source: str) -> Any:
        context = self.module.Context()
        for code in (WRAPPER_HEAD + source + WRAPPER_TAIL, DRIVER, FREEZE):
            context.eval(code)
        context.set_memory_limit(MEMORY_LIMIT_MB << 20)
        return context, context.get("$pw_run")

    def call(self, loaded: Any, payload: str, time_ms: int) -> str:
        context, run = loaded
        context.set_time_limit(time_ms / 1000)
        return str(run(payload))

    def close(self, loaded: Any) -> None:
        pass


class V8:
    """``direct``: printwarden's call path (``scripting.v8call``); else ``MiniRacer.eval``."""

    def __init__(self, direct: bool) -> None:
        self.direct = direct
        how = "printwarden's direct call" if direct else "MiniRacer.eval"
        self.name = f"mini-racer 0.14.1 (V8 {MiniRacer().v8_version}), {how}"

    def load(self, source: str) -> Any:
        racer = MiniRacer()
        racer.set_hard_memory_limit(MEMORY_LIMIT_MB << 20)
        for code in (WRAPPER_HEAD + source + WRAPPER_TAIL, DRIVER, FREEZE):
            v8call.evaluate(racer, code, 5.0)
        return racer

    def call(self, loaded: Any, payload: str, time_ms: int) -> str:
        code = f"$pw_run({json.dumps(payload)})"
        if self.direct:
            return str(v8call.evaluate(loaded, code, time_ms / 1000))
        return str(loaded.eval(code, timeout_sec=time_ms / 1000))

    def close(self, loaded: Any) -> None:
        loaded.close()


def engines() -> dict[str, Engine]:
    found: dict[str, Engine] = {}
    try:
        found["quickjs"] = QuickJS()
    except ImportError:
        print("quickjs is not installed: pip install quickjs==1.19.4 to compare")
    found["v8-eval"] = V8(direct=False)
    found["v8"] = V8(direct=True)
    return found


def payload(printer: str = JOB.printer) -> str:
    return encode(replace(JOB, printer=printer), USER, NOW, dict(PROPS))


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(action: Callable[[], object], runs: int) -> list[float]:
    """Wall time of each run, in µs."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


@contextmanager
def busy_threads(count: int) -> Iterator[None]:
    """``count`` CPU-bound Python threads, as busy worker threads of the App Server."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1_000))

    threads = [threading.Thread(target=spin, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def measure(engine: Engine, calls: int, loads: int) -> dict[str, float]:
    """Start-up and call cost of ``engine`` in this process."""
    startup = []
    for _ in range(loads):
        started = time.perf_counter()
        loaded = engine.load(SCRIPT)
        startup.append((time.perf_counter() - started) * 1000)
        engine.close(loaded)
    loaded = engine.load(SCRIPT)
    body = payload()

    def call() -> str:
        return engine.call(loaded, body, TIME_LIMIT_MS)

    result = json.loads(call())
    assert not result["error"], result
    assert result["writes"], result
    timed(call, min(200, calls))  # warm up
    alone = timed(call, calls)
    with busy_threads(2):
        contended = timed(call, CONTENDED_CALLS)
    engine.close(loaded)
    return {
        "startup_ms": statistics.median(startup),
        "p50": percentile(alone, 0.50),
        "p99": percentile(alone, 0.99),
        "busy_p50": percentile(contended, 0.50),
        "busy_p99": percentile(contended, 0.99),
    }


def probe(engine_key: str, kind: str, repeat: int) -> dict[str, Any]:
    """In a child process: memory of 20 contexts (``rss``), or ``repeat`` calls of a probe.
    As a server would, a context is reused while a normal call still works on it."""
    engine = engines()[engine_key]
    before = rss_kib()
    if kind == "rss":
        kept = [engine.load(SCRIPT) for _ in range(20)]
        return {"kib_per_context": (rss_kib() - before) / len(kept)}
    stopped, reloads, elapsed, errors = 0, 0, [], set()
    loaded = engine.load(SCRIPT)
    for _ in range(repeat):
        started = time.perf_counter()
        try:  # the driver catches what the script could catch, e.g. QuickJS's out of memory
            error = json.loads(engine.call(loaded, payload(f"probe-{kind}"), TIME_LIMIT_MS))
            error = error["error"]
        except Exception as e:
            error = f"{type(e).__name__} {str(e).strip().splitlines()[0] if str(e) else ''}"
        elapsed.append((time.perf_counter() - started) * 1000)
        if error:
            stopped += 1
            errors.add(error.strip()[:60])
        if not _next_call_ok(engine, loaded):
            reloads += 1
            engine.close(loaded)
            loaded = engine.load(SCRIPT)
    return {
        "stopped": stopped,
        "repeat": repeat,
        "reloads": reloads,
        "elapsed_ms": statistics.median(elapsed),
        "errors": sorted(errors),
        "rss_growth_mib": (rss_kib() - before) / 1024,
    }


def _next_call_ok(engine: Engine, loaded: Any) -> bool:
    try:
        return not json.loads(engine.call(loaded, payload(), 1_000))["error"]
    except Exception:
        return False


def run_probe(engine_key: str, kind: str, repeat: int) -> dict[str, Any]:
    """``probe`` in a child process; a crash or a hang is a result."""
    command = [sys.executable, __file__, "--probe", engine_key, kind, "--repeat", str(repeat)]
    try:
        child = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"process": f"hung > {PROBE_TIMEOUT_S:.0f} s, killed"}
    if child.returncode != 0:
        how = f"signal {-child.returncode}" if child.returncode < 0 else f"exit {child.returncode}"
        return {"process": f"**process died ({how})**"}
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return {"process": "ok", **result}


def probe_cell(kind: str, result: dict[str, Any]) -> str:
    if result["process"] != "ok":
        return str(result["process"])
    n, repeat = result["stopped"], result["repeat"]
    if n:
        head = f"stopped {n}/{repeat}, {result['elapsed_ms']:.0f} ms"
    else:
        head = "returned" if kind == "promise" else "**not stopped**"
    growth = f", RSS +{result['rss_growth_mib']:.0f} MiB" if result["rss_growth_mib"] > 64 else ""
    broken = result["reloads"]
    after = f"context unusable after {broken}/{repeat}" if broken else "context still usable"
    why = f" ({'; '.join(result['errors'])})" if result["errors"] else ""
    return f"{head}{growth}; {after}{why}"


class DictStore(dict[str, str]):
    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key, default)

    def set(self, key: str, value: str) -> None:
        self[key] = value


def printwarden_rows(calls: int) -> list[str]:
    """``run_print_hook`` end to end: its cost, then each probe and the call after it."""
    store = DictStore({"colour-2026-11-25": "17"})

    def run(job: ScriptJob = JOB) -> ScriptOutcome:
        return run_print_hook(SCRIPT, job, USER, store, NOW)

    assert not run().error
    timed(run, min(200, calls))
    alone = timed(run, calls)
    with busy_threads(2):
        contended = timed(run, CONTENDED_CALLS)
    rows = [
        f"- run_print_hook: p50 {percentile(alone, 0.5):.0f} µs, p99 "
        f"{percentile(alone, 0.99):.0f} µs; with 2 busy threads p50 "
        f"{percentile(contended, 0.5):.0f} µs, p99 {percentile(contended, 0.99):.0f} µs"
    ]
    for kind, label in PROBES.items():
        started = time.perf_counter()
        outcome = run(replace(JOB, printer=f"probe-{kind}"))
        took = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        after = run()
        after_ms = (time.perf_counter() - started) * 1000
        rows.append(
            f"- {label}: {outcome.error or 'no error'!r} after {took:.0f} ms; next call "
            f"{'ok' if not after.error else 'FAILS'} ({after_ms:.1f} ms)"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--loads", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20, help="calls per limit probe")
    parser.add_argument("--probe", nargs=2, metavar=("ENGINE", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        engine_key, kind = args.probe
        print(json.dumps(probe(engine_key, kind, args.repeat)))
        return
    print(
        f"script engines, {datetime.now():%Y-%m-%d %H:%M}, limits {TIME_LIMIT_MS} ms / "
        f"{MEMORY_LIMIT_MB} MB, {args.calls} calls ({CONTENDED_CALLS} with busy threads)"
    )
    print_machine()
    found = engines()
    print(
        "\n| engine | start-up | call p50 | call p99 | with 2 busy threads p50 / p99 "
        "| RSS per context |"
    )
    print("|---|---|---|---|---|---|")
    for key, engine in found.items():
        cost = measure(engine, args.calls, args.loads)
        rss = run_probe(key, "rss", 1).get("kib_per_context", float("nan"))
        print(
            f"| {engine.name} | {cost['startup_ms']:.2f} ms | {cost['p50']:.0f} µs "
            f"| {cost['p99']:.0f} µs | {cost['busy_p50']:.0f} / {cost['busy_p99']:.0f} µs "
            f"| {rss:.0f} KiB |"
        )
    limited = [key for key in ("quickjs", "v8") if key in found]
    print(
        f"\n| probe (limits {TIME_LIMIT_MS} ms, {MEMORY_LIMIT_MB} MB; {args.repeat} calls) | "
        + " | ".join(found[key].name for key in limited)
        + " |"
    )
    print("|---|" + "---|" * len(limited))
    for kind, label in PROBES.items():
        cells = [probe_cell(kind, run_probe(key, kind, args.repeat)) for key in limited]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\nprintwarden.scripting (V8, hardened):")
    print("\n".join(printwarden_rows(args.calls)))


if __name__ == "__main__":
    main()
