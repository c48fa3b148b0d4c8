"""SIGKILL composer at random moments, then check that ``down`` leaves nothing; or run two projects at once.

Default mode, ``--trials N`` (200): each trial brings up ``bench/stress/compose.yaml``
(two networks, one internal; three routed links, one rate-limited; a port on
127.0.0.1; a named volume; a health-gated dependency; ``restart: always``) under
a fresh ``st-`` project name and SIGKILLs, in turn:

- ``up``: the ``composer up -d --wait`` process, at a uniform random moment of
  the time an ``up`` takes (measured once at the start);
- ``down``: a ``composer down`` of the running project, at a random moment of
  the time a ``down`` takes;
- ``supervisor``: the project's supervisor, at a random moment between the
  start of ``up`` and two seconds after its usual end (start-up, health
  checks, restarts).

Then ``composer down`` must exit 0 and the host must hold nothing of the
project: no interface, nftables table, mount (netns bind mounts included),
cgroup, process, state folder, and no process at all left from the trial
(this script is a child subreaper: whatever composer orphans is re-parented
here and counted).  Every tenth trial runs ``composer up -d --wait`` again
after the kill instead and checks that it converges (``ps``: every
container running, ``db`` healthy), then brings it down the same way.

``--concurrent ROUNDS``: two projects of the same file (their own ports and
subnets) are brought up and down at the same time, ROUNDS times; each ``up``
and ``down`` must exit 0, both must converge, and nothing may be left.

Everything happens in a throwaway network and mount namespace (the script
re-executes itself under ``unshare --net --mount --fork``), with the state
root and the rootfs in one temporary folder.  Prints clean/total and every
failure.  Run as root from the repository root:

    python bench/stress_kill.py [--trials 200] [--seed S] [--concurrent ROUNDS] [--keep-going]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.updown import (  # noqa: E402
    cache_bytecode,
    composer_argv,
    composer_cgroup_dirs,
    detach_mounts,
    kill_cgroup_tree,
    process_start_time,
)
from tests.support.lab import _mounts_under as lab_mounts_under  # noqa: E402
from tests.support.lab import _processes_under as lab_processes_under  # noqa: E402
from tests.support.rootfs import make_busybox_rootfs  # noqa: E402

_INSIDE = "COMPOSER_STRESS_SANDBOX"
PROJECT_FILE = ROOT / "bench" / "stress" / "compose.yaml"
SERVICES = ("db", "web", "r1", "r2", "r3")
COMMAND_TIMEOUT = 90.0
PR_SET_CHILD_SUBREAPER = 36
KINDS = ("up", "down", "supervisor")


# --- the sandbox and the process bookkeeping -------------------------------------------------------


def reexec_in_sandbox() -> None:
    env = dict(os.environ, **{_INSIDE: "1"})
    argv = ["unshare", "--net", "--mount", "--propagation", "private", "--fork", sys.executable, *sys.argv]
    child = subprocess.Popen(argv, env=env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(child.wait())


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def children() -> set[int]:
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


def cgroups_named(project: str) -> list[str]:
    """Every ``composer/<project>`` cgroup in any hierarchy (os.walk skips folders that vanish meanwhile)."""
    found = []
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        for folder, subfolders, _ in os.walk(hierarchy):
            if folder.endswith(f"/composer/{project}"):
                found.append(folder)
                subfolders.clear()
    return found


def process_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


class Reaper:
    """Reaps the orphans composer leaves re-parented to this process (never a Popen child of ours)."""

    def __init__(self) -> None:
        self.ours: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Reaper:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.reap()

    def reap(self) -> None:
        for pid in children() - self.ours:
            if process_state(pid) == "Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    def strays(self) -> list[str]:
        """Live processes re-parented here (supervisors, containers, set-up children, helpers)."""
        found = []
        for pid in sorted(children() - self.ours):
            state = process_state(pid)
            if state is None or state == "Z":
                continue
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"process {pid} ({cmd.strip()[:80]})")
        return found


# --- one project ------------------------------------------------------------------------------------


@dataclass
class Project:
    name: str
    state: Path
    env: dict[str, str]
    reaper: Reaper
    file: Path = PROJECT_FILE

    @property
    def folder(self) -> Path:
        return self.state / "projects" / self.name

    def argv(self, *args: str) -> list[str]:
        return [*composer_argv(), "-p", self.name, "-f", str(self.file), *args]

    def popen(self, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            self.argv(*args),
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.reaper.ours.add(proc.pid)
        return proc

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = self.popen(*args)
        try:
            out, err = proc.communicate(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += f"\n(timed out after {COMMAND_TIMEOUT:.0f} s)"
        finally:
            self.reaper.ours.discard(proc.pid)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def kill_at(self, proc: subprocess.Popen[str], delay: float) -> bool:
        """SIGKILL ``proc`` after ``delay`` s; False when it had already exited."""
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            self.reaper.ours.discard(proc.pid)
            return True
        proc.communicate()
        self.reaper.ours.discard(proc.pid)
        return False

    def supervisor_pid(self) -> int | None:
        try:
            fields = (self.folder / "supervisor.pid").read_text().split()
            pid = int(fields[0])
        except (OSError, ValueError, IndexError):
            return None
        started = process_start_time(pid)
        if started is None or (len(fields) > 1 and fields[1] != started):
            return None
        return pid

    def converged(self) -> str | None:
        """None when every service runs (db healthy), else what is wrong."""
        result = self.run("ps", "-a", "--format", "json")
        if result.returncode != 0:
            return tail("ps", result)
        rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        states = {str(row.get("Service")): (row.get("State"), row.get("Health")) for row in rows}
        wrong = [f"{s}={states.get(s)}" for s in SERVICES if (states.get(s) or ("",))[0] != "running"]
        if states.get("db", (None, None))[1] != "healthy":
            wrong.append(f"db health={states.get('db')}")
        return None if not wrong else "not converged: " + ", ".join(wrong)

    def leftovers(self) -> list[str]:
        """lab.project_leftovers' checks, with a cgroup walk that survives other users' cgroups vanishing."""
        from composer.kernel.net import netlink, nft

        found = [f"interface {link.name}" for link in netlink.list_owned_links(self.name)]
        if nft.table_text(self.name) is not None:
            found.append("nftables table")
        found += [f"mount {m}" for m in lab_mounts_under(self.folder)]
        found += [f"cgroup {c}" for c in cgroups_named(self.name)]
        found += [f"process {p}" for p in lab_processes_under(self.folder)]
        if self.folder.exists():
            found.append(f"state folder {self.folder}")
        return found + self.reaper.strays()

    def sweep(self) -> None:
        """After a failed trial: remove by hand whatever is left, so that the next trial starts clean."""
        pid = self.supervisor_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for folder in composer_cgroup_dirs(self.name):
            kill_cgroup_tree(folder)
        for stray in children() - self.reaper.ours:
            with contextlib.suppress(ProcessLookupError):
                os.kill(stray, signal.SIGKILL)
        from composer.kernel.net import netlink

        for link in netlink.list_owned_links(self.name):
            subprocess.run(["ip", "link", "del", link.name], check=False, capture_output=True)
        subprocess.run(
            ["nft", "delete", "table", "inet", f"composer_{self.name}"], check=False, capture_output=True
        )
        detach_mounts(self.folder)
        shutil.rmtree(self.folder, ignore_errors=True)


def tail(what: str, result: subprocess.CompletedProcess[str]) -> str:
    text = (result.stderr.strip() or result.stdout.strip())[-600:]
    return f"{what} exited {result.returncode}: {text}"


# --- the trials -------------------------------------------------------------------------------------


@dataclass
class Trial:
    number: int
    kind: str
    converge: bool
    delay: float = 0.0
    killed: bool = False
    failures: list[str] = field(default_factory=list)

    def describe(self) -> str:
        then = "up again" if self.converge else "down"
        hit = "killed" if self.killed else "had exited before the kill"
        return f"trial {self.number} ({self.kind} at {self.delay:.2f} s, {hit}, then {then})"


@dataclass
class Timings:
    up: float
    down: float


class Runner:
    def __init__(self, work: Path, rootfs: Path, reaper: Reaper, rng: random.Random) -> None:
        self.work = work
        self.reaper = reaper
        self.rng = rng
        self.env = dict(os.environ, COMPOSER_ROOT=str(work / "state"), STRESS_ROOTFS=str(rootfs))

    def project(self, file: Path = PROJECT_FILE) -> Project:
        name = f"st-{uuid.uuid4().hex[:6]}"
        return Project(name, self.work / "state", self.env, self.reaper, file)

    def sweep_all(self) -> None:
        """Interrupted or broken: remove whatever any project of the run still holds."""
        projects = self.work / "state" / "projects"
        for folder in sorted(projects.iterdir()) if projects.is_dir() else []:
            Project(folder.name, self.work / "state", self.env, self.reaper).sweep()

    def calibrate(self) -> Timings:
        project = self.project()
        begin = time.perf_counter()
        result = project.run("up", "-d", "--wait", "--progress", "quiet")
        up = time.perf_counter() - begin
        if result.returncode != 0:
            project.sweep()
            sys.exit(tail("calibration up", result))
        begin = time.perf_counter()
        result = project.run("down", "-v", "--progress", "quiet")
        down = time.perf_counter() - begin
        left = project.leftovers()
        if result.returncode != 0 or left:
            project.sweep()
            sys.exit(f"calibration down: {tail('down', result)}; left {left}")
        return Timings(up, down)

    def trial(self, number: int, timings: Timings) -> Trial:
        kind = KINDS[number % len(KINDS)]
        trial = Trial(number, kind, converge=(number + 1) % 10 == 0)
        project = self.project()
        try:
            self._check(trial, project, timings)
        except (OSError, subprocess.SubprocessError, ValueError) as error:
            where = traceback.extract_tb(error.__traceback__)[-1]
            trial.failures.append(f"the trial broke: {error!r} at {where.filename}:{where.lineno}")
        finally:
            if trial.failures:
                project.sweep()
        return trial

    def _check(self, trial: Trial, project: Project, timings: Timings) -> None:
        self._kill(trial, project, timings)
        if trial.converge:
            result = project.run("up", "-d", "--wait", "--progress", "quiet")
            if result.returncode != 0:
                trial.failures.append(tail("up after the kill", result))
            else:
                problem = project.converged()
                if problem:
                    trial.failures.append(problem)
        result = project.run("down", "-v", "-t", "1", "--progress", "quiet")
        if result.returncode != 0:
            trial.failures.append(tail("down after the kill", result))
        left = project.leftovers()
        if left:
            trial.failures.append("left behind: " + ", ".join(left))

    def _kill(self, trial: Trial, project: Project, timings: Timings) -> None:
        up = ("up", "-d", "--wait", "--progress", "quiet")
        if trial.kind == "up":
            trial.delay = self.rng.uniform(0, timings.up * 1.1)
            trial.killed = project.kill_at(project.popen(*up), trial.delay)
        elif trial.kind == "down":
            result = project.run(*up)
            if result.returncode != 0:
                trial.failures.append(tail("up before the kill", result))
            trial.delay = self.rng.uniform(0, timings.down * 1.1)
            trial.killed = project.kill_at(
                project.popen("down", "-t", "1", "--progress", "quiet"), trial.delay
            )
        else:
            trial.delay = self.rng.uniform(0, timings.up + 2.0)
            proc = project.popen(*up)
            trial.killed = self._kill_supervisor(project, proc, trial.delay)
            try:
                proc.communicate(timeout=COMMAND_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                trial.failures.append(
                    f"up did not end within {COMMAND_TIMEOUT:.0f} s of the supervisor's kill"
                )
            finally:
                self.reaper.ours.discard(proc.pid)

    def _kill_supervisor(self, project: Project, proc: subprocess.Popen[str], delay: float) -> bool:
        deadline = time.monotonic() + delay
        while True:
            pid = project.supervisor_pid()
            if time.monotonic() >= deadline and pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    return True
            if time.monotonic() >= deadline and proc.poll() is not None:
                return False  # up ended and no supervisor is there to kill
            time.sleep(0.005)


def run_kill_trials(runner: Runner, args: argparse.Namespace) -> int:
    timings = runner.calibrate()
    print(f"calibration: up -d --wait {timings.up:.2f} s, down {timings.down:.2f} s", flush=True)
    failed: list[Trial] = []
    by_kind: dict[str, list[int]] = {kind: [0, 0] for kind in KINDS}
    killed: dict[str, int] = dict.fromkeys(KINDS, 0)
    begin = time.perf_counter()
    for number in range(args.trials):
        trial = runner.trial(number, timings)
        by_kind[trial.kind][1] += 1
        killed[trial.kind] += trial.killed
        if trial.failures:
            failed.append(trial)
            print(f"FAIL {trial.describe()}:", flush=True)
            for failure in trial.failures:
                print(f"     {failure}", flush=True)
            if not args.keep_going and len(failed) >= args.max_failures:
                print(f"stopping after {len(failed)} failures")
                break
        else:
            by_kind[trial.kind][0] += 1
        if (number + 1) % 20 == 0:
            print(
                f"  {number + 1} trials, {len(failed)} failed, {time.perf_counter() - begin:.0f} s",
                flush=True,
            )
    total = sum(t for _, t in by_kind.values())
    clean = total - len(failed)
    print(f"clean {clean}/{total} (seed {args.seed}); " + ", ".join(
        f"kill {kind}: {c}/{t} ({killed[kind]} killed while running)" for kind, (c, t) in by_kind.items()
    ))  # fmt: skip
    for trial in failed:
        print(f"  {trial.describe()}: {'; '.join(trial.failures)[:400]}")
    return 0 if not failed else 1


# --- two projects at once -----------------------------------------------------------------------------


def second_file(work: Path) -> Path:
    """The stress file with its own port and internal subnet: the two projects must not collide."""
    text = PROJECT_FILE.read_text()
    path = work / "stress-b.yaml"
    path.write_text(text.replace("18090:8080", "18091:8080").replace("172.30.190.0/24", "172.30.191.0/24"))
    return path


def run_concurrent(runner: Runner, args: argparse.Namespace) -> int:
    other = second_file(runner.work)
    failures: list[int] = []
    for number in range(args.concurrent):
        pair = [runner.project(PROJECT_FILE), runner.project(other)]
        problems: list[str] = []
        for verb in (("up", "-d", "--wait", "--progress", "quiet"), ("down", "-v", "--progress", "quiet")):
            procs = [project.popen(*verb) for project in pair]
            for project, proc in zip(pair, procs, strict=True):
                _, err = proc.communicate(timeout=COMMAND_TIMEOUT)
                runner.reaper.ours.discard(proc.pid)
                if proc.returncode != 0:
                    problems.append(
                        f"{project.name} {verb[0]} exited {proc.returncode}: {err.strip()[-400:]}"
                    )
            if verb[0] == "up":
                problems += [f"{p.name}: {problem}" for p in pair if (problem := p.converged())]
        for project in pair:
            left = project.leftovers()
            if left:
                problems.append(f"{project.name} left " + ", ".join(left))
        if problems:
            for project in pair:
                project.sweep()
            failures.append(number)
            print(f"FAIL round {number}:\n     " + "\n     ".join(problems), flush=True)
    clean = args.concurrent - len(failures)
    print(f"concurrent: clean {clean}/{args.concurrent} rounds of two projects up and down at once")
    return 0 if not failures else 1


# --- driver -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix="composer-stress-"))
    try:
        yield work
    finally:
        detach_mounts(work)
        shutil.rmtree(work, ignore_errors=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--concurrent", type=int, default=0, metavar="ROUNDS", help="two projects at once instead"
    )
    parser.add_argument("--keep-going", action="store_true", help="never stop early on failures")
    parser.add_argument("--max-failures", type=int, default=10)
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 30)
    return args


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through the sweep


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupted)
    if os.geteuid() != 0:
        sys.exit("needs root")
    if os.environ.get(_INSIDE) != "1":
        reexec_in_sandbox()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    become_subreaper()
    with workspace() as work, Reaper() as reaper:
        cache_bytecode(work)
        rootfs = make_busybox_rootfs(work / "rootfs")
        runner = Runner(work, rootfs, reaper, random.Random(args.seed))
        try:
            status = run_concurrent(runner, args) if args.concurrent else run_kill_trials(runner, args)
        finally:
            runner.sweep_all()
    sys.exit(status)


if __name__ == "__main__":
    main()
