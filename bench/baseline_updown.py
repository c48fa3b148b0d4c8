"""The minimal one-process baseline for ``bench/updown.py``: N containers up, then down.

No composer code: libc through ctypes for unshare/setns/mount/pivot_root and
pyroute2 for netlink, one Python process doing, for N busybox containers:

up
    a bridge with an address; per container a network namespace kept by a bind
    mount (loopback up), a veth pair born with its peer inside it as ``eth0``
    (host end on the bridge, up; ``eth0`` addressed and up), a memory and a pids
    cgroup (v1) beneath this process's own cgroups with both limits written, an
    overlay of the rootfs with a writable upper mounted here, and a child forked
    into new pid/mount/uts/ipc namespaces that joins the cgroups and the netns,
    bind-mounts the overlay onto itself, pivots into it, sets the hostname and
    execs ``sleep``; the parent waits for the exec through a close-on-exec pipe;
down
    SIGKILL every child, reap them, unmount the overlays, remove the cgroups,
    delete the veths (the peer goes with its host end), unmount and remove the
    netns files, delete the bridge, remove the writable layers.

Protocol (for the driver): ``python bench/baseline_updown.py ROOTFS WORKDIR N``
prints ``up SECONDS`` once every container runs, then waits for a line on stdin
(or end of file), brings everything down and prints ``down SECONDS``.  The
times printed cover the work only; the driver also measures the process's wall
time.  Whatever happens, everything made so far is undone before exiting.
Run it as root, inside a throwaway network and mount namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = 155  # x86_64

MEMORY = 64 << 20
PIDS = 64
BRIDGE = "bbench0"
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    result = _libc.mount(_bytes(source), target.encode(), _bytes(fstype), flags, _bytes(data))
    _check(result, f"mount {target}")


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def umount(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(target.encode(), flags), f"umount {target}")


@dataclass
class Container:
    """What one container made, so that down (or a failure) undoes exactly that."""

    index: int
    folder: Path
    netns: Path
    veth: str
    cgroups: list[Path] = field(default_factory=list)
    merged: Path | None = None
    pid: int | None = None


def own_cgroups() -> dict[str, str]:
    """controller -> this process's cgroup path (v1 lines of /proc/self/cgroup)."""
    result = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            if controller:
                result[controller] = path
    return result


class Baseline:
    def __init__(self, rootfs: Path, work: Path) -> None:
        self.rootfs = rootfs
        self.work = work
        self.tag = "bbase" + uuid.uuid4().hex[:8]
        own = own_cgroups()
        self.cgroup_bases = [
            Path("/sys/fs/cgroup") / c / own.get(c, "/").lstrip("/") / self.tag for c in ("memory", "pids")
        ]
        self.ipr = IPRoute()
        self.host_netns = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.host_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.containers: list[Container] = []
        self.bridge_index: int | None = None

    # --- up -----------------------------------------------------------------------------------

    def up(self, count: int) -> None:
        self.ipr.link("add", ifname=BRIDGE, kind="bridge")
        self.bridge_index = self.ipr.link_lookup(ifname=BRIDGE)[0]
        self.ipr.addr("add", index=self.bridge_index, address="10.231.0.1", prefixlen=16)
        self.ipr.link("set", index=self.bridge_index, state="up")
        for base in self.cgroup_bases:
            base.mkdir()
        for index in range(count):
            self.start_one(index)

    def start_one(self, index: int) -> None:
        folder = self.work / self.tag / f"c{index}"
        folder.mkdir(parents=True)
        box = Container(index, folder, folder / "netns", f"bbv{index}")
        self.containers.append(box)
        self.make_netns(box)
        self.make_cgroups(box)
        self.make_overlay(box)
        self.spawn(box)

    def make_netns(self, box: Container) -> None:
        box.netns.touch()
        unshare(CLONE_NEWNET)
        try:
            mount("/proc/thread-self/ns/net", str(box.netns), None, MS_BIND)
            inside = IPRoute()  # a netlink socket belongs to the netns it was opened in
        finally:
            setns(self.host_netns, CLONE_NEWNET)
        try:
            inside.link("set", index=1, state="up")
            nsfd = os.open(box.netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                peer = {"ifname": "eth0", "net_ns_fd": nsfd}
                master = self.bridge_index
                self.ipr.link("add", ifname=box.veth, kind="veth", peer=peer, master=master, state="up")
            finally:
                os.close(nsfd)
            eth0 = inside.link_lookup(ifname="eth0")[0]
            address = f"10.231.{(box.index + 2) // 256}.{(box.index + 2) % 256}"
            inside.addr("add", index=eth0, address=address, prefixlen=16)
            inside.link("set", index=eth0, state="up")
        finally:
            inside.close()

    def make_cgroups(self, box: Container) -> None:
        limits = (("memory.limit_in_bytes", MEMORY), ("pids.max", PIDS))
        for base, (knob, value) in zip(self.cgroup_bases, limits, strict=True):
            folder = base / f"c{box.index}"
            folder.mkdir()
            box.cgroups.append(folder)
            (folder / knob).write_text(str(value))

    def make_overlay(self, box: Container) -> None:
        for name in ("upper", "work", "merged"):
            (box.folder / name).mkdir()
        options = f"lowerdir={self.rootfs},upperdir={box.folder / 'upper'},workdir={box.folder / 'work'}"
        mount("overlay", str(box.folder / "merged"), "overlay", 0, options)
        box.merged = box.folder / "merged"

    def spawn(self, box: Container) -> None:
        assert box.merged is not None
        netfd = os.open(box.netns, os.O_RDONLY | os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            unshare(CLONE_NEWPID)
            try:
                pid = os.fork()
                if pid == 0:
                    _child(box, netfd, err_w)
            finally:
                setns(self.host_pidns, CLONE_NEWPID)
            box.pid = pid
            os.close(err_w)
            err_w = -1
            message = os.read(err_r, 512)
            if message:
                raise RuntimeError(f"container c{box.index} failed to start: {message.decode()}")
        finally:
            os.close(netfd)
            os.close(err_r)
            if err_w >= 0:
                os.close(err_w)

    # --- down ---------------------------------------------------------------------------------

    def down(self) -> None:
        """Undo everything recorded; keep going past errors, raise the first at the end."""
        errors: list[BaseException] = []

        def attempt(step: Callable[..., object], *args: object, **kwargs: object) -> None:
            try:
                step(*args, **kwargs)
            except BaseException as exc:  # cleanup must go on
                errors.append(exc)

        for box in self.containers:
            if box.pid is not None:
                attempt(os.kill, box.pid, signal.SIGKILL)
        for box in self.containers:
            if box.pid is not None:
                attempt(os.waitpid, box.pid, 0)
                box.pid = None
        for box in self.containers:
            attempt(self.remove_one, box)
        if self.bridge_index is not None:
            attempt(self.ipr.link, "del", index=self.bridge_index)
            self.bridge_index = None
        for base in self.cgroup_bases:
            if base.exists():
                attempt(_rmdir_retry, base)
        shutil.rmtree(self.work / self.tag, ignore_errors=True)
        self.containers.clear()
        if errors:
            raise errors[0]

    def remove_one(self, box: Container) -> None:
        if box.merged is not None:
            umount(str(box.merged))
            box.merged = None
        for folder in box.cgroups:
            _rmdir_retry(folder)
        box.cgroups.clear()
        links = self.ipr.link_lookup(ifname=box.veth)
        if links:
            self.ipr.link("del", index=links[0])
        if box.netns.exists():
            with contextlib.suppress(OSError):  # the namespace was never mounted
                umount(str(box.netns), MNT_DETACH)
            box.netns.unlink()

    def close(self) -> None:
        self.ipr.close()
        os.close(self.host_netns)
        os.close(self.host_pidns)


def _child(box: Container, netfd: int, err_w: int) -> None:
    """In the forked child (pid 1 of its pid namespace): never returns."""
    try:
        for folder in box.cgroups:
            with open(folder / "cgroup.procs", "w") as handle:
                handle.write("0")
        setns(netfd, CLONE_NEWNET)
        unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        merged = str(box.merged)
        mount(merged, merged, None, MS_BIND | MS_REC)
        os.chdir(merged)
        _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
        umount(".", MNT_DETACH)
        os.chdir("/")
        name = f"c{box.index}".encode()
        _check(_libc.sethostname(name, len(name)), "sethostname")
        os.execv("/bin/sleep", ["sleep", "3600"])
    except BaseException as exc:  # report anything to the parent
        os.write(err_w, repr(exc).encode()[:500])
    finally:
        os._exit(127)


def _rmdir_retry(folder: Path) -> None:
    # A cgroup whose last task was just reaped can stay busy for a moment.
    for _ in range(400):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.005)
    folder.rmdir()


def main() -> None:
    rootfs, work, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    baseline = Baseline(rootfs, work)
    try:
        begin = time.perf_counter()
        baseline.up(count)
        print(f"up {time.perf_counter() - begin:.6f}", flush=True)
        sys.stdin.readline()  # the driver's "down" (or end of file if it went away)
        begin = time.perf_counter()
        baseline.down()
        print(f"down {time.perf_counter() - begin:.6f}", flush=True)
    finally:
        try:
            baseline.down()  # a no-op after a clean down; undoes a partial up
        finally:
            baseline.close()


if __name__ == "__main__":
    main()
