"""Secrets, configs and logging on the real kernel: files read inside a container, log rotation, driver none."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: cf-secrets
services:
  app:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    secrets:
      - token
      - source: password
        target: db_password
        uid: "1000"
        gid: "2000"
        mode: 0400
    configs:
      - source: app_conf
        target: /etc/app/app.conf
      - inline
secrets:
  token:
    file: ./token.txt
  password:
    environment: CF_DB_PASSWORD
configs:
  app_conf:
    file: ./app.conf
  inline:
    content: |
      hello ${COMPOSE_PROJECT_NAME}
"""


def _stat(lab: Lab, path: str) -> str:
    result = lab.exec("cf-secrets", "app", "stat", "-c", "%u:%g:%a", path)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_secrets_and_configs_are_read_only_files_in_the_container(lab: Lab) -> None:
    lab.write(PROJECT)
    (lab.folder / "token.txt").write_text("t0ken\n")
    (lab.folder / "app.conf").write_text("key = value\n")
    os.environ["CF_DB_PASSWORD"] = "s3cret"
    try:
        lab.composer("up", "-d")
    finally:
        del os.environ["CF_DB_PASSWORD"]
    read = {
        path: lab.exec("cf-secrets", "app", "cat", path).stdout
        for path in ("/run/secrets/token", "/run/secrets/db_password", "/etc/app/app.conf", "/inline")
    }
    assert read == {
        "/run/secrets/token": "t0ken\n",
        "/run/secrets/db_password": "s3cret",
        "/etc/app/app.conf": "key = value\n",
        "/inline": "hello cf-secrets\n",
    }
    assert _stat(lab, "/run/secrets/token") == "0:0:444"
    assert _stat(lab, "/run/secrets/db_password") == "1000:2000:400"
    write = lab.exec("cf-secrets", "app", "sh", "-c", "echo x > /run/secrets/token")
    assert write.returncode != 0 and "Read-only" in write.stderr
    # The container got a copy: changing the host file later does not reach it.
    (lab.folder / "token.txt").write_text("changed\n")
    assert lab.exec("cf-secrets", "app", "cat", "/run/secrets/token").stdout == "t0ken\n"
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "cf-secrets") == []


def test_a_missing_secret_file_stops_up_before_anything_is_made(lab: Lab) -> None:
    lab.write(PROJECT.replace("name: cf-secrets", "name: cf-missing"))
    (lab.folder / "app.conf").write_text("x\n")
    result = lab.composer("up", "-d", check=False, cwd=lab.folder)
    assert result.returncode == 2, result.stderr
    assert "secrets.token.file" in result.stderr and "token.txt is not a file" in result.stderr
    assert not (lab.root / "projects" / "cf-missing").exists()


LOGGING = """\
name: cf-logging
services:
  chatty:
    rootfs: ROOTFS
    command: [sh, -c, "i=0; while [ $$i -lt 400 ]; do echo line-$$i-padding-padding-padding; i=$$((i+1)); done; sleep 3600"]
    logging:
      driver: json-file
      options: {max-size: 4k, max-file: "2"}
  silent:
    rootfs: ROOTFS
    command: [sh, -c, "echo should-not-be-kept; sleep 3600"]
    logging: {driver: none}
"""


def _log_files(lab: Lab, container: str) -> list[Path]:
    folder = next(p for p in (lab.root / "projects" / "cf-logging").rglob(container) if p.is_dir())
    return sorted(folder.glob("json.log*"))


def test_logging_rotation_and_driver_none(lab: Lab) -> None:
    lab.write(LOGGING)
    lab.composer("up", "-d")
    deadline = time.monotonic() + 10
    while "line-399" not in lab.composer("logs", "chatty").stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    files = _log_files(lab, "cf-logging-chatty-1")
    assert [f.name for f in files] == ["json.log", "json.log.1"]  # max-file 2: one rotated file kept
    assert all(f.stat().st_size <= 4096 + 200 for f in files)
    last = [json.loads(line)["log"] for line in files[0].read_text().splitlines()][-1]
    assert last.startswith("line-399")
    assert "should-not-be-kept" not in lab.composer("logs", "silent").stdout
    assert _log_files(lab, "cf-logging-silent-1") == []  # driver none: no log file at all
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "cf-logging") == []


OPTIONS = """\
name: cf-options
services:
  db:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
  app:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    links: ["db:database"]
    dns_search: [corp.example]
    dns_opt: ["ndots:2", use-vc]
    oom_score_adj: 500
    group_add: ["4242", 4343]
    user: "1000"
    extra_hosts: ["host.docker.internal:host-gateway"]
"""


def test_links_dns_options_oom_score_and_groups(lab: Lab) -> None:
    lab.write(OPTIONS)
    lab.composer("up", "-d")
    hosts = lab.exec("cf-options", "app", "cat", "/etc/hosts").stdout
    db_line = next(line for line in hosts.splitlines() if "db" in line.split()[1:])
    database = next(line for line in hosts.splitlines() if "database" in line.split())
    assert database.split()[0] == db_line.split()[0]  # the alias names db's address
    resolv = lab.exec("cf-options", "app", "cat", "/etc/resolv.conf").stdout.splitlines()
    assert "search corp.example" in resolv and "options ndots:2 use-vc" in resolv
    assert lab.exec("cf-options", "app", "cat", "/proc/1/oom_score_adj").stdout.strip() == "500"
    status = lab.exec("cf-options", "app", "cat", "/proc/1/status").stdout
    groups = next(line.split()[1:] for line in status.splitlines() if line.startswith("Groups:"))
    assert {"4242", "4343"} <= set(groups)  # names are looked up in /etc/group (unit-tested)
    ping = lab.composer(
        "-p", "cf-options", "exec", "-T", "-u", "0", "app", "ping", "-c", "1", "-W", "2", "host.docker.internal",
        check=False,
    )  # fmt: skip
    assert ping.returncode == 0, ping.stdout + ping.stderr  # host-gateway: the bridge's address answers
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "cf-options") == []


SHARED = """\
name: cf-vfrom
services:
  data:
    rootfs: ROOTFS
    command: [sh, -c, "echo from-data > /shared/hello; trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: ["store:/shared", "/anon"]
  reader:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes_from: ["data:ro"]
volumes:
  store: {}
"""


def test_volumes_from(lab: Lab) -> None:
    lab.write(SHARED)
    lab.composer("up", "-d")
    deadline = time.monotonic() + 5
    while lab.exec("cf-vfrom", "reader", "cat", "/shared/hello").stdout != "from-data\n":
        assert time.monotonic() < deadline, "the reader never saw the data service's volume"
        time.sleep(0.1)
    lab.exec("cf-vfrom", "data", "sh", "-c", "echo anon > /anon/x")
    assert lab.exec("cf-vfrom", "reader", "cat", "/anon/x").stdout == "anon\n"  # the same anonymous volume
    write = lab.exec("cf-vfrom", "reader", "sh", "-c", "echo no > /shared/hello")
    assert write.returncode != 0 and "Read-only" in write.stderr
    lab.composer("down", "-v", "-t", "1")
    assert project_leftovers(lab.root, "cf-vfrom") == []


HOOKS = """\
name: cf-hooks
services:
  app:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: ["./out:/out"]
    post_start:
      - command: sh -c 'echo started-as-$$(id -u) $$GREETING > /out/post'
        user: "0"
        environment: {GREETING: hello}
    pre_stop:
      - command: [sh, -c, "echo stopping > /out/pre"]
  broken:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    post_start:
      - command: [sh, -c, "echo no-such-thing; exit 3"]
"""


def test_post_start_and_pre_stop_hooks(lab: Lab) -> None:
    lab.write(HOOKS)
    (lab.folder / "out").mkdir()
    result = lab.composer("up", "-d", check=False)
    assert result.returncode != 0
    assert (
        "post_start hook 0 of cf-hooks-broken-1" in result.stderr
        and "exited 3: no-such-thing" in result.stderr
    )
    assert (lab.folder / "out/post").read_text() == "started-as-0 hello\n"
    states = {str(row["Service"]): str(row["State"]) for row in lab.ps("cf-hooks")}
    assert states == {"app": "running", "broken": "exited"}  # the failing one was stopped
    lab.composer("stop", "app")
    assert (lab.folder / "out/pre").read_text() == "stopping\n"
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "cf-hooks") == []


MAC = """\
name: cf-mac
services:
  app:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    mac_address: "02:42:ac:11:65:43"
    networks: [front, back]
  other:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    networks:
      back: {mac_address: "02:00:00:00:00:0b"}
networks:
  front: {}
  back: {}
"""


def test_mac_addresses(lab: Lab) -> None:
    lab.write(MAC)
    lab.composer("up", "-d")

    def read(service: str, ifname: str) -> str:
        return lab.exec("cf-mac", service, "cat", f"/sys/class/net/{ifname}/address").stdout

    assert read("app", "eth0") == "02:42:ac:11:65:43\n"  # the service's mac_address: its first network
    assert read("app", "eth1") != "02:42:ac:11:65:43\n"
    assert read("other", "eth0") == "02:00:00:00:00:0b\n"
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "cf-mac") == []


STDIN = """\
name: cf-stdin
services:
  open:
    rootfs: ROOTFS
    command: [sh, -c, "read line; echo got-$$line"]
    stdin_open: true
  closed:
    rootfs: ROOTFS
    command: [sh, -c, "read line; echo eof"]
"""


def test_stdin_open_keeps_reads_waiting(lab: Lab) -> None:
    lab.write(STDIN)
    lab.composer("up", "-d")
    deadline = time.monotonic() + 10
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = {str(row["Service"]): str(row["State"]) for row in lab.ps("cf-stdin")}
        if states.get("closed") == "exited":
            break
        time.sleep(0.2)
    assert states == {"open": "running", "closed": "exited"}  # /dev/null gives EOF at once; the FIFO waits
    fifo = next(p for p in (lab.root / "projects" / "cf-stdin").rglob("stdin.fifo"))
    with open(fifo, "w") as handle:  # what `attach` would do
        handle.write("hello\n")
    deadline = time.monotonic() + 10
    while "got-hello" not in lab.composer("logs", "open").stdout:
        assert time.monotonic() < deadline, "the line written to stdin never reached the container"
        time.sleep(0.2)
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "cf-stdin") == []


TTY = """\
name: cf-tty
services:
  term:
    rootfs: ROOTFS
    command: [sh, -c, "if [ -t 0 ] && [ -t 1 ]; then echo on-a-terminal; fi; trap 'exit 0' TERM; sleep 3600 & wait"]
    tty: true
  again:
    rootfs: ROOTFS
    command: [sh, -c, "echo run; sleep 0.3; exit 1"]
    tty: true
    restart: on-failure:2
"""


def test_tty_gives_a_terminal_whose_output_is_logged(lab: Lab) -> None:
    lab.write(TTY)
    lab.composer("up", "-d")
    deadline = time.monotonic() + 10
    while "on-a-terminal" not in lab.composer("logs", "term").stdout:
        assert time.monotonic() < deadline, lab.composer("logs", "term").stdout
        time.sleep(0.2)
    while lab.composer("logs", "again").stdout.count("run") < 3:  # each restart gets a new terminal, logged
        assert time.monotonic() < deadline + 10, lab.composer("logs", "again").stdout
        time.sleep(0.2)
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "cf-tty") == []
