"""``composer convert kubernetes`` as a user types it (a real subprocess each)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CI_STACK = ROOT / "examples" / "ci-stack" / "compose.yaml"


def composer(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run(
        [sys.executable, "-m", "composer.cli.main", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_stdout_is_one_multi_document_stream_and_warnings_go_to_stderr() -> None:
    result = composer("-f", str(CI_STACK), "convert", "kubernetes", "--namespace", "ci")
    assert result.returncode == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    assert {d["kind"] for d in documents} >= {"Deployment", "Service", "ConfigMap", "NetworkPolicy"}
    assert {d["metadata"]["namespace"] for d in documents} == {"ci"}
    assert "warning: examples/ci-stack/compose.yaml:19:9: services.db.rootfs:" in result.stderr


def test_a_folder_gets_one_file_per_object_in_apply_order(tmp_path: Path) -> None:
    result = composer("-f", str(CI_STACK), "convert", "kubernetes", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files[0] == "00-configmap-web-env.yaml"
    assert files[-1] == f"{len(files) - 1:02d}-deployment-web.yaml"
    assert yaml.safe_load((tmp_path / "out" / files[-1]).read_text())["kind"] == "Deployment"


def test_strict_refuses_what_has_no_meaning_and_writes_nothing(tmp_path: Path) -> None:
    result = composer("-f", str(CI_STACK), "convert", "kubernetes", "--strict", "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "services.web.ports.0: published on 127.0.0.1 only" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_option_is_a_clear_error() -> None:
    result = composer("-f", str(CI_STACK), "convert", "kubernetes", "--kubernetes-version", "1.9")
    assert result.returncode == 1
    assert result.stderr.startswith("error: --kubernetes-version '1.9' is not one of 1.25 to 1.37")
