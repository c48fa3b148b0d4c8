"""Limits a rootless host cannot hold: one note with the plan, or (strict) an error before anything is made;
and userns_mode, refused without root at its line.

The host is the fake one with the limit support a rootless machine reports
(cgroup v1 here, so the real machine could not show the delegated case).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import composer as api
from composer.engine.hosts.fake import FakeHost
from composer.errors import PlanError
from composer.model.rootless import LimitSupport
from tests.support.projects import load, write_project

LIMITED = """\
name: lim
services:
  a:
    rootfs: ROOTFS
    command: [sleep, "1d"]
    deploy: {resources: {limits: {memory: 64m, pids: 20}}}
  b:
    rootfs: ROOTFS
    command: [sleep, "1d"]
    cpus: 0.5
"""

NO_CGROUPS = LimitSupport(
    frozenset(), "cgroup v1 is never delegated to unprivileged users", use_cgroups=False
)


@pytest.fixture
def project(tmp_path: Path, busybox_rootfs: Path) -> Path:
    return write_project(tmp_path / "lim", LIMITED, busybox_rootfs)


@pytest.fixture
def roots(tmp_path: Path) -> api.Roots:
    return api.Roots(state=tmp_path / "state", images=tmp_path / "images")


def test_the_plan_carries_one_note_naming_every_lost_limit(project: Path, roots: api.Roots) -> None:
    host = FakeHost(limits=NO_CGROUPS)
    plan = api.up(load(project), api.UpOptions(), roots=roots, host=host).plan
    notes = [n for n in plan.notes if "cannot be applied" in n]
    assert len(notes) == 1
    lost = (
        "services.a.deploy.resources.limits.memory, services.a.deploy.resources.limits.pids, services.b.cpus"
    )
    assert f"without them: {lost} (" in notes[0]  # the keys the file has, not the cgroup fields
    assert "cgroup v1" in notes[0]
    assert host.processes  # the containers run, without the limits
    again = api.up(load(project), api.UpOptions(), roots=roots, host=host).plan
    assert not again and again.notes == ()  # nothing to do: nothing to say again


def test_strict_limits_refuse_before_anything_is_made(project: Path, roots: api.Roots) -> None:
    host = FakeHost(limits=NO_CGROUPS)
    with pytest.raises(PlanError) as raised:
        api.up(load(project), api.UpOptions(strict_limits=True), roots=roots, host=host)
    assert "services.a.deploy.resources.limits.memory" in raised.value.message
    assert "Delegate=yes" in (raised.value.hint or "")
    assert host.calls == [] and host.leftovers() == []
    assert not roots.state.exists()  # refused: nothing of the project, not even the state root


def test_delegated_controllers_leave_only_the_others_in_the_note(project: Path, roots: api.Roots) -> None:
    partial = LimitSupport(frozenset({"memory", "pids"}), "the controllers cpu, cpuset are not delegated")
    plan = api.up(load(project), api.UpOptions(), roots=roots, host=FakeHost(limits=partial)).plan
    assert [n for n in plan.notes if "cannot be applied" in n] == [
        "rootless: these limits cannot be applied, the containers run without them: services.b.cpus"
        " (the controllers cpu, cpuset are not delegated); COMPOSER_STRICT_LIMITS=1 or --strict-limits"
        " makes this an error"
    ]


def test_as_root_every_limit_holds_and_nothing_is_said(project: Path, roots: api.Roots) -> None:
    plan = api.up(load(project), api.UpOptions(), roots=roots, host=FakeHost()).plan
    assert not [n for n in plan.notes if "cannot be applied" in n]


USERNS = """\
name: uns
services:
  a:
    rootfs: ROOTFS
    command: [sleep, "1d"]
    userns_mode: "auto"
"""


def test_userns_mode_is_refused_without_root_at_its_line(tmp_path: Path, busybox_rootfs: Path) -> None:
    from composer.errors import SpecError

    project = write_project(tmp_path / "uns", USERNS, busybox_rootfs)
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = FakeHost(rootless=True)
    with pytest.raises(SpecError) as raised:
        api.up(load(project), api.UpOptions(), roots=roots, host=host)
    assert "compose.yaml:6:" in raised.value.message and "services.a.userns_mode" in raised.value.message
    assert host.calls == []
    assert not roots.state.exists()  # bad input leaves nothing: no state root, no lock file
    assert api.up(load(project), api.UpOptions(dry_run=True), roots=roots, host=FakeHost()).plan  # root: fine
