"""Run the IPP codec fuzz target for a bounded time with a fixed seed.

Short run (what the test suite does)::

    .venv/bin/python fuzz/run.py --seconds 10

Long run, keeping the corpus it grows and any crash inputs::

    .venv/bin/python fuzz/run.py --seconds 3600 --corpus fuzz/corpus --artifacts fuzz/artifacts

Exits with the fuzzer's status: 0 when nothing was found.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE / "fuzz_ipp_codec.py"
sys.path.insert(0, str(HERE))

from seeds import write_seeds  # noqa: E402


def run(seconds: int, seed: int, corpus: Path, artifacts: Path) -> int:
    """Fuzz for ``seconds`` starting from the seeds in ``corpus``; return the exit status."""
    write_seeds(corpus)
    artifacts.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(TARGET),
        str(corpus),
        f"-seed={seed}",
        f"-max_total_time={seconds}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-max_len=8192",
        f"-artifact_prefix={artifacts}/",
        "-print_final_stats=1",
    ]
    status = subprocess.run(command, check=False).returncode
    for crash in sorted(artifacts.iterdir()):
        print(f"fuzz artifact {crash.name}: {crash.read_bytes().hex()}", file=sys.stderr)
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", type=Path, help="kept corpus directory (default: temporary)")
    parser.add_argument("--artifacts", type=Path, help="crash directory (default: temporary)")
    args = parser.parse_args()
    if importlib.util.find_spec("atheris") is None:
        print("atheris is not installed: run `.venv/bin/pip install atheris`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="printwarden-fuzz-") as scratch:
        corpus = args.corpus or Path(scratch) / "corpus"
        artifacts = args.artifacts or Path(scratch) / "artifacts"
        return run(args.seconds, args.seed, corpus, artifacts)


if __name__ == "__main__":
    sys.exit(main())
