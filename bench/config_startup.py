"""Wall time of ``composer config -q`` and ``config --format json``, CLI start-up included.

On the 20-router ring and the largest file of ``tests/corpus``.  Runs each
command ~20 times in fresh processes and prints best and median, next to
baselines measured in the same run: ``python -c pass`` (the interpreter
alone), ``python -c "import yaml, pydantic"`` (the libraries the loader cannot
do without) and ``composer --version`` (typer and the verb registration,
without loading a project).  Usage: python bench/config_startup.py [RUNS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RING = ROOT / "examples" / "ring20" / "compose.yaml"
CORPUS = ROOT / "tests" / "corpus" / "valid"
LARGEST = max(
    CORPUS.glob("*/compose.yaml"), key=lambda path: path.stat().st_size
)  # the corpus's largest file
GOAL_MS = 150.0


def timings(command: list[str], runs: int) -> list[float]:
    result = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        result.append((time.perf_counter() - start) * 1000)
    return result


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    python = sys.executable
    cases = {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import yaml, pydantic'": [python, "-c", "import yaml, pydantic"],
        "composer --version (CLI start-up only)": [python, "-m", "composer.cli.main", "--version"],
        "composer config -q (ring20)": [python, "-m", "composer.cli.main", "-f", str(RING), "config", "-q"],
        "composer config --format json (ring20)": [
            python, "-m", "composer.cli.main", "-f", str(RING), "config", "--format", "json",
        ],
        "composer config --format json (corpus)": [
            python, "-m", "composer.cli.main", "-f", str(LARGEST), "config", "--format", "json",
        ],
    }  # fmt: skip
    results = {name: timings(command, runs) for name, command in cases.items()}
    print(f"largest corpus file: {LARGEST.relative_to(ROOT)} ({LARGEST.stat().st_size} bytes)")
    print(f"{'command':42} {'best ms':>9} {'median ms':>10}")
    for name, values in results.items():
        print(f"{name:42} {min(values):9.1f} {statistics.median(values):10.1f}")
    ours = statistics.median(results["composer config -q (ring20)"])
    base = statistics.median(results["python -c 'import yaml, pydantic'"])
    cli = statistics.median(results["composer --version (CLI start-up only)"])
    print(
        f"ratio composer / (yaml+pydantic import): {ours / base:.2f}x; loading the project adds "
        f"{ours - cli:.0f} ms to the CLI start-up; goal {GOAL_MS:.0f} ms: "
        f"{'met' if ours < GOAL_MS else 'not met'} (median {ours:.0f} ms)"
    )


if __name__ == "__main__":
    main()
