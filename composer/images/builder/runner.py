"""RUN: one command in a composer container over the stage's layers; its upper dir is the new layer.

The container is made by the same launcher as ``up`` (:mod:`composer.kernel.process`)
with the same isolation defaults (namespaces, Docker's capabilities, seccomp,
no_new_privs, masked paths), over an overlay whose lower dirs are the stage's
layers and whose upper dir, empty at the start, collects exactly what the command
changed, whiteouts and opaque folders included: overlayfs's format is the
store's layer format, so that folder becomes the layer as it is.  What the
launcher itself puts there (mount points for /proc, /sys, /dev, the bound
/etc/hosts, /etc/hostname, /etc/resolv.conf and RUN --mount targets) is taken
out again, so a layer holds only what the command wrote.

``network``: ``default`` and ``host`` run in the host's network namespace
(egress as the host has it); ``none`` in a fresh one with only loopback.  The
output of the command is streamed line by line to ``on_line``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from composer.images.builder.builder import RunSpec
from composer.images.builder.layers import StackView, is_opaque, is_whiteout
from composer.kernel.cgroups import detect_cgroup_driver
from composer.kernel.net.netns import create_netns, delete_netns
from composer.kernel.process import decode_wait_status, spawn_container
from composer.model.container import CgroupLimits, ContainerConfig

RUNTIME_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf")
RUNTIME_DIRS = ("proc", "sys", "dev", "etc", "dev/init")
TAIL_LINES = 20


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    tail: tuple[str, ...]  # the last lines of output


def run_step(spec: RunSpec, layers: Sequence[Path], work: Path, on_line: Callable[[str], None]) -> RunResult:
    """Run ``spec`` over ``layers`` (bottom first); the changes are left in ``work/upper``."""
    name = f"build-{os.getpid()}-{secrets.token_hex(4)}"
    lowers = tuple(str(p) for p in reversed(layers)) or (str(_empty_dir(work)),)
    netns = work / "netns" if spec.network == "none" else None
    cfg = ContainerConfig(
        project=name,  # a cgroup folder of its own: removing it can touch no other build
        service="run",
        name=name,
        number=1,
        argv=spec.argv,
        env=spec.env,
        working_dir=spec.working_dir or "/",
        user=spec.user,
        hostname="buildkitsandbox",
        rootfs_layers=lowers,
        state_dir=str(work),
        netns_path=str(netns) if netns else None,
        shm_size=spec.shm_size,
        hosts=spec.hosts,
        mounts=spec.mounts,
    )
    driver = detect_cgroup_driver()
    handle = driver.create(cfg.project, cfg.service, CgroupLimits())
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    tail: list[str] = []
    pid = 0
    try:
        if netns is not None:
            create_netns(netns)
        try:
            pid = spawn_container(cfg, handle, write_fd, write_fd)
        finally:
            os.close(write_fd)
        _pump(read_fd, on_line, tail)
        _, status = os.waitpid(pid, 0)
        pid = 0
        return RunResult(decode_wait_status(status), tuple(tail))
    finally:
        # Also on an interrupt: nothing the step started outlives it (a daemon it forked included).
        handle.kill_all()
        if pid:
            os.waitpid(pid, 0)
        os.close(read_fd)
        handle.remove()
        with contextlib.suppress(OSError):
            driver.remove_project(cfg.project)
        if netns is not None:
            delete_netns(netns)


def _empty_dir(work: Path) -> Path:
    path = work / "scratch"
    path.mkdir(exist_ok=True)
    return path


def _pump(fd: int, on_line: Callable[[str], None], tail: list[str]) -> None:
    pending = b""
    while chunk := os.read(fd, 65536):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            _emit(raw, on_line, tail)
    if pending:
        _emit(pending, on_line, tail)


def _emit(raw: bytes, on_line: Callable[[str], None], tail: list[str]) -> None:
    line = raw.decode(errors="replace").rstrip("\r")
    on_line(line)
    tail.append(line)
    del tail[:-TAIL_LINES]


def strip_runtime_artifacts(upper: Path, view: StackView, mount_targets: Sequence[str]) -> None:
    """Take out of ``upper`` what the launcher made, not the command (see the module docstring)."""
    for rel in RUNTIME_FILES:
        path = upper / rel
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISREG(os.lstat(path).st_mode):
                path.unlink()
    candidates = [t.strip("/") for t in mount_targets] + list(RUNTIME_DIRS)
    for rel in sorted(candidates, key=lambda r: -r.count("/")):
        _drop_if_untouched(upper, rel, view)


def _drop_if_untouched(upper: Path, rel: str, view: StackView) -> None:
    """Remove an empty folder of ``upper`` that only exists as a mount point or an unchanged copy-up."""
    while rel:
        path = upper / rel
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISREG(st.st_mode) and st.st_size == 0 and view.lookup("/" + rel) is None:
            path.unlink()  # the empty file a file bind (a secret) was mounted on
            rel = rel.rpartition("/")[0]
            continue
        if is_whiteout(st) or not stat.S_ISDIR(st.st_mode) or os.listdir(path) or is_opaque(str(path)):
            return
        below = view.lookup("/" + rel)
        if below is not None:
            old = os.lstat(below)
            same = (old.st_mode, old.st_uid, old.st_gid) == (st.st_mode, st.st_uid, st.st_gid)
            if not same:
                return
        shutil.rmtree(path)
        rel = rel.rpartition("/")[0]
