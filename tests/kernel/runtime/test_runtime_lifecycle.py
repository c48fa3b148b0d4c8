"""Cgroup limits, exec, stop, logs and init, against the real kernel."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from runtime_support import Lab

from composer.kernel.logs import LogCollector, make_log_fifos, read_logs
from composer.kernel.process import (
    GraceKill,
    exec_in_container,
    run_in_container,
    spawn_container,
    stop_container,
)
from composer.model.container import CgroupLimits

pytestmark = pytest.mark.kernel


def test_memory_limit_oom_kills_a_hog(lab: Lab) -> None:
    container = lab.start("hog", ["tail", "/dev/zero"], cgroup=CgroupLimits(memory=16 << 20))
    assert container.wait() == 137
    assert container.cgroup.oom_killed()


def test_pids_limit_stops_a_fork_loop(lab: Lab) -> None:
    script = "for i in $(seq 1 40); do sleep 1 & done; echo forked-all"
    code, out, err = lab.sh(script, name="limited", cgroup=CgroupLimits(pids=8))
    assert code != 0 and "can't fork" in err and "forked-all" not in out
    code, out, _ = lab.sh(script, name="roomy", cgroup=CgroupLimits(pids=100))
    assert code == 0 and "forked-all" in out


def test_cpu_quota_and_memory_limit_are_in_the_cgroup(lab: Lab) -> None:
    limits = CgroupLimits(cpus=0.5, memory=64 << 20, cpu_shares=512, cpuset="0", pids=20)
    container = lab.start("c", ["sleep", "30"], cgroup=limits)
    assert container.cgroup.cpu_quota() == (50_000, 100_000)
    assert container.cgroup.memory_limit() == 64 << 20
    assert container.pid in container.cgroup.pids()


def test_exec_joins_the_container_and_propagates_the_exit_code(lab: Lab) -> None:
    container = lab.start("c", ["sleep", "30"], hostname="box")
    links = " ".join(f"readlink /proc/{p}/ns/{ns};" for ns in ("mnt", "pid") for p in ("self", "1"))
    probe = f"{links} hostname; exit 7"
    code, out = run_in_container(container.pid, ["/bin/sh", "-c", probe], 10, cfg=container.cfg,
                                 cgroup=container.cgroup)  # fmt: skip
    assert code == 7
    mnt_self, mnt_1, pid_self, pid_1, host = out.decode().split()
    assert mnt_self == mnt_1 and pid_self == pid_1 and host == "box"
    assert exec_in_container(container.pid, ["sh", "-c", "exit 3"], cfg=container.cfg) == 3
    code, out = run_in_container(container.pid, ["cat", "/proc/self/status"], 10, cfg=container.cfg)
    assert b"Seccomp:\t2" in out and b"CapBnd:\t00000000a80425fb" in out


def test_exec_with_a_timeout_is_killed(lab: Lab) -> None:
    container = lab.start("c", ["sleep", "30"])
    code, _ = run_in_container(container.pid, ["/bin/sh", "-c", "sleep 20"], 0.3, cfg=container.cfg)
    assert code == 137


def test_stop_honours_the_signal_with_a_trap(lab: Lab) -> None:
    script = "trap 'echo bye; exit 3' USR1; echo ready; while true; do sleep 0.05; done"
    container = lab.start("c", ["/bin/sh", "-c", script])
    _wait_for(lambda: "ready" in container.stdout)
    stop_container(container.pid, container.cgroup, signal.SIGUSR1, 10.0, container.reap)
    assert container.wait() == 3
    assert "bye" in container.stdout


def test_stop_kills_after_the_grace_period(lab: Lab) -> None:
    container = lab.start("c", ["sleep", "30"])  # PID 1 without a handler ignores SIGTERM
    started = time.monotonic()
    stop_container(container.pid, container.cgroup, signal.SIGTERM, 0.3)
    assert time.monotonic() - started >= 0.3
    assert container.wait() == 137
    assert container.cgroup.pids() == set()


def test_grace_kill_in_steps_as_an_event_loop_drives_it(lab: Lab) -> None:
    container = lab.start("c", ["sleep", "30"])  # PID 1 without a handler ignores SIGTERM
    code, _ = run_in_container(container.pid, ["/bin/sh", "-c", "sleep 30 &"], 10, cfg=container.cfg,
                               cgroup=container.cgroup)  # fmt: skip
    assert code == 0
    assert len(container.cgroup.pids()) == 2  # PID 1 and the exec'ed sleep left behind
    stop = GraceKill(container.pid, signal.SIGTERM, 30.0, container.cgroup)
    deadline = stop.begin()
    assert deadline - time.monotonic() > 29.0
    assert container.reap(0.2) is None  # begin() neither waits nor kills
    stop.expire()
    assert container.wait() == 137
    _wait_for(lambda: container.cgroup.pids() == set())


def test_logs_capture_both_streams_as_json_lines(lab: Lab) -> None:
    cfg = lab.config("c", ["/bin/sh", "-c", "echo out1; echo err1 >&2; printf partial"])
    os.makedirs(cfg.state_dir)
    stdout_path, stderr_path = make_log_fifos(cfg.files)
    log_file = str(Path(cfg.state_dir) / "json.log")
    collector = LogCollector(max_size=10_000, max_files=2)
    collector.add(cfg.name, "stdout", stdout_path, log_file)
    collector.add(cfg.name, "stderr", stderr_path, log_file)
    handle = lab.driver.create(lab.project, "c", CgroupLimits())
    pid = spawn_container(cfg, handle, stdout_path, stderr_path)
    os.waitpid(pid, 0)
    collector.remove(cfg.name)
    handle.remove()
    lines = list(read_logs(log_file))
    assert {(line.stream, line.text) for line in lines} == {
        ("stdout", "out1\n"),
        ("stderr", "err1\n"),
        ("stdout", "partial"),
    }
    assert all(line.time.endswith("Z") and len(line.time) == 30 for line in lines)


def test_init_from_the_host_is_pid_1_and_reaps(lab: Lab) -> None:
    script = "(sleep 0.01 &); sleep 0.3; ps -o stat,comm | grep -c '^Z' ; cat /proc/1/cmdline | tr '\\0' ' '"
    code, out, _ = lab.sh(script, init=True)
    assert code == 0
    zombies, cmdline = out.split("\n", 1)
    assert zombies == "0"
    assert cmdline.startswith("/dev/init -- /bin/sh")


def test_builtin_init_reaps_forwards_and_exits_with_the_command(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPOSER_INIT", "builtin")
    script = "(sleep 0.01 &); sleep 0.3; ps -o stat,comm | grep -c '^Z'; echo sh=$$; exit 5"
    code, out, _ = lab.sh(script, init=True)
    assert code == 5
    assert out.split() == ["0", "sh=2"]  # the command is the init's child
    container = lab.start(
        "t", ["/bin/sh", "-c", "trap 'exit 9' TERM; while true; do sleep 0.05; done"], init=True
    )
    time.sleep(0.2)  # let sh install its trap
    stop_container(container.pid, container.cgroup, signal.SIGTERM, 10.0, container.reap)
    assert container.wait() == 9


def _wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_exec_with_a_tty(lab: Lab) -> None:
    import json
    import subprocess
    import sys

    container = lab.start("c", ["sleep", "30"])
    code = (
        "import json, sys; from composer.model.container import ContainerConfig;"
        " from composer.kernel.process import exec_in_container;"
        " cfg = ContainerConfig.from_json(sys.argv[2]);"
        " sys.exit(exec_in_container(int(sys.argv[1]), ['sh', '-c', 'tty; exit 4'], tty=True, cfg=cfg))"
    )
    done = subprocess.run([sys.executable, "-c", code, str(container.pid), container.cfg.to_json()],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=30)  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert done.stdout.decode().strip().startswith("/dev/pts/")
    assert json.loads(container.cfg.to_json())["name"] == container.cfg.name
