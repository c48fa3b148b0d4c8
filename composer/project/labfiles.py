"""Reading the lab-test and fault-schedule files, and their JSON Schemas.

The same YAML reader as the project file (bounded, duplicate keys refused, line
marks), and the same error form: every problem at once, each with file, line,
column and field path.  ``python -m composer.project.labfiles`` writes
``schemas/labtests.schema.json`` and ``schemas/faults.schema.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from composer.errors import SpecError, SpecIssue
from composer.project.models.labtests import FaultSchedule, LabTestsSpec
from composer.project.yamlsafe import load_yaml

M = TypeVar("M", bound=BaseModel)
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
SCHEMAS: dict[str, type[BaseModel]] = {"labtests": LabTestsSpec, "faults": FaultSchedule}


def _load(path: Path, model: type[M]) -> M:
    from composer.project.loader import validation_issues

    try:
        text = path.read_bytes()
    except OSError as exc:
        raise SpecError([SpecIssue(str(path), 0, 0, "", f"cannot read the file: {exc.strerror}")]) from None
    document = load_yaml(text, str(path))
    marks = {".".join(str(p) for p in key): (str(path), *place) for key, place in document.marks.items()}

    def locate(dotted: str) -> tuple[str, int, int]:
        while dotted:
            if dotted in marks:
                return marks[dotted]
            dotted = dotted.rpartition(".")[0]
        return (str(path), 0, 0)

    try:
        return model.model_validate(document.data)
    except ValidationError as error:
        raise SpecError(validation_issues(error, document.data, locate)) from None


def load_lab_tests(path: Path) -> LabTestsSpec:
    return _load(path, LabTestsSpec)


def load_faults(path: Path) -> FaultSchedule:
    return _load(path, FaultSchedule)


def render_schema(name: str) -> str:
    schema: dict[str, Any] = SCHEMAS[name].model_json_schema(mode="validation", by_alias=True)
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://composer.invalid/schemas/{name}.schema.json",
        "title": f"composer {name} file",
        **schema,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> int:
    for name in SCHEMAS:
        target = SCHEMA_DIR / f"{name}.schema.json"
        target.write_text(render_schema(name))
        sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
