"""composer as a normal user: identity, files, the lab, ports, limits and crash repair, on the real kernel.

Each command runs as the test user (runuser); the checks around it run as root,
so that they see the host as it is: the user's processes, its subordinate ids,
the host's interfaces.  Project names start with ``rl-``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.rootless import RootlessUser, tun_usable, user_project, wait_for_no_processes

pytestmark = pytest.mark.kernel


def first_subordinate(user: RootlessUser) -> int:
    for line in Path("/etc/subuid").read_text().splitlines():
        name, start, _ = line.split(":")
        if name in (user.name, str(user.uid)):
            return int(start)
    pytest.skip(f"{user.name} has no line in /etc/subuid")


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    return result.stdout


IDENTITY = """
name: rl-identity
services:
  a:
    rootfs: ./busybox
    user: "1000"
    init: true
    network_mode: none
    command: ["sleep", "1000"]
    volumes: ["data:/data"]
volumes:
  data: {}
"""


def test_ids_are_the_subordinate_range_and_down_leaves_nothing(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    project = user_project(rl, rl_dir / "identity", IDENTITY, busybox_rootfs)
    base = first_subordinate(rl)
    secret = Path(rl.home) / "rl-secret"
    secret.write_text("the user's own file\n")
    os.chown(secret, rl.uid, rl.gid)
    try:
        ok(rl.composer(project, "up", "-d", "--wait"))
        assert "uid=1000(app)" in ok(rl.composer(project, "exec", "-T", "a", "id"))
        uid_map = ok(rl.composer(project, "exec", "-T", "a", "cat", "/proc/self/uid_map")).split()
        assert uid_map == ["0", str(rl.uid), "1", "1", str(base), "65536"]
        assert "uid=0(root)" in ok(rl.composer(project, "exec", "-T", "-u", "0", "a", "id"))
        # The container's user 1000 is the host's base+999: the process and the file it wrote.
        owners = {os.stat(f"/proc/{pid}").st_uid for pid, _ in rl.processes()}
        assert base + 999 in owners
        ok(rl.composer(project, "exec", "-T", "-u", "0", "a", "chown", "1000", "/data"))
        ok(rl.composer(project, "exec", "-T", "a", "sh", "-c", "echo hi > /data/made-by-app"))
        made = list(rl.state_root.rglob("made-by-app"))
        assert len(made) == 1 and made[0].stat().st_uid == base + 999
        assert "Up" in ok(rl.composer(project, "ps"))
        # The user's files outside the volumes are out of the container's reach.
        escaped = rl.composer(project, "exec", "-T", "-u", "0", "a", "cat", str(secret))
        assert escaped.returncode != 0 and "the user's own file" not in escaped.stdout
        ok(rl.composer(project, "down", "-v", "-t", "1"))
    finally:
        secret.unlink()
        rl.composer(project, "down", "-v", "-t", "1")


LAB = """
name: rl-lab
x-router: &router
  rootfs: ./busybox
  network_mode: none
  init: true
  command: ["sleep", "infinity"]
services:
  r1:
    <<: *router
    routes: [{to: 10.0.23.0/30, via: 10.0.12.2}]
  r2:
    <<: *router
    sysctls: {net.ipv4.ip_forward: 1}
  r3:
    <<: *router
    routes: ["10.0.12.0/30 via 10.0.23.1"]
links:
  - endpoints: ["r1:eth1", "r2:eth1"]
    ipv4: [10.0.12.1/30, 10.0.12.2/30]
  - endpoints: ["r2:eth2", "r3:eth1"]
    ipv4: [10.0.23.1/30, 10.0.23.2/30]
    rate: 10mbit
"""


def test_three_router_lab_routes_and_a_measured_rate(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    project = user_project(rl, rl_dir / "lab", LAB, busybox_rootfs)
    try:
        ok(rl.composer(project, "up", "-d"))
        assert "0% packet loss" in ok(
            rl.composer(project, "exec", "-T", "r1", "ping", "-c", "2", "-W", "2", "10.0.23.2")
        )
        assert (
            ok(rl.composer(project, "exec", "-T", "r2", "cat", "/proc/sys/net/ipv4/ip_forward")).strip()
            == "1"
        )
        assert "tbf" in ok(rl.composer(project, "exec", "-T", "r2", "tc", "qdisc", "show", "dev", "eth2"))
        elapsed, received = timed_transfer(rl, project, 2_560_000)
        assert received == 2_560_000
        # 2.56 MB at 10 Mbit/s is 2.05 s on the wire (unshaped, a veth moves it in well under 0.5 s).
        assert 1.6 < elapsed < 15, f"{elapsed:.2f} s for 2.56 MB over a 10mbit link"
        ok(rl.composer(project, "down", "-t", "1"))
    finally:
        rl.composer(project, "down", "-t", "1")


# busybox nc stops at the end of its stdin: give the receiver one that never ends and stays silent.
LISTEN = "rm -f /tmp/in; mkfifo /tmp/in; sleep 1000 > /tmp/in & nc -l -p 5001 < /tmp/in | wc -c"


def timed_transfer(rl: RootlessUser, project: Path, size: int) -> tuple[float, int]:
    """Send ``size`` bytes r1 -> r3 (through r2's shaped eth2); seconds until r3 had them all."""
    receiver_argv = [rl.python, "-m", "composer.cli.main", "exec", "-T", "r3", "sh", "-c", LISTEN]
    command = ["runuser", "-u", rl.name, "--", "env", "-i", *(f"{k}={v}" for k, v in rl.env().items())]
    receiver = subprocess.Popen([*command, *receiver_argv], cwd=project, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while ":5001" not in rl.composer(project, "exec", "-T", "r3", "netstat", "-ltn").stdout:
            assert time.monotonic() < deadline, "the receiver never listened"
            time.sleep(0.1)
        started = time.monotonic()
        send = f"dd if=/dev/zero bs=1024 count={size // 1024} 2>/dev/null | nc 10.0.23.2 5001"
        rl.composer(project, "exec", "-T", "r1", "sh", "-c", send)
        out, _ = receiver.communicate(timeout=30)
        return time.monotonic() - started, int(out.split()[0])
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()


WEB = """
name: rl-web
services:
  web:
    rootfs: ./busybox
    command: ["httpd", "-f", "-p", "80", "-h", "/var/www"]
    ports: ["127.0.0.1:{port}:80"]
  client:
    rootfs: ./busybox
    init: true
    command: ["sleep", "1000"]
"""


def test_published_port_on_the_host_loopback_through_pasta(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    if not tun_usable(rl):
        pytest.skip("pasta needs /dev/net/tun readable and writable by the user (Debian's default 0666)")
    port = 18000 + os.getpid() % 1000
    rootfs = user_project(rl, rl_dir / "web", WEB.format(port=port), busybox_rootfs)
    (rootfs / "busybox" / "var" / "www").mkdir(parents=True, exist_ok=True)
    (rootfs / "busybox" / "var" / "www" / "index.html").write_text("hello from a rootless container\n")
    try:
        ok(rl.composer(rootfs, "up", "-d", "--wait"))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            assert answer.read() == b"hello from a rootless container\n"
        # Names resolve as with root; the project's own network, not the host's, is the containers'.
        assert "hello from a rootless container" in ok(
            rl.composer(rootfs, "exec", "-T", "client", "wget", "-qO-", "http://web/")
        )
        names = {name for _, name in rl.processes()}
        assert any(name.startswith("passt") for name in names)
        ok(rl.composer(rootfs, "down", "-t", "1"))
    finally:
        rl.composer(rootfs, "down", "-t", "1")


SLEEPERS = """
name: rl-revive
services:
  a: {rootfs: ./busybox, init: true, network_mode: none, command: ["sleep", "1000"]}
  b: {rootfs: ./busybox, init: true, network_mode: none, command: ["sleep", "1000"]}
"""


def test_a_killed_keeper_takes_the_project_along_and_up_repairs(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    project = user_project(rl, rl_dir / "revive", SLEEPERS, busybox_rootfs)
    try:
        ok(rl.composer(project, "up", "-d"))
        keeper = json.loads((rl.state_root / "userns" / "rl-revive.json").read_text())["pid"]
        os.kill(keeper, signal.SIGKILL)
        assert wait_for_no_processes(rl) == []  # the supervisor and both containers died with it
        ok(rl.composer(project, "up", "-d"))
        listing = ok(rl.composer(project, "ps"))
        assert listing.count("Up") == 2, listing
        ok(rl.composer(project, "down", "-t", "1"))
    finally:
        rl.composer(project, "down", "-t", "1")


LIMITED = """
name: rl-limits
services:
  a:
    rootfs: ./busybox
    init: true
    network_mode: none
    command: ["sleep", "1000"]
    deploy: {resources: {limits: {memory: 64m, pids: 50}}}
"""


def test_limits_that_cannot_hold_are_named_once_or_refused_strictly(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    project = user_project(rl, rl_dir / "limits", LIMITED, busybox_rootfs)
    try:
        strict = rl.composer(project, "up", "-d", "--strict-limits")
        assert strict.returncode == 2, strict.stderr
        # named by the file's keys, not composer's field names (memory, pids)
        assert "services.a.deploy.resources.limits.memory" in strict.stderr, strict.stderr
        assert "services.a.deploy.resources.limits.pids" in strict.stderr, strict.stderr
        assert wait_for_no_processes(rl) == []
        assert not rl.state_root.exists()  # refused: nothing was made, not even the state root
        relaxed = rl.composer(project, "up", "-d")
        assert relaxed.returncode == 0, relaxed.stderr
        warnings = [line for line in relaxed.stderr.splitlines() if "cannot be applied" in line]
        assert len(warnings) == 1, relaxed.stderr
        lost = "services.a.deploy.resources.limits.memory, services.a.deploy.resources.limits.pids ("
        assert lost in warnings[0], warnings[0]
        assert "cgroup v1" in warnings[0] or "cgroup v2" in warnings[0]
        assert "Up" in ok(rl.composer(project, "ps"))
        ok(rl.composer(project, "down", "-t", "1"))
    finally:
        rl.composer(project, "down", "-t", "1")


HOST_MODE = """
name: rl-hostnet
services:
  a: {rootfs: ./busybox, init: true, network_mode: host, command: ["sleep", "1000"]}
"""


def test_network_mode_host_is_the_projects_namespace_not_the_hosts(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    project = user_project(rl, rl_dir / "hostnet", HOST_MODE, busybox_rootfs)
    try:
        ok(rl.composer(project, "up", "-d"))
        links = ok(rl.composer(project, "exec", "-T", "a", "ip", "-o", "link", "show"))
        names = {line.split(":")[1].strip().split("@")[0] for line in links.splitlines()}
        host_names = {p.name for p in Path("/sys/class/net").iterdir()}
        assert names == {"lo"} and host_names - {"lo"}, (names, host_names)
        ok(rl.composer(project, "down", "-t", "1"))
    finally:
        rl.composer(project, "down", "-t", "1")


def supervisor_pids(user: RootlessUser) -> list[int]:
    found = []
    for pid, _ in user.processes():
        with contextlib.suppress(OSError):
            if b"composer.supervisor" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found


def test_the_supervisor_revives_and_adopts_the_running_containers(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    project = user_project(
        rl, rl_dir / "supervisor", SLEEPERS.replace("rl-revive", "rl-super"), busybox_rootfs
    )
    try:
        ok(rl.composer(project, "up", "-d"))
        [supervisor] = supervisor_pids(rl)
        os.kill(supervisor, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while supervisor_pids(rl) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "nothing to do" in rl.composer(project, "up", "-d").stderr  # the containers ran on
        assert len(supervisor_pids(rl)) == 1  # ... and have a supervisor again
        assert ok(rl.composer(project, "ps")).count("Up") == 2
        ok(rl.composer(project, "down", "-t", "1"))
    finally:
        rl.composer(project, "down", "-t", "1")


ONE_ID = """
name: rl-one-id
services:
  a: {rootfs: ./busybox, init: true, network_mode: none, command: ["sleep", "1000"]}
  b: {rootfs: ./busybox, init: true, network_mode: none, user: "1000", command: ["sleep", "1000"]}
"""


def test_without_the_id_helpers_only_the_user_is_mapped_and_said_so(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    """newuidmap is in /usr/bin: a PATH without it takes the single-id fallback (as a missing uidmap would)."""
    project = user_project(rl, rl_dir / "one-id", ONE_ID, busybox_rootfs)
    path = {"PATH": "/usr/sbin:/sbin"}
    try:
        up = rl.composer(project, "up", "-d", **path)
        said = [line for line in up.stderr.splitlines() if "only your own id is mapped" in line]
        assert len(said) == 1 and "apt-get install uidmap" in said[0], up.stderr
        assert up.returncode != 0 and "not mapped in this user namespace" in up.stderr  # b's user 1000
        uid_map = ok(rl.composer(project, "exec", "-T", "a", "cat", "/proc/self/uid_map", **path)).split()
        assert uid_map == ["0", str(rl.uid), "1"]
        ok(rl.composer(project, "down", "-t", "1", **path))
    finally:
        rl.composer(project, "down", "-t", "1", **path)


SIDE = """
name: rl-side
services:
  a: {rootfs: ROOTFS, init: true, network_mode: none, command: ["sleep", "1000"]}
"""


def test_root_and_a_user_run_the_same_project_name_side_by_side(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    project = user_project(rl, rl_dir / "side", SIDE.replace("ROOTFS", "./busybox"), busybox_rootfs)
    root_project = rl_dir / "root-side"
    root_project.mkdir()
    (root_project / "compose.yaml").write_text(SIDE.replace("ROOTFS", str(busybox_rootfs)))
    root_state = rl_dir / "root-state"
    as_root = [sys.executable, "-m", "composer.cli.main", "--root", str(root_state)]

    def root(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*as_root, *args], cwd=root_project, capture_output=True, text=True, check=False
        )

    try:
        ok(root("up", "-d"))
        ok(rl.composer(project, "up", "-d"))
        assert "Up" in ok(root("ps")) and "Up" in ok(rl.composer(project, "ps"))
        ok(root("down", "-t", "1"))
        assert "Up" in ok(rl.composer(project, "ps"))  # the user's project did not notice
        ok(rl.composer(project, "down", "-t", "1"))
    finally:
        root("down", "-t", "1")
        rl.composer(project, "down", "-t", "1")


MANY = "name: rl-crash\nservices:\n" + "".join(
    f"  s{i}: {{rootfs: ./busybox, init: true, network_mode: none, command: [sleep, '1000']}}\n"
    for i in range(12)
)


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (read from /proc, as root)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                children.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def test_up_killed_mid_way_is_finished_by_down(rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path) -> None:
    """kill -9 of the command (outside and inside processes) while it creates containers; down repairs."""
    project = user_project(rl, rl_dir / "crash", MANY, busybox_rootfs)
    command = ["runuser", "-u", rl.name, "--", "env", "-i", *(f"{k}={v}" for k, v in rl.env().items())]
    up = subprocess.Popen([*command, rl.python, "-m", "composer.cli.main", "up", "-d"], cwd=project,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list((rl.state_root / "projects" / "rl-crash").glob("containers/*")):
            assert up.poll() is None and time.monotonic() < deadline, "up ended before making a container"
            time.sleep(0.02)
        for pid in descendants(up.pid)[
            1:
        ]:  # the command's own processes, not the containers (their own session)
            if b"composer.cli.main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        up.wait(timeout=10)
        ok(rl.composer(project, "down", "-t", "1"))
        assert not (rl.state_root / "projects" / "rl-crash").exists()
    finally:
        if up.poll() is None:
            up.kill()
        rl.composer(project, "down", "-t", "1")
