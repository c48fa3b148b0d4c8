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
The destinations of volumes and bound files are then opened from the rootfs
without following any symlink and mounted through that fd
(:func:`open_destination`), so a symlink swapped in after the resolution (by a
container sharing the volume: CVE-2021-30465) is refused instead of followed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Sequence

from composer.errors import ContainerError, HostError
from composer.kernel import syscalls as sc
from composer.kernel.devices import DeviceNode
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
        except (FileNotFoundError, NotADirectoryError):  # missing, or under a file: made, or refused, later
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
    files = cfg.files
    options = overlay_options(cfg.rootfs_layers, str(files.upper), str(files.work))
    sc.mount("overlay", rootfs, "overlay", root_flags(cfg), options)
    sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)  # the bind keeps the overlay's nodev


def root_flags(cfg: ContainerConfig) -> int:
    """``nodev`` unless privileged: a node made on the root never opens, whatever the cgroup says.

    A privileged container keeps Docker's root, where nodes open (it has every device anyway).
    """
    return 0 if cfg.privileged else sc.MS_NODEV


def mount_kernel_fs(cfg: ContainerConfig, rootfs: str, nodes: Sequence[DeviceNode] = ()) -> None:
    """Step 3: /proc, /dev (with ``nodes`` besides the standard ones) and /sys."""
    proc = secure_join(rootfs, "/proc")
    _mkdir_p(proc)
    sc.mount("proc", proc, "proc", _NOSUID_NODEV_NOEXEC)
    _mount_dev(cfg, secure_join(rootfs, "/dev"), nodes)
    sysfs = secure_join(rootfs, "/sys")
    _mkdir_p(sysfs)
    ro = 0 if cfg.privileged else sc.MS_RDONLY
    sc.mount("sysfs", sysfs, "sysfs", _NOSUID_NODEV_NOEXEC | ro)


def _mount_dev(cfg: ContainerConfig, dev: str, nodes: Sequence[DeviceNode]) -> None:
    # Not nodev: the nodes made here are the only ones of the container that open, as far
    # as the device cgroup allows (a container without one cannot mknod: see the README).
    _mkdir_p(dev)
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID | sc.MS_STRICTATIME, "mode=755,size=65536k")
    previous = os.umask(0)  # exact modes without a chmod per node
    try:
        for name, major, minor in DEVICES:
            _make_device(os.path.join(dev, name), name, major, minor)
    finally:
        os.umask(previous)
    pts = os.path.join(dev, "pts")
    os.mkdir(pts, 0o755)
    pts_options = "newinstance,ptmxmode=0666,mode=0620"
    try:
        sc.mount("devpts", pts, "devpts", sc.MS_NOSUID | sc.MS_NOEXEC, pts_options + ",gid=5")
    except OSError as exc:  # rootless with one id mapped: group tty (5) does not exist in here
        if exc.errno != errno.EINVAL:
            raise
        sc.mount("devpts", pts, "devpts", sc.MS_NOSUID | sc.MS_NOEXEC, pts_options)
    shm = os.path.join(dev, "shm")
    os.mkdir(shm, 0o1777)
    size = cfg.shm_size or DEFAULT_SHM_SIZE
    if cfg.shm_path:  # ipc: service:NAME: the tmpfs its owner and the joiners share (as Docker)
        sc.mount(cfg.shm_path, shm, None, sc.MS_BIND)
    elif "ipc" in cfg.host_namespaces and os.path.isdir("/dev/shm"):
        # ipc: host shares POSIX shm too, as Docker does: the host's /dev/shm, not a new tmpfs.
        sc.mount("/dev/shm", shm, None, sc.MS_BIND | sc.MS_REC)
    else:
        sc.mount("shm", shm, "tmpfs", _NOSUID_NODEV_NOEXEC, f"mode=1777,size={size}")
    mqueue = os.path.join(dev, "mqueue")
    os.mkdir(mqueue, 0o755)
    sc.mount("mqueue", mqueue, "mqueue", _NOSUID_NODEV_NOEXEC)
    for name, target in DEV_SYMLINKS:
        os.symlink(target, os.path.join(dev, name))
    for node in nodes:
        make_device_node(dev, node)


def ensure_shared_shm(path: str, size: int | None) -> None:
    """The tmpfs at ``path`` that containers sharing an ipc namespace bind at /dev/shm; made once.

    It lives in the owner's folder, so the owner's removal takes it; a restart keeps its segments.
    """
    if os.path.ismount(path):
        return
    os.makedirs(path, mode=0o700, exist_ok=True)
    sc.mount("shm", path, "tmpfs", _NOSUID_NODEV_NOEXEC, f"mode=1777,size={size or DEFAULT_SHM_SIZE}")


def make_device_node(dev: str, node: DeviceNode) -> None:
    """mknod ``node`` in the container's /dev tmpfs mounted at ``dev``.

    Folders on the way are made; a symlink on the way is refused (the tmpfs is
    ours, so the only ones are the standard /dev/fd, /dev/stdin...).  A node of
    a ``devices:`` mapping replaces what is at its path; a host node of
    ``privileged`` is skipped where something exists already.
    """
    parts = node.path.split("/")[2:]  # below /dev
    folder = dev
    for part in parts[:-1]:
        folder = os.path.join(folder, part)
        try:
            mode = os.lstat(folder).st_mode
        except FileNotFoundError:
            os.mkdir(folder, 0o755)
            continue
        if not stat.S_ISDIR(mode):
            raise ContainerError(f"device {node.path}: /dev/{os.path.relpath(folder, dev)} is not a folder")
    path = os.path.join(folder, parts[-1])
    if os.path.lexists(path):
        if not node.replace:
            return
        if os.path.isdir(path) and not os.path.islink(path):
            raise ContainerError(f"device {node.path}: a folder is in the way")
        os.unlink(path)
    previous = os.umask(0)
    try:
        os.mknod(path, node.mode | node.file_type, os.makedev(node.major, node.minor))
    finally:
        os.umask(previous)
    os.chown(path, node.uid, node.gid, follow_symlinks=False)


def _make_device(path: str, name: str, major: int, minor: int) -> None:
    """mknod; in a user namespace (rootless), which may not make nodes, a bind of the host's node."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    except PermissionError:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666))
        sc.mount(f"/dev/{name}", path, None, sc.MS_BIND)


def write_etc_files(cfg: ContainerConfig, hostname: str) -> dict[str, str]:
    """Write hosts, hostname and resolv.conf under state_dir/etc; return target -> source."""
    folder = str(cfg.files.etc)
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
    """Bind a host file (the /etc files) at ``target``, made as an empty file when missing."""
    fd = open_destination(rootfs, target, folder=False)
    try:
        _bind_onto(source, fd, recursive=False, read_only=False)
    finally:
        os.close(fd)


def mount_volume(volume: MountConfig, rootfs: str) -> None:
    """Step 4: one bind, named volume or tmpfs, its destination resolved inside the rootfs."""
    if volume.kind == "tmpfs":
        options = [f"size={volume.tmpfs_size}"] if volume.tmpfs_size else []
        options.append(f"mode={volume.tmpfs_mode:o}" if volume.tmpfs_mode is not None else "mode=1777")
        flags = sc.MS_NOSUID | sc.MS_NODEV | (sc.MS_RDONLY if volume.read_only else 0)
        fd = open_destination(rootfs, volume.target, folder=True)
        try:
            sc.mount("tmpfs", _fd_path(fd), "tmpfs", flags, ",".join(options))
        finally:
            os.close(fd)
        return
    if volume.kind == "image":
        _mount_image(volume, rootfs)
        return
    source = volume.source
    if not os.path.exists(source):
        if volume.kind == "bind" and not volume.create_host_path:
            raise ContainerError(f"bind source {source} does not exist")
        _mkdir_p(source)
    fd = open_destination(rootfs, volume.target, folder=os.path.isdir(source))
    propagation = _PROPAGATION.get(volume.propagation) if volume.kind == "bind" else None
    try:
        _bind_onto(source, fd, recursive=True, read_only=volume.read_only, propagation=propagation)
    finally:
        os.close(fd)


def _mount_image(volume: MountConfig, rootfs: str) -> None:
    """``type: image``: the image's layers, read-only, at the target, or a folder of them (``subpath``).

    Several layers are a read-only overlay (no upper layer); for a subpath that overlay is made in
    a folder beside the root, in the container's mount namespace only (pivot_root drops it), and the
    subpath, resolved inside it, is bound at the target.
    """
    if not volume.layers:
        raise ContainerError(f"image {volume.source} of the mount at {volume.target} has no layers")
    fd = open_destination(rootfs, volume.target, folder=True)
    try:
        if len(volume.layers) == 1:
            top = volume.layers[0]
        else:
            top = _fd_path(fd) if not volume.subpath else _image_staging(rootfs, volume.target)
            lower = ":".join(layer.replace(":", "\\:") for layer in volume.layers)
            sc.mount("overlay", top, "overlay", _IMAGE_FLAGS, f"lowerdir={lower}")
            if not volume.subpath:
                return
        _bind_onto(secure_join(top, volume.subpath or "/"), fd, recursive=True, read_only=True, nodev=True)
    finally:
        os.close(fd)


_IMAGE_FLAGS = sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV


def _image_staging(rootfs: str, target: str) -> str:
    folder = os.path.join(
        os.path.dirname(rootfs), "image-mounts", hashlib.sha256(target.encode()).hexdigest()[:16]
    )
    os.makedirs(folder, exist_ok=True)
    return folder


# a bind's propagation -> (MS_ flag, recursive); shared ones are refused at up (the tree is a slave)
_PROPAGATION: dict[str, tuple[int, bool]] = {
    "private": (sc.MS_PRIVATE, False), "rprivate": (sc.MS_PRIVATE, True),
    "slave": (sc.MS_SLAVE, False), "rslave": (sc.MS_SLAVE, True),
}  # fmt: skip


def make_folder(rootfs: str, target: str) -> None:
    """Make the folder ``target`` inside the rootfs (the working dir), as race-free as a mount's."""
    os.close(open_destination(rootfs, target, folder=True))


# --- destinations held by an fd (CVE-2021-30465) ------------------------------------------------
#
# A path checked and then mounted by name can be redirected in between: a container sharing a
# volume with this one swaps a folder on the way for a symlink to the host, and the mount (or the
# mkdir before it) follows it out of the rootfs.  So the destination is opened component by
# component from the rootfs, each component O_NOFOLLOW (a symlink that appeared is refused, not
# followed), made where missing, and the mount is made onto the fd (/proc/self/fd/N, or
# move_mount onto the fd), whose real path is checked to be inside the rootfs first.

_DESTINATION_TRIES = 3


class _Moved(Exception):
    """A component of the destination changed between resolving and opening it."""


def open_destination(rootfs: str, target: str, *, folder: bool) -> int:
    """An O_PATH fd on ``target`` in the rootfs, made (folder or empty file) where missing.

    :func:`secure_join` says where the image's symlinks lead (inside the rootfs); that
    path is then opened without following any symlink, so a swap after the
    resolution is seen (and resolved again, a few times) instead of followed.
    """
    root = os.path.realpath(rootfs)
    for _ in range(_DESTINATION_TRIES):
        path = secure_join(root, target)
        parts = [part for part in path[len(root) :].split("/") if part]
        try:
            fd = _open_components(root, parts, folder)
        except _Moved:
            continue
        try:
            _check_inside(fd, root, target)
        except BaseException:
            os.close(fd)
            raise
        return fd
    raise ContainerError(
        f"the destination {target} kept changing while it was mounted (a symlink swapped in on the way)",
        hint="a container sharing a volume with this one may be replacing folders with symlinks",
    )


def _open_components(root: str, parts: list[str], folder: bool) -> int:
    current = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, part in enumerate(parts):
            want_folder = folder or index < len(parts) - 1
            following = _open_component(current, part, want_folder)
            os.close(current)
            current = following
    except BaseException:
        os.close(current)
        raise
    return current


def _open_component(parent: int, name: str, want_folder: bool) -> int:
    flags = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_DIRECTORY if want_folder else 0)
    for attempt in (1, 2):
        try:
            fd = os.open(name, flags, dir_fd=parent)
        except FileNotFoundError:
            if attempt == 2:
                raise _Moved from None
            _create(parent, name, want_folder)
            continue
        except OSError as error:
            if error.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            if _is_symlink(parent, name):
                raise _Moved from error  # a symlink where a folder was a moment ago
            raise ContainerError(f"{name!r} on the way to a mount destination is not a folder") from error
        if stat.S_ISLNK(os.fstat(fd).st_mode):  # O_PATH|O_NOFOLLOW opens a symlink itself
            os.close(fd)
            raise _Moved
        return fd
    raise _Moved


def _is_symlink(parent: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return True  # gone again: changing under us


def _create(parent: int, name: str, folder: bool) -> None:
    """mkdirat / openat(O_CREAT|O_NOFOLLOW) in the folder held by ``parent``: never through a link."""
    try:
        if folder:
            os.mkdir(name, 0o755, dir_fd=parent)
        else:
            os.close(
                os.open(name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=parent)
            )
    except FileExistsError:
        pass  # made meanwhile: the open after us checks what it is
    except OSError as error:
        if error.errno != errno.ELOOP:
            raise


def _check_inside(fd: int, root: str, target: str) -> None:
    real = os.readlink(_fd_path(fd))
    if real != root and not real.startswith(root.rstrip("/") + "/"):
        raise ContainerError(f"the destination {target} resolved to {real}, outside the container's root")


def _fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def _bind_onto(
    source: str,
    dest_fd: int,
    *,
    recursive: bool,
    read_only: bool,
    propagation: tuple[int, bool] | None = None,
    nodev: bool = False,
) -> None:
    """Bind ``source`` onto the destination held by ``dest_fd``, read-only when asked, with the
    ``propagation`` (an MS_ flag, and whether for the whole tree) given; ``nodev`` adds nodev and
    nosuid (an image's files: nodes never open, set-id bits do not count, as on the root).

    With the new mount API the bind is made as a detached tree, made read-only
    there (only that flag is added: nosuid, nodev... of the source are kept) and
    attached to the fd; without it (before Linux 5.12), a bind onto
    /proc/self/fd/N and a remount of what is then at the fd's path.
    """
    try:
        tree = sc.open_tree(
            -100, source, sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC | (sc.AT_RECURSIVE if recursive else 0)
        )  # -100: AT_FDCWD
    except OSError as error:
        if error.errno != errno.ENOSYS:
            raise
        _bind_onto_by_path(source, dest_fd, recursive=recursive, read_only=read_only, propagation=propagation)
        return
    try:
        attrs = (sc.MOUNT_ATTR_RDONLY if read_only else 0) | (
            sc.MOUNT_ATTR_NODEV | sc.MOUNT_ATTR_NOSUID if nodev else 0
        )
        if attrs:
            sc.mount_setattr(tree, "", sc.AT_EMPTY_PATH | (sc.AT_RECURSIVE if nodev else 0), attrs)
        if propagation is not None:
            flag, whole = propagation
            sc.mount_setattr(tree, "", sc.AT_EMPTY_PATH | (sc.AT_RECURSIVE if whole else 0), 0, 0, flag)
        sc.move_mount(tree, "", dest_fd, "", sc.MOVE_MOUNT_F_EMPTY_PATH | sc.MOVE_MOUNT_T_EMPTY_PATH)
    finally:
        os.close(tree)


def _bind_onto_by_path(
    source: str,
    dest_fd: int,
    *,
    recursive: bool,
    read_only: bool,
    propagation: tuple[int, bool] | None = None,
) -> None:
    sc.mount(source, _fd_path(dest_fd), None, sc.MS_BIND | (sc.MS_REC if recursive else 0))
    # The fd still names the folder under the new mount; its path names the mount itself.
    mounted = os.readlink(_fd_path(dest_fd))
    if read_only:
        remount_readonly(mounted)
    if propagation is not None:
        flag, whole = propagation
        sc.mount(None, mounted, None, flag | (sc.MS_REC if whole else 0))


def bind_init(host_binary: str, rootfs: str) -> None:
    """Bind a host init (tini, catatonit) read-only at /dev/init (on our tmpfs, not the image)."""
    dest = rootfs + INIT_PATH
    _ensure_file(dest)
    sc.mount(host_binary, dest, None, sc.MS_BIND)
    remount_readonly(dest)


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
    remount_readonly("/")


def remount_readonly(path: str) -> None:
    """Make the mount at ``path`` read-only, keeping its nosuid, nodev, noexec and atime flags.

    A bind remount sets the mount's flags to exactly those given: without the ones
    it has, ``nodev`` (the root's, or a host mount's) would be dropped on the way.
    """
    sc.mount(None, path, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | kept_flags(path))


_KEPT_STATVFS_FLAGS = (
    (os.ST_NOSUID, sc.MS_NOSUID), (os.ST_NODEV, sc.MS_NODEV), (os.ST_NOEXEC, sc.MS_NOEXEC),
    (os.ST_NOATIME, sc.MS_NOATIME), (os.ST_NODIRATIME, sc.MS_NODIRATIME), (os.ST_RELATIME, sc.MS_RELATIME),
)  # fmt: skip


def kept_flags(path: str) -> int:
    """The mount flags of ``path`` that a remount must repeat (from statvfs)."""
    have = os.statvfs(path).f_flag
    return sum(ms for st, ms in _KEPT_STATVFS_FLAGS if have & st)


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
