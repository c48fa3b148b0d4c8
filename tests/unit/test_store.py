"""The state store: typed records, the write-ahead journal, atomic snapshots, versions, per-project locks."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from composer.errors import StateError
from composer.model.ids import ResourceId
from composer.model.ipam import FamilyPlan, NetworkAddressing
from composer.store.container import (
    ContainerFolder,
    ContainerStatus,
    is_alive,
    live_status,
    process_start_time,
)
from composer.store.journal import ProjectStore
from composer.store.layout import StateRoot
from composer.store.locks import ipam_lock, nothing_left_unless_recorded, project_lock
from composer.store.records import (
    ContainerRecord,
    FirewallRecord,
    LinkRecord,
    NetworkRecord,
    PortRecord,
    ProjectMeta,
    SandboxRecord,
    VolumeRecord,
    decode_record,
    encode_record,
)

NET = ResourceId("network:a")
WEB = ResourceId("container:p-web-1")
ADDRESSING = NetworkAddressing("a", FamilyPlan("10.9.0.0/24", "10.9.0.1", None, {"p-web-1": "10.9.0.2"}))
CONTAINER = ContainerRecord(
    service="web",
    number=1,
    image_id="sha256:abc",
    folder="/run/composer/projects/p/containers/p-web-1",
    sandbox=SandboxRecord("/run/composer/projects/p/netns/p-web-1", True, "", ("cmv1",), {"memory": "/cg/m"}),
    depends_on=("db",),
    networks=("a",),
    addresses={"a": ("10.9.0.2/24",)},
    ports=(PortRecord("0.0.0.0", 8080, 80, "tcp"),),
)
RECORDS = [
    NetworkRecord("cmb1", False, ("10.9.0.0/24",), ADDRESSING),
    VolumeRecord("/v/data"),
    CONTAINER,
    LinkRecord(("cmv2", "cmv3"), "/n/a", "/n/b", "eth1", "eth1"),
    FirewallRecord("p"),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_every_record_kind_survives_its_codec(record: object) -> None:
    raw = json.loads(json.dumps(encode_record(record)))  # type: ignore[arg-type]
    assert decode_record(raw["kind"], raw) == record


def test_a_record_of_the_wrong_kind_is_refused() -> None:
    raw = encode_record(VolumeRecord("/v"))
    with pytest.raises(ValueError, match="'volume' record where a network record"):
        decode_record("network", raw)


def test_journal_survives_a_cut_last_line(tmp_path: Path) -> None:
    layout = StateRoot(tmp_path).project("p")
    with project_lock(layout) as store:
        store.intend(NET, RECORDS[0], "h1")
        store.confirm(NET)
        store.intend(WEB, CONTAINER, "h2")
        store.close()  # simulate a crash: no compaction, the journal stays
        raw = layout.journal.read_text()
        layout.journal.write_text(raw + '{"v":2,"op":"set","rid":"container:p-y-1","ph')
        store.load()
        assert store.records[NET].phase == "created"
        assert store.records[WEB].phase == "creating"
        assert store.containers()[WEB].record == CONTAINER
        assert ResourceId("container:p-y-1") not in store.records


def test_confirm_keeps_what_creating_learnt(tmp_path: Path) -> None:
    layout = StateRoot(tmp_path).project("p")
    with project_lock(layout) as store:
        store.intend(WEB, CONTAINER, "h")
        store.confirm(WEB, CONTAINER.with_cgroups({"pids": "/cg/p"}))
    loaded = ProjectStore(layout).load()
    assert loaded.containers()[WEB].record.sandbox.cgroup_paths == {"pids": "/cg/p"}
    assert loaded.containers()[WEB].config_hash == "h"


def test_compaction_writes_a_versioned_snapshot_and_empties_the_journal(tmp_path: Path) -> None:
    root = StateRoot(tmp_path)
    with project_lock(root.project("p")) as store:
        store.intend(NET, NetworkRecord("cmb1", False), "h1")
        store.confirm(NET)
        store.set_meta(ProjectMeta(addressing={"a": ADDRESSING}, files=("/p/compose.yaml",)))
    snapshot = json.loads(root.project("p").snapshot.read_text())
    assert snapshot["schema_version"] == 2
    assert snapshot["resources"] == [
        {"rid": "network:a", "phase": "created", "hash": "h1",
         "record": {"kind": "network", "bridge": "cmb1", "external": False, "subnets": [], "addressing": None}},
    ]  # fmt: skip
    assert not root.project("p").journal.exists()
    assert root.project_names() == ["p"]
    again = ProjectStore(root.project("p")).load()
    assert again.meta == ProjectMeta(addressing={"a": ADDRESSING}, files=("/p/compose.yaml",))


def test_removing_the_last_record_removes_the_project_folder(tmp_path: Path) -> None:
    root = StateRoot(tmp_path)
    with project_lock(root.project("p")) as store:
        store.intend(NET, NetworkRecord("cmb1", False), "h")
    with project_lock(root.project("p")) as store:
        store.begin_removal(NET)
        assert store.records[NET].phase == "removing"
        store.removed(NET)
    assert not root.project("p").dir.exists()
    assert root.project_names() == []


def test_a_write_cut_short_by_a_kill_does_not_keep_the_project_folder(tmp_path: Path) -> None:
    """kill -9 between an atomic write's temporary file and its rename leaves ``.state.json.XXXXXXXX``."""
    root = StateRoot(tmp_path)
    with project_lock(root.project("p")) as store:
        store.intend(NET, NetworkRecord("cmb1", False), "h")
    (root.project("p").dir / ".state.json.k3x_9qzt").write_text('{"half": ')
    with project_lock(root.project("p")) as store:
        store.begin_removal(NET)
        store.removed(NET)
    assert not root.project("p").dir.exists()


def test_a_file_that_is_not_debris_keeps_the_project_folder(tmp_path: Path) -> None:
    root = StateRoot(tmp_path)
    with project_lock(root.project("p")) as store:
        store.intend(NET, NetworkRecord("cmb1", False), "h")
    (root.project("p").dir / "notes.txt").write_text("mine")
    with project_lock(root.project("p")) as store:
        store.begin_removal(NET)
        store.removed(NET)
    assert (root.project("p").dir / "notes.txt").read_text() == "mine"


def test_a_schema_1_snapshot_and_journal_are_read(tmp_path: Path) -> None:
    """State written by composer 0.1: flat data objects, facts merged line by line."""
    layout = StateRoot(tmp_path).project("p")
    layout.dir.mkdir(parents=True)
    v1_container = {
        "service": "web", "number": 1, "image_id": "", "dir": "/d/p-web-1", "netns": "/n/p-web-1",
        "owns_netns": True, "netns_owner": "", "veths": ["cmv1"], "networks": ["a"], "depends_on": ["db"],
        "addresses": {"a": ["10.9.0.2/24"]}, "ports": [{"host_ip": "", "host_port": 80, "target": 80,
                                                       "protocol": "tcp"}],
    }  # fmt: skip
    layout.snapshot.write_text(json.dumps({
        "schema_version": 1, "project": "p",
        "meta": {"addressing": {"a": ADDRESSING.to_dict()}, "files": "/x/a.yaml,/x/b.yaml"},
        "resources": [{"rid": "network:a", "phase": "created", "hash": "h1",
                       "data": {"bridge": "cmb1", "external": False, "subnets": ["10.9.0.0/24"]}}],
    }))  # fmt: skip
    lines = [
        {"op": "set", "rid": "container:p-web-1", "phase": "creating", "data": v1_container, "hash": "h2"},
        {
            "op": "set",
            "rid": "container:p-web-1",
            "phase": "created",
            "data": {"cgroup_paths": {"memory": "/m"}},
        },
    ]
    layout.journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    store = ProjectStore(layout).load()
    web = store.containers()[WEB]
    assert (web.phase, web.config_hash) == ("created", "h2")
    assert web.record.folder == "/d/p-web-1"
    assert web.record.sandbox == SandboxRecord("/n/p-web-1", True, "", ("cmv1",), {"memory": "/m"})
    assert web.record.ports == (PortRecord("", 80, 80, "tcp"),)
    assert store.networks()[NET].record.subnets == ("10.9.0.0/24",)
    assert store.meta.files == ("/x/a.yaml", "/x/b.yaml")
    assert store.meta.addressing["a"] == ADDRESSING


def test_an_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    layout = StateRoot(tmp_path).project("p")
    layout.dir.mkdir(parents=True)
    layout.snapshot.write_text(json.dumps({"schema_version": 99, "resources": []}))
    with pytest.raises(StateError, match="schema version 99"):
        ProjectStore(layout).load()


def test_a_malformed_record_names_the_file(tmp_path: Path) -> None:
    layout = StateRoot(tmp_path).project("p")
    layout.dir.mkdir(parents=True)
    layout.snapshot.write_text(json.dumps({
        "schema_version": 2, "resources": [{"rid": "network:a", "phase": "created", "record": {"kind": "network"}}],
    }))  # fmt: skip
    with pytest.raises(StateError, match=r"state.json: the record of network:a cannot be read"):
        ProjectStore(layout).load()


def test_a_second_command_waits_says_why_and_gives_up(tmp_path: Path) -> None:
    root = StateRoot(tmp_path)
    holding = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with project_lock(root.project("p")):
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(5)
    messages: list[str] = []
    started = time.monotonic()
    with (
        pytest.raises(StateError, match="locked by another composer command"),
        project_lock(root.project("p"), timeout=0.3, on_wait=messages.append),
    ):
        pass
    assert time.monotonic() - started >= 0.3
    assert messages == ["waiting for another composer command on project 'p' to finish"]
    # Another project is not held up.
    with project_lock(root.project("other"), timeout=0.3):
        pass
    release.set()
    thread.join()
    with project_lock(root.project("p"), timeout=1):
        pass


def test_a_pid_is_looked_up_in_the_procfs_of_its_namespace(tmp_path: Path) -> None:
    """Liveness through another procfs, as ``ls`` sees a rootless project's PIDs through its keeper."""
    me = os.getpid()
    status = ContainerStatus("p-web-1", state="running", pid=me, pid_start_time=process_start_time(me) or 0)
    assert is_alive(status)
    assert is_alive(status, Path("/proc/self/root/proc"))  # a process's root/proc: the keeper's way in
    (tmp_path / "proc").mkdir()
    assert not is_alive(status, tmp_path / "proc")  # another namespace's procfs: no such PID there
    folder = ContainerFolder(StateRoot(tmp_path).project("p").container("p-web-1"))
    folder.files.folder.mkdir(parents=True)
    folder.write_status(status)
    assert live_status(folder).state == "running"
    assert live_status(folder, tmp_path / "proc").state == "exited"
    assert live_status(folder, None).state == "exited"  # the namespace is gone: so is every process


def test_a_refused_first_up_leaves_no_state_root(tmp_path: Path) -> None:
    root = StateRoot(tmp_path / "state")
    with (
        pytest.raises(StateError),
        nothing_left_unless_recorded(root),
        ipam_lock(root),
        project_lock(root.project("p")),
    ):
        raise StateError("refused")  # after what planning makes: the project's and the ipam lock
    assert not root.path.exists()
    with project_lock(root.project("q")) as store:  # another project with records keeps the root
        store.intend(NET, NetworkRecord("cmb1", False), "h")
    with (
        pytest.raises(StateError),
        nothing_left_unless_recorded(root),
        ipam_lock(root),
        project_lock(root.project("p")),
    ):
        raise StateError("refused")
    assert root.project_names() == ["q"] and root.ipam_lock.exists()
