"""``composer up -d`` / ``down`` of N containers as a normal user against the same N as root, in one run.

For each N of ``--sizes`` (default 1,10,100) the same generated project (N
busybox services running a shell that traps SIGTERM around ``sleep``,
``mem_limit``, ``pids_limit``, all on one network ``lan``) is brought up and
down twice:

(a) root: composer as root in a throwaway network and mount namespace (the
    script re-executes a part of itself under ``unshare --net --mount``), its
    state root in the run's temporary folder;
(b) rootless: composer as the test user (``--user``, default ``$COMPOSER_RL_USER``
    or ``cmp-rl``, which needs subordinate ids), through ``runuser``; its project
    gets its own user, mount, network and pid namespaces and one pasta (the
    network is not internal), its state root in the run's temporary folder.
    Limits cannot hold there (no delegated cgroup on this host): composer says
    so once and runs the containers without them, which makes (b) do a little
    less cgroup work than (a).

Root N and rootless N run one after the other for each N, so that both meet the
same load on the machine.  Timed: the wall time of ``up -d`` from the command's
start until it returns (every container then runs: checked with ``ps``) and of
``down``.  ``runuser`` itself is timed alone (``runuser -u USER -- true``) and
printed, not subtracted.  Both sides run the same interpreter (the one the test
user can run) and write their bytecode caches to the temporary folder; an
untimed N=1 round warms each side (and each root sandbox).  Whatever fails, each
run is brought down, and the rootless one's keeper (which takes every process of
the project along) and pasta are killed by PID from their records.  Run as root:

    python bench/rootless.py [--sizes 1,10,100] [--user NAME]
    python bench/updown.py --rootless [--sizes 1,10,100]      (the same)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.rootfs import make_busybox_rootfs  # noqa: E402

COMMAND = '["sh", "-c", "trap \'exit 0\' TERM; sleep 3600 & wait"]'
GOAL_UP_RATIO = 1.3  # rootless up within 1.3x of root at the largest N


@dataclass
class Run:
    up: float | None = None
    down: float | None = None
    errors: list[str] = field(default_factory=list)


def write_project(folder: Path, rootfs: Path, name: str, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"name: {name}", "networks:", "  lan: {}", "services:"]
    for index in range(count):
        lines += [
            f"  s{index:03d}:",
            f"    rootfs: {rootfs}",
            f"    command: {COMMAND}",
            "    mem_limit: 64m",
            "    pids_limit: 64",
            "    networks: [lan]",
        ]
    (folder / "compose.yaml").write_text("\n".join(lines) + "\n")
    return folder


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    return time.monotonic() - started, done


def one_run(argv: list[str], folder: Path, env: dict[str, str], count: int) -> Run:
    run = Run()
    try:
        up_time, up = timed([*argv, "up", "-d"], folder, env)
        if up.returncode != 0:
            run.errors.append(f"up: {up.stderr.strip().splitlines()[-1:]}")
            return run
        run.up = up_time
        _, ps = timed([*argv, "ps", "--format", "json"], folder, env)
        rows = (
            [json.loads(line) for line in ps.stdout.splitlines() if line.strip()]
            if ps.returncode == 0
            else []
        )
        running = sum(1 for row in rows if row.get("State") == "running")
        if running != count:
            run.errors.append(f"{running} of {count} running after up")
    finally:
        down_time, down = timed([*argv, "down", "-t", "5"], folder, env)
        if down.returncode == 0:
            run.down = down_time
        else:
            run.errors.append(f"down: {down.stderr.strip().splitlines()[-1:]}")
    return run


# --- (a) root, inside a throwaway network and mount namespace -------------------------------------


def root_side(work: Path, sizes: list[int], warm: bool, python: str) -> None:
    """Runs under unshare: the sizes as root; prints one JSON line of results."""
    rootfs = work / "root-rootfs"
    if not rootfs.is_dir():
        make_busybox_rootfs(rootfs)
    env = dict(os.environ, COMPOSER_ROOT=str(work / "root-state"))
    env.update(COMPOSER_IMAGE_ROOT=str(work / "root-images"), PYTHONPYCACHEPREFIX=str(work / "root-pycache"))
    argv = [python, "-m", "composer.cli.main"]
    if warm:
        one_run(argv, write_project(work / "root-warm", rootfs, "bench-rl-root-warm", 1), env, 1)
    results = {}
    for count in sizes:
        run = one_run(
            argv, write_project(work / f"root-{count}", rootfs, f"bench-rl-root-{count}", count), env, count
        )
        results[count] = {"up": run.up, "down": run.down, "errors": run.errors}
    print(json.dumps(results))


def measure_root(work: Path, sizes: list[int], *, warm: bool, python: str) -> dict[int, Run]:
    argv = ["unshare", "--net", "--mount", "--propagation", "private", "--fork", sys.executable, __file__]
    argv += ["--root-side", str(work), "--sizes", ",".join(map(str, sizes)), "--python", python]
    argv += ["--warm"] if warm else []
    done = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the root side failed: {done.stderr.strip()}")
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return {int(n): Run(r["up"], r["down"], r["errors"]) for n, r in raw.items()}


# --- (b) rootless, as the test user --------------------------------------------------------------


@dataclass
class UserSide:
    """The rootless side: the test user, its rootfs, its environment."""

    argv: list[str]
    base: Path
    rootfs: Path
    uid: int
    gid: int
    state: Path
    runuser_time: float
    python: str

    def project(self, name: str, count: int) -> Path:
        folder = write_project(self.base / name, self.rootfs, f"bench-rl-{name}", count)
        subprocess.run(["chown", "-R", f"{self.uid}:{self.gid}", str(folder)], check=True)
        return folder

    def run(self, name: str, count: int) -> Run:
        return one_run(self.argv, self.project(name, count), dict(os.environ), count)


def user_side(work: Path, user_name: str) -> UserSide:
    from tests.support.rootless import find_user

    os.environ["COMPOSER_RL_USER"] = user_name
    user = find_user()
    base = work / "user"
    base.mkdir()
    rootfs = base / "rootfs"
    shutil.copytree(make_busybox_rootfs(work / "user-rootfs-src"), rootfs, symlinks=True)
    subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", str(base)], check=True)
    work.chmod(0o755)
    state = base / "state"
    env_vars = {"COMPOSER_ROOT": str(state), "COMPOSER_IMAGE_ROOT": str(base / "images"),
                "PYTHONPYCACHEPREFIX": str(base / "pycache")}  # fmt: skip
    prefix = [
        "runuser",
        "-u",
        user.name,
        "--",
        "env",
        "-i",
        *(f"{k}={v}" for k, v in user.env(**env_vars).items()),
    ]
    runuser_time, _ = timed([*prefix, "true"], base, dict(os.environ))
    argv = [*prefix, user.python, "-m", "composer.cli.main"]
    return UserSide(argv, base, rootfs, user.uid, user.gid, state, runuser_time, user.python)


def measure(work: Path, sizes: list[int], user_name: str) -> tuple[dict[int, Run], dict[int, Run], float]:
    """Root N, then rootless N, for each N in turn: both see the same load on the machine."""
    from tests.support.rootless import find_user, kill_everything_of

    side = user_side(work, user_name)
    root: dict[int, Run] = {}
    rootless: dict[int, Run] = {}
    try:
        side.run("warm", 1)  # untimed: caches
        for count in sizes:
            # Each sandbox is fresh: warm it too; both sides run the same interpreter (the user's).
            root.update(measure_root(work, [count], warm=True, python=side.python))
            rootless[count] = side.run(f"n{count}", count)
    finally:
        sweep_rootless(side.state)
        kill_everything_of(find_user())
    return root, rootless, side.runuser_time


def sweep_rootless(state: Path) -> None:
    """Kill what a failed run left: keepers (and with them their projects) and pastas, by PID."""
    for record in sorted((state / "userns").glob("*.json")) if (state / "userns").is_dir() else []:
        with contextlib.suppress(ValueError, OSError, KeyError):
            os.kill(int(json.loads(record.read_text())["pid"]), signal.SIGKILL)


# --- report --------------------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.2f}"


def ratio(a: float | None, b: float | None) -> str:
    return "  -  " if a is None or b is None or b == 0 else f"{a / b:5.2f}x"


def report(sizes: list[int], root: dict[int, Run], rootless: dict[int, Run], runuser_time: float) -> None:
    print(f"runuser -u USER -- true alone: {runuser_time:.3f} s (included in every rootless figure)")
    print("    N | root up  down | rootless up  down | up ratio  down ratio")
    for count in sizes:
        a, b = root.get(count, Run()), rootless.get(count, Run())
        print(f"{count:5d} | {seconds(a.up)} {seconds(a.down)} |     {seconds(b.up)} {seconds(b.down)} |"
              f"   {ratio(b.up, a.up)}    {ratio(b.down, a.down)}")  # fmt: skip
        for problem in a.errors:
            print(f"      ! root: {problem}")
        for problem in b.errors:
            print(f"      ! rootless: {problem}")
    last = sizes[-1]
    a, b = root.get(last, Run()), rootless.get(last, Run())
    if a.up and b.up:
        verdict = "met" if b.up / a.up <= GOAL_UP_RATIO else "NOT met"
        print(f"goal: rootless up within {GOAL_UP_RATIO}x of root at N={last}: {b.up / a.up:.2f}x, {verdict}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,100", type=lambda s: [int(n) for n in s.split(",")])
    parser.add_argument("--user", default=os.environ.get("COMPOSER_RL_USER", "cmp-rl"))
    parser.add_argument("--root-side", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--python", default=sys.executable, help=argparse.SUPPRESS)
    parser.add_argument("--rootless", action="store_true", help=argparse.SUPPRESS)  # from bench/updown.py
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("needs root (the rootless side runs as --user through runuser)")
    if args.root_side:
        root_side(Path(args.root_side), args.sizes, args.warm, args.python)
        return
    if not os.access("/dev/net/tun", os.R_OK | os.W_OK) or os.stat("/dev/net/tun").st_mode & 0o006 != 0o006:
        print("note: /dev/net/tun is not open to users here: pasta cannot start (chmod 0666 /dev/net/tun,"
              " Debian's default, for the rootless side)", file=sys.stderr)  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="composer-bench-rootless-", dir="/tmp"))
    try:
        root, rootless, runuser_time = measure(work, args.sizes, args.user)
        report(args.sizes, root, rootless, runuser_time)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
