"""One evaluation in a MiniRacer isolate, waited for on the calling thread.

``MiniRacer.eval`` routes every call through an asyncio loop thread: three thread hops that
each need the GIL, which costs ~200 µs a call and, with other Python threads busy, tens to
hundreds of milliseconds (``bench/script_engines.py``). This takes the path mini-racer itself
uses on its loop thread — start the task, read its result from the context's queue — from
the calling thread, and cancels the task (V8 ``TerminateExecution``) when the time is up.
It uses mini-racer internals, hence the exact version pin in pyproject.toml. The caller
serializes calls per isolate (the result queue is shared).
"""

from __future__ import annotations

import queue
from typing import Any

from py_mini_racer import JSEvalException, MiniRacer
from py_mini_racer._context import _UNCANCELABLE_TASK_CALLBACK_ID

CANCEL_GRACE_S = 1.0


class Timeout(Exception):
    """The evaluation ran out of time and was terminated."""


class Stuck(Exception):
    """The isolate did not stop when asked to; it must be closed."""


def evaluate(racer: MiniRacer, code: str, timeout_s: float) -> Any:
    """The value of ``code``; raises ``JSEvalException`` (or a subclass), ``Timeout``, ``Stuck``."""
    context = racer._ctx
    assert context is not None
    handle = context._python_to_value_handle(code)  # kept alive until the task ends
    task = context._dll.mr_eval(context._ctx, handle.raw, _UNCANCELABLE_TASK_CALLBACK_ID)
    results = context._non_cancelable_mr_task_results_queue
    try:
        value = results.get(timeout=timeout_s)
    except queue.Empty:
        context._dll.mr_cancel_task(context._ctx, task)
        try:
            results.get(timeout=CANCEL_GRACE_S)
        except queue.Empty:
            raise Stuck from None
        raise Timeout from None
    return context._value_handle_to_python(value)


__all__ = ["CANCEL_GRACE_S", "JSEvalException", "Stuck", "Timeout", "evaluate"]
