"""Running composer as a normal user from a root test: the user, its interpreter, its projects.

The rootless tests run as root (like every kernel test) and start each composer
command as the test user with ``runuser``, so that the leak checks afterwards
can look at everything on the machine.  The user is ``$COMPOSER_RL_USER``
(``.ci/run`` creates ``composer-ci`` with subordinate ranges), else ``cmp-rl``;
without such a user the tests are skipped, saying how to make one.

The user needs an interpreter it may execute with composer importable: the
venv's own when the user can run it, else a small venv made from the system
``python3`` of the same version that adds this venv's site-packages (the venv's
interpreter may live in a folder the user cannot enter, e.g. pyenv under /root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

DEFAULT_USER = "cmp-rl"


@dataclass(frozen=True)
class RootlessUser:
    name: str
    uid: int
    gid: int
    home: str
    python: str

    @property
    def state_root(self) -> Path:
        return Path(f"/tmp/composer-{self.uid}")

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "HOME": self.home,
            "USER": self.name,
            "LOGNAME": self.name,
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "LANG": "C.UTF-8",
        }
        env.update(extra)
        return env

    def run(
        self, argv: Sequence[str], cwd: Path, *, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``argv`` as this user, with a clean environment (no root's HOME or XDG folders)."""
        command = [
            "runuser",
            "-u",
            self.name,
            "--",
            "env",
            "-i",
            *(f"{k}={v}" for k, v in self.env(**env).items()),
        ]
        return subprocess.run(
            [*command, *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )

    def composer(
        self, cwd: Path, *args: str, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return self.run([self.python, "-m", "composer.cli.main", *args], cwd, timeout=timeout, **env)

    def processes(self) -> list[tuple[int, str]]:
        """Live (not zombie) processes whose real uid is the user's or in its subordinate ids."""
        found: list[tuple[int, str]] = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            uid = int(fields.get("Uid", "-1\t").split()[0])
            if fields.get("State", "").startswith("Z"):
                continue
            if uid == self.uid or _owned_range(uid, self):
                found.append((int(entry.name), fields.get("Name", "").strip()))
        return found


def _owned_range(uid: int, user: RootlessUser) -> bool:
    for line in Path("/etc/subuid").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in (user.name, str(user.uid)):
            start, _, count = rest.partition(":")
            if int(start) <= uid < int(start) + int(count):
                return True
    return False


def find_user() -> RootlessUser:
    name = os.environ.get("COMPOSER_RL_USER", DEFAULT_USER)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        pytest.skip(
            f"no test user {name!r}: create one with subordinate ids (useradd -m {name}; .ci/run does) or"
            " set COMPOSER_RL_USER"
        )
    user = RootlessUser(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir, "")
    return RootlessUser(user.name, user.uid, user.gid, user.home, user_python(user))


def user_python(user: RootlessUser) -> str:
    """An interpreter the user may run with this checkout's composer and its dependencies importable."""
    probe = [sys.executable, "-c", "import composer, pydantic, pyroute2"]
    if user.run(probe, Path("/")).returncode == 0:
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/bin:/bin")
    if system is None:
        pytest.skip(f"{user.name} cannot run {sys.executable} and there is no /usr/bin/{version}")
    venv = Path(f"/tmp/composer-rl-venv-{user.uid}")
    site = venv / "lib" / version / "site-packages"
    pth = site / "composer-tests.pth"
    wanted = f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
    if not pth.exists() or pth.read_text() != wanted:  # missing, or left by another checkout's run
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], check=True)
        pth.write_text(wanted)
    python = str(venv / "bin" / "python")
    if user.run([python, *probe[1:]], Path("/")).returncode != 0:
        pytest.skip(f"{user.name} cannot import composer from {python} (is the checkout readable by it?)")
    return python


def user_project(user: RootlessUser, folder: Path, compose: str, rootfs: Path) -> Path:
    """A project folder owned by the user, with its own copy of the busybox rootfs (owners as inside)."""
    folder.mkdir(parents=True)
    shutil.copytree(rootfs, folder / "busybox", symlinks=True)
    (folder / "compose.yaml").write_text(compose)
    subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", str(folder)], check=True)
    folder.chmod(0o755)
    return folder


def tun_usable(user: RootlessUser) -> bool:
    return user.run(["test", "-r", "/dev/net/tun", "-a", "-w", "/dev/net/tun"], Path("/")).returncode == 0


def wait_for_no_processes(user: RootlessUser, timeout: float = 5.0) -> list[tuple[int, str]]:
    deadline = time.monotonic() + timeout
    left = user.processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = user.processes()
    return left


def kill_everything_of(user: RootlessUser) -> None:
    """After a failed test: the user's processes go (each by PID, all of them this test's)."""
    for pid, _ in user.processes():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
