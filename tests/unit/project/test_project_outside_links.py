"""Cross-checks of links with an end outside the project: host interface names, each made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import SpecError
from tests.support.projects import load, write_project


def test_a_host_interface_is_made_by_one_link_end_and_named_validly(tmp_path: Path) -> None:
    path = write_project(tmp_path, """\
        services:
          r1: {image: alpine, network_mode: none}
          r2: {image: alpine, network_mode: none}
        links:
          - endpoints: ["r1:eth1", {host: r-up}]
          - endpoints: ["r2:eth1", {host: r-up}]
          - endpoints: ["r2:eth2", {host: a-name-longer-than-15, bridge: br0}]
          - endpoints: ["r2:eth3", {host: br0, bridge: br0}]
          - endpoints: ["ghost:eth1", {macvlan: eno1}]
    """)  # fmt: skip
    with pytest.raises(SpecError) as error:
        load(path)
    lines = error.value.render().splitlines()[1:]
    assert [line.split(": ", 2)[1] for line in lines] == [
        "links.1.endpoints.1.host", "links.2.endpoints.1.host", "links.3.endpoints.1.host",
        "links.4.endpoints.0",
    ]  # fmt: skip
    assert "host interface r-up is already made by links.0.endpoints.1" in lines[0]
    assert "invalid host interface name `a-name-longer-than-15`" in lines[1]
    assert "the name of the bridge it joins" in lines[2] and "unknown service `ghost`" in lines[3]


def test_two_clab_links_to_one_host_interface_are_refused_in_the_topology(tmp_path: Path) -> None:
    path = tmp_path / "twice.clab.yml"
    path.write_text("""\
name: twice
topology:
  nodes:
    a: {kind: linux, image: alpine}
    b: {kind: linux, image: alpine}
  links:
    - endpoints: ["a:eth1", "host:up1"]
    - endpoints: ["b:eth1", "host:up1"]
    - endpoints: ["b:eth2", "host:a-name-longer-than-15"]
""")
    with pytest.raises(SpecError) as error:
        load(path)
    lines = error.value.render().splitlines()[1:]
    assert "twice.clab.yml:8:7: links.1.endpoints.1.host: host interface up1 is already made by" in lines[0]
    assert "twice.clab.yml:9:7: links.2.endpoints.1.host: invalid host interface name" in lines[1]  # its line
