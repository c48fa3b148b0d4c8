"""The mount sequence run inside a new container's mount namespace, runc's way.

Order (each step needs the previous one):

1. ``/`` becomes recursively *slave*: nothing we mount leaks to the host, and
   host unmounts still propagate in (no host mount kept busy by a container).
2. The root: an overlay of ``rootfs_layers`` (never modified) with a per-container
   ``upper``/``work`` under ``state_dir``, mounted on ``state_dir/rootfs`` and
   bind-mounted onto itself.
3. ``/proc``, ``/dev`` (tmpfs with the standard nodes, ``pts`` newinstance,
   ``shm``, ``mqueue``, the fd symlinks), ``/sys`` read-only.
4. ``/etc/hosts``, ``/etc/hostname``, ``/etc/resolv.conf`` bound from files in
   ``state_dir/etc``; then the volumes (bind, named volume, tmpfs).
5. ``pivot_root`` and a lazy unmount of the old root (chroot alone is escapable).
6. After the pivot: Docker's masked paths (``/dev/null`` over files, an empty
   read-only tmpfs over folders) and read-only paths, unless privileged; then the
   root itself read-only when asked.

:func:`detach_mounts_under` is the exception: it runs in the host's mount
namespace, to unmount what a crashed container left under its folder.

Every destination inside the container is resolved with :func:`secure_join`,
component by component with the rootfs as ``/``, so a symlink in the image
(``/data -> /etc`` or ``-> ../../../host``) cannot redirect a mount to the host.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable

from composer.errors import ContainerError, HostError
from composer.kernel import syscalls as sc
from composer.model.container import ContainerConfig, MountConfig

DEFAULT_SHM_SIZE = 64 * 1024 * 1024

MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/proc/interrupts",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)  # fmt: skip
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# (name, major, minor) of the nodes every container gets in /dev, mode 0666
DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
DEV_SYMLINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
)
INIT_PATH = "/dev/init"  # where a host init binary (tini, catatonit) is bound, on the /dev tmpfs
MAX_SYMLINKS = 255

_NOSUID_NODEV_NOEXEC = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC


def secure_join(root: str, unsafe: str) -> str:
    """Resolve ``unsafe`` as if ``root`` were ``/``: symlinks and ``..`` never leave ``root``.

    Components that do not exist are appended as they are (they will be created
    as plain folders or files, which cannot point anywhere).
    """
    root = root.rstrip("/") or "/"
    pending = [p for p in unsafe.split("/") if p]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        full = os.path.join(root, *resolved, part)
        try:
            mode = os.lstat(full).st_mode
        except FileNotFoundError:
            resolved.append(part)
            continue
        if not stat.S_ISLNK(mode):
            resolved.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise ContainerError(f"too many symlinks while resolving {unsafe} in the rootfs")
        target = os.readlink(full)
        if target.startswith("/"):
            resolved = []
        pending = [p for p in target.split("/") if p] + pending
    return os.path.join(root, *resolved)


def _mkdir_p(path: str, mode: int = 0o755) -> None:
    os.makedirs(path, mode=mode, exist_ok=True)


def _ensure_file(path: str) -> None:
    """Create an empty file as a bind mount point; refuse to follow a symlink."""
    _mkdir_p(os.path.dirname(path))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno != errno.EISDIR:
            raise
        return
    os.close(fd)


def overlay_options(layers: Iterable[str], upper: str, work: str) -> str:
    lower = ":".join(layer.replace(":", "\\:") for layer in layers)
    return f"lowerdir={lower},upperdir={upper},workdir={work}"


def mount_root(cfg: ContainerConfig, rootfs: str) -> None:
    """Steps 1-2: slave propagation, then the overlay root bound onto itself."""
    if not cfg.rootfs_layers:
        raise ContainerError(f"container {cfg.name} has no root filesystem layers")
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_SLAVE)
    upper = os.path.join(cfg.state_dir, "upper")
    work = os.path.join(cfg.state_dir, "work")
    sc.mount("overlay", rootfs, "overlay", 0, overlay_options(cfg.rootfs_layers, upper, work))
    sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)


def mount_kernel_fs(cfg: ContainerConfig, rootfs: str) -> None:
    """Step 3: /proc, /dev and /sys."""
    proc = secure_join(rootfs, "/proc")
    _mkdir_p(proc)
    sc.mount("proc", proc, "proc", _NOSUID_NODEV_NOEXEC)
    _mount_dev(cfg, secure_join(rootfs, "/dev"))
    sysfs = secure_join(rootfs, "/sys")
    _mkdir_p(sysfs)
    ro = 0 if cfg.privileged else sc.MS_RDONLY
    sc.mount("sysfs", sysfs, "sysfs", _NOSUID_NODEV_NOEXEC | ro)


def _mount_dev(cfg: ContainerConfig, dev: str) -> None:
    _mkdir_p(dev)
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID | sc.MS_STRICTATIME, "mode=755,size=65536k")
    previous = os.umask(0)  # exact modes without a chmod per node
    try:
        for name, major, minor in DEVICES:
            os.mknod(os.path.join(dev, name), 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    finally:
        os.umask(previous)
    pts = os.path.join(dev, "pts")
    os.mkdir(pts, 0o755)
    pts_options = "newinstance,ptmxmode=0666,mode=0620,gid=5"
    sc.mount("devpts", pts, "devpts", sc.MS_NOSUID | sc.MS_NOEXEC, pts_options)
    shm = os.path.join(dev, "shm")
    os.mkdir(shm, 0o1777)
    size = cfg.shm_size or DEFAULT_SHM_SIZE
    sc.mount("shm", shm, "tmpfs", _NOSUID_NODEV_NOEXEC, f"mode=1777,size={size}")
    mqueue = os.path.join(dev, "mqueue")
    os.mkdir(mqueue, 0o755)
    sc.mount("mqueue", mqueue, "mqueue", _NOSUID_NODEV_NOEXEC)
    for name, target in DEV_SYMLINKS:
        os.symlink(target, os.path.join(dev, name))


def write_etc_files(cfg: ContainerConfig, hostname: str) -> dict[str, str]:
    """Write hosts, hostname and resolv.conf under state_dir/etc; return target -> source."""
    folder = os.path.join(cfg.state_dir, "etc")
    _mkdir_p(folder)
    default_hosts = f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.1.1\t{hostname}\n"
    contents = {
        "/etc/hosts": cfg.hosts or default_hosts,
        "/etc/hostname": hostname + "\n",
        "/etc/resolv.conf": resolv_conf(
            cfg.resolv_conf or _host_resolv_conf(), cfg.dns_search, cfg.dns_options
        ),
    }
    sources = {}
    for target, text in contents.items():
        source = os.path.join(folder, os.path.basename(target))
        with open(source, "w") as handle:
            handle.write(text)
        sources[target] = source
    return sources


def resolv_conf(base: str, search: tuple[str, ...], options: tuple[str, ...]) -> str:
    """``base`` with its ``search``/``options`` lines replaced by the service's (dns_search, dns_opt)."""
    replaced = [("search", search), ("options", options)]
    drop = {word for word, values in replaced if values}
    lines = [line for line in base.splitlines() if (line.split() or [""])[0] not in drop]
    lines += [f"{word} {' '.join(values)}" for word, values in replaced if values]
    return "\n".join(lines) + "\n" if lines else ""


def _host_resolv_conf() -> str:
    try:
        with open("/etc/resolv.conf") as handle:
            text = handle.read()
    except OSError:
        return ""
    # A loopback resolver (systemd-resolved) is unreachable from another network namespace.
    lines = [line for line in text.splitlines() if not line.startswith("nameserver 127.")]
    return "\n".join(lines) + "\n"


def bind_file(source: str, rootfs: str, target: str) -> None:
    dest = secure_join(rootfs, target)
    _ensure_file(dest)
    sc.mount(source, dest, None, sc.MS_BIND)


def mount_volume(volume: MountConfig, rootfs: str) -> None:
    """Step 4: one bind, named volume or tmpfs, its destination resolved inside the rootfs."""
    dest = secure_join(rootfs, volume.target)
    if volume.kind == "tmpfs":
        _mkdir_p(dest)
        options = [f"size={volume.tmpfs_size}"] if volume.tmpfs_size else []
        options.append(f"mode={volume.tmpfs_mode:o}" if volume.tmpfs_mode is not None else "mode=1777")
        flags = sc.MS_NOSUID | sc.MS_NODEV | (sc.MS_RDONLY if volume.read_only else 0)
        sc.mount("tmpfs", dest, "tmpfs", flags, ",".join(options))
        return
    source = volume.source
    if not os.path.exists(source):
        if volume.kind == "bind" and not volume.create_host_path:
            raise ContainerError(f"bind source {source} does not exist")
        _mkdir_p(source)
    if os.path.isdir(source):
        _mkdir_p(dest)
    else:
        _ensure_file(dest)
    sc.mount(source, dest, None, sc.MS_BIND | sc.MS_REC)
    if volume.read_only:
        sc.mount(None, dest, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)


def bind_init(host_binary: str, rootfs: str) -> None:
    """Bind a host init (tini, catatonit) read-only at /dev/init (on our tmpfs, not the image)."""
    dest = rootfs + INIT_PATH
    _ensure_file(dest)
    sc.mount(host_binary, dest, None, sc.MS_BIND)
    sc.mount(None, dest, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)


def pivot(rootfs: str) -> None:
    """Step 5: make ``rootfs`` the root and drop the old one."""
    os.chdir(rootfs)
    sc.pivot_root(".", ".")
    # The old root is now stacked under "."; detach it (slave, so the host is untouched).
    sc.mount(None, ".", None, sc.MS_REC | sc.MS_SLAVE)
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")


def mask_paths() -> None:
    """Step 6a: hide Docker's masked paths and make its read-only paths read-only."""
    for path in MASKED_PATHS:
        try:
            if os.path.isdir(path):
                sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
            else:
                sc.mount("/dev/null", path, None, sc.MS_BIND)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
    for path in READONLY_PATHS:
        try:
            sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
            sc.mount(None, path, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | _NOSUID_NODEV_NOEXEC)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise


def make_root_readonly() -> None:
    sc.mount(None, "/", None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)


# --- in the host's mount namespace --------------------------------------------------------------


def mounts_under(folder: str, mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """The mount points at or below ``folder``, deepest first."""
    folder = os.path.normpath(folder)
    prefix = folder.rstrip("/") + "/"
    found: list[str] = []
    with open(mountinfo) as handle:
        for line in handle:
            point = _unescape_mountinfo(line.split()[4])
            if point == folder or point.startswith(prefix):
                found.append(point)
    return sorted(found, key=lambda p: (p.count("/"), p), reverse=True)


def detach_mounts_under(folder: str) -> list[str]:
    """Lazily unmount (MNT_DETACH) every mount at or below ``folder``, deepest first.

    For a container folder a crash left mounted (its overlay, its /proc...); the
    caller may then remove the folder.  Mount points that vanished meanwhile are
    skipped; the ones detached are returned.
    """
    detached: list[str] = []
    for point in mounts_under(folder):
        try:
            sc.umount2(point, sc.MNT_DETACH)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOENT):
                continue  # no longer a mount point (a parent's detach took it along), or gone
            raise HostError(f"cannot unmount {point}: {exc.strerror}", errno=exc.errno) from exc
        detached.append(point)
    return detached


def _unescape_mountinfo(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in a path as octal escapes (``\\040``)."""
    if "\\" not in field:
        return field
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
