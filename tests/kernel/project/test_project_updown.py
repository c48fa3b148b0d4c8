"""up, down, health-gated order, restarts and the supervisor, on the real kernel."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

# sh as PID 1 ignores SIGTERM unless it traps it: these services stop at once on `down`.
SLEEPER = """[sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]"""

TWO_NETWORKS = f"""\
name: duo
services:
  web:
    rootfs: ROOTFS
    command: [httpd, -f, -p, "80", -h, /var/www]
    networks:
      front: {{aliases: [www]}}
    mem_limit: 64m
    pids_limit: 64
    stop_grace_period: 1s
  client:
    rootfs: ROOTFS
    command: {SLEEPER}
    networks: [front]
  stranger:
    rootfs: ROOTFS
    command: {SLEEPER}
    networks: [back]
networks:
  front: {{}}
  back: {{}}
"""


def test_up_ps_exec_down_roundtrip(lab: Lab) -> None:
    lab.write(TWO_NETWORKS)
    lab.composer("up", "-d", "--progress", "plain")
    rows = {row["Service"]: row for row in lab.ps("duo")}
    assert {s: r["State"] for s, r in rows.items()} == {
        "web": "running",
        "client": "running",
        "stranger": "running",
    }
    assert rows["web"]["Networks"]["front"].startswith("172.")  # type: ignore[index]
    fetched = lab.exec("duo", "client", "wget", "-qO-", "http://www:80/")
    assert fetched.stdout == "hello from composer\n"
    assert lab.exec("duo", "client", "wget", "-qO-", "http://web/").returncode == 0
    assert lab.exec("duo", "client", "wget", "-qO-", "http://duo-web-1/").returncode == 0
    # Different networks cannot reach each other.
    web_ip = str(rows["web"]["Networks"]["front"])  # type: ignore[index]
    assert lab.exec("duo", "stranger", "wget", "-T", "2", "-qO-", f"http://{web_ip}/").returncode != 0
    down = lab.composer("down", "--progress", "plain")
    assert "Removed" in down.stderr
    assert project_leftovers(lab.root, "duo") == []
    assert not lab.root.exists()  # the last project gone: no lock file or folder is left either


def test_second_up_keeps_running_containers(lab: Lab) -> None:
    lab.write(TWO_NETWORKS)
    lab.composer("up", "-d")
    before = {row["Name"]: row["Pid"] for row in lab.ps("duo")}
    again = lab.composer("up", "-d")
    assert "nothing to do" in again.stderr
    assert {row["Name"]: row["Pid"] for row in lab.ps("duo")} == before
    lab.composer("down")


def test_addresses_survive_down_and_up(lab: Lab) -> None:
    lab.write(
        TWO_NETWORKS.replace(
            "front: {aliases: [www]}", "front: {aliases: [www], ipv4_address: 10.77.0.50}"
        ).replace("  front: {}", "  front: {ipam: {config: [{subnet: 10.77.0.0/24}]}}")
    )
    lab.composer("up", "-d")
    first = {row["Name"]: row["Networks"] for row in lab.ps("duo")}
    assert first["duo-web-1"]["front"] == "10.77.0.50"  # type: ignore[index]
    lab.composer("down")
    lab.composer("up", "-d")
    assert {row["Name"]: row["Networks"] for row in lab.ps("duo")} == first
    lab.composer("down")


HEALTH = f"""\
name: gated
services:
  db:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 1; touch /tmp/ready; sleep 3600 & wait"]
    healthcheck: {{test: [CMD-SHELL, "test -f /tmp/ready"], interval: 5s, start_period: 10s, start_interval: 200ms}}
  migrate:
    rootfs: ROOTFS
    command: [sh, -c, "echo migrated"]
    depends_on: {{db: {{condition: service_healthy}}}}
  web:
    rootfs: ROOTFS
    command: {SLEEPER}
    depends_on:
      db: {{condition: service_healthy}}
      migrate: {{condition: service_completed_successfully}}
"""


def _status(lab: Lab, project: str, name: str) -> dict[str, object]:
    path = lab.root / "projects" / project / "containers" / name / "status.json"
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_dependents_wait_for_health_and_completion(lab: Lab) -> None:
    lab.write(HEALTH)
    lab.composer("up", "-d", "--progress", "plain")
    db, migrate, web = (_status(lab, "gated", f"gated-{s}-1") for s in ("db", "migrate", "web"))
    assert db["health"] == "healthy"
    assert migrate["exit_code"] == 0
    assert float(web["started_at"]) > float(migrate["finished_at"])  # type: ignore[arg-type]
    assert float(migrate["started_at"]) >= float(db["started_at"]) + 1.0  # type: ignore[arg-type]
    rows = {row["Service"]: row for row in lab.ps("gated")}
    assert rows["db"]["Health"] == "healthy"
    logs = lab.composer("logs", "migrate").stdout
    assert "migrated" in logs
    lab.composer("down")
    assert project_leftovers(lab.root, "gated") == []


def test_failed_one_shot_fails_up_naming_it(lab: Lab) -> None:
    lab.write(HEALTH.replace('"echo migrated"', '"echo boom >&2; exit 3"'))
    result = lab.composer("up", "-d", check=False)
    assert result.returncode != 0
    assert "gated-migrate-1 exited with code 3" in result.stderr
    lab.composer("down")


RESTARTS = f"""\
name: phoenix
services:
  always:
    rootfs: ROOTFS
    command: {SLEEPER}
    restart: always
  never:
    rootfs: ROOTFS
    command: {SLEEPER}
    restart: "no"
"""


def _wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_restart_policy_after_an_outside_kill(lab: Lab) -> None:
    lab.write(RESTARTS)
    lab.composer("up", "-d")
    rows = {row["Service"]: row for row in lab.ps("phoenix")}
    os.kill(int(rows["always"]["Pid"]), signal.SIGKILL)  # type: ignore[arg-type]
    os.kill(int(rows["never"]["Pid"]), signal.SIGKILL)  # type: ignore[arg-type]

    def restarted() -> bool:
        status = _status(lab, "phoenix", "phoenix-always-1")
        return status["state"] == "running" and status["pid"] != rows["always"]["Pid"]

    assert _wait_for(restarted)
    assert _status(lab, "phoenix", "phoenix-always-1")["restart_count"] == 1
    never = _status(lab, "phoenix", "phoenix-never-1")
    assert never["state"] == "exited" and never["exit_code"] == 137
    lab.composer("down")
    assert project_leftovers(lab.root, "phoenix") == []


def test_containers_outlive_the_supervisor_and_a_new_one_adopts_them(lab: Lab) -> None:
    lab.write(RESTARTS)
    lab.composer("up", "-d")
    pids = {row["Name"]: row["Pid"] for row in lab.ps("phoenix")}
    pid_file = lab.root / "projects" / "phoenix" / "supervisor.pid"
    supervisor = int(pid_file.read_text().split()[0])
    os.kill(supervisor, signal.SIGKILL)
    time.sleep(0.2)
    assert {row["Name"]: row["Pid"] for row in lab.ps("phoenix")} == pids  # still running
    lab.composer("up", "-d")  # notices, starts a new supervisor that takes them over
    new_supervisor = int(pid_file.read_text().split()[0])
    assert new_supervisor != supervisor
    os.kill(int(pids["phoenix-always-1"]), signal.SIGKILL)  # type: ignore[arg-type]
    assert _wait_for(lambda: _status(lab, "phoenix", "phoenix-always-1")["pid"] != pids["phoenix-always-1"])
    lab.composer("down")
    assert project_leftovers(lab.root, "phoenix") == []


def test_published_port_answers_on_loopback(lab: Lab) -> None:
    lab.write(TWO_NETWORKS.replace("    mem_limit: 64m", '    ports: ["18081:80"]\n    mem_limit: 64m'))
    lab.composer("up", "-d")
    import urllib.request

    assert lab.composer("port", "web", "80").stdout.strip() == "0.0.0.0:18081"
    body = urllib.request.urlopen("http://127.0.0.1:18081/", timeout=5).read()
    assert body == b"hello from composer\n"
    lab.composer("down")
    assert project_leftovers(lab.root, "duo") == []


def test_down_of_a_project_that_is_not_there(lab: Lab) -> None:
    result = lab.composer("-p", "nothing-here", "down")
    assert result.returncode == 0


def test_two_projects_at_once_do_not_collide(lab: Lab) -> None:
    for name in ("left", "right"):
        (lab.folder / name).mkdir()
        lab.write(TWO_NETWORKS.replace("name: duo", f"name: {name}"), f"{name}/compose.yaml")
    procs = [lab.popen("-f", f"{name}/compose.yaml", "up", "-d") for name in ("left", "right")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    subnets: set[str] = set()
    for name in ("left", "right"):
        out = lab.composer("-p", name, "network", "ls", "--format", "json").stdout
        for row in json.loads(out):
            subnets.update(row["Subnets"])
    assert len(subnets) == 4  # two networks each, all distinct
    for name in ("left", "right"):
        lab.composer("-p", name, "down")
        assert project_leftovers(lab.root, name) == []


def _big_lab(containers: int) -> str:
    lines = ["name: crash", "services:"]
    for index in range(containers):
        lines += [
            f"  n{index}:",
            "    rootfs: ROOTFS",
            f"    command: {SLEEPER}",
            "    pids_limit: 32",
            "    mem_limit: 32m",
            "    networks: [lan]",
        ]
    lines += ["networks:", "  lan: {}", "links:"]
    lines += [f"  - n{i}:eth{9} -- n{i + 1}:eth{8}" for i in range(0, containers - 1, 2)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("trial", range(20))
def test_kill9_during_up_then_down_leaves_nothing(lab: Lab, trial: int) -> None:
    lab.write(_big_lab(10))
    proc = lab.popen("up", "-d", "--progress", "quiet")
    time.sleep(random.Random(trial).uniform(0.0, 1.2))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if trial % 2:
        lab.composer("up", "-d")  # half the trials converge first, then go down
        assert len([r for r in lab.ps("crash") if r["State"] == "running"]) == 10
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "crash") == []


def test_state_is_written_with_a_schema_version(lab: Lab) -> None:
    lab.write(RESTARTS)
    lab.composer("up", "-d")
    state = json.loads((lab.root / "projects" / "phoenix" / "state.json").read_text())
    assert state["schema_version"] == 2
    assert sorted((r["rid"], r["record"]["kind"]) for r in state["resources"]) == [
        ("container:phoenix-always-1", "container"), ("container:phoenix-never-1", "container"),
        ("firewall:phoenix", "firewall"), ("network:default", "network"),
        ("route:phoenix-always-1:0.0.0.0/0", "route"), ("route:phoenix-never-1:0.0.0.0/0", "route"),
    ]  # fmt: skip
    lab.composer("down")
    assert not Path(lab.root / "projects" / "phoenix").exists()


def _as_schema_1(record: dict[str, object]) -> dict[str, object]:
    """A schema-2 record in the flat form composer 0.1 wrote."""
    data = {k: v for k, v in record.items() if k not in ("kind", "sandbox", "folder")}
    if record["kind"] == "container":
        data["dir"] = record["folder"]
        data.update(record["sandbox"])  # type: ignore[arg-type]
    return data


def test_a_project_brought_up_by_composer_0_1_comes_down(lab: Lab) -> None:
    """Its state (schema 1, spec.json in each container folder) is read and everything goes."""
    lab.write(RESTARTS)
    lab.composer("up", "-d")
    folder = lab.root / "projects" / "phoenix"
    state = json.loads((folder / "state.json").read_text())
    old = {
        "schema_version": 1, "project": "phoenix",
        "meta": {**state["meta"], "files": ",".join(state["meta"]["files"])},
        "resources": [{"rid": r["rid"], "phase": r["phase"], "hash": r["hash"], "data": _as_schema_1(r["record"])}
                      for r in state["resources"] if r["record"]["kind"] != "route"],  # 0.1 had no routes
    }  # fmt: skip
    (folder / "state.json").write_text(json.dumps(old))
    for container in (folder / "containers").iterdir():
        (container / "supervised.json").rename(container / "spec.json")
    assert len([r for r in lab.ps("phoenix") if r["State"] == "running"]) == 2
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "phoenix") == []
