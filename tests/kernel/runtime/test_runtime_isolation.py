"""Isolation seen from inside containers: pid namespace, hostname, rootfs, mounts, volumes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from runtime_support import Lab, mounts_under

from composer.errors import ContainerError
from composer.model.container import MountConfig, Ulimit

pytestmark = pytest.mark.kernel


def test_command_is_pid_1_and_host_processes_are_invisible(lab: Lab) -> None:
    code, out, _ = lab.sh("echo pid=$$; ls /proc | grep -c '^[0-9]'")
    assert code == 0
    lines = out.split()
    assert lines[0] == "pid=1"
    assert int(lines[1]) <= 4  # sh, ls, grep (and nothing of the host)


def test_hostname_and_domainname_are_set(lab: Lab) -> None:
    code, out, _ = lab.sh("hostname; cat /proc/sys/kernel/domainname; cat /etc/hostname",
                          hostname="web1", domainname="example.test")  # fmt: skip
    assert code == 0
    assert out.split() == ["web1", "example.test", "web1"]


def test_source_rootfs_is_never_written_and_containers_do_not_share_writes(lab: Lab) -> None:
    before = sorted(p.name for p in lab.rootfs.iterdir())
    code, _, err = lab.sh("echo one > /etc/marker && rm /bin/cat && touch /root/x", name="a")
    assert code == 0, err
    assert not (lab.rootfs / "etc" / "marker").exists()
    assert (lab.rootfs / "bin" / "cat").is_symlink()
    assert sorted(p.name for p in lab.rootfs.iterdir()) == before
    code, out, _ = lab.sh("ls /etc/marker /root/x 2>&1; ls /bin/cat", name="b")
    assert "No such file" in out and out.strip().endswith("/bin/cat")


def test_read_only_root(lab: Lab) -> None:
    _code, out, err = lab.sh("touch /etc/x; echo rc=$?; touch /dev/shm/ok && echo shm-ok", read_only=True)
    assert "rc=1" in out and "Read-only file system" in err
    assert "shm-ok" in out


def test_proc_sys_and_sys_are_read_only_and_masked_paths_empty(lab: Lab) -> None:
    script = (
        "echo 1 > /proc/sys/kernel/shmmni || echo procsys-ro;"
        " touch /sys/x 2>/dev/null || echo sys-ro;"
        " echo keys=$(wc -c < /proc/keys);"
        " echo firmware=$(ls /sys/firmware | wc -l)"
    )
    _code, out, _ = lab.sh(script)
    assert "procsys-ro" in out and "sys-ro" in out
    assert "keys=0" in out and "firmware=0" in out


def test_dev_has_the_standard_nodes(lab: Lab) -> None:
    code, out, _ = lab.sh("ls /dev; head -c 4 /dev/zero | wc -c; df -k /dev/shm | tail -1", shm_size=8 << 20)
    assert code == 0
    for name in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx", "fd"):
        assert name in out.split()
    assert " 8192 " in out  # shm_size honoured


def test_only_standard_fds_reach_the_container(lab: Lab) -> None:
    leaked = os.open("/dev/null", os.O_RDONLY)  # not CLOEXEC: composer must close it anyway
    try:
        _code, out, _ = lab.sh("ls /proc/1/fd; exit 0")  # PID 1 is sh; ls runs as its child
    finally:
        os.close(leaked)
    assert out.split() == ["0", "1", "2"]


def test_bind_volume_and_tmpfs(lab: Lab, tmp_path: Path) -> None:
    host = tmp_path / "data"
    host.mkdir()
    (host / "in.txt").write_text("from host\n")
    mounts = (
        MountConfig(kind="bind", source=str(host), target="/data"),
        MountConfig(kind="bind", source=str(host), target="/ro", read_only=True),
        MountConfig(kind="tmpfs", target="/scratch", tmpfs_size=1 << 20),
    )
    code, out, err = lab.sh("cat /data/in.txt; echo w > /data/out.txt; touch /ro/x || echo ro-denied;"
                            " grep ' /scratch ' /proc/mounts", mounts=mounts)  # fmt: skip
    assert code == 0, err
    assert "from host" in out and "ro-denied" in out and "tmpfs" in out
    assert (host / "out.txt").read_text() == "w\n"


def test_symlink_in_the_image_cannot_redirect_a_volume_to_the_host(lab: Lab, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "abs").symlink_to(str(victim))  # absolute: must mean <rootfs><victim>
    (layer / "rel").symlink_to("../../../../../../../../" + str(victim).lstrip("/"))
    mounts = (
        MountConfig(kind="tmpfs", target="/abs"),
        MountConfig(kind="tmpfs", target="/rel/sub"),
    )
    code, out, err = lab.sh(
        f"grep -c ' {victim}' /proc/mounts; touch /abs/inside",
        mounts=mounts,
        rootfs_layers=(str(layer), str(lab.rootfs)),
    )
    assert code == 0, err
    assert int(out.split()[0]) == 2  # both mounts landed at <victim> inside the container
    assert list(victim.iterdir()) == []
    assert mounts_under(victim) == []


def test_user_by_name_and_by_uid_gid(lab: Lab) -> None:
    _, out, _ = lab.run("a", ["id"], user="app")
    assert out.strip() == "uid=1000(app) gid=1000(app) groups=50(staff),1000(app)"
    _, out, _ = lab.run("b", ["id"], user="1234:50")
    assert out.strip().startswith("uid=1234 gid=50(staff)")
    with pytest.raises(ContainerError, match="no user 'ghost'"):
        lab.start("c", ["id"], user="ghost")


def test_working_dir_is_created_and_used(lab: Lab) -> None:
    _, out, _ = lab.run("c", ["pwd"], working_dir="/srv/app")
    assert out.strip() == "/srv/app"


def test_ulimits_are_lowered_never_raised(lab: Lab) -> None:
    import resource

    host_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    ulimits = (Ulimit("nofile", 100, 200), Ulimit("nproc", 50, 10**9))
    _, out, _ = lab.sh("ulimit -n; ulimit -Hn; ulimit -Hu", ulimits=ulimits)
    soft, hard, nproc_hard = out.split()
    assert (soft, hard) == ("100", "200")
    assert nproc_hard in ("unlimited", str(resource.getrlimit(resource.RLIMIT_NPROC)[1]))
    assert int(hard) <= host_hard


def test_namespaced_sysctl_applied_and_host_sysctl_refused(lab: Lab) -> None:
    _, out, _ = lab.sh("cat /proc/sys/kernel/shmmni", sysctls=(("kernel.shmmni", "1234"),))
    assert out.strip() == "1234"
    with pytest.raises(ContainerError, match=r"kernel\.panic is not namespaced"):
        lab.start("bad", ["true"], sysctls=(("kernel.panic", "1"),))
    with pytest.raises(ContainerError, match="host's network"):
        lab.start("bad2", ["true"], sysctls=(("net.ipv4.ip_forward", "1"),))


def test_missing_command_is_reported(lab: Lab) -> None:
    with pytest.raises(ContainerError, match="executable file not found"):
        lab.start("c", ["no-such-binary"])


def test_etc_hosts_and_resolv_conf_are_provided(lab: Lab) -> None:
    _, out, _ = lab.sh(
        "cat /etc/hosts /etc/resolv.conf", hosts="10.0.0.7 db\n", resolv_conf="nameserver 9.9.9.9\n"
    )
    assert out == "10.0.0.7 db\nnameserver 9.9.9.9\n"


def test_user_namespace_maps_root_to_an_unprivileged_range(lab: Lab) -> None:
    container = lab.start("c", ["/bin/sh", "-c", "id -u; cat /proc/self/uid_map; echo x > /tmp/f; sleep 30"],
                          userns=True, userns_base=200000, userns_size=65536)  # fmt: skip
    with open(f"/proc/{container.pid}/status") as handle:
        uid_line = next(line for line in handle if line.startswith("Uid:"))
    assert uid_line.split()[1:] == ["200000"] * 4  # root inside is 200000 on the host
    _wait_for_text(container, "200000")
    assert container.stdout.split()[:4] == ["0", "0", "200000", "65536"]


def test_tarball_rootfs_is_unpacked_once_and_reused(lab: Lab, tmp_path: Path) -> None:
    import tarfile

    from composer.images.rootfs import resolve_rootfs

    tarball = tmp_path / "rootfs.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(lab.rootfs, arcname=".")
    cache = tmp_path / "cache"
    first = resolve_rootfs(tarball, cache)
    marker = Path(first[0]) / "etc" / "passwd"
    inode = marker.stat().st_ino
    assert resolve_rootfs(tarball, cache) == first
    assert marker.stat().st_ino == inode  # not unpacked again
    assert [p.name for p in (cache / "rootfs").iterdir()] == [Path(first[0]).name]  # no scratch left
    _, out, _ = lab.sh("cat /var/www/index.html", rootfs_layers=first)
    assert out == "hello from composer\n"


def test_net_sysctl_in_a_network_namespace(lab: Lab) -> None:
    import subprocess

    knob = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    host_value = knob.read_text()
    holder = subprocess.Popen(["unshare", "--net", "sleep", "30"])
    try:
        netns = f"/proc/{holder.pid}/ns/net"
        _wait_until(lambda: os.readlink(netns) != os.readlink("/proc/self/ns/net"))
        wanted = "80" if host_value.strip() != "80" else "81"
        sysctls = (("net.ipv4.ip_unprivileged_port_start", wanted),)
        _, out, _ = lab.sh("cat /proc/sys/net/ipv4/ip_unprivileged_port_start; ls /sys/class/net",
                           netns_path=netns, sysctls=sysctls)  # fmt: skip
        assert out.split() == [wanted, "lo"]
    finally:
        holder.kill()
        holder.wait()
    assert knob.read_text() == host_value  # the host's own network is untouched


def _wait_until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def _wait_for_text(container, text: str) -> None:  # type: ignore[no-untyped-def]
    _wait_until(lambda: text in container.stdout)
