"""Entering a rootless project: a host that forbids user namespaces is refused before anything exists.

The sysctl reading is replaced (this machine allows user namespaces, and its
sysctls are shared with other work); everything after it is the real code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from composer.engine.hosts import rootless
from composer.engine.options import Roots
from composer.errors import RootlessError
from composer.kernel import userns


@pytest.mark.parametrize(
    ("sysctls", "named"),
    [
        ({"user/max_user_namespaces": "0"}, "user.max_user_namespaces"),
        ({"kernel/unprivileged_userns_clone": "0"}, "kernel.unprivileged_userns_clone=1"),
        ({"kernel/apparmor_restrict_unprivileged_userns": "1"}, "apparmor_restrict_unprivileged_userns=0"),
    ],
)
def test_a_forbidding_host_gets_the_sysctl_exit_2_and_nothing_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sysctls: dict[str, str], named: str
) -> None:
    monkeypatch.setattr(userns, "read_userns_sysctls", lambda: sysctls)
    made: list[object] = []
    monkeypatch.setattr(userns, "create_keeper", lambda mapping: made.append(mapping) or 1)
    roots = Roots(state=tmp_path / "state", images=tmp_path / "images")
    with pytest.raises(RootlessError) as raised:
        rootless.enter_project("rl-x", roots, create=True, warn=lambda text: None)
    assert raised.value.exit_code == 2
    assert named in raised.value.message and "\n" not in raised.value.message
    assert made == [] and not roots.state.exists() and not roots.images.exists()


def test_without_subordinate_ids_the_fallback_is_said_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(userns, "helpers_available", lambda: False)
    said: list[str] = []
    mapping = rootless.caller_mapping(said.append)
    assert mapping.single
    assert len(said) == 1 and "uidmap" in said[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_state_root_of_someone_else_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(userns, "read_userns_sysctls", lambda: {})
    made: list[object] = []
    monkeypatch.setattr(userns, "create_keeper", lambda mapping, network=True: made.append(mapping) or 1)
    state = tmp_path / "composer-1001"
    state.mkdir()
    os.chown(state, 65534, 65534)  # made first by another user of a shared /tmp
    with pytest.raises(RootlessError) as raised:
        rootless.enter_project("rl-x", Roots(state=state, images=tmp_path / "i"), create=True, warn=print)
    assert "not a folder of yours" in raised.value.message and made == []
