"""run, create, rm and version through the CLI on the real kernel."""

from __future__ import annotations

import json

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: vb-run
services:
  db:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; echo db-up; sleep 3600 & wait"]
    networks: {back: {aliases: [database]}}
  app:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    environment: {GREETING: hello}
    depends_on: [db]
    networks: [back]
networks:
  back: {}
"""


def _rows(lab: Lab) -> dict[str, dict[str, object]]:
    return {str(r["Name"]): r for r in lab.ps("vb-run")}


def test_run_foreground_exit_status_env_and_rm(lab: Lab) -> None:
    lab.write(PROJECT)
    result = lab.composer(
        "run", "--rm", "-T", "-e", "EXTRA=x1", "-w", "/tmp", "app",
        "sh", "-c", "echo $GREETING-$EXTRA-$(pwd); echo to-err >&2; ping -c1 -W2 database >/dev/null && echo dns; exit 3",
        check=False,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == ["hello-x1-/tmp", "dns"]
    assert "to-err" in result.stderr
    rows = _rows(lab)
    assert set(rows) == {"vb-run-db-1"}  # the dependency was started; the one-off is gone (--rm)
    assert rows["vb-run-db-1"]["State"] == "running"
    lab.composer("down")
    assert project_leftovers(lab.root, "vb-run") == []


def test_run_detached_no_deps_name_and_down_removes_it(lab: Lab) -> None:
    lab.write(PROJECT)
    out = lab.composer("run", "-d", "--no-deps", "--name", "vb-run-job", "app", "sleep", "300").stdout
    assert out.strip() == "vb-run-job"
    rows = _rows(lab)
    assert set(rows) == {"vb-run-job"} and rows["vb-run-job"]["Service"] == "app"
    assert rows["vb-run-job"]["State"] == "running"
    lab.composer("up", "-d")  # the one-off is neither an orphan nor scaled away
    assert set(_rows(lab)) == {"vb-run-job", "vb-run-db-1", "vb-run-app-1"}
    assert lab.exec("vb-run", "app", "true").returncode == 0  # exec picks the service's own container
    lab.composer("stop", "-t", "1")  # the service containers; the one-off is left
    assert {n: r["State"] for n, r in _rows(lab).items()}["vb-run-job"] == "running"
    refused = lab.composer("run", "-d", "--rm", "app", check=False)
    assert refused.returncode == 1 and "nothing would remove" in refused.stderr
    lab.composer("down")
    assert project_leftovers(lab.root, "vb-run") == []


def test_run_entrypoint_user_volume_and_unknown_service(lab: Lab) -> None:
    lab.write(PROJECT)
    (lab.folder / "data").mkdir()
    (lab.folder / "data" / "f.txt").write_text("from-host\n")
    result = lab.composer(
        "run", "--rm", "--no-deps", "-u", "1000", "-v", "./data:/data:ro", "--entrypoint", "sh -c", "app",
        "id -u; cat /data/f.txt",
    )  # fmt: skip
    assert result.stdout.splitlines() == ["1000", "from-host"]
    missing = lab.composer("run", "nope", check=False)
    assert missing.returncode == 1 and "no such service: nope" in missing.stderr
    assert "Traceback" not in missing.stderr
    lab.composer("down")


def test_create_then_start_and_rm(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("create")
    assert {r["State"] for r in lab.ps("vb-run")} == {"created"}
    assert lab.composer("rm", "-f").stderr.count("Removed") == 2
    assert _rows(lab) == {}
    lab.composer("up", "-d")
    kept = lab.composer("rm", "-f", "app")  # running: rm leaves it without -s
    assert "No stopped containers" in kept.stderr
    lab.composer("rm", "-f", "-s", "app")
    assert set(_rows(lab)) == {"vb-run-db-1"}
    lab.composer("up", "-d")  # made again
    assert {str(r["Name"]): r["State"] for r in lab.ps("vb-run")} == {
        "vb-run-db-1": "running",
        "vb-run-app-1": "running",
    }
    lab.composer("down")
    assert project_leftovers(lab.root, "vb-run") == []


def test_version(lab: Lab) -> None:
    from composer import __version__

    assert lab.composer("version", "--short").stdout.strip() == __version__
    assert json.loads(lab.composer("version", "--format", "json").stdout) == {"version": __version__}
    assert lab.composer("version", "--format", "xml", check=False).returncode == 2


def test_run_of_a_missing_command_fails_like_docker_and_rm_still_removes(lab: Lab) -> None:
    lab.write(PROJECT)
    result = lab.composer("run", "--rm", "--no-deps", "app", "/no/such/program", check=False)
    assert result.returncode in (126, 127), (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert _rows(lab) == {}  # --rm removed it, failed start or not
    lab.composer("down")
    assert project_leftovers(lab.root, "vb-run") == []


def test_run_passes_its_stdin_and_the_end_of_a_pipe(lab: Lab) -> None:
    lab.write(PROJECT.replace("vb-run", "vb-stdin"))
    counted = lab.composer(
        "run", "--rm", "--no-deps", "app", "sh", "-c", "wc -l; echo done", input="a\nb\nc\n"
    )
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.split() == ["3", "done"]  # wc saw every line, then the pipe's end
    closed = lab.composer("run", "--rm", "--no-deps", "--no-interactive", "app", "wc", "-l", input="a\nb\n")
    assert closed.stdout.split() == ["0"]  # without -i: /dev/null
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "vb-stdin") == []


def _read_until(master: int, marker: bytes, timeout: float = 20) -> bytes:
    import os
    import select
    import time

    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 4096)
            except OSError:  # EIO: composer closed the terminal
                break
    return seen


def test_run_on_a_terminal_gets_a_terminal_of_its_own(lab: Lab) -> None:
    """composer's stdin and stdout are a terminal (a pty this test owns): the one-off gets a
    pseudo-terminal, relayed both ways, with composer's window size and the command's exit status."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    lab.write(PROJECT.replace("vb-run", "vb-tty"))
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "composer.cli.main", "run", "--rm", "--no-deps", "app", "sh", "-c",
         "tty; stty size; echo ready; read x; echo got-$x; exit 7"],
        cwd=lab.folder, env=lab.env(), stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
    )  # fmt: skip
    lab.started.append(proc.pid)
    os.close(slave)
    try:
        seen = _read_until(master, b"ready")
        assert b"/dev/pts/" in seen and b"33 101" in seen, seen  # a terminal, of composer's size
        os.write(master, b"hello\r")  # typed: the container's terminal turns Enter into a newline
        assert b"got-hello" in _read_until(master, b"got-hello")
        assert proc.wait(timeout=30) == 7
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _read_until(master, b"\0", timeout=0.5)
        os.close(master)
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "vb-tty") == []
