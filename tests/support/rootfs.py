"""A busybox root filesystem built offline from Debian's busybox-static.

Every applet is a symlink to /bin/busybox, so the tree is a few hundred files and
about 2 MB: cheap to build per test session and deterministic.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

BUSYBOX = Path("/bin/busybox")

PASSWD = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n"
GROUP = "root:x:0:\ndaemon:x:1:\nstaff:x:50:app\nnogroup:x:65534:\napp:x:1000:\n"


def busybox_applets() -> list[str]:
    out = subprocess.run([str(BUSYBOX), "--list-full"], check=True, capture_output=True, text=True).stdout
    return sorted(line.strip() for line in out.splitlines() if line.strip())


def make_busybox_rootfs(dest: Path) -> Path:
    """Create a minimal busybox rootfs in ``dest`` (which must not exist or be empty)."""
    if not BUSYBOX.exists():
        raise RuntimeError("busybox-static is not installed (apt-get install busybox-static)")
    dest.mkdir(parents=True, exist_ok=True)
    for folder in (
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc",
        "root",
        "tmp",
        "home/app",
        "var/www",
        "proc",
        "sys",
        "dev",
    ):
        (dest / folder).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, dest / "bin" / "busybox")
    for applet in busybox_applets():
        link = dest / applet.lstrip("/")
        if link.name == "busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    (dest / "etc" / "passwd").write_text(PASSWD)
    (dest / "etc" / "group").write_text(GROUP)
    (dest / "var" / "www" / "index.html").write_text("hello from composer\n")
    return dest
