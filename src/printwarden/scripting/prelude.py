"""The JavaScript side of a call: the script API, the driver, and the sandbox's hardening.

The engine evaluates these once per compiled script. ``WRAPPER`` turns the administrator's
source into a factory, so its top-level code and declarations run afresh on every call;
``DRIVER`` defines ``$pw_run(payload)``, which builds ``inputs`` and ``actions`` for one call
from a JSON payload and returns the call's effects as JSON; ``TAME`` removes what a script
could use to escape its limits (code compilation, promise jobs, memory outside the heap,
timers); ``FREEZE`` deep-freezes everything reachable from the global object, so no call can
leave state behind for the next. Prelude functions are named ``$pw_…`` so error locations
skip them.
"""

from __future__ import annotations

import json

NO_HOOK = "the script does not define function printJobHook(inputs, actions)"
MAX_KEYS = 32  # distinct property keys one call may use
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 4096
MAX_TEXT_CHARS = 1000  # messages, comments, account names, one log line
MAX_LOGS = 100

# One line, so the script's line numbers are the wrapper's.
WRAPPER_HEAD = 'globalThis.$pw_factory = (function printScript() {"use strict";'
WRAPPER_TAIL = '\n;return typeof printJobHook === "function" ? printJobHook : undefined;});'

_CONSTANTS = json.dumps(
    {
        "noHook": NO_HOOK,
        "maxKeys": MAX_KEYS,
        "maxKey": MAX_KEY_CHARS,
        "maxValue": MAX_VALUE_CHARS,
        "maxText": MAX_TEXT_CHARS,
        "maxLogs": MAX_LOGS,
    }
)

DRIVER = (
    """
globalThis.$pw_run = (function (factory, C) {
  "use strict";
  const hasOwn = Object.prototype.hasOwnProperty;
  const freeze = Object.freeze;

  function $pw_fail(message) { throw new TypeError(message); }

  function $pw_str(value) {
    try { return String(value); } catch (e) { return "(unprintable)"; }
  }

  function $pw_text(what, value, max) {
    if (typeof value !== "string") $pw_fail(what + " must be a string, got " + typeof value);
    if (value.length > max) $pw_fail(what + " is longer than " + max + " characters");
    return value;
  }

  function $pw_where(stack) {
    const lines = typeof stack === "string" ? stack.split("\\n") : [];
    for (const line of lines) {
      const m = /^\\s+at .*<anonymous>:(\\d+)/.exec(line);
      if (m && line.indexOf("$pw_") < 0) return " (line " + m[1] + ")";
    }
    return "";
  }

  function $pw_describe(e) {
    if (e instanceof Error) {
      return ($pw_str(e.name) + ": " + $pw_str(e.message)).slice(0, C.maxText) + $pw_where(e.stack);
    }
    return ("uncaught exception: " + $pw_str(e)).slice(0, C.maxText);
  }

  function $pw_key(state, key) {
    $pw_text("a property key", key, C.maxKey);
    if (key.length === 0) $pw_fail("a property key must not be empty");
    if (!hasOwn.call(state.used, key)) {
      if (state.usedCount >= C.maxKeys) {
        $pw_fail("a script may use at most " + C.maxKeys + " property keys per job");
      }
      state.used[key] = true;
      state.usedCount += 1;
      state.out.read.push(key);
    }
    return key;
  }

  function $pw_inputs(data, state) {
    const groups = freeze(data.user.groups.slice());
    const user = freeze({
      username: data.user.username,
      groups: groups,
      balance: data.user.balance,
      restricted: data.user.restricted,
      isInGroup: function $pw_isInGroup(name) { return groups.indexOf(name) >= 0; },
    });
    const utils = freeze({
      getTime: function $pw_getTime() { return data.now; },
      getProperty: function $pw_getProperty(key) {
        $pw_key(state, key);
        if (hasOwn.call(state.out.writes, key)) return state.out.writes[key];
        if (hasOwn.call(data.props, key)) return data.props[key];
        state.out.missing.push(key);
        throw new Error("getProperty: '" + key + "' is not loaded yet");
      },
      setProperty: function $pw_setProperty(key, value) {
        $pw_key(state, key);
        if (typeof value === "number" || typeof value === "boolean") value = String(value);
        state.out.writes[key] = $pw_text("setProperty: the value", value, C.maxValue);
      },
    });
    return freeze({ job: freeze(data.job), user: user, utils: utils });
  }

  function $pw_actions(out) {
    function $pw_log(level) {
      return function $pw_logAt(message) {
        if (out.logs.length >= C.maxLogs) return;
        out.logs.push([level, $pw_str(message).slice(0, C.maxText)]);
      };
    }
    const job = freeze({
      cancel: function $pw_cancel() { out.cancel = true; },
      cancelWithMessage: function $pw_cancelWithMessage(message) {
        out.cancelMessage = $pw_text("cancelWithMessage: the message", message, C.maxText);
        out.cancel = true;
      },
      setCost: function $pw_setCost(cents) {
        if (typeof cents !== "number" || !Number.isSafeInteger(cents) || cents < 0) {
          const got = typeof cents === "number" ? String(cents) : typeof cents;
          $pw_fail("setCost: the cost must be a whole number of cents >= 0, got " + got);
        }
        out.cost = cents;
      },
      convertToGrayscale: function $pw_convertToGrayscale() { out.grayscale = true; },
      convertToDuplex: function $pw_convertToDuplex() { out.duplex = true; },
      chargeToSharedAccount: function $pw_chargeToSharedAccount(name) {
        $pw_text("chargeToSharedAccount: the account name", name, C.maxText);
        if (name.length === 0) $pw_fail("chargeToSharedAccount: the account name is empty");
        out.chargeAccount = name;
      },
      holdForRelease: function $pw_holdForRelease() { out.hold = true; },
      addComment: function $pw_addComment(text) {
        $pw_text("addComment: the comment", text, C.maxText);
        const all = out.comment ? out.comment + "\\n" + text : text;
        if (all.length > C.maxText) {
          $pw_fail("addComment: comments are longer than " + C.maxText + " characters");
        }
        out.comment = all;
      },
    });
    const log = freeze({
      debug: $pw_log("debug"),
      info: $pw_log("info"),
      warning: $pw_log("warning"),
      error: $pw_log("error"),
    });
    return freeze({ job: job, log: log });
  }

  return function $pw_run(payload) {
    const data = JSON.parse(payload);
    const out = {
      error: "", cancel: false, cancelMessage: "", cost: null, grayscale: false, duplex: false,
      chargeAccount: "", hold: false, comment: "", logs: [], writes: Object.create(null),
      read: [], missing: [],
    };
    const state = { out: out, used: Object.create(null), usedCount: 0 };
    try {
      const hook = factory();
      if (typeof hook !== "function") out.error = C.noHook;
      else if (!data.check) hook($pw_inputs(data, state), $pw_actions(out));
    } catch (e) {
      out.error = $pw_describe(e);
    }
    return JSON.stringify(out);
  };
})(globalThis.$pw_factory, """
    + _CONSTANTS
    + """);
delete globalThis.$pw_factory;
"""
)

# Removed before freezing: promise jobs would run after the call, outside its time limit (and
# ``async``/``await``/``import`` are refused in the source); compiling code at run time could
# bring them back; ArrayBuffer memory lies outside the limited heap; timers need an event loop.
TAME = """
(function () {
  "use strict";
  const g = globalThis;
  const refuse = function $pw_refuse() { throw new TypeError("not available in print scripts"); };
  const constructors = [Function.prototype, Object.getPrototypeOf(function* () {})];
  for (const proto of constructors) Object.defineProperty(proto, "constructor", { value: refuse });
  for (const name of ["then", "catch", "finally"]) {
    Object.defineProperty(Promise.prototype, name, { value: refuse });
  }
  delete Array.fromAsync;
  for (const name of ["Promise", "eval", "Function", "ArrayBuffer", "SharedArrayBuffer",
      "DataView", "Atomics", "WebAssembly", "FinalizationRegistry", "WeakRef", "console",
      "AsyncDisposableStack", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array",
      "Uint16Array", "Int32Array", "Uint32Array", "Float16Array", "Float32Array",
      "Float64Array", "BigInt64Array", "BigUint64Array"]) {
    delete g[name];
  }
  for (const name of ["setTimeout", "clearTimeout", "__timer_manager"]) {
    if (name in g) g[name] = undefined;  // declared by the embedder: not deletable
  }
})();
"""

FREEZE = """
(function () {
  "use strict";
  const seen = new Set();
  const todo = [globalThis];
  while (todo.length) {
    const o = todo.pop();
    if ((typeof o !== "object" && typeof o !== "function") || o === null || seen.has(o)) continue;
    seen.add(o);
    Object.freeze(o);
    todo.push(Object.getPrototypeOf(o));
    for (const k of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, k);
      if (d === undefined) continue;
      if ("value" in d) todo.push(d.value);
      else todo.push(d.get, d.set);
    }
  }
  return seen.size;
})();
"""
