"""``composer up -d`` / ``down`` of N containers against a one-process baseline and podman-compose.

For each N of ``--sizes`` (default 1,10,50,100), in the same run:

(a) composer: a generated project of N busybox services (a local rootfs, a
    shell that traps SIGTERM around ``sleep``, ``mem_limit``, ``pids_limit``,
    all on one network ``lan``); the wall time of ``composer up -d`` from the
    command's start until it returns (the containers then run: checked after
    with ``composer ps``), of a second ``up -d`` that must do nothing, the
    supervisor's resident memory (VmRSS of the pid in ``supervisor.pid``), and
    the wall time of ``composer down``;
    Then, twice more, N services whose PID 1 is ``sleep`` (it ignores SIGTERM):
    ``up -d`` and ``down -t 1`` (one grace period to wait out, then SIGKILL),
    ``up -d`` and ``down -t 0``; composer's up figure is the median of the
    three ups;
(b) baseline: ``bench/baseline_updown.py``, one Python process doing the same
    syscalls with no composer code (bridge, netns + veth + address, v1 memory
    and pids cgroups with limits, overlay with a writable upper, a child in new
    pid/mount/uts/ipc namespaces that pivots into it and execs ``sleep``; then
    kill, reap, unmount, remove).  Its up is timed from the process's start
    until it reports every container running, its down from the request until
    the process has exited: the same interpreter start-up a CLI pays;
(c) with ``--podman``, where podman and podman-compose work: the same project
    through ``podman-compose up -d`` / ``down`` (runc, a busybox image imported
    from the same rootfs, explicit ``nofile``/``nproc`` ulimits, storage and
    configuration in the run's temporary folder).  Missing or broken: say why
    and skip.

Python processes run with a bytecode cache in the temporary folder (as an
installed composer would; ``--no-bytecode-cache`` leaves the environment as it is),
and one untimed N=1 round of (a) and (b) warms the caches before the table; the
median of three more N=1 rounds is the reference of the per-container cost,
(up(N) - up(1)) / (N - 1), printed for composer and the baseline.  ``down -t 1`` is compared with
the baseline's down plus one second, ``down -t 0`` with the baseline's down.
Sizes up to 1000 work (one bridge takes 1024 ports; the network is a /16).
The whole run happens in a throwaway network and mount namespace (the script
re-executes itself under ``unshare --net --mount --fork``) with composer's state
root, the rootfs and podman's storage in one temporary folder.  Whatever
fails, each run is brought down and then swept: processes of the run killed by
PID (the supervisor from its pid file, containers from their cgroups), cgroups
removed, mounts under the temporary folder detached.  Run as root:

    python bench/updown.py [--sizes 1,10,50,100,500,1000] [--podman] [--podman-compose PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.rootfs import make_busybox_rootfs  # noqa: E402

_INSIDE = "COMPOSER_BENCH_UPDOWN_SANDBOX"
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
# PID 1 of its namespace, ``sleep`` ignores SIGTERM: ``down -t T`` then pays the grace period T.
STUBBORN = ["sleep", "3600"]
DOWN_TIMEOUTS = ("1", "0")
MEM_LIMIT = "64m"
PIDS_LIMIT = 64
IMAGE = "localhost/composer-bench-busybox:latest"
# podman's default rlimits exceed this machine's hard limits (no CAP_SYS_RESOURCE): give lower ones.
ULIMIT = 1024
PODMAN_CGROUP = "libpod_parent"
PODMAN_HOST_FOLDERS = (Path("/var/lib/containers/cache"), Path("/var/lib/containers"))
PODMAN_COMPOSE_GUESSES = ("/tmp/podman-compose-venv/bin/podman-compose",)

GOAL_UP_RATIO = 1.5
GOAL_PODMAN_SPEEDUP = 10.0
GOAL_DOWN_RATIO = 2.0
GOAL_DOWN_T1_RATIO = 1.3  # against the floor's down plus one grace period
GOAL_DOWN_T0_RATIO = 2.0
GOAL_PER_CONTAINER_GROWTH = 1.25  # per-container up cost at the largest N against N=100
NOOP_RUNS = 3
GOAL_NOOP_S = 0.3
GOAL_RSS_MIB = 40.0


# --- the sandbox -----------------------------------------------------------------------------------


def reexec_in_sandbox() -> None:
    """Run this script again in a new network and mount namespace; exit with its status."""
    env = dict(os.environ, **{_INSIDE: "1"})
    argv = ["unshare", "--net", "--mount", "--propagation", "private", "--fork", sys.executable, *sys.argv]
    child = subprocess.Popen(argv, env=env)
    # Ctrl-C reaches the whole process group: the run inside cleans up, this one just waits for it
    # (ignored only now: an ignored signal would stay ignored in the child across exec).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(child.wait())


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through every cleanup block


def mounts_under(folder: Path) -> list[str]:
    """Mount points at or below ``folder``, deepest (latest) first."""
    prefix = str(folder)
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return found[::-1]


def detach_mounts(folder: Path) -> None:
    for point in mounts_under(folder):
        subprocess.run(["umount", "-l", point], check=False, stderr=subprocess.DEVNULL)


def own_cgroups() -> dict[str, str]:
    result = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            result[controller or "unified"] = path
    return result


def composer_cgroup_dirs(project: str) -> list[Path]:
    """Where composer puts the project's cgroups: ``composer/<project>`` beneath our own, per hierarchy."""
    own = own_cgroups()
    folders = []
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        path = own.get(hierarchy.name, own.get(f"name={hierarchy.name}", "/"))
        folder = hierarchy / path.lstrip("/") / "composer" / project
        if folder.is_dir():
            folders.append(folder)
    return folders


def kill_cgroup_tree(folder: Path) -> None:
    """SIGKILL every process listed in ``folder``'s cgroups, then remove the folders bottom-up."""
    for procs in folder.rglob("cgroup.procs"):
        for pid in procs.read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    subfolders = sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
    for sub in [*subfolders, folder]:
        for _ in range(200):
            try:
                sub.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)


def process_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


# --- (a) composer ----------------------------------------------------------------------------------


@dataclass
class ComposerRun:
    up: float | None = None
    noop: float | None = None
    rss_mib: float | None = None
    down: float | None = None
    errors: list[str] = field(default_factory=list)
    downs: dict[str, float | None] = field(default_factory=dict)  # ``down -t T`` of STUBBORN containers
    ups: list[float] = field(default_factory=list)  # every up of this N (the STUBBORN ones too)


def composer_argv() -> list[str]:
    script = Path(sys.executable).parent / "composer"
    return [str(script)] if script.exists() else [sys.executable, "-m", "composer.cli.main"]


def write_composer_project(path: Path, rootfs: Path, count: int, command: list[str] = COMMAND) -> None:
    lines = ["networks:", "  lan: {}", "services:"]
    for index in range(count):
        lines += [
            f"  s{index}:",
            f"    rootfs: {rootfs}",
            f"    command: {json.dumps(command)}",
            f"    mem_limit: {MEM_LIMIT}",
            f"    pids_limit: {PIDS_LIMIT}",
            "    networks: [lan]",
        ]
    path.write_text("\n".join(lines) + "\n")


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    begin = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    return time.perf_counter() - begin, result


def failure(what: str, result: subprocess.CompletedProcess[str]) -> str:
    tail = (result.stderr.strip() or result.stdout.strip())[-400:]
    return f"{what} exited {result.returncode}: {tail}"


def running_containers(cli: list[str], env: dict[str, str]) -> int:
    result = subprocess.run(
        [*cli, "ps", "--format", "json"], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return -1
    text = result.stdout.strip()
    rows = (
        json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]
    )
    return sum(1 for row in rows if str(row.get("State", "")).lower() == "running")


def supervisor_rss_mib(project_dir: Path) -> float | None:
    try:
        pid = int((project_dir / "supervisor.pid").read_text().split()[0])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def run_composer(work: Path, rootfs: Path, count: int) -> ComposerRun:
    run = ComposerRun()
    project = f"bud{count}x{uuid.uuid4().hex[:6]}"
    state_root = work / "state"
    env = dict(os.environ, COMPOSER_ROOT=str(state_root))
    compose_file = work / f"{project}.yaml"
    write_composer_project(compose_file, rootfs, count)
    cli = [*composer_argv(), "-p", project, "-f", str(compose_file)]
    downed = False
    try:
        elapsed, result = timed([*cli, "up", "-d", "--progress", "plain"], env)
        if result.returncode != 0:
            run.errors.append(failure("composer up -d", result))
            return run
        run.up = elapsed
        run.ups.append(elapsed)
        running = running_containers(cli, env)
        if running != count:
            run.errors.append(f"after up -d, composer ps shows {running} running containers, not {count}")
        # A no-op can be repeated without side effects: its figure is the best of NOOP_RUNS.
        for _ in range(NOOP_RUNS):
            elapsed, result = timed([*cli, "up", "-d", "--progress", "plain"], env)
            if result.returncode != 0:
                run.errors.append(failure("no-op composer up -d", result))
                break
            run.noop = elapsed if run.noop is None else min(run.noop, elapsed)
            if "nothing to do" not in (result.stdout + result.stderr):
                run.errors.append(f"the second up -d did something: {result.stdout.strip()[-300:]}")
                break
        run.rss_mib = supervisor_rss_mib(state_root / "projects" / project)
        elapsed, result = timed([*cli, "down", "--progress", "plain"], env)
        downed = result.returncode == 0
        if downed:
            run.down = elapsed
        else:
            run.errors.append(failure("composer down", result))
        return run
    finally:
        sweep_composer(cli, env, state_root / "projects" / project, project, downed, run.errors)


def run_composer_down(work: Path, rootfs: Path, count: int, timeout: str, run: ComposerRun) -> None:
    """``up -d`` of N containers that ignore SIGTERM, then ``down -t timeout``: into ``run``."""
    project = f"bud{count}t{timeout}x{uuid.uuid4().hex[:6]}"
    state_root = work / "state"
    env = dict(os.environ, COMPOSER_ROOT=str(state_root))
    compose_file = work / f"{project}.yaml"
    write_composer_project(compose_file, rootfs, count, STUBBORN)
    cli = [*composer_argv(), "-p", project, "-f", str(compose_file)]
    downed = False
    try:
        elapsed, result = timed([*cli, "up", "-d", "--progress", "plain"], env)
        if result.returncode != 0:
            run.errors.append(failure(f"composer up -d (for down -t {timeout})", result))
            return
        run.ups.append(elapsed)
        elapsed, result = timed([*cli, "down", "-t", timeout, "--progress", "plain"], env)
        downed = result.returncode == 0
        run.downs[timeout] = elapsed if downed else None
        if not downed:
            run.errors.append(failure(f"composer down -t {timeout}", result))
    finally:
        sweep_composer(cli, env, state_root / "projects" / project, project, downed, run.errors)


def sweep_composer(
    cli: list[str], env: dict[str, str], project_dir: Path, project: str, downed: bool, errors: list[str]
) -> None:
    """Bring the project down if it is not, then kill and remove whatever of it is left."""
    if not downed:
        subprocess.run([*cli, "down", "--progress", "quiet"], env=env, capture_output=True, check=False)
    leftovers = []
    pid_file = project_dir / "supervisor.pid"
    if pid_file.exists():
        fields = pid_file.read_text().split()
        pid = int(fields[0])
        # The start time guards against killing a recycled pid.
        if process_start_time(pid) is not None and (len(fields) < 2 or process_start_time(pid) == fields[1]):
            os.kill(pid, signal.SIGKILL)
            leftovers.append(f"supervisor {pid}")
    for folder in composer_cgroup_dirs(project):
        leftovers.append(f"cgroup {folder}")
        kill_cgroup_tree(folder)
    if project_dir.exists():
        mounted = mounts_under(project_dir)
        leftovers += [f"mount {point}" for point in mounted]
        detach_mounts(project_dir)
        if downed:
            leftovers.append(f"state {project_dir}")
        shutil.rmtree(project_dir, ignore_errors=True)
    if downed and leftovers:
        errors.append("composer down left: " + ", ".join(leftovers))


# --- (b) the baseline ------------------------------------------------------------------------------


@dataclass
class BaselineRun:
    up: float | None = None
    down: float | None = None
    up_work: float | None = None
    down_work: float | None = None
    errors: list[str] = field(default_factory=list)


def run_baseline(work: Path, rootfs: Path, count: int) -> BaselineRun:
    run = BaselineRun()
    folder = work / "baseline"
    folder.mkdir(exist_ok=True)
    argv = [sys.executable, str(ROOT / "bench" / "baseline_updown.py"), str(rootfs), str(folder), str(count)]
    stderr_path = work / "baseline.stderr"
    with open(stderr_path, "w") as stderr:
        begin = time.perf_counter()
        child = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    assert child.stdin is not None and child.stdout is not None
    try:
        line = child.stdout.readline().split()
        if line[:1] != ["up"]:
            raise RuntimeError("the baseline failed during up")
        run.up, run.up_work = time.perf_counter() - begin, float(line[1])
        begin = time.perf_counter()
        child.stdin.write("down\n")
        child.stdin.flush()
        line = child.stdout.readline().split()
        child.wait(timeout=120)
        if line[:1] != ["down"] or child.returncode != 0:
            raise RuntimeError("the baseline failed during down")
        run.down, run.down_work = time.perf_counter() - begin, float(line[1])
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        finish_baseline(child)
        run.errors.append(f"{exc}: {stderr_path.read_text().strip()[-400:]}")
    finally:
        finish_baseline(child)
        sweep_baseline(folder)
    return run


def finish_baseline(child: subprocess.Popen[str]) -> None:
    """Let the baseline bring itself down (end of file on its stdin, then its own cleanup); wait for it."""
    if child.stdin and not child.stdin.closed:
        with contextlib.suppress(BrokenPipeError):
            child.stdin.close()
    try:
        child.wait(timeout=120)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    if child.stdout:
        child.stdout.close()


def sweep_baseline(folder: Path) -> None:
    """After a crashed baseline: its cgroups (named ``bbase*`` beneath ours) and mounts."""
    own = own_cgroups()
    for controller in ("memory", "pids"):
        base = Path("/sys/fs/cgroup") / controller / own.get(controller, "/").lstrip("/")
        for cgroup in base.glob("bbase*"):
            kill_cgroup_tree(cgroup)
    detach_mounts(folder)
    shutil.rmtree(folder, ignore_errors=True)


# --- (c) podman-compose ----------------------------------------------------------------------------


@dataclass
class PodmanRun:
    up: float | None = None
    down: float | None = None
    errors: list[str] = field(default_factory=list)


class Podman:
    """podman and podman-compose with storage, configuration and runtime state in ``folder``."""

    def __init__(self, folder: Path, compose: str) -> None:
        self.folder = folder
        self.compose = compose
        folder.mkdir()
        (folder / "networks").mkdir()
        storage = folder / "storage.conf"
        storage.write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{folder / "root"}"\nrunroot = "{folder / "run"}"\n'
        )
        conf = folder / "containers.conf"
        conf.write_text(
            "[containers]\n"
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{folder / "events.log"}"\n'
            f'tmp_dir = "{folder / "tmp"}"\n'
            "[network]\n"
            'network_backend = "netavark"\n'
            f'network_config_dir = "{folder / "networks"}"\n'
        )
        self.env = dict(os.environ, CONTAINERS_STORAGE_CONF=str(storage), CONTAINERS_CONF=str(conf))
        # podman (cgroupfs manager) puts containers and conmon in libpod_parent at each hierarchy's
        # root: remove it afterwards, unless it was there before this run.
        self.new_cgroups = [p for p in Path("/sys/fs/cgroup").glob("*") if not (p / PODMAN_CGROUP).exists()]
        # podman keeps a blob-info cache there whatever the storage root: remove it if this run made it.
        self.new_folders = [p for p in PODMAN_HOST_FOLDERS if not p.exists()]

    def podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["podman", *args], env=self.env, capture_output=True, text=True, check=False)

    def import_rootfs(self, rootfs: Path) -> str | None:
        tarball = self.folder / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        result = self.podman("import", str(tarball), IMAGE)
        tarball.unlink()
        return None if result.returncode == 0 else failure("podman import", result)

    def write_project(self, path: Path, count: int) -> None:
        lines = ["networks:", "  lan: {}", "services:"]
        for index in range(count):
            lines += [
                f"  s{index}:",
                f"    image: {IMAGE}",
                f"    command: {json.dumps(COMMAND)}",
                f"    mem_limit: {MEM_LIMIT}",
                f"    pids_limit: {PIDS_LIMIT}",
                "    networks: [lan]",
                "    ulimits:",
                f"      nofile: {{soft: {ULIMIT}, hard: {ULIMIT}}}",
                f"      nproc: {{soft: {ULIMIT}, hard: {ULIMIT}}}",
            ]
        path.write_text("\n".join(lines) + "\n")

    def run(self, count: int) -> PodmanRun:
        run = PodmanRun()
        project = f"bud{count}x{uuid.uuid4().hex[:6]}"
        compose_file = self.folder / f"{project}.yaml"
        self.write_project(compose_file, count)
        cli = [self.compose, "-p", project, "-f", str(compose_file)]
        downed = False
        try:
            elapsed, result = timed([*cli, "up", "-d"], self.env)
            running = self.podman("ps", "-q", "--filter", f"label=io.podman.compose.project={project}")
            count_running = len(running.stdout.split())
            if result.returncode != 0 or count_running != count:
                run.errors.append(failure(f"podman-compose up -d ({count_running}/{count} running)", result))
                return run
            run.up = elapsed
            elapsed, result = timed([*cli, "down"], self.env)
            downed = result.returncode == 0
            if downed:
                run.down = elapsed
            else:
                run.errors.append(failure("podman-compose down", result))
            return run
        finally:
            if not downed:
                subprocess.run([*cli, "down"], env=self.env, capture_output=True, check=False)
            self.podman("rm", "-a", "-f", "-t", "0")

    def close(self) -> None:
        self.podman("rm", "-a", "-f", "-t", "0")
        self.podman("system", "reset", "-f")
        for hierarchy in self.new_cgroups:
            if (hierarchy / PODMAN_CGROUP).is_dir():
                kill_cgroup_tree(hierarchy / PODMAN_CGROUP)
        for folder in self.new_folders:
            shutil.rmtree(folder, ignore_errors=True)
        detach_mounts(self.folder)
        shutil.rmtree(self.folder, ignore_errors=True)


def find_podman_compose(given: str | None) -> tuple[str | None, str]:
    """The podman-compose to use, or None and why not."""
    if shutil.which("podman") is None:
        return None, "podman is not installed (apt-get install -y podman)"
    if shutil.which("runc") is None:
        return None, "runc is not installed (podman here needs it: apt-get install -y runc)"
    candidates = [given] if given else [shutil.which("podman-compose"), *PODMAN_COMPOSE_GUESSES]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate, ""
    return None, "podman-compose is not installed (pip install podman-compose; or --podman-compose PATH)"


def open_podman(work: Path, rootfs: Path, given: str | None) -> tuple[Podman | None, str]:
    compose, why = find_podman_compose(given)
    if compose is None:
        return None, why
    podman = Podman(work / "podman", compose)
    problem = podman.import_rootfs(rootfs)
    if problem is not None:
        podman.close()
        return None, problem
    return podman, ""


# --- the report ------------------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


HEADER = (
    f"{'N':>4} | {'base up':>8} {'comp up':>8} {'c/b':>6} | {'base dn':>8} {'comp dn':>8} {'c/b':>6} | "
    f"{'noop up':>8} {'sup MiB':>8} | {'podm up':>8} {'podm dn':>8} {'p/c up':>7}"
)


def row(count: int, base: BaselineRun, ours: ComposerRun, podman: PodmanRun | None) -> str:
    pod_up = podman.up if podman else None
    pod_down = podman.down if podman else None
    rss = mib(ours.rss_mib)
    return (
        f"{count:>4} | {seconds(base.up):>8} {seconds(ours.up):>8} {ratio(ours.up, base.up):>6} | "
        f"{seconds(base.down):>8} {seconds(ours.down):>8} {ratio(ours.down, base.down):>6} | "
        f"{seconds(ours.noop):>8} {rss:>8} | "
        f"{seconds(pod_up):>8} {seconds(pod_down):>8} {ratio(pod_up, ours.up):>7}"
    )


DOWN_HEADER = (
    f"{'N':>4} | {'base dn':>8} {'dn -t 1':>8} {'/(b+1s)':>8} {'dn -t 0':>8} {'/base':>6} | "
    f"{'ups':>4} {'comp up':>8} | per container up ms: {'base':>6} {'comp':>6} {'c/b':>6}"
)


def per_container(up: float | None, up_one: float | None, count: int) -> float | None:
    """The marginal cost of one container: (up(N) - up(1)) / (N - 1), in seconds."""
    if up is None or up_one is None or count <= 1:
        return None
    return (up - up_one) / (count - 1)


def millis(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def plus(value: float | None, extra: float) -> float | None:
    return None if value is None else value + extra


def down_row(count: int, base: BaselineRun, ours: ComposerRun, one: tuple[BaselineRun, ComposerRun]) -> str:
    t1, t0 = ours.downs.get("1"), ours.downs.get("0")
    base_each = per_container(base.up, one[0].up, count)
    ours_each = per_container(ours.up, one[1].up, count)
    return (
        f"{count:>4} | {seconds(base.down):>8} {seconds(t1):>8} {ratio(t1, plus(base.down, 1.0)):>8} "
        f"{seconds(t0):>8} {ratio(t0, base.down):>6} | {len(ours.ups):>4} {seconds(ours.up):>8} | "
        f"{'':21}{millis(base_each):>6} {millis(ours_each):>6} {ratio(ours_each, base_each):>6}"
    )


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def check(a: float | None, b: float | None, limit: float) -> bool | None:
    return None if a is None or b is None else a / b <= limit


def goals(count: int, base: BaselineRun, ours: ComposerRun, podman: PodmanRun | None) -> list[str]:
    pod_up = podman.up if podman else None
    speedup = None if pod_up is None or ours.up is None else pod_up / ours.up >= GOAL_PODMAN_SPEEDUP
    noop = None if ours.noop is None else ours.noop < GOAL_NOOP_S
    rss = None if ours.rss_mib is None else ours.rss_mib < GOAL_RSS_MIB
    t1, t0 = ours.downs.get("1"), ours.downs.get("0")
    floor_t1 = plus(base.down, 1.0)
    return [
        f"goals at N={count} (the issue states them for N=100):",
        f"  up within {GOAL_UP_RATIO}x of the baseline: {ratio(ours.up, base.up)} "
        f"-> {verdict(check(ours.up, base.up, GOAL_UP_RATIO))}",
        f"  up >= {GOAL_PODMAN_SPEEDUP:.0f}x faster than podman-compose: {ratio(pod_up, ours.up)} "
        f"-> {verdict(speedup)}",
        f"  down within {GOAL_DOWN_RATIO}x of the baseline: {ratio(ours.down, base.down)} "
        f"-> {verdict(check(ours.down, base.down, GOAL_DOWN_RATIO))}",
        f"  down -t 1 within {GOAL_DOWN_T1_RATIO}x of the baseline's down + 1 s: "
        f"{ratio(t1, floor_t1)} -> {verdict(check(t1, floor_t1, GOAL_DOWN_T1_RATIO))}",
        f"  down -t 0 within {GOAL_DOWN_T0_RATIO}x of the baseline's down: {ratio(t0, base.down)} "
        f"-> {verdict(check(t0, base.down, GOAL_DOWN_T0_RATIO))}",
        f"  no-op up < {GOAL_NOOP_S} s: {seconds(ours.noop)} s -> {verdict(noop)}",
        f"  supervisor RSS < {GOAL_RSS_MIB:.0f} MiB: {mib(ours.rss_mib)} MiB -> {verdict(rss)}",
    ]


def growth_goal(results: list[Result], one: tuple[BaselineRun, ComposerRun]) -> str | None:
    """Per-container up cost at the largest N against N=100 (both measured in this run)."""
    sizes = {count: ours for count, _, ours, _ in results}
    largest = max(sizes)
    if 100 not in sizes or largest <= 100:
        return None
    at_100 = per_container(sizes[100].up, one[1].up, 100)
    at_max = per_container(sizes[largest].up, one[1].up, largest)
    ok = check(at_max, at_100, GOAL_PER_CONTAINER_GROWTH)
    return (
        f"  per-container up cost at N={largest} within {GOAL_PER_CONTAINER_GROWTH}x of N=100: "
        f"{millis(at_max)} ms / {millis(at_100)} ms = {ratio(at_max, at_100)} -> {verdict(ok)}"
    )


# --- driver ----------------------------------------------------------------------------------------


def cache_bytecode(work: Path) -> None:
    """Let every Python process of the run (composer, its supervisor, the baseline) use cached bytecode.

    An installed composer runs from compiled bytecode; with PYTHONDONTWRITEBYTECODE set and no
    ``__pycache__`` in the tree, each command would compile its modules from source again
    (~0.1-0.3 s).  The cache goes to the run's temporary folder, never into the source tree,
    and is filled before anything is timed.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    for folder in (ROOT / "composer", ROOT / "tests" / "support", ROOT / "bench"):
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(folder)], check=True, stdout=subprocess.DEVNULL
        )


REFERENCE_RUNS = 3


def warm_up(work: Path, rootfs: Path) -> tuple[BaselineRun, ComposerRun]:
    """N=1 rounds of each: the first pays for cold caches (untimed), the median of the next ones is
    the N=1 reference of the per-container cost (one N=1 up moves a lot on a shared machine)."""
    for problem in run_baseline(work, rootfs, 1).errors + run_composer(work, rootfs, 1).errors:
        print(f"warm-up: {problem}")
    bases = [run_baseline(work, rootfs, 1) for _ in range(REFERENCE_RUNS)]
    ours = [run_composer(work, rootfs, 1) for _ in range(REFERENCE_RUNS)]
    errors = [e for b in bases for e in b.errors] + [e for o in ours for e in o.errors]
    for problem in errors:
        print(f"N=1 reference: {problem}")
    base_ups = [b.up for b in bases if b.up is not None]
    our_ups = [o.up for o in ours if o.up is not None]
    base = BaselineRun(up=statistics.median(base_ups) if base_ups else None)
    mine = ComposerRun(up=statistics.median(our_ups) if our_ups else None)
    return base, mine


Result = tuple[int, BaselineRun, ComposerRun, "PodmanRun | None"]


def measure_size(work: Path, rootfs: Path, count: int, podman: Podman | None) -> Result:
    """Baseline, composer (up, no-op, down; then up + down -t T per timeout) and podman, in turn."""
    base = run_baseline(work, rootfs, count)
    ours = run_composer(work, rootfs, count)
    for timeout in DOWN_TIMEOUTS:
        run_composer_down(work, rootfs, count, timeout, ours)
    if ours.ups:
        ours.up = statistics.median(ours.ups)
    pod = podman.run(count) if podman else None
    return count, base, ours, pod


def measure(args: argparse.Namespace, work: Path) -> None:
    if not args.no_bytecode_cache:
        cache_bytecode(work)
    rootfs = make_busybox_rootfs(work / "rootfs")
    podman: Podman | None = None
    if args.podman:
        podman, why = open_podman(work, rootfs, args.podman_compose)
        if podman is None:
            print(f"podman-compose skipped: {why}")
    results: list[Result] = []
    try:
        one = warm_up(work, rootfs)
        for count in args.sizes:
            result = measure_size(work, rootfs, count, podman)
            results.append(result)
            _, base, ours, pod = result
            print(HEADER + "\n" + row(*result), flush=True)
            print(DOWN_HEADER + "\n" + down_row(count, base, ours, one), flush=True)
            for problem in base.errors + ours.errors + (pod.errors if pod else []):
                print(f"     ! {problem}", flush=True)
    finally:
        if podman is not None:
            podman.close()
    print(
        "baseline work only (without interpreter start-up and exit), up/down s: "
        + ", ".join(
            f"N={count}: {seconds(base.up_work)}/{seconds(base.down_work)}" for count, base, _, _ in results
        )
    )
    if results:
        print("\n".join(goals(*next((r for r in results if r[0] == 100), results[-1]))))
        growth = growth_goal(results, one)
        if growth:
            print(growth)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,50,100", type=lambda s: [int(n) for n in s.split(",")])
    parser.add_argument("--podman", action="store_true", help="also measure podman-compose where it works")
    parser.add_argument("--podman-compose", help="path of the podman-compose script to use")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="leave PYTHONDONTWRITEBYTECODE as it is (no .pyc cache)",
    )
    return parser.parse_args()


def main() -> None:
    if "--rootless" in sys.argv[1:]:  # the same N as a normal user and as root: bench/rootless.py
        from bench.rootless import main as rootless_main

        rootless_main(sys.argv[1:])
        return
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    if os.environ.get(_INSIDE) != "1":
        reexec_in_sandbox()
    signal.signal(signal.SIGTERM, _interrupted)
    work = Path(tempfile.mkdtemp(prefix="composer-bench-updown-"))
    try:
        measure(args, work)
    except KeyboardInterrupt:
        print("interrupted: everything of the run is being removed", file=sys.stderr)
        sys.exit(130)
    finally:
        detach_mounts(work)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
