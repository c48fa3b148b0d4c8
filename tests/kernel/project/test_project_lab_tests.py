"""``composer test`` and ``composer fault run`` on the three-router example, through the CLI, on the real kernel.

The example's checks prove the routes, cut a link, prove that the failure is
seen (the peer's carrier, a reach that fails) and mend it; a failing check makes
the exit status 1 and shows in the JSON and the JUnit XML.
"""

from __future__ import annotations

import json
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PROJECT = "lb-tests"


def _example(lab: Lab) -> Path:
    target = lab.folder / "examples"
    shutil.copytree(EXAMPLES / "three-routers", target / "three-routers")
    (target / "rootfs").mkdir()
    (target / "rootfs" / "busybox").symlink_to(lab.rootfs)
    return target / "three-routers"


def _cli(lab: Lab, folder: Path, *args: str, check: bool = True) -> object:
    return lab.composer("-p", PROJECT, "-f", str(folder / "compose.yaml"), *args, check=check)


def test_the_three_router_checks_pass_and_write_junit(lab: Lab) -> None:
    folder = _example(lab)
    _cli(lab, folder, "up", "-d", "--progress", "quiet")
    began = time.monotonic()
    result = lab.composer("-p", PROJECT, "-f", str(folder / "compose.yaml"), "test", "--junit", "out.xml",
                          check=False)  # fmt: skip
    took = time.monotonic() - began
    assert result.returncode == 0, result.stdout + result.stderr
    print(
        f"composer test of the three-router example: {took:.2f}s wall, summary: {result.stdout.splitlines()[-1]}"
    )
    lines = result.stdout.splitlines()
    assert [line.split("  ")[0] for line in lines[:-1]] == ["PASS"] * 10, result.stdout
    assert lines[-1].startswith("10 passed, 0 failed in ")
    suites = ET.parse(lab.folder / "out.xml").getroot()
    assert suites.tag == "testsuites" and suites.get("tests") == "10" and suites.get("failures") == "0"
    assert [case.get("name") for case in suites.iter("testcase")][:2] == [
        "r1 has its route to the far subnet", "r1 reaches r3 through r2",
    ]  # fmt: skip
    # Left as the steps made it: mended, so nothing differs from the file.
    assert "differs" not in lab.composer("-p", PROJECT, "ps").stdout
    lab.composer("-p", PROJECT, "down", "-t", "1")
    assert project_leftovers(lab.root, PROJECT) == []


def test_a_failing_check_fails_the_run_and_restore_mends_the_lab(lab: Lab) -> None:
    folder = _example(lab)
    _cli(lab, folder, "up", "-d", "--progress", "quiet")
    (lab.folder / "broken.yaml").write_text(
        "tests:\n"
        "  - {name: cut, steps: [{link_down: 'r1:eth1--r2:eth1'}]}\n"
        "  - {name: still reaches, reach: {from: r1, to: r3, timeout: 300ms}}\n"
        "  - {name: a wrong route, route: {service: r3, to: 10.0.12.0/30, via: 10.0.23.9}}\n"
        "  - {name: hostname, command: {service: r3, run: hostname, stdout: '^r3$'}}\n"
    )
    result = lab.composer("-p", PROJECT, "test", "broken.yaml", "--format", "json", "--junit", "j.xml",
                          "--restore", check=False)  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    assert (report["passed"], report["failed"]) == (2, 2)
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["still reaches"]["detail"] == "icmp 10.0.23.2 not reached"
    assert by_name["a wrong route"]["detail"] == "10.0.12.0/30 goes via 10.0.23.1 dev eth1"
    failures = [c.find("failure") for c in ET.parse(lab.folder / "j.xml").getroot().iter("testcase")]
    assert [f is not None for f in failures] == [False, True, True, False]
    # --restore put the file's link state back: r1 reaches r3 again.
    again = lab.composer(
        "-p", PROJECT, "exec", "-T", "r1", "ping", "-c", "1", "-W", "2", "10.0.23.2", check=False
    )
    assert again.returncode == 0
    assert "differs" not in lab.composer("-p", PROJECT, "ps").stdout
    bad = lab.composer("-p", PROJECT, "test", "nope.yaml", check=False)
    assert bad.returncode == 2 and "cannot read the file" in bad.stderr


def test_the_matrix_and_a_fault_schedule(lab: Lab) -> None:
    folder = _example(lab)
    _cli(lab, folder, "up", "-d", "--progress", "quiet")
    matrix = lab.composer("-p", PROJECT, "test", "--matrix", "--format", "json")
    report = json.loads(matrix.stdout)
    assert report["failed"] == 0 and report["passed"] == 6  # 3 routers, each to the 2 others
    (lab.folder / "flap.yaml").write_text(
        "faults:\n"
        "  - {at: 0s, link_down: 'r2:eth2'}\n"
        "  - {at: 0.5s, link_up: 'r2:eth2'}\n"
        "  - {at: 1s, link_set: {target: 'r1:eth1', rate: 2mbit}}\n"
        "repeat: 2\n"
        "period: 1.5s\n"
    )
    began = time.monotonic()
    run = lab.composer("-p", PROJECT, "fault", "run", "flap.yaml")
    took = time.monotonic() - began
    lines = run.stdout.splitlines()
    assert [line.split("  ")[1] for line in lines] == ["link_down r2:eth2", "link_up r2:eth2",
                                                       "link_set r1:eth1 {'rate': 2000000}"] * 2  # fmt: skip
    assert all(line.endswith("late)") and "done" in line for line in lines)
    assert took >= 2.5  # the second round's last step is due at 1.5 s + 1 s
    rows = {
        r["End"]: r for r in json.loads(lab.composer("-p", PROJECT, "link", "ls", "--format", "json").stdout)
    }
    assert rows["r1:eth1"]["Kernel"]["Rate"] == 2_000_000 and rows["r2:eth2"]["Kernel"]["Up"] is True
    lab.composer("-p", PROJECT, "up", "-d", "-f", str(folder / "compose.yaml"), check=False)


def test_http_udp_and_throughput_probes_need_no_tool_in_the_prober(lab: Lab) -> None:
    folder = _example(lab)
    _cli(lab, folder, "up", "-d", "--progress", "quiet")
    (lab.folder / "probes.yaml").write_text(
        "tests:\n"
        "  - {name: serve, command: {service: r3, run: 'busybox httpd -p 8080 -h /etc'}}\n"
        "  - {name: http, reach: {from: r1, to: r3, http: 8080, path: /hostname}}\n"
        "  - {name: http 404, reach: {from: r1, to: r3, http: 8080, path: /nope, status: 404}}\n"
        "  - {name: no udp echo, reach: {from: r1, to: r3, udp: 7, expect: fail, timeout: 300ms}}\n"
        "  - {name: 100mbit, throughput: {from: r1, to: r2, rate: 100mbit, tolerance: 25%, size: 4MB}}\n"
        "  - {name: slower, steps: [{link_set: {target: 'r1:eth1', rate: 5mbit}}]}\n"
        "  - {name: 5mbit, throughput: {from: r1, to: 10.0.12.2, rate: 5mbit, tolerance: 25%, size: 1MB}}\n"
    )
    result = lab.composer("-p", PROJECT, "test", "probes.yaml", "--format", "json", "--restore", check=False)
    report = json.loads(result.stdout)
    details = {c["name"]: (c["passed"], c["detail"]) for c in report["checks"]}
    print(json.dumps(details, indent=1))
    assert report["failed"] == 0, details
    assert details["http"][1] == "http 10.0.23.2:8080/hostname status 200"
    assert details["http 404"][1] == "http 10.0.23.2:8080/nope status 404"


def test_the_ring_of_twenty_routers_is_a_full_matrix(lab: Lab) -> None:
    target = lab.folder / "examples"
    shutil.copytree(EXAMPLES / "ring20", target / "ring20")
    (target / "rootfs").mkdir()
    (target / "rootfs" / "busybox").symlink_to(lab.rootfs)
    compose = str(target / "ring20" / "compose.yaml")
    lab.composer("-p", "lb-ring", "-f", compose, "up", "-d", "--progress", "quiet", timeout=300)
    began = time.monotonic()
    report = json.loads(
        lab.composer("-p", "lb-ring", "test", "--matrix", "--format", "json", timeout=300).stdout
    )
    print(f"ring20 matrix: {report['passed']} pairs in {time.monotonic() - began:.2f}s wall")
    assert (report["passed"], report["failed"]) == (380, 0)
    lab.composer("-p", "lb-ring", "down", "-t", "1")
    assert project_leftovers(lab.root, "lb-ring") == []
