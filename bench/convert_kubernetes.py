"""Time of ``composer convert kubernetes`` on the 20-router ring and the CI stack.

Two figures per project, each the median of RUNS: in-process (load + convert +
render, the conversion's own cost next to the load alone, measured in the same
run as the baseline) and the CLI in a fresh process next to ``composer config
-q`` (the same project loaded and printed by the same CLI).  Usage:
python bench/convert_kubernetes.py [RUNS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from composer.convert.kubernetes import convert, render
from composer.project.loader import load_project

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = {name: ROOT / "examples" / name / "compose.yaml" for name in ("ring20", "ci-stack")}


def median_ms(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def cli(*args: str) -> None:
    command = [sys.executable, "-m", "composer.cli.main", *args]
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(runs: int) -> None:
    for name, path in PROJECTS.items():
        load = median_ms(lambda: load_project([path]), runs)  # noqa: B023

        def whole() -> str:
            project = load_project([path])  # noqa: B023
            return render(convert(project.spec, environment=project.environment).manifests)

        both = median_ms(whole, runs)
        print(f"{name:9} in-process: load {load:7.2f} ms, load+convert+render {both:7.2f} ms "
              f"(ratio {both / load:.2f}x the load alone)")  # fmt: skip
        config = median_ms(lambda: cli("-f", str(path), "config", "-q"), max(3, runs // 4))  # noqa: B023
        kube = median_ms(lambda: cli("-f", str(path), "convert", "kubernetes"), max(3, runs // 4))  # noqa: B023
        print(f"{name:9} CLI: config -q {config:7.1f} ms, convert kubernetes {kube:7.1f} ms "
              f"(ratio {kube / config:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
