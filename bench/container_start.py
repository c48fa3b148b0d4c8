"""Container start time: composer's host layer against a minimal baseline, side by side.

For N = 1, 10, 100 busybox ``sleep`` containers with a memory and a pids limit,
measure the time until all N run (each start returns once its command has been
exec'ed), two ways in the same run:

(a) composer: ``CgroupDriver.create`` + ``make_log_fifos`` + ``spawn_container``
    per container (the full setup: overlay, /proc, /dev, /sys, masks, hostname,
    capabilities, seccomp, pivot_root); then the same with ``start_container``
    for all N before waiting for each (``pipelined``: the set-ups overlap);
    with ``--cli``, ``composer up -d`` of a generated project with N services
    instead (and ``composer down`` after);
(b) baseline: one process, no composer: cgroup mkdir + limit writes, then per
    container unshare(CLONE_NEWPID) + fork, and in the child cgroup join,
    unshare of the namespaces composer gives a container (mount, uts, ipc,
    cgroup; and net with ``--cli``, where composer's containers get their own
    network namespace from ``network_mode: none``), overlay mount, chroot,
    exec; the parent waits for the exec through a CLOEXEC pipe, like (a).

Everything is removed after each run.  Each figure is the median of
``--repeat`` rounds (the columns of a round run back to back).  Run as root:
``python bench/container_start.py [--counts 1,10,100] [--repeat 3] [--cli]``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from composer.kernel import syscalls as sc
from composer.kernel.cgroups import CgroupHandle, detect_cgroup_driver
from composer.kernel.logs import make_log_fifos
from composer.kernel.process import PendingContainer, spawn_container, start_container
from composer.model.container import CgroupLimits, ContainerConfig
from tests.support.rootfs import make_busybox_rootfs

MEMORY = 64 << 20
PIDS = 64
_libc = ctypes.CDLL(None, use_errno=True)


# --- (a) composer's host layer ---------------------------------------------------------------------


def run_composer(rootfs: Path, work: Path, count: int, *, pipelined: bool = False) -> float:
    """Start ``count`` containers; ``pipelined`` forks them all before waiting for their exec."""
    driver = detect_cgroup_driver()
    project = "bench" + uuid.uuid4().hex[:8]
    limits = CgroupLimits(memory=MEMORY, pids=PIDS)
    started: list[tuple[int, CgroupHandle]] = []
    pending: list[tuple[PendingContainer, CgroupHandle]] = []
    begin = time.perf_counter()
    try:
        for index in range(count):
            state = work / project / f"c{index}"
            state.mkdir(parents=True)
            handle = driver.create(project, f"c{index}", limits)
            stdout, stderr = make_log_fifos(state)
            cfg = ContainerConfig(
                project=project, service="c", name=f"{project}-c-{index}", number=index,
                argv=("sleep", "300"), rootfs_layers=(str(rootfs),), state_dir=str(state), cgroup=limits,
            )  # fmt: skip
            if pipelined:
                pending.append((start_container(cfg, handle, stdout, stderr), handle))
            else:
                started.append((spawn_container(cfg, handle, stdout, stderr), handle))
        while pending:
            waiting, handle = pending.pop(0)
            started.append((waiting.wait(), handle))
        return time.perf_counter() - begin
    finally:
        for pid, handle in started:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            handle.remove()
        driver.remove_project(project)
        shutil.rmtree(work / project, ignore_errors=True)


# --- (b) the minimal baseline ----------------------------------------------------------------------


def _baseline_cgroups(project: str, index: int) -> list[str]:
    """mkdir + limits in the memory and pids hierarchies; return the procs files."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            own[controller] = path
    files = []
    for controller, knob, value in (("memory", "memory.limit_in_bytes", MEMORY), ("pids", "pids.max", PIDS)):
        folder = Path("/sys/fs/cgroup") / controller / own[controller].lstrip("/") / "composer-baseline"
        folder = folder / project / f"c{index}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / knob).write_text(str(value))
        files.append(str(folder / "cgroup.procs"))
    return files


def _baseline_child(
    procs: list[str], layer: str, upper: str, workdir: str, merged: str, err_w: int, namespaces: int
) -> None:
    try:
        for name in procs:
            with open(name, "w") as handle:
                handle.write("0")
        sc.unshare(namespaces)
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
        sc.mount("overlay", merged, "overlay", 0, f"lowerdir={layer},upperdir={upper},workdir={workdir}")
        os.chroot(merged)
        os.chdir("/")
        os.execv("/bin/sleep", ["sleep", "300"])
    finally:
        os.write(err_w, b"x")
        os._exit(127)


def run_baseline(rootfs: Path, work: Path, count: int, new_netns: bool = False) -> float:
    namespaces = sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWCGROUP
    if new_netns:
        namespaces |= sc.CLONE_NEWNET
    project = "base" + uuid.uuid4().hex[:8]
    own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    pids: list[int] = []
    begin = time.perf_counter()
    try:
        for index in range(count):
            procs = _baseline_cgroups(project, index)
            base = work / project / f"c{index}"
            dirs = [str(base / d) for d in ("upper", "work", "rootfs")]
            for folder in dirs:
                os.makedirs(folder)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            sc.unshare(sc.CLONE_NEWPID)
            pid = os.fork()
            if pid == 0:
                _baseline_child(procs, str(rootfs), dirs[0], dirs[1], dirs[2], err_w, namespaces)
            sc.setns(own_pidns, sc.CLONE_NEWPID)
            os.close(err_w)
            failed = os.read(err_r, 1)
            os.close(err_r)
            pids.append(pid)
            if failed:
                raise RuntimeError("baseline container failed to start")
        return time.perf_counter() - begin
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        _remove_baseline_cgroups(project)
        os.close(own_pidns)
        shutil.rmtree(work / project, ignore_errors=True)


def _remove_baseline_cgroups(project: str) -> None:
    for folder in Path("/sys/fs/cgroup").glob(f"*/**/composer-baseline/{project}"):
        for child in folder.iterdir():
            if child.is_dir():
                _rmdir_retry(child)
        _rmdir_retry(folder)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()  # composer-baseline itself, once no round uses it


def _rmdir_retry(folder: Path) -> None:
    for _ in range(200):
        try:
            folder.rmdir()
            return
        except OSError:
            time.sleep(0.005)


# --- (a') the CLI ----------------------------------------------------------------------------------


def write_project(folder: Path, rootfs: Path, count: int) -> Path:
    lines = ["services:"]
    for index in range(count):
        lines += [
            f"  s{index}:",
            f"    rootfs: {rootfs}",
            '    command: ["sleep", "300"]',
            f"    mem_limit: {MEMORY}",
            f"    pids_limit: {PIDS}",
            "    network_mode: none",
            "    stop_signal: SIGKILL",  # sleep as PID 1 ignores SIGTERM: down need not wait 10 s each
        ]
    path = folder / "compose.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(rootfs: Path, work: Path, count: int) -> float | None:
    folder = Path(tempfile.mkdtemp(prefix=f"cli{count}-", dir=work))
    project = write_project(folder, rootfs, count)
    composer = [sys.executable, "-m", "composer.cli.main"]
    name = ["-p", "bench" + uuid.uuid4().hex[:8], "--root", str(folder / "state")]
    begin = time.perf_counter()
    result = subprocess.run(
        [*composer, *name, "-f", str(project), "up", "-d"], capture_output=True, text=True
    )
    elapsed = time.perf_counter() - begin
    subprocess.run([*composer, *name, "-f", str(project), "down"], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"  composer up -d failed ({result.returncode}): {result.stderr.strip()[:300]}")
        return None
    return elapsed


# --- driver ----------------------------------------------------------------------------------------


def _measure(rootfs: Path, work: Path, count: int, cli: bool) -> tuple[float, float | None, float | None]:
    """One round, interleaved so that a noisy neighbour hits every column alike."""
    run_composer(rootfs, work, 1)  # warm caches (seccomp program, capability sets)
    base = run_baseline(rootfs, work, count, new_netns=cli)
    if cli:
        return base, run_cli(rootfs, work, count), None
    return base, run_composer(rootfs, work, count), run_composer(rootfs, work, count, pipelined=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="1,10,100")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per N; the median is printed")
    parser.add_argument(
        "--cli", action="store_true", help="measure `composer up -d` instead of the host layer"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    with tempfile.TemporaryDirectory(prefix="composer-bench-") as tmp:
        work = Path(tmp)
        rootfs = make_busybox_rootfs(work / "rootfs")
        label = "composer up -d" if args.cli else "spawn_container"
        header = f"{'N':>5} {'baseline ms':>12} {label + ' ms':>20} {'ratio':>7} {'per container ms':>18}"
        print(header + ("" if args.cli else f" {'pipelined ms':>13} {'ratio':>7}"))
        for count in (int(c) for c in args.counts.split(",")):
            rounds = [_measure(rootfs, work, count, args.cli) for _ in range(max(1, args.repeat))]
            base = statistics.median(r[0] for r in rounds)
            ours_all = [r[1] for r in rounds if r[1] is not None]
            if not ours_all:
                continue
            ours = statistics.median(ours_all)
            row = f"{count:>5} {base * 1e3:>12.1f} {ours * 1e3:>20.1f} {ours / base:>7.2f}"
            row += f" {ours * 1e3 / count:>18.2f}"
            piped_all = [r[2] for r in rounds if r[2] is not None]
            if piped_all:
                piped = statistics.median(piped_all)
                row += f" {piped * 1e3:>13.1f} {piped / base:>7.2f}"
            print(row, flush=True)


if __name__ == "__main__":
    main()
