"""The JSON Schema of the project file, generated from the models.

``python -m composer.project.schema`` writes ``schemas/compose.schema.json``; a
test regenerates it in memory and fails when the file is out of date.

The models' ``json_schema_input_type`` already describe the accepted input
forms; this module adds what pydantic cannot see: the string forms taken by
``mode="before"`` model validators (``"r1:eth1 -- r2:eth1"``, ``"./a:/b:ro"``,
``nofile: 1024``), ``healthcheck.disable``, and ``x-*`` extension keys, which
every closed mapping accepts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from composer.project.models import ProjectSpec

SCHEMA_ID = "https://composer.invalid/schemas/compose.schema.json"
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "schemas" / "compose.schema.json"
# Models whose before-validator also takes a scalar (the short syntax).
_SHORT_FORMS: dict[str, list[dict[str, Any]]] = {
    "LinkSpec": [{"type": "string", "pattern": "^\\s*[^:\\s]+:\\S+\\s*--\\s*[^:\\s]+:\\S+\\s*$"}],
    "LinkEndpoint": [{"type": "string", "pattern": "^[^:]+:.+$"}],
    "ServiceVolumeSpec": [{"type": "string"}],
    "UlimitSpec": [{"type": "integer"}, {"type": "string"}],
}
_EXTENSION: dict[str, Any] = {"^x-": {}}


def _allow_extensions(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("additionalProperties") is False:
            node["patternProperties"] = dict(_EXTENSION)
        for value in node.values():
            _allow_extensions(value)
    elif isinstance(node, list):
        for item in node:
            _allow_extensions(item)


def build_schema() -> dict[str, Any]:
    """The schema as a JSON-ready dict, stable from run to run."""
    schema = ProjectSpec.model_json_schema(mode="validation")
    definitions = schema["$defs"]
    for name, alternatives in _SHORT_FORMS.items():
        definitions[name] = {"anyOf": [*alternatives, definitions[name]]}
    definitions["HealthcheckSpec"]["properties"]["disable"] = {"type": "boolean", "default": False}
    _allow_extensions(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "composer project file (compose-spec with links)",
        **schema,
    }


def render_schema() -> str:
    return json.dumps(build_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else DEFAULT_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_schema())
    sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
