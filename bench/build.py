"""Image builds: ``composer build`` against ``buildah bud`` on the same context, side by side.

The context holds Debian's static busybox and a 6-step, two-stage Dockerfile
(FROM scratch, COPY, two RUN steps, a multi-stage COPY --from, CMD), so both
builders work offline.  In the same run, ``--runs`` times each:

(a) cold: a fresh image store (composer) / a fresh storage root (buildah), so
    every step runs;
(b) warm: the same build again with nothing changed, which must be all cache
    hits (buildah with ``--layers``, its own cache).

Next to composer's warm figure: the same warm build in-process (the build's own
cost, without interpreter start-up and project loading) and ``composer config
-q`` on the same project (the start-up every verb pays), so the two parts show.
Then (composer only) the warm build of a larger context, ``COPY src /app`` of
``--context-mb`` MB in 2000 files, where a rebuild's cost is finding that no
file changed; its files are older than the two seconds after which their
digests are remembered, as a project's files usually are.

composer is run as a user would run it (``composer build`` as a process, on a
project with ``build: .``).  buildah runs with ``--isolation chroot`` (this host
has no runc or crun) and the overlay driver.  Goals (issue 11): cold within
1.5x of buildah, warm under 0.5 s and at least 5x faster than buildah's warm.
Run as root: ``python bench/build.py [--runs 3]``; without buildah
(``apt-get install buildah``) only composer's figures are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = """\
FROM scratch AS tools
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /out && for i in 1 2 3 4 5 6 7 8; do echo "line $i" >> /out/data; done
FROM scratch
COPY --from=tools /out /srv
CMD ["/srv/data"]
"""


def make_big_context(folder: Path, megabytes: int, files: int = 2000) -> Path:
    """``src/`` of ``files`` random files in 20 folders, ``megabytes`` in all, copied by one COPY."""
    context = folder / "big"
    size = megabytes * 1_000_000 // files
    for index in range(files):
        sub = context / "src" / f"d{index % 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{index:05d}.bin").write_bytes(os.urandom(size))
    (context / "Dockerfile").write_text('FROM scratch\nCOPY src /app\nCMD ["/app"]\n')
    (context / "compose.yaml").write_text("name: bd-bench-big\nservices:\n  app:\n    build: .\n")
    return context


def make_context(folder: Path) -> Path:
    context = folder / "ctx"
    context.mkdir()
    shutil.copy2("/bin/busybox", context / "busybox")
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "compose.yaml").write_text("name: bd-bench\nservices:\n  app:\n    build: .\n")
    return context


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def composer_env(store: Path, pycache: Path) -> dict[str, str]:
    # Byte-code cached as an installed composer has it, outside the repository.
    env = {**os.environ, "COMPOSER_IMAGE_ROOT": str(store), "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def composer_build(context: Path, store: Path, pycache: Path) -> float:
    env = composer_env(store, pycache)
    return timed([sys.executable, "-m", "composer.cli.main", "build", "-q"], env, context)


def composer_config(context: Path, store: Path, pycache: Path) -> float:
    """The CLI's floor: loading the project file, which every verb pays."""
    env = composer_env(store, pycache)
    return timed([sys.executable, "-m", "composer.cli.main", "config", "-q"], env, context)


def composer_in_process(context: Path, store: Path, tag: str = "bd-bench-app") -> float:
    """The warm build alone (no interpreter start, no project loading)."""
    sys.path.insert(0, str(REPO))
    from composer.images.builder import Builder, BuildRequest
    from composer.images.store import ImageStore

    start = time.perf_counter()
    Builder(ImageStore(store), BuildRequest(context=context, tags=(tag,))).build()
    return time.perf_counter() - start


def buildah_build(context: Path, root: Path) -> float:
    argv = [
        "buildah", "--root", str(root / "root"), "--runroot", str(root / "run"),
        "--storage-driver", "overlay", "bud", "--layers", "--isolation", "chroot",
        "-q", "-t", "bd-bench:latest", str(context),
    ]  # fmt: skip
    return timed(argv, dict(os.environ), context)


def buildah_cleanup(root: Path) -> None:
    # buildah's overlay driver leaves its storage mounted; unmount before deleting the folder.
    subprocess.run(
        ["buildah", "--root", str(root / "root"), "--runroot", str(root / "run"), "rmi", "-a", "-f"],
        check=False, capture_output=True,
    )  # fmt: skip
    subprocess.run(["umount", "-R", str(root / "root" / "overlay")], check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--context-mb", type=int, default=100, help="the larger context's size (0: skip it)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: RUN steps run in containers")
    have_buildah = shutil.which("buildah") is not None
    figures: dict[str, list[float]] = {
        "composer cold": [],
        "composer warm": [],
        "  of which build": [],
        "  config -q": [],
        "buildah cold": [],
        "buildah warm": [],
    }
    big_label = f"composer warm, {args.context_mb} MB context"
    big: dict[str, list[float]] = {big_label: [], "  of which build": []}
    with tempfile.TemporaryDirectory(prefix="bd-bench-") as tmp:
        work = Path(tmp)
        context = make_context(work)
        big_context = make_big_context(work, args.context_mb) if args.context_mb else None
        settled = time.monotonic() + 2.5  # the big context's files count as unchanged since a while
        os.chdir(REPO)
        pycache = work / "pycache"
        composer_build(context, work / "warmup", pycache)  # compiles the byte-code once
        for run in range(args.runs):
            store = work / f"store{run}"
            figures["composer cold"].append(composer_build(context, store, pycache))
            figures["composer warm"].append(composer_build(context, store, pycache))
            figures["  of which build"].append(composer_in_process(context, store))
            figures["  config -q"].append(composer_config(context, store, pycache))
            if have_buildah:
                root = work / f"buildah{run}"
                try:
                    figures["buildah cold"].append(buildah_build(context, root))
                    figures["buildah warm"].append(buildah_build(context, root))
                finally:
                    buildah_cleanup(root)
        if big_context is not None:
            time.sleep(max(0.0, settled - time.monotonic()))
            store = work / "store-big"
            composer_build(big_context, store, pycache)  # cold, once
            for _ in range(args.runs):
                big[big_label].append(composer_build(big_context, store, pycache))
                big["  of which build"].append(composer_in_process(big_context, store, "bd-bench-big-app"))
    print(f"6-step two-stage Dockerfile, FROM scratch, median of {args.runs} runs (seconds):")
    for name, values in figures.items():
        if values:
            print(f"  {name:29s} {statistics.median(values):7.3f}   (best {min(values):.3f})")
    for name, values in big.items():
        if values:
            print(f"  {name:29s} {statistics.median(values):7.3f}   (best {min(values):.3f})")
    if not have_buildah:
        print("  buildah: not installed (apt-get install buildah); no baseline")
        return
    cold = statistics.median(figures["composer cold"]) / statistics.median(figures["buildah cold"])
    warm = statistics.median(figures["buildah warm"]) / statistics.median(figures["composer warm"])
    print(f"  cold: composer / buildah = {cold:.2f}x   (goal <= 1.5x)")
    print(f"  warm: buildah / composer = {warm:.1f}x faster   (goal >= 5x; composer warm goal < 0.5 s)")


if __name__ == "__main__":
    main()
