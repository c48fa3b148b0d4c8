"""``composer test`` and ``composer fault`` logic against the fake host: results, steps, restore, schedule, JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import composer as api
from composer.cli.test_cmd import junit_xml
from composer.engine.hosts.fake import FakeHost
from composer.engine.live import differences
from composer.project.models.labtests import FaultSchedule, LabTestsSpec
from composer.store.layout import StateRoot
from composer.verbs import labtest
from tests.fake.test_lab_plans import LAB
from tests.support.projects import load, write_project


@pytest.fixture
def lab(tmp_path: Path, busybox_rootfs: Path) -> tuple[object, FakeHost]:
    project = write_project(tmp_path / "lab", LAB, busybox_rootfs)
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = FakeHost()
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    return StateRoot(roots.state).project("lab"), host


SPEC = LabTestsSpec.model_validate({"tests": [
    {"name": "route", "route": {"service": "r1", "to": "10.0.23.0/30", "via": "10.0.12.2"}},
    {"name": "reach r2", "reach": {"from": "r1", "to": "r2:eth2"}},
    {"name": "cut", "steps": [{"link_down": "r2:eth2"}, {"link_set": {"target": "r1:eth1", "rate": "1mbit"}}]},
    {"name": "unreached now", "reach": {"from": "r1", "to": "10.0.23.1", "expect": "fail"}},
    {"name": "wrong", "route": {"service": "r1", "to": "10.0.23.0/30", "via": "10.0.12.9"}},
    {"name": "cmd", "command": {"service": "r1", "run": ["hostname"], "stdout": "^r1"}},
    {"name": "no such service", "reach": {"from": "r9", "to": "r1"}},
]})  # fmt: skip


def test_checks_report_what_they_saw_and_steps_change_the_lab(lab: tuple[object, FakeHost]) -> None:
    layout, host = lab
    host.exec_output = ("r1\n", "")
    seen: list[str] = []
    results = labtest.run_tests(layout, host, SPEC, lambda r: seen.append(r.name))  # type: ignore[arg-type]
    assert seen == [t.name for t in SPEC.tests]
    assert {r.name: (r.passed, r.detail) for r in results if r.kind != "steps"} == {
        "route": (True, "10.0.23.0/30 via 10.0.12.2 dev eth1"),
        "reach r2": (True, "icmp 10.0.23.1 reached in 1.0 ms"),
        "unreached now": (True, "icmp 10.0.23.1 not reached (expect fail)"),
        "wrong": (False, "10.0.23.0/30 goes via 10.0.12.2 dev eth1"),
        "cmd": (True, "exit 0"),
        "no such service": (False, "no service 'r9' in project lab (one of: r1, r2, r3)"),
    }
    # The lab is left as the steps made it, and the live changes say so.
    assert [end for end, _ in differences(layout)] == ["r1:eth1", "r2:eth2"]  # type: ignore[arg-type]


def test_restore_puts_the_file_back(lab: tuple[object, FakeHost]) -> None:
    layout, host = lab
    labtest.run_tests(layout, host, SPEC, restore=True)  # type: ignore[arg-type]
    assert differences(layout) == []  # type: ignore[arg-type]


def test_a_schedule_runs_each_step_at_its_time(lab: tuple[object, FakeHost]) -> None:
    layout, host = lab
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 3))
        now[0] += seconds

    schedule = FaultSchedule.model_validate({"faults": [
        {"at": "0s", "link_down": "r1:eth1"}, {"at": "2s", "link_up": "r1:eth1"}, {"at": "3s", "stop": "r9"},
    ], "repeat": 2, "period": "5s"})  # fmt: skip
    events = labtest.run_faults(layout, host, schedule, clock=lambda: now[0], sleep=sleep)  # type: ignore[arg-type]
    assert sleeps == [2.0, 1.0, 2.0, 2.0, 1.0]  # 0, 2, 3, then 5, 7, 8
    assert [(e.round, e.offset, e.step) for e in events] == [
        (1, 0.0, "link_down r1:eth1"), (1, 2.0, "link_up r1:eth1"), (1, 3.0, "stop r9"),
        (2, 0.0, "link_down r1:eth1"), (2, 2.0, "link_up r1:eth1"), (2, 3.0, "stop r9"),
    ]  # fmt: skip
    assert [bool(e.error) for e in events] == [False, False, True] * 2  # a failing step does not stop it


def test_junit_xml_is_what_ci_systems_read(lab: tuple[object, FakeHost]) -> None:
    layout, host = lab
    results = labtest.run_tests(layout, host, SPEC)  # type: ignore[arg-type]
    root = ET.fromstring(junit_xml("lab", results, 1.5))
    suite = root.find("testsuite")
    assert root.tag == "testsuites" and suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("time")) == ("7", "3", "1.500")
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["wrong", "cmd", "no such service"]  # the fake's output has no "r1" this time


def test_the_matrix_pings_every_other_router(lab: tuple[object, FakeHost]) -> None:
    layout, host = lab
    results = labtest.run_matrix(layout, host)  # type: ignore[arg-type]
    assert [r.name for r in results] == [
        "r1 -> r2",
        "r1 -> r3",
        "r2 -> r1",
        "r2 -> r3",
        "r3 -> r1",
        "r3 -> r2",
    ]
    assert all(r.passed for r in results)


def test_throughput_and_http_checks_compare_with_what_they_expect(lab: tuple[object, FakeHost]) -> None:
    layout, host = lab
    host.http_answer = 503
    spec = LabTestsSpec.model_validate({"tests": [
        {"name": "10mbit", "throughput": {"from": "r1", "to": "r2", "rate": "10mbit"}},
        {"name": "50mbit", "throughput": {"from": "r1", "to": "10.0.12.2", "rate": "50mbit", "tolerance": "10%"}},
        {"name": "http", "reach": {"from": "r1", "to": "r2:eth1", "http": 80}},
        {"name": "http 503", "reach": {"from": "r1", "to": "r2", "http": 80, "status": 503}},
    ]})  # fmt: skip
    results = {r.name: (r.passed, r.detail) for r in labtest.run_tests(layout, host, spec)}  # type: ignore[arg-type]
    assert results == {
        "10mbit": (True, "10.00 Mbit/s for 10 Mbit/s +-20%"),
        "50mbit": (False, "10.00 Mbit/s for 50 Mbit/s +-10%"),
        "http": (False, "http 10.0.12.2:80/ status 503"),
        "http 503": (True, "http 10.0.12.2:80/ status 503"),
    }
