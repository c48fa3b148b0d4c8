"""Bounded YAML: duplicate keys, depth, alias expansion, compose's scalar rules, marks."""

from __future__ import annotations

import pytest

from composer.errors import SpecError
from composer.project.yamlsafe import MAX_DEPTH, load_yaml, load_yaml_documents


def issues_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_yaml(text, "f.yaml")
    return [issue.render() for issue in caught.value.issues]


def test_scalars_follow_compose_not_yaml_1_1() -> None:
    data = load_yaml(
        "a: NO\nb: 22:22\nc: 0755\nd: 0o17\ne: on\nf: ~\ng: '0755'\nh: 1.5\ni: true\nj: 0x1f\n", "f"
    ).data
    assert data == {
        "a": "NO",
        "b": "22:22",
        "c": 0o755,
        "d": 0o17,
        "e": "on",
        "f": None,
        "g": "0755",
        "h": 1.5,
        "i": True,
        "j": 31,
    }


def test_keys_are_strings() -> None:
    assert load_yaml('"80": a\nx: {"true": b}\n', "f").data == {"80": "a", "x": {"true": "b"}}
    assert issues_of("80: a\nx: {true: b}\n") == [
        'f.yaml:1:1: 80: the key 80 is an integer, not a string (quote it: "80":)',
        'f.yaml:2:5: x.true: the key true is a boolean, not a string (quote it: "true":)',
    ]


def test_explicit_tags() -> None:
    assert load_yaml("a: !!str 12\nb: !!int '7'\n", "f").data == {"a": "12", "b": 7}
    assert "unsupported YAML tag" in issues_of("a: !!python/object:os.system x\n")[0]


def test_marks_are_one_based_and_cover_items() -> None:
    document = load_yaml("services:\n  web:\n    ports:\n      - 80\n      - 81\n", "f")
    assert document.marks[("services", "web")] == (2, 3)
    assert document.marks[("services", "web", "ports", 1)] == (5, 9)


def test_every_duplicate_key_is_reported() -> None:
    rendered = issues_of("a: 1\nb: {x: 1, x: 2}\na: 3\n")
    hint = "(YAML keeps only one of them: remove or rename one)"
    assert rendered == [
        f"f.yaml:2:11: b.x: duplicate key 'x' (first defined on line 2) {hint}",
        f"f.yaml:3:1: a: duplicate key 'a' (first defined on line 1) {hint}",
    ]


def test_merge_keys_explicit_wins() -> None:
    text = "x-base: &b {image: busybox, init: true}\nsvc:\n  <<: *b\n  init: false\n"
    assert load_yaml(text, "f").data["svc"] == {"init": False, "image": "busybox"}


def test_merge_key_list_first_wins() -> None:
    text = "a: &a {k: 1}\nb: &b {k: 2, j: 3}\nc:\n  <<: [*a, *b]\n"
    assert load_yaml(text, "f").data["c"] == {"k": 1, "j": 3}


def test_deep_block_nesting_is_refused_before_building() -> None:
    text = (
        "".join("  " * level + f"k{level}:\n" for level in range(MAX_DEPTH + 5))
        + "  " * (MAX_DEPTH + 5)
        + "v\n"
    )
    assert f"nested deeper than {MAX_DEPTH} levels" in issues_of(text)[0]


def test_deep_flow_nesting_does_not_crash() -> None:
    # libyaml's own composer crashes the process around here; the event parser must not.
    assert issues_of("[" * 30000 + "]" * 30000)[0].startswith("f.yaml:1:")
    rendered = issues_of("a: " + "[" * 200 + "]" * 200)
    assert "nested" in rendered[0]


def test_billion_laughs_fails_fast() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        previous, current = chr(ord("a") + level - 1), chr(ord("a") + level)
        lines.append(f"{current}: &{current} [" + ", ".join([f"*{previous}"] * 9) + "]")
    assert "expands to more than" in issues_of("\n".join(lines))[0]


def test_unknown_alias_and_second_document() -> None:
    assert "unknown alias *nope" in issues_of("a: *nope\n")[0]
    assert "one YAML document" in issues_of("a: 1\n---\nb: 2\n")[0]
    documents = load_yaml_documents("a: 1\n---\nb: &x 2\n---\nc: 3\n", "f")
    assert [d.data for d in documents] == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert documents[2].marks == {("c",): (5, 1)}


@pytest.mark.parametrize(
    ("text", "data", "resets", "overrides"),
    [
        ("a: !reset 1\nb: 2\n", {"b": 2}, {("a",)}, set()),
        ("a: !reset null\n", {}, {("a",)}, set()),
        ("a: !reset\n", {}, {("a",)}, set()),
        ("a: !reset []\nb: !reset {}\n", {}, {("a",), ("b",)}, set()),
        ("a: !reset [1, 2]\n", {}, {("a",)}, set()),
        ("a: !override [1]\n", {"a": [1]}, set(), {("a",)}),
        ("a: !override {x: 1}\n", {"a": {"x": 1}}, set(), {("a",)}),
        ("a: !override 08\n", {"a": 8}, set(), {("a",)}),
        ("a: [1, !reset 2, 3]\n", {"a": [1, 3]}, {("a", 1)}, set()),
    ],
)
def test_compose_tags_on_every_kind_of_node(
    text: str, data: object, resets: set[tuple[object, ...]], overrides: set[tuple[object, ...]]
) -> None:
    document = load_yaml(text, "f")
    assert (document.data, set(document.resets), set(document.overrides)) == (data, resets, overrides)


def test_syntax_error_has_a_place() -> None:
    assert issues_of("a: [1, 2\nb: 3\n")[0].startswith("f.yaml:2:")


def test_size_bound() -> None:
    assert "bytes, more than" in issues_of("a: " + "x" * (9 * 1024 * 1024))[0]
