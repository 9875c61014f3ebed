"""Print scripts: administrators' JavaScript ``printJobHook``, sandboxed in V8 (mini-racer).

Each call has a time and a memory limit and no file, network or module access; a call sees
fresh script state (docs/print-scripts.md; the engine choice: docs/scripting-engine-choice.md).
Money is integer cents.
"""

from printwarden.scripting.model import (
    KeyValueStore,
    ScriptJob,
    ScriptLimits,
    ScriptOutcome,
    ScriptUser,
)
from printwarden.scripting.run import check_script, run_print_hook

__all__ = [
    "KeyValueStore",
    "ScriptJob",
    "ScriptLimits",
    "ScriptOutcome",
    "ScriptUser",
    "check_script",
    "run_print_hook",
]
