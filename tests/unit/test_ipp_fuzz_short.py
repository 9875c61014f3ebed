"""A short, seeded atheris run of the IPP codec fuzz target (``fuzz/run.py``).

The long run is ``.venv/bin/python fuzz/run.py --seconds 3600 --corpus fuzz/corpus
--artifacts fuzz/artifacts``. atheris must be installed: a missing atheris fails this test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[2] / "fuzz" / "run.py"
SECONDS = 10


def test_fuzz_ipp_codec_briefly() -> None:
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--seconds", str(SECONDS), "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=SECONDS + 60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Done " in output, output[-2000:]
