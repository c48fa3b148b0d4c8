"""The lab-test and fault-schedule files: what they accept, how they refuse, their committed schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import SpecError
from composer.project.labfiles import SCHEMA_DIR, SCHEMAS, load_faults, load_lab_tests, render_schema
from composer.project.models.links import LinkSpec


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schemas_are_up_to_date(name: str) -> None:
    assert (SCHEMA_DIR / f"{name}.schema.json").read_text() == render_schema(name), (
        "stale: python -m composer.project.labfiles"
    )


def test_every_check_kind_and_step_is_read(tmp_path: Path) -> None:
    spec = load_lab_tests(
        _write(
            tmp_path,
            """\
tests:
  - {name: a, reach: {from: r1, to: r3, tcp: 22, expect: fail, timeout: 200ms}}
  - {name: b, route: {service: r1, to: default, dev: eth0}}
  - {name: c, command: {service: r1, run: "echo hi", stdout: hi}}
  - name: d
    steps:
      - {link_set: {target: "r1:eth1", rate: 2mbit, delay: 5ms}}
      - {wait: 1.5s}
      - {link_reset: all}
      - {kill: r2}
""",
        )
    )
    assert [t.kind for t in spec.tests] == ["reach", "route", "command", "steps"]
    reach = spec.tests[0].reach
    assert reach is not None and (reach.source, reach.tcp, reach.timeout) == ("r1", 22, 0.2)
    steps = spec.tests[3].steps or []
    assert [s.describe() for s in steps] == [
        "link_set r1:eth1 {'rate': 2000000, 'delay': 0.005}", "wait 1.5s", "link_reset all", "kill r2",
    ]  # fmt: skip


def test_mistakes_are_reported_with_line_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
tests:
  - name: two kinds
    reach: {from: r1, to: r3}
    route: {service: r1, to: default}
  - name: typo
    reach: {form: r1, to: r3}
  - name: typo
    steps: [{link_dwn: "r1:eth1"}]
""",
    )
    with pytest.raises(SpecError) as error:
        load_lab_tests(path)
    text = error.value.render()
    assert (
        "check 'two kinds' needs exactly one of reach, route, command, throughput, steps (got reach, route)"
        in text
    )
    assert f"{path}:6:" in text and "tests.1.reach" in text  # `form` is unknown, `from` missing
    assert "unknown key `link_dwn`" in text


def test_a_schedule_keeps_its_offsets_in_order_and_its_period_long_enough(tmp_path: Path) -> None:
    schedule = load_faults(
        _write(tmp_path, "faults: [{at: 0s, link_down: 'r1:eth1'}, {at: 2s, link_up: 'r1:eth1'}]\n")
    )
    assert (schedule.repeat, schedule.round_length) == (1, 2.0)
    with pytest.raises(SpecError, match="in the order of their `at` offsets"):
        load_faults(_write(tmp_path, "faults: [{at: 3s, stop: r2}, {at: 1s, start: r2}]\n"))
    with pytest.raises(SpecError, match="period 1s is shorter than the last offset 3s"):
        load_faults(_write(tmp_path, "faults: [{at: 3s, stop: r2}]\nperiod: 1s\n"))
    with pytest.raises(SpecError, match="cannot read the file"):
        load_faults(tmp_path / "missing.yaml")


def test_link_impairments_per_direction_and_their_rules() -> None:
    link = LinkSpec.model_validate({
        "endpoints": ["r1:eth1", "r2:eth1"], "rate": "10mbit", "delay": "5ms",
        "a_to_b": {"loss": "1%"}, "b_to_a": {"rate": "1mbit", "delay": "50ms", "reorder": "10%"},
    })  # fmt: skip
    assert link.direction(0) == {"rate": 10_000_000, "delay": 0.005, "jitter": None, "loss": 1.0,
                                 "corrupt": None, "duplicate": None, "reorder": None}  # fmt: skip
    assert link.direction(1)["rate"] == 1_000_000 and link.direction(1)["reorder"] == 10.0
    with pytest.raises(ValueError, match="reorder needs a delay"):
        LinkSpec.model_validate({"endpoints": ["a:e", "b:e"], "b_to_a": {"reorder": "5%"}})
    with pytest.raises(ValueError, match="jitter needs a delay"):
        LinkSpec.model_validate({"endpoints": ["a:e", "b:e"], "jitter": "5ms"})
    with pytest.raises(ValueError, match="state"):
        LinkSpec.model_validate({"endpoints": ["a:e", "b:e"], "state": "sideways"})
