"""Where everything of composer's lives under the state root: the one module that builds these paths.

::

    <root>/                          default /run/composer ($COMPOSER_ROOT, --root)
        ipam.lock                    address planning across projects
        forwarding.lock              the shared IP-forwarding record
        forwarding.json              what forwarding was before composer turned it on
        upcache/<key>.json           the no-op fast path's stored desired states
        userns/<project>.json        without root: the keeper of the project's namespaces
        userns/<project>.pasta.json  without root: the project's pasta (egress, published ports)
        userns/<project>.lock        without root: one command at a time makes or ends the keeper
        projects/<project>/
            lock                     flock(2): one composer command per project at a time
            state.json               the compacted records (typed, versioned)
            journal.jsonl            write-ahead records appended since the last compaction
            containers/<name>/       one container's folder (see model.container.ContainerFiles)
            netns/<name>             bind-mounted network namespaces
            volumes/<name>/          named volumes (kept until down -v)
            supervisor.sock|pid|log  the project's supervisor

Nothing here touches the disk except :meth:`StateRoot.project_names`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from composer.model.container import ContainerFiles

DEFAULT_STATE_ROOT = Path("/run/composer")
DEFAULT_IMAGE_ROOT = Path("/var/lib/composer")


@dataclass(frozen=True)
class StateRoot:
    path: Path

    @property
    def projects(self) -> Path:
        return self.path / "projects"

    def project(self, name: str) -> ProjectLayout:
        return ProjectLayout(self.path, name)

    @property
    def ipam_lock(self) -> Path:
        return self.path / "ipam.lock"

    @property
    def forwarding_lock(self) -> Path:
        return self.path / "forwarding.lock"

    @property
    def forwarding_record(self) -> Path:
        return self.path / "forwarding.json"

    @property
    def root_locks(self) -> tuple[Path, ...]:
        """The root-wide lock files, removed with the last project."""
        return (self.ipam_lock, self.forwarding_lock)

    @property
    def fastpath(self) -> Path:
        return self.path / "upcache"

    def fastpath_file(self, key: str) -> Path:
        return self.fastpath / f"{key}.json"

    @property
    def userns(self) -> Path:
        return self.path / "userns"

    def keeper_record(self, project: str) -> Path:
        return self.userns / f"{project}.json"

    def keeper_lock(self, project: str) -> Path:
        return self.userns / f"{project}.lock"

    def pasta_record(self, project: str) -> Path:
        return self.userns / f"{project}.pasta.json"

    def pasta_pid_file(self, project: str) -> Path:
        return self.userns / f"{project}.pasta.pid"

    def project_names(self) -> list[str]:
        """Projects that have records (a snapshot or a journal)."""
        if not self.projects.is_dir():
            return []
        return sorted(
            folder.name
            for folder in self.projects.iterdir()
            if (folder / "state.json").exists() or (folder / "journal.jsonl").exists()
        )


@dataclass(frozen=True)
class ProjectLayout:
    root: Path  # the state root
    name: str

    @classmethod
    def of_folder(cls, folder: Path) -> ProjectLayout:
        """The layout of the project whose folder is ``folder`` (``<root>/projects/<name>``)."""
        return cls(folder.parent.parent, folder.name)

    @property
    def state_root(self) -> StateRoot:
        return StateRoot(self.root)

    @property
    def dir(self) -> Path:
        return self.root / "projects" / self.name

    @property
    def lock(self) -> Path:
        return self.dir / "lock"

    @property
    def snapshot(self) -> Path:
        return self.dir / "state.json"

    @property
    def journal(self) -> Path:
        return self.dir / "journal.jsonl"

    @property
    def live_links(self) -> Path:
        """What the last ``up`` applied to the links and the live ``link`` changes since."""
        return self.dir / "live.json"

    @property
    def containers(self) -> Path:
        return self.dir / "containers"

    @property
    def netns_dir(self) -> Path:
        return self.dir / "netns"

    @property
    def volumes(self) -> Path:
        return self.dir / "volumes"

    @property
    def supervisor_socket(self) -> Path:
        return self.dir / "supervisor.sock"

    @property
    def supervisor_pid(self) -> Path:
        return self.dir / "supervisor.pid"

    @property
    def supervisor_log(self) -> Path:
        return self.dir / "supervisor.log"

    @property
    def supervisor_files(self) -> tuple[Path, ...]:
        return (self.supervisor_socket, self.supervisor_pid, self.supervisor_log)

    def container_dir(self, name: str) -> Path:
        return self.containers / name

    def container(self, name: str) -> ContainerFiles:
        return ContainerFiles(self.container_dir(name))

    def netns(self, name: str) -> Path:
        return self.netns_dir / name

    def volume(self, name: str) -> Path:
        return self.volumes / name
