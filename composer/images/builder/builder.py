"""Building an image from a Dockerfile: stages, steps, the cache, the result in the store.

One :class:`Builder` runs one build.  It resolves the stages the target needs
(following ``FROM stage`` and ``COPY --from``; the others are skipped), then runs
each stage's instructions in order on a :class:`StageState` (stages that do not
depend on each other run at the same time, in threads): instructions that
only change the config (ENV, LABEL, USER, CMD, ...) are applied at once, and
filesystem steps (RUN, COPY, ADD, a WORKDIR that must be created) each make at
most one layer, looked up in the build cache first.  The target's state becomes
an OCI image (config with history, a manifest of gzip'd layers) recorded in the
image store under every name asked for.

ARG scoping is BuildKit's: ARGs before the first FROM are global and usable in
FROM lines; inside a stage an ARG is visible from its line on, and a global one
only once redeclared by ``ARG NAME``; ``--build-arg`` values override defaults;
the proxy args and ``TARGETPLATFORM``/``BUILDPLATFORM`` (and their OS/ARCH
parts) are predefined.  ARG values are in RUN's environment but not in the image.
"""

from __future__ import annotations

import datetime
import json
import os
import platform as host_platform
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.images.builder.cache import BuildCache, CachedLayer, chain_key
from composer.images.builder.context import BuildContext, SourceItem, digest_items
from composer.images.builder.digests import FileDigests
from composer.images.builder.dockerfile import (
    PROXY_ARGS,
    BuildError,
    Dockerfile,
    Instruction,
    Stage,
    arg_definitions,
    expand,
    parse_dockerfile,
)
from composer.images.builder.files import LayerWriter, Ownership
from composer.images.builder.layers import StackView, pack_layer
from composer.images.builder.stage import CONFIG_INSTRUCTIONS, ConfigContext, Layer, StageState, apply_config
from composer.images.config import ResolvedImage
from composer.images.store import ImageStore

if TYPE_CHECKING:
    # loaded where a RUN has mounts: the container model costs a warm rebuild's start-up ~7 ms
    from composer.model.container import MountConfig

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SSH_AGENT_TARGET_PREFIX = "/run/buildkit/ssh_agent."  # BuildKit's default targets of type=ssh mounts
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
         "s390x": "s390x", "riscv64": "riscv64"}  # fmt: skip


def host_arch() -> str:
    machine = host_platform.machine()
    return _ARCH.get(machine, machine)


def host_platform_name() -> str:
    return f"linux/{host_arch()}"


@dataclass(frozen=True)
class BuildRequest:
    context: Path
    dockerfile: Path | None = None  # default: context/Dockerfile
    dockerfile_inline: str | None = None
    tags: tuple[str, ...] = ()
    args: Mapping[str, str | None] = field(default_factory=dict)
    target: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    network: str = "default"
    extra_hosts: tuple[tuple[str, str], ...] = ()
    shm_size: int | None = None
    no_cache: bool = False
    pull: bool = False
    source_date_epoch: int | None = None
    # RUN --mount=type=secret,id=ID: the file holding each secret, or its value (kept out of repr and keys)
    secret_files: Mapping[str, Path] = field(default_factory=dict)
    secret_values: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    # RUN --mount=type=ssh,id=ID: the SSH agent socket given for each id (build.ssh, --ssh)
    ssh_agents: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSpec:
    """One RUN as the runner executes it (:mod:`composer.images.builder.runner`, loaded only to run)."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    user: str
    working_dir: str
    network: str  # default | host | none
    hosts: str = ""
    shm_size: int | None = None
    mounts: tuple[MountConfig, ...] = ()


@dataclass(frozen=True)
class StepEvent:
    """Progress: a step started (``status`` running), was a cache hit, finished, or failed."""

    stage: str
    number: int  # 1-based over the whole build
    total: int
    text: str  # "RUN echo hi"
    status: str  # running | cached | done | failed
    seconds: float = 0.0


@dataclass(frozen=True)
class OutputLine:
    step: int
    line: str


Progress = Callable[[StepEvent | OutputLine], None]


def _no_progress(_: StepEvent | OutputLine) -> None:
    return None


@dataclass(frozen=True)
class BuildResult:
    image: ResolvedImage
    steps: int
    cached: int
    seconds: float


class Builder:
    def __init__(self, store: ImageStore, request: BuildRequest, progress: Progress = _no_progress) -> None:
        self.store = store
        self.request = request
        self.progress = progress
        self.cache = BuildCache(store.root / "build-cache")
        self.context = BuildContext(request.context, self._dockerfile_path())
        self.files = FileDigests(self._digests_path(), trust=not request.no_cache)
        self.states: dict[int, StageState] = {}
        self.step_number = 0
        self.total = 0
        self.cached = 0
        self._lock = threading.Lock()  # stages run in threads: counters and progress numbers

    # -- entry --------------------------------------------------------------------------------------

    def build(self) -> BuildResult:
        started = time.monotonic()
        parsed = self._parse()
        target = self._target_stage(parsed)
        needed = self._needed_stages(parsed, target)
        self.total = sum(len(parsed.stages[i].instructions) + 1 for i in needed)
        global_args = self._global_args(parsed)
        with self.store.building():
            try:
                self._run_stages(parsed, needed, global_args)
            finally:
                self.files.save()  # digests read before a failing step spare the next attempt
            image = self._save(self.states[target.index])
        return BuildResult(image, self.step_number, self.cached, time.monotonic() - started)

    def _run_stages(self, parsed: Dockerfile, needed: list[int], global_args: dict[str, str]) -> None:
        """Each stage in a thread of its own once the stages it uses are built: independent ones overlap.

        Stages are submitted in file order and only ever wait for earlier ones, which a
        worker took before, so a bounded pool cannot deadlock.  The first failure in file
        order is raised once every started stage has ended.
        """
        futures: dict[int, Future[None]] = {}

        def run(index: int) -> None:
            for dep in self._stage_deps(parsed, parsed.stages[index]):
                if dep in futures:
                    futures[dep].result()
            self.states[index] = self._run_stage(parsed, parsed.stages[index], global_args)

        if len(needed) == 1:
            run(needed[0])
            return
        with ThreadPoolExecutor(max_workers=min(4, len(needed)), thread_name_prefix="composer-stage") as pool:
            for index in needed:
                futures[index] = pool.submit(run, index)
        for index in needed:
            futures[index].result()

    def _stage_deps(self, parsed: Dockerfile, stage: Stage) -> set[int]:
        """The earlier stages ``stage`` builds on or copies from."""
        refs = [stage.base]
        refs += [ins.flag("from") or "" for ins in stage.instructions if ins.cmd in ("COPY", "ADD")]
        refs += [m.get("from", "") for ins in stage.instructions if ins.cmd == "RUN" for m in _mounts(ins)]
        found = set()
        for ref in refs:
            used = parsed.stage_named(ref) if ref else None
            if used is not None and used.index < stage.index:
                found.add(used.index)
        return found

    def _dockerfile_path(self) -> Path | None:
        if self.request.dockerfile_inline is not None:
            return None
        path = self.request.dockerfile or Path("Dockerfile")
        return path if path.is_absolute() else self.request.context / path

    def _digests_path(self) -> Path:
        """The file digests of builds of this context with this Dockerfile (see builder/digests.py)."""
        dockerfile = self._dockerfile_path()
        which = f"{self.context.root}\0{dockerfile.resolve() if dockerfile is not None else ''}"
        return self.store.root / "build-cache" / "files" / f"{chain_key('files', which)[7:39]}.json"

    def _parse(self) -> Dockerfile:
        if self.request.dockerfile_inline is not None:
            return parse_dockerfile(self.request.dockerfile_inline, "dockerfile_inline")
        path = self._dockerfile_path()
        assert path is not None
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise BuildError(
                f"no Dockerfile at {path}", hint="set build.dockerfile or add the file"
            ) from None
        return parse_dockerfile(text, str(path))

    def _target_stage(self, parsed: Dockerfile) -> Stage:
        if not self.request.target:
            return parsed.stages[-1]
        stage = parsed.stage_named(self.request.target)
        if stage is None:
            names = ", ".join(s.name for s in parsed.stages if s.name) or "none"
            raise BuildError(f"{parsed.source}: no stage named {self.request.target!r} (stages: {names})")
        return stage

    def _needed_stages(self, parsed: Dockerfile, target: Stage) -> list[int]:
        """The target and the stages it uses, in file order; the others are not built."""
        needed: set[int] = set()
        todo = [target]
        while todo:
            stage = todo.pop()
            if stage.index not in needed:
                needed.add(stage.index)
                todo.extend(parsed.stages[i] for i in self._stage_deps(parsed, stage))
        return sorted(needed)

    # -- args ---------------------------------------------------------------------------------------

    def _predefined(self) -> dict[str, str]:
        arch = host_arch()
        values = {
            "TARGETPLATFORM": f"linux/{arch}", "TARGETOS": "linux", "TARGETARCH": arch, "TARGETVARIANT": "",
            "BUILDPLATFORM": f"linux/{arch}", "BUILDOS": "linux", "BUILDARCH": arch, "BUILDVARIANT": "",
        }  # fmt: skip
        for name in PROXY_ARGS:
            given = self.request.args.get(name)
            if given is not None:
                values[name] = given
        return values

    def _global_args(self, parsed: Dockerfile) -> dict[str, str]:
        scope = self._predefined()
        for ins in parsed.global_args:
            for name, default in arg_definitions(ins, scope, parsed.escape):
                value = self._arg_value(name, default)
                if value is not None:
                    scope[name] = value
        return scope

    def _arg_value(self, name: str, default: str | None) -> str | None:
        if name in self.request.args and self.request.args[name] is not None:
            return self.request.args[name]
        return default

    # -- stages -------------------------------------------------------------------------------------

    def _run_stage(self, parsed: Dockerfile, stage: Stage, global_args: dict[str, str]) -> StageState:
        label = stage.name or str(stage.index)
        base = expand(stage.base, global_args, parsed.escape)
        self._check_platform(stage, global_args, parsed)
        started = time.monotonic()
        self._step(label, f"FROM {base}", "running")
        state = self._base_state(base, label, parsed)
        self._step(label, f"FROM {base}", "done", time.monotonic() - started)
        state.args = {k: v for k, v in global_args.items() if k in PROXY_ARGS}
        instructions = list(stage.instructions)
        triggers = state.config.pop("OnBuild", None) or []
        if triggers:
            onbuild = parse_dockerfile("FROM scratch\n" + "\n".join(triggers), f"{base} ONBUILD")
            instructions = list(onbuild.stages[0].instructions) + instructions
            with self._lock:
                self.total += len(onbuild.stages[0].instructions)
        for ins in instructions:
            self._instruction(parsed, state, ins, global_args)
        return state

    def _check_platform(self, stage: Stage, scope: dict[str, str], parsed: Dockerfile) -> None:
        if stage.platform is None:
            return
        wanted = expand(stage.platform, scope, parsed.escape)
        if wanted.split("/")[:2] != host_platform_name().split("/"):
            raise BuildError(
                f"{parsed.source}:{stage.line}: FROM --platform={wanted}: composer builds for this host's "
                f"platform ({host_platform_name()}) only",
                hint="remove --platform or set it to $BUILDPLATFORM",
            )

    def _base_state(self, base: str, label: str, parsed: Dockerfile) -> StageState:
        if base.lower() == "scratch":
            config: dict[str, Any] = {"Env": [f"PATH={_default_path()}"]}
            return StageState(label, [], config, [], "scratch", _epoch(0))
        earlier = parsed.stage_named(base)
        if earlier is not None and earlier.index in self.states:
            return self.states[earlier.index].copy(label)
        image = self.store.ensure(base, policy="always" if self.request.pull else "missing")
        blob, layers = self.store.image_files(image.image_id)
        config = dict(blob.get("config") or {})
        return StageState(
            label,
            [Layer(x["diff_id"], x["digest"], int(x["size"])) for x in layers],
            config,
            list(blob.get("history") or []),
            image.image_id,
            str(blob.get("created") or _epoch(0)),
        )

    # -- one instruction ----------------------------------------------------------------------------

    def _instruction(
        self, parsed: Dockerfile, state: StageState, ins: Instruction, scope: dict[str, str]
    ) -> None:
        text = _display(ins)
        if ins.cmd not in CONFIG_INSTRUCTIONS:
            getattr(self, f"_do_{ins.cmd.lower()}")(parsed, state, ins, scope, text)
            return
        started = time.monotonic()
        apply_config(state, ins, ConfigContext(parsed.source, parsed.escape, scope, self._arg_value))
        state.key = chain_key(state.key, ins.cmd, ins.original, _args_digest(state))
        state.history.append({"created": state.created, "created_by": text, "empty_layer": True})
        self._step(state.name, text, "done", time.monotonic() - started)

    def _step(self, stage: str, text: str, status: str, seconds: float = 0.0) -> None:
        with self._lock:
            if status in ("cached", "done"):
                self.step_number += 1
            number = self.step_number + (1 if status in ("running", "failed") else 0)
            self.progress(StepEvent(stage, number, self.total, text, status, seconds))

    # filesystem steps

    def _do_workdir(
        self, parsed: Dockerfile, state: StageState, ins: Instruction, scope: dict[str, str], text: str
    ) -> None:
        path = expand(ins.args[0], state.expansion_env(), parsed.escape)
        current = state.config.get("WorkingDir") or "/"
        full = os.path.normpath(path if path.startswith("/") else os.path.join(current, path))
        state.config["WorkingDir"] = full
        view = self._view(state)
        if view.lookup(view.resolve(full)) is not None:
            self._config_step(state, ins, text)
            return

        def fill(layer: Path) -> None:
            LayerWriter(layer, view).ensure_dir(view.resolve(full), Ownership())

        self._fs_step(state, ins, text, ["WORKDIR", full], fill)

    def _config_step(self, state: StageState, ins: Instruction, text: str) -> None:
        state.key = chain_key(state.key, ins.cmd, ins.original, _args_digest(state))
        state.history.append({"created": state.created, "created_by": text, "empty_layer": True})
        self._step(state.name, text, "done")

    def _do_copy(
        self, parsed: Dockerfile, state: StageState, ins: Instruction, scope: dict[str, str], text: str
    ) -> None:
        self._copy(parsed, state, ins, text, add=False)

    def _do_add(
        self, parsed: Dockerfile, state: StageState, ins: Instruction, scope: dict[str, str], text: str
    ) -> None:
        self._copy(parsed, state, ins, text, add=True)

    def _copy(self, parsed: Dockerfile, state: StageState, ins: Instruction, text: str, *, add: bool) -> None:
        env = state.expansion_env()
        words = list(ins.args)
        if len(words) < 2:
            raise BuildError(f"{parsed.source}:{ins.line}: {ins.cmd} needs a source and a destination")
        *sources, dest_word = words
        dest = expand(dest_word, env, parsed.escape)
        workdir = state.config.get("WorkingDir") or "/"
        dest_dir_hint = dest.endswith("/") or len(sources) > 1
        dest = os.path.normpath(dest if dest.startswith("/") else os.path.join(workdir, dest))
        excludes = [expand(e, env, parsed.escape) for e in ins.flag_all("exclude")]
        owner = self._ownership(parsed, state, ins, env)
        source_from = ins.flag("from")
        view = self._view(state)
        heredocs = {h.name: h.content for h in ins.heredocs}
        pairs: list[tuple[str, SourceItem]] = []
        tarballs: list[str] = []
        src_view: StackView | None = None
        if source_from:
            src_view = self._source_view(parsed, source_from, ins)
            owner = replace(
                owner,
                uid=owner.uid if ins.flag("chown") else None,
                gid=owner.gid if ins.flag("chown") else None,
            )
        to_dir = dest_dir_hint or _is_dir(view, dest)
        for raw in sources:
            if raw.startswith("<<"):
                name = raw.lstrip("<").lstrip("-").strip("\"'")
                content = heredocs.get(name, "")
                target = os.path.join(dest, name) if to_dir else dest
                pairs.append((target, SourceItem("", "", content.encode())))
                continue
            source = expand(raw, env, parsed.escape)
            if "://" in source or source.startswith("git@"):
                raise BuildError(
                    f"{parsed.source}:{ins.line}: {ins.cmd} {source}: remote sources are not fetched "
                    "(this host has no internet access)",
                    hint="download it into the build context and COPY it, or fetch it in a RUN step",
                )
            if src_view is not None:
                pairs.extend(self._stage_items(src_view, source, dest, to_dir, parsed, ins))
                continue
            for rel in self.context.select(source, excludes, f"{parsed.source}:{ins.line}"):
                host = str(self.context.root / rel) if rel else str(self.context.root)
                if add and _is_tarball(host):
                    tarballs.append(host)
                    pairs.append((dest, SourceItem("", host)))
                    continue
                is_dir = os.path.isdir(host) and not os.path.islink(host)
                base_target = dest if (is_dir or not to_dir) else os.path.join(dest, os.path.basename(rel))
                for item in self.context.items(rel, excludes):
                    pairs.append((os.path.join(base_target, item.rel) if item.rel else base_target, item))
        digest = digest_items(pairs, self.files)

        def fill(layer: Path) -> None:
            writer = LayerWriter(layer, view)
            if to_dir:
                writer.ensure_dir(view.resolve(dest), owner)
            for target, item in pairs:
                if item.host in tarballs:
                    _extract(item.host, writer, view.resolve(dest), owner)
                else:
                    writer.put(target, item, owner)

        flags = sorted(f for f in ins.flags if not f.startswith("--from="))
        self._fs_step(state, ins, text, [ins.cmd, dest, flags, source_from or "", digest], fill)

    def _source_view(self, parsed: Dockerfile, name: str, ins: Instruction) -> StackView:
        stage = parsed.stage_named(name)
        if stage is not None:
            if stage.index not in self.states:
                raise BuildError(f"{parsed.source}:{ins.line}: --from={name} names a later stage")
            return self._view(self.states[stage.index])
        image = self.store.ensure(name, policy="always" if self.request.pull else "missing")
        return StackView(list(reversed(image.layer_dirs)))

    def _stage_items(
        self, src: StackView, source: str, dest: str, to_dir: bool, parsed: Dockerfile, ins: Instruction
    ) -> list[tuple[str, SourceItem]]:
        path = src.resolve(source if source.startswith("/") else "/" + source)
        host = src.lookup(path)
        if host is None:
            raise BuildError(
                f"{parsed.source}:{ins.line}: {source} does not exist in stage {ins.flag('from')}"
            )
        is_dir = os.path.isdir(host) and not os.path.islink(host)
        target = dest if (is_dir or not to_dir) else os.path.join(dest, os.path.basename(path))
        pairs = [(target, SourceItem("", host))]
        if is_dir:
            pairs.extend(_walk_stack(src, path, target))
        return pairs

    def _ownership(
        self, parsed: Dockerfile, state: StageState, ins: Instruction, env: dict[str, str]
    ) -> Ownership:
        mode = None
        chmod = ins.flag("chmod")
        if chmod:
            try:
                mode = int(expand(chmod, env, parsed.escape), 8)
            except ValueError:
                raise BuildError(
                    f"{parsed.source}:{ins.line}: --chmod={chmod} is not an octal mode"
                ) from None
        chown = ins.flag("chown")
        if not chown:
            return Ownership(0, 0, mode)
        user, _, group = expand(chown, env, parsed.escape).partition(":")
        view = self._view(state)
        uid = _lookup_id(view, "/etc/passwd", user, parsed, ins)
        gid = _lookup_id(view, "/etc/group", group, parsed, ins) if group else uid
        if not group and not user.isdigit():
            gid = _primary_gid(view, user)
        return Ownership(uid, gid, mode)

    def _do_run(
        self, parsed: Dockerfile, state: StageState, ins: Instruction, scope: dict[str, str], text: str
    ) -> None:
        env_map = {**state.args, **state.env()}
        if ins.json:
            argv = tuple(ins.args)
        elif (
            ins.heredocs
            and ins.args[0].strip().lstrip("<").lstrip("-").strip("\"'") == ins.heredocs[0].name
            and len(ins.heredocs) == 1
        ):
            argv = (*state.shell(), ins.heredocs[0].content)
        elif ins.heredocs:
            script = ins.args[0] + "\n" + "".join(f"{h.content}{h.name}\n" for h in ins.heredocs)
            argv = (*state.shell(), script)
        else:
            argv = (*state.shell(), ins.args[0])
        network = ins.flag("network") or self.request.network
        if network not in ("default", "host", "none"):
            raise BuildError(
                f"{parsed.source}:{ins.line}: RUN --network={network}: use default, host or none"
            )
        scratch: list[Path] = []  # folders of environment secrets, removed after the step
        mounts, targets = self._run_mounts(parsed, state, ins, scratch)
        agent = next((m.target for m in mounts if m.target.startswith(SSH_AGENT_TARGET_PREFIX)), None)
        run_env = {**env_map, "SSH_AUTH_SOCK": agent} if agent and "SSH_AUTH_SOCK" not in env_map else env_map
        spec = RunSpec(
            argv=argv,
            env=tuple(run_env.items()),
            user=str(state.config.get("User") or ""),
            working_dir=str(state.config.get("WorkingDir") or "/"),
            network=network,
            hosts=_hosts_file(self.request.extra_hosts),
            shm_size=self.request.shm_size,
            mounts=tuple(mounts),
        )
        key_parts = ["RUN", list(argv), sorted(env_map.items()), spec.user, spec.working_dir, network,
                     [m.target for m in mounts]]  # fmt: skip

        def fill(layer: Path) -> None:
            self._run_container(state, spec, targets, layer, text)

        try:
            self._fs_step(state, ins, text, key_parts, fill, container=True)
        finally:
            for folder in scratch:
                shutil.rmtree(folder, ignore_errors=True)

    def _secret_mount(
        self, parsed: Dockerfile, ins: Instruction, spec: dict[str, str], scratch: list[Path]
    ) -> MountConfig | None:
        """A secret bound read-only at its target (default /run/secrets/ID); None when optional and absent."""
        from composer.model.container import MountConfig

        ident = spec.get("id") or os.path.basename(spec.get("target") or spec.get("dst") or "")
        target = spec.get("target") or spec.get("dst") or f"/run/secrets/{ident}"
        if ident in self.request.secret_files:
            source = self.request.secret_files[ident]
            if not source.is_file():
                raise BuildError(
                    f"{parsed.source}:{ins.line}: the secret {ident!r} file {source} does not exist"
                )
            return MountConfig("bind", target, str(source), read_only=True, create_host_path=False)
        if ident in self.request.secret_values:
            folder = self.store.root / "tmp" / f"layer-b1-{os.getpid()}-{secrets.token_hex(6)}"
            folder.mkdir(mode=0o700)
            scratch.append(folder)
            path = folder / "secret"
            path.write_text(self.request.secret_values[ident])
            path.chmod(0o400)
            return MountConfig("bind", target, str(path), read_only=True, create_host_path=False)
        if spec.get("required") in ("true", "True", "1"):
            raise BuildError(
                f"{parsed.source}:{ins.line}: RUN needs the secret {ident!r}, which the build was not given",
                hint="list it under build.secrets in the compose file",
            )
        return None

    def _ssh_mount(
        self, parsed: Dockerfile, ins: Instruction, spec: dict[str, str], index: int
    ) -> MountConfig | None:
        """The SSH agent socket given for the id (default ``default``) at its target, as BuildKit mounts it
        (``/run/buildkit/ssh_agent.N``, and SSH_AUTH_SOCK pointing there); None when optional and absent."""
        from composer.model.container import MountConfig

        ident = spec.get("id") or "default"
        target = spec.get("target") or spec.get("dst") or f"{SSH_AGENT_TARGET_PREFIX}{index}"
        socket_path = self.request.ssh_agents.get(ident)
        if socket_path is None:
            if spec.get("required") in ("true", "True", "1"):
                raise BuildError(
                    f"{parsed.source}:{ins.line}: RUN needs the SSH agent {ident!r},"
                    " which the build was not given",
                    hint=f"give it under build.ssh ({ident}=SOCKET, or default for $SSH_AUTH_SOCK)",
                )
            return None
        return MountConfig("bind", target, str(socket_path), create_host_path=False)

    def _run_mounts(
        self, parsed: Dockerfile, state: StageState, ins: Instruction, scratch: list[Path]
    ) -> tuple[list[MountConfig], list[str]]:
        mounts: list[MountConfig] = []
        if not ins.flag_all("mount"):
            return mounts, []
        from composer.model.container import MountConfig

        for spec in _mounts(ins):
            kind = spec.get("type", "bind")
            target = spec.get("target") or spec.get("dst") or spec.get("destination") or ""
            if kind == "secret":
                secret = self._secret_mount(parsed, ins, spec, scratch)
                if secret is not None:
                    mounts.append(secret)
            elif kind == "ssh":
                agent = self._ssh_mount(parsed, ins, spec, len(mounts))
                if agent is not None:
                    mounts.append(agent)
            elif kind == "tmpfs" and target:
                mounts.append(MountConfig("tmpfs", target))
            elif kind == "cache" and target:
                ident = spec.get("id") or target
                folder = (
                    self.store.root
                    / "build-cache"
                    / "mounts"
                    / chain_key("cache", ident).removeprefix("sha256:")[:32]
                )
                folder.mkdir(parents=True, exist_ok=True)
                mounts.append(MountConfig("bind", target, str(folder)))
            elif kind == "bind" and target and not spec.get("from"):
                source = self.context.select(
                    spec.get("source") or spec.get("src") or ".", [], f"{parsed.source}:{ins.line}"
                )[0]
                mounts.append(
                    MountConfig("bind", target, str(self.context.root / source), read_only="rw" not in spec)
                )
            else:
                raise BuildError(
                    f"{parsed.source}:{ins.line}: RUN --mount={_mount_text(spec)} is not supported",
                    hint="composer supports --mount=type=cache, tmpfs, secret, ssh and bind from the context",
                )
        return mounts, [m.target for m in mounts]

    def _run_container(
        self, state: StageState, spec: RunSpec, targets: list[str], layer: Path, text: str
    ) -> None:
        from composer.images.builder.runner import run_step, strip_runtime_artifacts

        work = layer.parent / (layer.name + "-run")
        work.mkdir()
        try:
            dirs = [self.store.layer_path(x.diff_id) for x in state.layers]
            number = self.step_number + 1
            result = run_step(spec, dirs, work, lambda line: self.progress(OutputLine(number, line)))
            if result.exit_code != 0:
                tail = "\n    ".join(result.tail[-10:])
                raise BuildError(
                    f"step {number} `{text}` failed with exit status {result.exit_code}"
                    + (f"; last output:\n    {tail}" if tail else ""),
                    hint="fix the command; the steps before it are cached",
                )
            upper = work / "upper"
            strip_runtime_artifacts(upper, self._view(state), targets)
            layer.rmdir()
            os.rename(upper, layer)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _fs_step(
        self, state: StageState, ins: Instruction, text: str, key_parts: list[Any],
        fill: Callable[[Path], None], container: bool = False,
    ) -> None:  # fmt: skip
        started = time.monotonic()
        key = chain_key(state.key, key_parts)
        hit = None if self.request.no_cache else self._cache_hit(key)
        if hit is not None:
            with self._lock:
                self.cached += 1
            self._apply_layer(state, hit, text, key)
            self._step(state.name, text, "cached", time.monotonic() - started)
            return
        self._step(state.name, text, "running")
        try:
            entry = self._make_layer(fill)
        except BaseException:
            self._step(state.name, text, "failed", time.monotonic() - started)
            raise
        self.cache.put(key, entry)
        self._apply_layer(state, entry, text, key)
        self._step(state.name, text, "done", time.monotonic() - started)

    def _cache_hit(self, key: str) -> CachedLayer | None:
        entry = self.cache.get(key)
        if entry is None:
            return None
        if entry.diff_id is not None and (
            not self.store.layer_path(entry.diff_id).is_dir()
            or not self.store.blob_path(entry.digest or "").is_file()
        ):
            return None  # its layer was garbage-collected since
        return entry

    def _make_layer(self, fill: Callable[[Path], None]) -> CachedLayer:
        tmp = self.store.root / "tmp"
        stem = f"layer-b0-{os.getpid()}-{secrets.token_hex(6)}"
        layer, blob = tmp / stem, tmp / f"{stem}.blob"
        layer.mkdir(mode=0o755)
        try:
            fill(layer)
            packed = pack_layer(layer, blob, epoch=self.request.source_date_epoch)
            created = _now(self.request.source_date_epoch)
            if packed.empty:
                return CachedLayer(None, None, 0, created)
            self.store.adopt_layer(layer, packed.diff_id)
            self.store.adopt_blob(blob, packed.digest)
            return CachedLayer(packed.diff_id, packed.digest, packed.size, created)
        finally:
            shutil.rmtree(layer, ignore_errors=True)
            blob.unlink(missing_ok=True)

    def _apply_layer(self, state: StageState, entry: CachedLayer, text: str, key: str) -> None:
        state.key = key
        state.created = entry.created
        item: dict[str, Any] = {"created": entry.created, "created_by": text}
        if entry.diff_id is None or entry.digest is None:
            item["empty_layer"] = True
        else:
            state.layers.append(Layer(entry.diff_id, entry.digest, entry.size))
        state.history.append(item)

    def _view(self, state: StageState) -> StackView:
        return StackView([self.store.layer_path(x.diff_id) for x in reversed(state.layers)])

    # -- the image ----------------------------------------------------------------------------------

    def _save(self, state: StageState) -> ResolvedImage:
        config = dict(state.config)
        if self.request.labels:
            config["Labels"] = {**(config.get("Labels") or {}), **self.request.labels}
        config = {k: v for k, v in config.items() if v is not None}
        blob = {
            "created": state.created,
            "architecture": host_arch(),
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [x.diff_id for x in state.layers]},
            "history": state.history,
        }
        config_raw = json.dumps(blob, sort_keys=True, separators=(",", ":")).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": _sha(config_raw), "size": len(config_raw)},
            "layers": [
                {"mediaType": OCI_LAYER_GZIP, "digest": x.digest, "size": x.size} for x in state.layers
            ],
        }
        manifest_raw = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        layers = [{"digest": x.digest, "size": x.size, "diff_id": x.diff_id} for x in state.layers]
        return self.store.save_built(self.request.tags, manifest_raw, config_raw, layers)


# --- helpers ---------------------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _default_path() -> str:
    return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _epoch(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now(source_date_epoch: int | None) -> str:
    return _epoch(source_date_epoch if source_date_epoch is not None else int(time.time()))


def _display(ins: Instruction) -> str:
    return " ".join(ins.original.split("\n")[0].split())


def _args_digest(state: StageState) -> list[Any]:
    return sorted(state.args.items())


def _is_dir(view: StackView, path: str) -> bool:
    host = view.lookup(view.resolve(path))
    return host is not None and os.path.isdir(host)


def _is_tarball(path: str) -> bool:
    """ADD extracts local archives, recognised by content (tar, gzip, bzip2, xz), as Docker does."""
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def _extract(tarball: str, writer: LayerWriter, dest: str, owner: Ownership) -> None:
    from composer.kernel.unpack import apply_layer

    folder = Path(writer.ensure_dir(dest, owner))
    apply_layer(Path(tarball), Path(writer.host_path(str(folder))), overlay=False)


def _walk_stack(src: StackView, path: str, target: str) -> list[tuple[str, SourceItem]]:
    out: list[tuple[str, SourceItem]] = []
    for name in src.listdir(path):
        child = f"{path.rstrip('/')}/{name}"
        host = src.lookup(child)
        if host is None:
            continue
        out.append((f"{target.rstrip('/')}/{name}", SourceItem(name, host)))
        if os.path.isdir(host) and not os.path.islink(host):
            out.extend(_walk_stack(src, child, f"{target.rstrip('/')}/{name}"))
    return out


def _lookup_id(view: StackView, file: str, name: str, parsed: Dockerfile, ins: Instruction) -> int:
    if name.isdigit():
        return int(name)
    data = view.read_file(file)
    for line in (data or b"").decode(errors="replace").splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
            return int(fields[2])
    raise BuildError(f"{parsed.source}:{ins.line}: --chown: no {name!r} in the stage's {file}")


def _primary_gid(view: StackView, user: str) -> int:
    data = view.read_file("/etc/passwd")
    for line in (data or b"").decode(errors="replace").splitlines():
        fields = line.split(":")
        if len(fields) > 3 and fields[0] == user and fields[3].isdigit():
            return int(fields[3])
    return 0


def _mounts(ins: Instruction) -> list[dict[str, str]]:
    out = []
    for text in ins.flag_all("mount"):
        spec: dict[str, str] = {}
        for part in text.split(","):
            key, eq, value = part.partition("=")
            spec[key.strip()] = value.strip() if eq else "true"
        out.append(spec)
    return out


def _mount_text(spec: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in spec.items())


def _hosts_file(extra: tuple[tuple[str, str], ...]) -> str:
    if not extra:
        return ""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{address}\t{name}" for name, address in extra]
    return "\n".join(lines) + "\n"
