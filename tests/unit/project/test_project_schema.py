"""The committed JSON Schema matches the models, and describes the input forms."""

from __future__ import annotations

import json
from pathlib import Path

from composer.project.schema import DEFAULT_PATH, build_schema, main, render_schema


def test_committed_schema_is_up_to_date() -> None:
    assert DEFAULT_PATH.is_file(), "run: python -m composer.project.schema"
    assert DEFAULT_PATH.read_text() == render_schema(), (
        "schemas/compose.schema.json is stale: python -m composer.project.schema"
    )


def test_schema_describes_inputs_and_extensions() -> None:
    schema = build_schema()
    definitions = schema["$defs"]
    service = definitions["ServiceSpec"]
    assert service["additionalProperties"] is False and "^x-" in service["patternProperties"]
    assert {"type": "string"} in service["properties"]["mem_limit"]["anyOf"]
    assert definitions["LinkSpec"]["anyOf"][0]["type"] == "string"  # the one-line form
    assert "disable" in definitions["HealthcheckSpec"]["properties"]
    assert set(schema["properties"]) == {
        "name", "services", "networks", "volumes", "links", "secrets", "configs", "models", "hosts",
    }  # fmt: skip


def test_generator_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "schema.json"
    assert main([str(target)]) == 0
    assert json.loads(target.read_text())["$id"].endswith("compose.schema.json")
