"""CLI start-up: each verb's median wall and CPU time against bare interpreters, measured in the same run.

Cases, each run in a fresh process with a bytecode cache (as an installed
composer runs; the cache goes to a temporary folder):

- ``python -c pass`` and ``python -c 'import yaml, pydantic'``: the baselines;
- ``composer --version``: typer and the global options;
- ``composer config -q`` on ``examples/ring20`` (goal 150 ms);
- as root, on a running one-service project (made in a throwaway network and
  mount namespace): ``composer ps`` (goal 120 ms) and ``composer exec -T box
  true`` (goal 150 ms).

Rounds are interleaved (each round runs every case once, in a shuffled order)
so that the load of a shared machine falls on all cases alike; the spread
(median absolute deviation) is printed as the noise.  CPU time is the child's
user + system time (``wait4``): it moves less than wall time when other work
competes for the cores.  ``--other PATH`` also times the composer verbs with
the source tree at PATH first on ``PYTHONPATH`` (e.g. an exported older commit),
interleaved with this tree: a before/after comparison under the same load.

    python bench/startup.py [--rounds 21] [--other PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.updown import cache_bytecode, detach_mounts  # noqa: E402
from tests.support.rootfs import make_busybox_rootfs  # noqa: E402

_INSIDE = "COMPOSER_BENCH_STARTUP_SANDBOX"
RING = ROOT / "examples" / "ring20" / "compose.yaml"
PROJECT = "st-startup"
GOALS_MS = {"config -q (ring20)": 150.0, "ps": 120.0, "exec -T box true": 150.0}


@dataclass
class Case:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def run_once(self) -> None:
        begin = time.perf_counter()
        proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        self.wall.append((time.perf_counter() - begin) * 1000)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(self.argv)} exited {proc.returncode}")
        self.cpu.append((usage.ru_utime + usage.ru_stime) * 1000)


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> float:
    middle = median(values)
    return statistics.median(abs(v - middle) for v in values)


def composer_cases(label: str, env: dict[str, str], cwd: Path, with_project: bool) -> list[Case]:
    """The verbs, run from ``cwd`` (not the repository: ``-m`` would put its tree first on the path)."""
    cli = [sys.executable, "-m", "composer.cli.main"]
    cases = [
        Case(f"{label}--version", [*cli, "--version"], env, cwd),
        Case(f"{label}config -q (ring20)", [*cli, "-f", str(RING), "config", "-q"], env, cwd),
    ]
    if with_project:
        cases += [
            Case(f"{label}ps", [*cli, "-p", PROJECT, "ps"], env, cwd),
            Case(f"{label}exec -T box true", [*cli, "-p", PROJECT, "exec", "-T", "box", "true"], env, cwd),
        ]
    return cases


@contextlib.contextmanager
def running_project(work: Path, env: dict[str, str]) -> Iterator[None]:
    rootfs = make_busybox_rootfs(work / "rootfs")
    compose = work / "compose.yaml"
    compose.write_text(f"services:\n  box:\n    rootfs: {rootfs}\n    command: [sleep, infinity]\n")
    cli = [sys.executable, "-m", "composer.cli.main", "-p", PROJECT, "-f", str(compose)]
    subprocess.run([*cli, "up", "-d", "--progress", "quiet"], env=env, cwd=ROOT, check=True)
    try:
        yield
    finally:
        subprocess.run([*cli, "down", "-t", "0", "--progress", "quiet"], env=env, cwd=ROOT, check=False)


def measure(args: argparse.Namespace, work: Path) -> None:
    cache_bytecode(work)
    env = dict(os.environ, COMPOSER_ROOT=str(work / "state"))
    with_project = os.geteuid() == 0
    cases = [
        Case("python -c pass", [sys.executable, "-c", "pass"], env, work),
        Case("python -c 'import yaml, pydantic'", [sys.executable, "-c", "import yaml, pydantic"], env, work),
        *composer_cases("", env, work, with_project),
    ]
    if args.other:
        other_env = dict(env, PYTHONPATH=str(Path(args.other).resolve()))
        cases += composer_cases("other: ", other_env, work, with_project)
    with running_project(work, env) if with_project else contextlib.nullcontext():
        for case in cases:  # one untimed run each: page cache and bytecode
            case.run_once()
            case.wall.clear()
            case.cpu.clear()
        rng = random.Random(0)
        for _ in range(args.rounds):
            for case in rng.sample(cases, len(cases)):
                case.run_once()
    report(cases, args.rounds, with_project)


def report(cases: list[Case], rounds: int, with_project: bool) -> None:
    bare = median(cases[0].wall)
    libs = median(cases[1].wall)
    print(f"{rounds} interleaved rounds; ms (median ± median absolute deviation)")
    print(f"{'command':40} {'wall':>14} {'cpu':>14} {'-pass':>7} {'/libs':>6} {'goal':>9}")
    for case in cases:
        wall = median(case.wall)
        goal = GOALS_MS.get(case.name.removeprefix("other: "))
        verdict = "" if goal is None else f"{goal:.0f} {'met' if wall < goal else 'NOT'}"
        cpu = median(case.cpu)
        print(
            f"{case.name:40} {wall:7.1f} ±{spread(case.wall):5.1f} {cpu:7.1f} ±{spread(case.cpu):5.1f}"
            f" {wall - bare:7.1f} {wall / libs:5.2f}x {verdict:>9}"
        )
    if not with_project:
        print("ps and exec skipped: they need root (a running project)")


def reexec_in_sandbox() -> None:
    env = dict(os.environ, **{_INSIDE: "1"})
    argv = ["unshare", "--net", "--mount", "--propagation", "private", "--fork", sys.executable, *sys.argv]
    child = subprocess.Popen(argv, env=env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(child.wait())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--other", help="another composer source tree to time interleaved with this one")
    args = parser.parse_args()
    if os.geteuid() == 0 and os.environ.get(_INSIDE) != "1":
        reexec_in_sandbox()
    if os.geteuid() == 0:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    work = Path(tempfile.mkdtemp(prefix="composer-bench-startup-"))
    try:
        measure(args, work)
    finally:
        detach_mounts(work)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
