"""Real builds: RUN in composer containers, layers in the store, the cache, up on the result."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from composer.images.builder import Builder, BuildError, BuildRequest, OutputLine, StepEvent
from composer.images.builder.builder import BuildResult
from composer.images.builder.layers import StackView
from composer.images.store import ImageStore
from tests.support.lab import Lab

BASE = """\
FROM scratch AS base
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /etc /tmp && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd \\
 && echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> /etc/passwd \\
 && echo 'root:x:0:' > /etc/group && echo 'app:x:1000:' >> /etc/group
"""


def build(
    store: ImageStore, context: Path, text: str, tag: str = "bd-test:1", **options: Any
) -> tuple[BuildResult, list[StepEvent | OutputLine]]:
    (context / "Dockerfile").write_text(text)
    events: list[StepEvent | OutputLine] = []
    request = BuildRequest(context=context, tags=(tag,), **options)
    result = Builder(store, request, events.append).build()
    return result, events


def config_of(store: ImageStore, image_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(store.blob_path(image_id).read_bytes())
    return data


def view_of(store: ImageStore, reference: str) -> StackView:
    image = store.lookup(reference)
    assert image is not None
    return StackView(list(reversed(image.layer_dirs)))


def statuses(events: list[StepEvent | OutputLine]) -> list[tuple[str, str]]:
    return [(e.text, e.status) for e in events if isinstance(e, StepEvent) and e.status in ("cached", "done")]


def test_scratch_build_with_run_copy_and_config(store: ImageStore, context: Path) -> None:
    (context / "hello.txt").write_text("hello\n")
    (context / "sub").mkdir()
    (context / "sub" / "keep").write_text("k\n")
    (context / "sub" / "notes.md").write_text("ignored\n")
    (context / ".dockerignore").write_text("# docs stay out\nsub/*.md\n")
    text = (
        BASE
        + """\
ENV GREETING="hi there" PATH=/bin:/usr/bin
LABEL org.example.team=build
WORKDIR /app
COPY --chown=app:app --chmod=640 hello.txt ./
COPY sub /app/sub/
RUN echo "$GREETING" > /greet && rm /app/sub/keep && echo pid=$$ > /pid
USER app
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD test -f /greet
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /greet"]
"""
    )
    result, events = build(store, context, text)
    view = view_of(store, "bd-test:1")
    assert view.read_file("/greet") == b"hi there\n"
    assert view.read_file("/pid") == b"pid=1\n"  # RUN is PID 1 of its own pid namespace
    hello = view.lookup("/app/hello.txt")
    assert hello is not None
    st = os.lstat(hello)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o640)
    assert view.lookup("/app/sub/keep") is None  # deleted by RUN: a whiteout in its layer
    assert view.lookup("/app/sub/notes.md") is None  # .dockerignore
    assert view.lookup("/proc") is None and view.lookup("/etc/hostname") is None  # runtime artifacts left out
    config = config_of(store, result.image.image_id)
    inner = config["config"]
    assert "GREETING=hi there" in inner["Env"]
    assert inner["Labels"] == {"org.example.team": "build"}
    assert inner["WorkingDir"] == "/app" and inner["User"] == "app"
    assert inner["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert inner["Volumes"] == {"/data": {}} and inner["StopSignal"] == "SIGINT"
    assert inner["Healthcheck"] == {
        "Test": ["CMD-SHELL", "test -f /greet"],
        "Interval": 5_000_000_000,
        "Retries": 2,
    }
    assert inner["Entrypoint"] == ["/bin/sh", "-c"] and inner["Cmd"] == ["cat /greet"]
    layered = [h for h in config["history"] if not h.get("empty_layer")]
    assert len(layered) == len(config["rootfs"]["diff_ids"])
    assert [h["created_by"] for h in config["history"]][:2] == [
        "COPY busybox /bin/busybox",
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
    ]
    for layer in store.image_files(result.image.image_id)[1]:
        assert store.blob_path(layer["digest"]).is_file()  # kept for push
    assert [s for s in statuses(events) if s[1] == "cached"] == []


def test_rebuild_is_all_cache_hits_and_a_changed_file_misses_from_its_copy(
    store: ImageStore, context: Path
) -> None:
    (context / "a.txt").write_text("one\n")
    (context / "b.txt").write_text("bee\n")
    text = BASE + "COPY b.txt /b.txt\nRUN echo first > /first\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\n"
    first, _ = build(store, context, text)
    second, events = build(store, context, text)
    assert not [e for e in events if isinstance(e, StepEvent) and e.status == "running" and "RUN" in e.text]
    assert second.image.image_id == first.image.image_id  # same image: an up --build recreates nothing
    fs_steps = [s for s in statuses(events) if s[0].startswith(("RUN", "COPY"))]
    assert fs_steps and all(status == "cached" for _, status in fs_steps)
    (context / "a.txt").write_text("two\n")
    third, events = build(store, context, text)
    assert third.image.image_id != first.image.image_id
    by_text = dict(statuses(events))
    assert by_text["COPY b.txt /b.txt"] == "cached"
    assert by_text["RUN echo first > /first"] == "cached"
    assert by_text["COPY a.txt /a.txt"] == "done"
    assert by_text["RUN cat /a.txt > /copy"] == "done"
    assert view_of(store, "bd-test:1").read_file("/copy") == b"two\n"
    _, events = build(store, context, text, no_cache=True)
    assert all(status == "done" for _, status in statuses(events))
    assert view_of(store, "bd-test:1").read_file("/copy") == b"two\n"


def test_multi_stage_copy_from_target_and_arg_scoping(store: ImageStore, context: Path) -> None:
    text = """\
ARG FLAVOUR=plain
ARG UNUSED_GLOBAL=g
FROM scratch AS tools
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]

FROM tools AS make
ARG FLAVOUR
ARG LEVEL=3
RUN mkdir -p /out && echo "$FLAVOUR-$LEVEL-[$UNUSED_GLOBAL]" > /out/result

FROM tools AS never
RUN exit 3

FROM scratch
COPY --from=make /out/ /srv/
COPY --from=tools /bin/busybox /bin/busybox
CMD ["/bin/busybox", "cat", "/srv/result"]
"""
    result, events = build(store, context, text, args={"LEVEL": "9"})
    view = view_of(store, "bd-test:1")
    assert view.read_file("/srv/result") == b"plain-9-[]\n"  # a global ARG is seen only once redeclared
    assert "never" not in {e.stage for e in events if isinstance(e, StepEvent)}  # not needed: skipped
    config = config_of(store, result.image.image_id)
    assert not any("LEVEL" in item for item in config["config"]["Env"])  # ARGs do not persist
    assert len(config["rootfs"]["diff_ids"]) == 2
    build(store, context, text, tag="bd-make:1", target="make")
    assert view_of(store, "bd-make:1").read_file("/out/result") == b"plain-3-[]\n"
    with pytest.raises(BuildError, match="no stage named 'nope'"):
        build(store, context, text, target="nope")


def test_failing_run_reports_and_leaves_no_image(store: ImageStore, context: Path) -> None:
    text = BASE + "RUN echo about to fail && echo on stderr >&2 && exit 7\n"
    with pytest.raises(BuildError) as caught:
        build(store, context, text, tag="bd-fail:1")
    message = caught.value.render()
    assert "exit status 7" in message and "about to fail" in message and "on stderr" in message
    assert store.lookup("bd-fail:1") is None


def test_add_extracts_a_local_tarball_and_refuses_urls(
    store: ImageStore, context: Path, tmp_path: Path
) -> None:
    import tarfile

    payload = tmp_path / "payload"
    (payload / "pkg").mkdir(parents=True)
    (payload / "pkg" / "data.txt").write_text("from the tarball\n")
    with tarfile.open(context / "pkg.tar.gz", "w:gz") as tar:
        tar.add(payload / "pkg", arcname="pkg")
    build(
        store, context, "FROM scratch\nADD pkg.tar.gz /opt/\nCOPY <<EOF /opt/inline.txt\ninline text\nEOF\n"
    )
    view = view_of(store, "bd-test:1")
    assert view.read_file("/opt/pkg/data.txt") == b"from the tarball\n"
    assert view.read_file("/opt/inline.txt") == b"inline text\n"
    with pytest.raises(BuildError, match="remote sources are not fetched"):
        build(store, context, "FROM scratch\nADD https://example.com/x.tar.gz /\n")


def test_from_registry_image_with_cache_mount_and_network_none(
    store: ImageStore, context: Path, busybox_ref: str
) -> None:
    text = f"""\
FROM {busybox_ref}
RUN --mount=type=cache,target=/cache echo run >> /cache/count && wc -l < /cache/count > /seen
RUN --network=none ip -o link | cut -d: -f2 | tr -d ' ' > /links
"""
    build(store, context, text)
    view = view_of(store, "bd-test:1")
    assert view.read_file("/seen") == b"1\n"
    assert view.read_file("/links") == b"lo\n"  # network none: a namespace with loopback only
    assert view.lookup("/cache") is None  # the mount point is not part of the layer
    build(store, context, text.replace("wc -l", "wc -l "), no_cache=False)
    assert view_of(store, "bd-test:1").read_file("/seen") == b"2\n"  # the cache folder was kept


def test_up_built(lab: Lab) -> None:
    """up builds the missing image of a two-service project, then serves it (short name: socket path)."""
    project = "bd-" + lab.folder.name[1:]
    app = lab.folder / "app"
    app.mkdir()
    (app / "busybox").write_bytes(Path("/bin/busybox").read_bytes())
    os.chmod(app / "busybox", 0o755)
    (app / "Dockerfile").write_text(
        BASE
        + 'ARG MESSAGE\nRUN mkdir -p /www && echo "$MESSAGE" > /www/index.html\n'
        + 'EXPOSE 8080\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n'
    )
    lab.write(
        f"""\
name: {project}
services:
  db:
    rootfs: ROOTFS
    command: ["sleep", "3600"]
  web:
    build:
      context: ./app
      args: {{MESSAGE: built by composer}}
    depends_on: [db]
    ports: ["127.0.0.1:18391:8080"]
"""
    )
    lab.composer("up", "-d", "--wait")
    answer = _get("http://127.0.0.1:18391/")
    assert answer == "built by composer\n"
    images = lab.composer("images").stdout
    assert f"{project}-web" in images
    first_pid = _pid_of(lab, project, "web")
    lab.composer("up", "-d", "--build", "--wait")  # nothing changed: all cache hits, same image
    assert _pid_of(lab, project, "web") == first_pid
    built = lab.composer("build", "--build-arg", "MESSAGE=rebuilt").stderr
    assert "CACHED" in built
    lab.composer("up", "-d", "--wait")  # a new image under the same name: the container is recreated
    assert _pid_of(lab, project, "web") != first_pid
    try:
        assert _get("http://127.0.0.1:18391/") == "rebuilt\n"
    except httpx.TransportError:
        import subprocess

        print(subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout[-3000:])
        print(lab.composer("-p", project, "ps").stdout)
        print(subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True).stdout)
        print(lab.exec(project, "db", "wget", "-q", "-O-", "http://web:8080/"))
        raise
    lab.composer("down", "-t", "1")


def _pid_of(lab: Lab, project: str, service: str) -> object:
    rows = [row for row in lab.ps(project) if row.get("Service") == service]
    assert rows, lab.ps(project)
    return rows[0].get("Pid")


def _get(url: str) -> str:
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.get(url, timeout=2).text
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_onbuild_heredoc_shell_and_copy_from_an_image(
    store: ImageStore, context: Path, busybox_ref: str
) -> None:
    parent = f"""\
FROM {busybox_ref}
ONBUILD RUN echo triggered > /onbuild
"""
    build(store, context, parent, tag="bd-parent:1")
    assert view_of(store, "bd-parent:1").lookup("/onbuild") is None  # recorded, not run, in the parent
    child = f"""\
FROM bd-parent:1
SHELL ["/bin/sh", "-ec"]
RUN <<EOT
echo one > /heredoc
echo two >> /heredoc
EOT
RUN cat <<EOF > /fed
fed by a heredoc
EOF
COPY --from={busybox_ref} /bin/busybox /copied/busybox
"""
    result, _ = build(store, context, child, tag="bd-child:1")
    view = view_of(store, "bd-child:1")
    assert view.read_file("/onbuild") == b"triggered\n"
    assert view.read_file("/heredoc") == b"one\ntwo\n"
    assert view.read_file("/fed") == b"fed by a heredoc\n"
    copied = view.lookup("/copied/busybox")
    assert copied is not None and os.path.getsize(copied) == os.path.getsize("/bin/busybox")
    config = config_of(store, result.image.image_id)["config"]
    assert config["Shell"] == ["/bin/sh", "-ec"] and "OnBuild" not in config


def test_pushed_image_pulls_back_identical(
    store: ImageStore, context: Path, registry: Any, tmp_path: Path
) -> None:
    from composer.images.reference import parse_reference

    (context / "data.txt").write_text("pushed\n")
    reference = f"{registry.host}/bd/pushed:1"
    result, _ = build(store, context, BASE + "COPY data.txt /srv/data.txt\nRUN rm /bin/ls\n", tag=reference)
    layers = len(config_of(store, result.image.image_id)["rootfs"]["diff_ids"])
    digest, sent = store.push(reference)
    assert sent == layers + 1  # the layers and the config
    assert store.push(reference)[1] == 0  # the registry has them all now
    fresh = ImageStore(tmp_path / "fresh")
    pulled = fresh.pull(parse_reference(reference))
    assert (pulled.image_id, pulled.manifest_digest) == (result.image.image_id, digest)
    assert digest == result.image.manifest_digest
    view = StackView(list(reversed(pulled.layer_dirs)))
    assert view.read_file("/srv/data.txt") == b"pushed\n"
    assert view.lookup("/bin/ls") is None  # the whiteout made the round trip


def test_secret_mounts_are_readable_in_run_and_absent_from_the_layer(
    store: ImageStore, context: Path, tmp_path: Path
) -> None:
    token = tmp_path / "token.txt"
    token.write_text("s3cret-file")
    text = BASE + (
        "RUN --mount=type=secret,id=token cat /run/secrets/token > /seen-file\n"
        "RUN --mount=type=secret,id=api,target=/etc/api.key cat /etc/api.key > /seen-env\n"
        "RUN --mount=type=secret,id=absent ls /run/secrets > /listing || echo none > /listing\n"
    )
    build(store, context, text, secret_files={"token": token}, secret_values={"api": "from-env"})
    view = view_of(store, "bd-test:1")
    assert view.read_file("/seen-file") == b"s3cret-file"
    assert view.read_file("/seen-env") == b"from-env"
    assert view.read_file("/listing") == b"none\n"  # an optional secret not given is not mounted
    assert view.lookup("/run/secrets/token") is None and view.lookup("/etc/api.key") is None
    with pytest.raises(BuildError, match="needs the secret 'absent'"):
        build(store, context, BASE + "RUN --mount=type=secret,id=absent,required=true true\n")


def test_ssh_mounts_bind_the_agent_socket_and_point_ssh_auth_sock_at_it(
    store: ImageStore, context: Path, tmp_path: Path
) -> None:
    """The agent is a listening socket of the test's (an agent's protocol is not what is tested)."""
    import socket

    agent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    agent.bind(str(tmp_path / "agent.sock"))
    agent.listen(1)
    try:
        text = BASE + (
            'RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" > /seen-default\n'
            "RUN --mount=type=ssh,id=work,target=/agent test -S /agent && echo yes > /seen-work\n"
            "RUN --mount=type=ssh,id=absent ls /run/buildkit > /listing 2>&1 || echo none > /listing\n"
        )
        agents = {"default": tmp_path / "agent.sock", "work": tmp_path / "agent.sock"}
        build(store, context, text, ssh_agents=agents)
    finally:
        agent.close()
    view = view_of(store, "bd-test:1")
    assert view.read_file("/seen-default") == b"/run/buildkit/ssh_agent.0\n"
    assert view.read_file("/seen-work") == b"yes\n"
    assert view.read_file("/listing") == b"none\n"  # an optional agent not given is not mounted
    with pytest.raises(BuildError, match="needs the SSH agent 'absent'"):
        build(store, context, BASE + "RUN --mount=type=ssh,id=absent,required=true true\n")


CORPUS = [
    # (Dockerfile body after FROM scratch, build args, check on the image config's `config`)
    ('ENV A=1\nENV B=${A}2 C="$A $A"\n', {}, lambda c: {"B=12", "C=1 1"} <= set(c["Env"])),
    ("ENV LEGACY one two\n", {}, lambda c: "LEGACY=one two" in c["Env"]),
    ("ARG WHO=nobody\nUSER $WHO:42\n", {"WHO": "1234"}, lambda c: c["User"] == "1234:42"),
    ("ARG P=80\nEXPOSE $P 53/udp\n", {}, lambda c: c["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}),
    ('LABEL a=1 "b c"=2\nLABEL a=3\n', {}, lambda c: c["Labels"] == {"a": "3", "b c": "2"}),
    ("MAINTAINER someone\n", {}, lambda c: c["Labels"] == {"maintainer": "someone"}),
    ("WORKDIR /a\nWORKDIR b\nWORKDIR ../c\n", {}, lambda c: c["WorkingDir"] == "/a/c"),
    ('CMD ["x"]\nENTRYPOINT ["e"]\n', {}, lambda c: c["Cmd"] == ["x"] and c["Entrypoint"] == ["e"]),
    ('CMD ["x"]\nFROM 0\nENTRYPOINT ["e"]\n', {}, lambda c: "Cmd" not in c and c["Entrypoint"] == ["e"]),
    ("CMD echo $HOME\n", {}, lambda c: c["Cmd"] == ["/bin/sh", "-c", "echo $HOME"]),
    (
        'SHELL ["/bin/ash", "-eo", "pipefail", "-c"]\nCMD run\n',
        {},
        lambda c: c["Cmd"][:3] == ["/bin/ash", "-eo", "pipefail"],
    ),
    ('VOLUME ["/a", "/b"]\nVOLUME /c\n', {}, lambda c: set(c["Volumes"]) == {"/a", "/b", "/c"}),
    ("STOPSIGNAL SIGQUIT\n", {}, lambda c: c["StopSignal"] == "SIGQUIT"),
    ("HEALTHCHECK NONE\n", {}, lambda c: c["Healthcheck"] == {"Test": ["NONE"]}),
    (
        'HEALTHCHECK --timeout=3s --start-period=1m30s CMD ["probe", "-q"]\n',
        {},
        lambda c: (
            c["Healthcheck"]
            == {"Test": ["CMD", "probe", "-q"], "Timeout": 3_000_000_000, "StartPeriod": 90_000_000_000}
        ),
    ),
    ("ONBUILD COPY . /app\n", {}, lambda c: c["OnBuild"] == ["COPY . /app"]),
]


@pytest.mark.parametrize(("body", "args", "check"), CORPUS, ids=[c[0].split("\n")[0][:30] for c in CORPUS])
def test_config_corpus(store: ImageStore, context: Path, body: str, args: dict[str, str], check: Any) -> None:
    result, _ = build(store, context, "FROM scratch\n" + body, args=args)
    assert check(config_of(store, result.image.image_id)["config"])


def test_copy_forms_owners_and_modes(store: ImageStore, context: Path) -> None:
    (context / "a.sh").write_text("#!/bin/sh\n")
    (context / "a.sh").chmod(0o755)
    (context / "dir" / "deep").mkdir(parents=True)
    (context / "dir" / "deep" / "f").write_text("f")
    os.symlink("deep/f", context / "dir" / "link")
    text = BASE + (
        "COPY --link a.sh /usr/local/bin/\n"
        "ADD --chown=1000:50 dir /opt/dir\n"
        "COPY --chmod=0700 dir/deep/ /private/\n"
        "COPY a.sh dir/deep/f /many/\n"
        "COPY a.sh /renamed.sh\n"
    )
    build(store, context, text)
    view = view_of(store, "bd-test:1")

    def meta(path: str) -> tuple[int, int, int]:
        host = view.lookup(path)
        assert host is not None, path
        st = os.lstat(host)
        return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)

    assert meta("/usr/local/bin/a.sh") == (0, 0, 0o755)  # context files become root's, modes kept
    assert meta("/opt/dir/deep/f")[:2] == (1000, 50)
    link = view.lookup("/opt/dir/link")
    assert link is not None and os.readlink(link) == "deep/f"  # symlinks copied as symlinks
    assert meta("/private/f")[2] == 0o700
    assert view.lookup("/many/a.sh") is not None and view.lookup("/many/f") is not None
    assert view.read_file("/renamed.sh") == b"#!/bin/sh\n"


def test_independent_stages_run_at_the_same_time(store: ImageStore, context: Path) -> None:
    """Each stage waits for the other's mark in a shared cache mount: built one after the other, both would fail."""
    wait_for = "for i in $(seq 100); do [ -e /sync/{0} ] && exit 0; sleep 0.1; done; exit 9"
    text = BASE.replace("FROM scratch AS base", "FROM scratch AS tools") + (
        "FROM tools AS left\n"
        f"RUN --mount=type=cache,id=sync,target=/sync touch /sync/left && {wait_for.format('right')}\n"
        "RUN echo left > /out\n"
        "FROM tools AS right\n"
        f"RUN --mount=type=cache,id=sync,target=/sync touch /sync/right && {wait_for.format('left')}\n"
        "RUN echo right > /out\n"
        "FROM scratch\nCOPY --from=left /out /left\nCOPY --from=right /out /right\n"
    )
    build(store, context, text)
    view = view_of(store, "bd-test:1")
    assert (view.read_file("/left"), view.read_file("/right")) == (b"left\n", b"right\n")
