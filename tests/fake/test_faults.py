"""Fault injection: fail the host at call N, for every N of a 5-service up.

After each failure the next ``up`` must converge (a second ``up`` then plans
nothing) and ``down`` must leave nothing on the (fake) host or in the state store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import composer as api
from composer.engine.hosts.fake import FakeHost
from tests.fake.test_plans import SHOP
from tests.support.projects import load, write_project

NOTHING = "nothing to do: the host matches the project\n"


def _calls_of_clean_up(project: Path, tmp_path: Path) -> int:
    host = FakeHost()
    roots = api.Roots(state=tmp_path / "probe", images=tmp_path / "images")
    api.up(load(project), api.UpOptions(parallel=1), roots=roots, host=host)
    api.down("shop", api.DownOptions(), roots=roots, host=host)
    return len(host.calls)


def test_every_failure_point_converges(tmp_path: Path, busybox_rootfs: Path) -> None:
    project = write_project(tmp_path / "shop", SHOP, busybox_rootfs)
    up_calls = _calls_of_clean_up(project, tmp_path)
    assert up_calls >= 12  # network, 5 sandboxes, firewall, 5 starts ... and the removals
    for step in range(1, up_calls + 1):
        roots = api.Roots(state=tmp_path / f"state-{step}", images=tmp_path / "images")
        host = FakeHost(fail_at=step)
        try:
            api.up(load(project), api.UpOptions(parallel=3), roots=roots, host=host)
        except Exception as error:  # the injected fault, reported as a failed plan
            assert "injected failure" in str(error)
        host.fail_at = None
        api.up(load(project), api.UpOptions(), roots=roots, host=host)
        again = api.up(load(project), api.UpOptions(dry_run=True), roots=roots, host=host)
        assert again.plan.render() == NOTHING, f"failure at call {step} did not converge"
        assert set(host.processes) == {"shop-cache-1", "shop-db-1", "shop-web-1", "shop-worker-1"}
        result = api.down("shop", api.DownOptions(), roots=roots, host=host)
        assert result.leftovers == []
        assert host.leftovers() == [], f"failure at call {step} left {host.leftovers()}"
        assert not (roots.state / "projects" / "shop").exists()


@pytest.mark.parametrize("step", [1, 2, 3, 5, 8])
def test_down_interrupted_then_repeated(tmp_path: Path, busybox_rootfs: Path, step: int) -> None:
    project = write_project(tmp_path / "shop", SHOP, busybox_rootfs)
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = FakeHost()
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    host.fail_at = len(host.calls) + step
    with pytest.raises(Exception, match="injected failure"):
        api.down("shop", api.DownOptions(parallel=1), roots=roots, host=host)
    host.fail_at = None
    assert api.down("shop", api.DownOptions(), roots=roots, host=host).leftovers == []
    assert host.leftovers() == []
