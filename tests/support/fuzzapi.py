"""Running schemathesis (its command line, as a subprocess) against a real server: its OpenAPI
document drives generated requests; the checks are no 5xx, answers that match the documented
schemas and content types, and only documented status codes.

The token travels in the environment (the config file names ``${PW_FUZZ_TOKEN}``), never on
a command line. ``PRINTWARDEN_FUZZ_EXAMPLES``, ``PRINTWARDEN_FUZZ_SECONDS`` and
``PRINTWARDEN_FUZZ_SEED`` scale a run (``make fuzz-api`` sets them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "response_schema_conformance",
        "content_type_conformance",
    )
)
CONFIG = 'headers = { Authorization = "Bearer ${PW_FUZZ_TOKEN}" }\n'
# Operations that can end the run's own access (its token revoked, its user deleted, demoted
# or disabled): run after everything else, on the throwaway database.
SELF_DESTRUCTIVE = r"^/api/v1/(tokens/\{|users/\{|auth/logout$)"


@dataclass(frozen=True)
class Scale:
    """How much one run does: examples per operation, phases, an optional time budget."""

    examples: int
    phases: str
    seconds: int | None = None
    seed: int = 20261205

    @classmethod
    def from_env(cls, examples: int, phases: str) -> Scale:
        seconds = os.environ.get("PRINTWARDEN_FUZZ_SECONDS")
        return cls(
            examples=int(os.environ.get("PRINTWARDEN_FUZZ_EXAMPLES", examples)),
            phases=os.environ.get("PRINTWARDEN_FUZZ_PHASES", phases),
            seconds=int(seconds) if seconds else None,
            seed=int(os.environ.get("PRINTWARDEN_FUZZ_SEED", cls.seed)),
        )


def run(
    base_url: str,
    token: str,
    scale: Scale,
    work: Path,
    *,
    destructive: bool = False,
) -> subprocess.CompletedProcess[str]:
    """One schemathesis run over every operation of ``base_url`` (or, with ``destructive``,
    only the ones that can end the caller's own access)."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "schemathesis.toml"
    config.write_text(CONFIG)
    which = "--include-path-regex" if destructive else "--exclude-path-regex"
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file", str(config),
        "run", f"{base_url}/openapi.json",
        "--checks", CHECKS,
        "--phases", scale.phases,
        "--max-examples", str(scale.examples),
        "--seed", str(scale.seed),
        "--workers", "1",
        "--request-timeout", "30",
        which, SELF_DESTRUCTIVE,
        "--report", "junit", "--report-dir", str(work / "report"),
    ]  # fmt: skip
    if scale.seconds:
        command += ["--max-time", str(scale.seconds)]
    env = {**os.environ, "PW_FUZZ_TOKEN": token, "NO_COLOR": "1", "COLUMNS": "120"}
    limit = (scale.seconds or 0) * 2 + 600
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=limit,
                            cwd=work, check=False)  # fmt: skip
    (work / "output.txt").write_text(result.stdout + result.stderr)
    return result


def summary(result: subprocess.CompletedProcess[str], lines: int = 120) -> str:
    """What a failed run printed: its failures and summary, for the assertion message."""
    output = result.stdout + result.stderr
    start = output.find("=== FAILURES ===")
    shown = output[start:] if start >= 0 else output
    return "\n".join(shown.splitlines()[-lines:])
