"""``composer config`` and ``composer graph`` as a user types them (a real subprocess each)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
LAB = EXAMPLES / "three-routers" / "compose.yaml"


def composer(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run(
        [sys.executable, "-m", "composer.cli.main", *args],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_config_prints_the_normalised_project() -> None:
    result = composer("-f", str(LAB), "config")
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert data["name"] == "three-routers"
    assert data["services"]["r3"]["routes"] == [{"to": "10.0.12.0/30", "via": "10.0.23.1"}]
    assert data["links"][0]["endpoints"] == [
        {"service": "r1", "interface": "eth1"},
        {"service": "r2", "interface": "eth1"},
    ]
    assert data["services"]["r1"]["rootfs"] == str(EXAMPLES / "rootfs" / "busybox")


def test_config_json_and_quiet() -> None:
    result = composer("-f", str(EXAMPLES / "ci-stack" / "compose.yaml"), "config", "--format", "json")
    data = json.loads(result.stdout)
    assert data["services"]["web"]["depends_on"] == {"db": {"condition": "service_healthy", "required": True}}
    assert data["services"]["web"]["ports"] == [
        {"mode": "ingress", "target": 8080, "published": "18080", "protocol": "tcp", "host_ip": "127.0.0.1"}
    ]  # compose's normalised form: the long syntax with its implied mode and protocol
    quiet = composer("-f", str(LAB), "config", "-q")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


def test_config_lists_names() -> None:
    path = str(EXAMPLES / "postgres-redis" / "compose.yaml")
    assert composer("-f", path, "config", "--services").stdout.split() == ["postgres", "redis", "app"]
    assert composer("-f", path, "config", "--volumes").stdout.split() == ["pgdata", "redisdata"]
    assert composer("-f", path, "config", "--networks").stdout.split() == ["default"]


def test_config_hash() -> None:
    one = composer("-f", str(LAB), "config", "--hash", "r2")
    every = composer("-f", str(LAB), "config", "--hash", "*")
    assert one.returncode == 0
    name, digest = one.stdout.split()
    assert name == "r2" and len(digest) == 64
    assert [line.split()[0] for line in every.stdout.splitlines()] == ["r1", "r2", "r3"]
    assert one.stdout in every.stdout
    unknown = composer("-f", str(LAB), "config", "--hash", "r9")
    assert unknown.returncode == 1 and "no such service: r9" in unknown.stderr


def test_discovery_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text("services:\n  app: {image: busybox}\n")
    result = composer("config", "--services", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "app\n")


def test_bad_project_exits_2_with_every_issue_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  web:\n    image: busybox\n    restrat: always\n    mem_limit: lots\n")
    result = composer("-f", str(bad), "config", "-q")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "error: the project file has 2 problems:"
    assert f"  {bad}:4:5: services.web.restrat: unknown key `restrat` (did you mean `restart`?)" in lines
    assert any(line.startswith(f"  {bad}:5:5: services.web.mem_limit: invalid size 'lots'") for line in lines)
    debug = composer("--debug", "-f", str(bad), "config", "-q")
    assert "Traceback" in debug.stderr and debug.returncode != 0


def test_graph_text_formats() -> None:
    mermaid = composer("-f", str(LAB), "graph", "--format", "mermaid")
    assert mermaid.returncode == 0 and mermaid.stdout.startswith("flowchart LR")
    assert 's0 ===|"eth1 10.0.12.1/30 -- eth1 10.0.12.2/30"| s1' in mermaid.stdout
    dot = composer("-f", str(LAB), "graph")
    assert dot.stdout.startswith('graph "three-routers" {')
    data = json.loads(composer("-f", str(LAB), "graph", "--format", "json").stdout)
    assert data["start_order"] == ["r1", "r2", "r3"]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graph_svg_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "lab.svg"
    result = composer("-f", str(LAB), "graph", "--format", "svg", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert "<svg" in target.read_text()


def test_graph_of_a_cyclic_project_names_the_cycle(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n")
    result = composer("-f", str(bad), "graph")
    assert result.returncode == 2
    assert "dependency cycle: a -> b -> a" in result.stderr
