"""The throwaway "host" the network kernel tests work in (see conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from composer.kernel.net import netns

BUSYBOX = "/bin/busybox"


@dataclass
class Sandbox:
    """A throwaway "host": its state root, a unique project and what the test started."""

    root: Path
    project: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def netns_path(self, name: str) -> str:
        return str(self.root / "netns" / name)

    def new_netns(self, name: str) -> str:
        path = self.netns_path(name)
        netns.create_netns(path)
        return path

    def run(self, ns: str | None, *argv: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
        """Run a busybox applet inside ``ns`` (None: the sandbox itself) and wait."""
        prefix = ["nsenter", f"--net={ns}"] if ns else []
        return subprocess.run(
            [*prefix, BUSYBOX, *argv], capture_output=True, text=True, timeout=timeout, check=False
        )

    def spawn(self, ns: str, *argv: str, cwd: str | None = None) -> subprocess.Popen[bytes]:
        """Start a busybox applet in ``ns`` in the background; stopped by PID after the test."""
        proc = subprocess.Popen(
            ["nsenter", f"--net={ns}", BUSYBOX, *argv],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(proc)
        return proc

    def ping(self, ns: str | None, address: str) -> bool:
        return self.run(ns, "ping", "-c", "1", "-W", "1", address).returncode == 0

    def stop_processes(self) -> list[int]:
        """Stop what the test started; the PIDs that were still running."""
        running = []
        for proc in self.processes:
            if proc.poll() is None:
                running.append(proc.pid)
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        return running
