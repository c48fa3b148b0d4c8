"""scale, volumes and attach through the CLI on the real kernel."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: vb-scale
services:
  web:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: [data:/data]
  job:
    rootfs: ROOTFS
    command: [sh, -c, "echo before; sleep 8; echo after; echo err-after >&2; exit 7"]
volumes:
  data: {}
  spare: {}
"""


def _names(lab: Lab) -> list[str]:
    return sorted(str(r["Name"]) for r in lab.ps("vb-scale") if r["Service"] == "web")


def test_scale_up_and_down_keeps_the_others(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d", "web")
    first = {str(r["Name"]): r["Pid"] for r in lab.ps("vb-scale")}
    lab.composer("scale", "web=3")
    assert _names(lab) == ["vb-scale-web-1", "vb-scale-web-2", "vb-scale-web-3"]
    assert {str(r["Name"]): r["Pid"] for r in lab.ps("vb-scale")}["vb-scale-web-1"] == first["vb-scale-web-1"]
    lab.composer("scale", "web=1")
    assert _names(lab) == ["vb-scale-web-1"]
    bad = lab.composer("scale", "web", check=False)
    assert bad.returncode == 1 and "SERVICE=N" in bad.stderr
    lab.composer("down", "-v")
    assert project_leftovers(lab.root, "vb-scale") == []


def test_volumes(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d", "web")
    table = lab.composer("-p", "vb-scale", "volumes").stdout.splitlines()
    assert table[0].split() == ["DRIVER", "VOLUME", "NAME", "MOUNTPOINT"]
    rows = [
        json.loads(line)
        for line in lab.composer("-p", "vb-scale", "volumes", "--format", "json").stdout.splitlines()
    ]
    assert {r["Name"]: r["Services"] for r in rows} == {"vb-scale_data": ["web"], "vb-scale_spare": []}
    assert lab.composer("-p", "vb-scale", "volumes", "-q", "web").stdout.split() == ["vb-scale_data"]
    lab.composer("down", "-v")


def test_attach_follows_until_exit(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d", "job")
    while "before" not in lab.composer("logs", "job").stdout:
        time.sleep(0.1)
    result = lab.composer("attach", "job", check=False, timeout=30)
    assert result.returncode == 7
    assert result.stdout.split() == ["after"]  # new output only, as docker attach
    assert result.stderr.strip() == "err-after"
    stopped = lab.composer("attach", "job", check=False)
    assert stopped.returncode == 1 and "not running" in stopped.stderr
    lab.composer("down", "-v")


READER = """\
name: vb-attach-in
services:
  reader:
    rootfs: ROOTFS
    stdin_open: true
    command: [sh, -c, "while read line; do echo got-$$line; [ $$line = quit ] && exit 4; done"]
"""


def test_attach_passes_its_stdin_to_a_stdin_open_container(lab: Lab) -> None:
    lab.write(READER)
    lab.composer("up", "-d")
    result = lab.composer("attach", "reader", check=False, timeout=30, input="hello\nquit\n")
    assert result.returncode == 4, result.stderr
    assert result.stdout.split() == ["got-hello", "got-quit"]
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "vb-attach-in") == []
