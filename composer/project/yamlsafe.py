"""Bounded YAML reading that keeps the place of every node.

PyYAML's own composers are unfit for hostile project files: the C one
recurses and crashes the process on ~30k nested brackets, both keep the last
of duplicate keys silently, and aliases can expand exponentially ("billion
laughs").  So we use only PyYAML's *event* parser (libyaml when present; it
keeps explicit stacks, no recursion) and build the value tree ourselves in one
loop, which lets us:

* stop at ``MAX_DEPTH`` nesting levels before anything deep is built;
* count nodes after alias expansion and stop at ``MAX_NODES``;
* report every duplicate key, each with its line and column;
* record the (line, column) of every mapping entry and sequence item under
  its path, e.g. ``("services", "web", "ports", 0) -> (12, 7)``;
* resolve plain scalars the way Docker Compose (go-yaml v3, YAML 1.2 core)
  does, not YAML 1.1: ``NO``/``yes``/``on`` stay strings, ``22:22`` stays the
  string ``"22:22"`` (not 1342), ``0755`` is the octal 493 and ``0o755`` too.

Mapping keys are strings, as compose requires: a plain key that reads as
a number, a boolean or null (``80: x``) is an error naming the key (quote it).
Merge keys (``<<: *defaults``) are supported with YAML's rule: keys written in
the mapping win over merged ones, earlier merged mappings over later ones.

Compose's own tags are kept apart from the values: a node tagged ``!reset``
(any kind: scalar, null, list, mapping) is left out of the value and its path
recorded in ``YamlDocument.resets``; a node tagged ``!override`` stays and its
path goes to ``YamlDocument.overrides``.  ``merge`` applies them.  A stream of
several documents (``---``) gives one ``YamlDocument`` each
(``load_yaml_documents``), merged in order as compose-go does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from composer.errors import SpecError, SpecIssue

try:  # libyaml's event parser is much faster; the pure one is a fallback
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Parser  # type: ignore[assignment]

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000

Path_ = tuple[str | int, ...]
Marks = dict[Path_, tuple[int, int]]

_INT_DEC = re.compile(r"^[-+]?[0-9]+$")
_INT_OCT = re.compile(r"^0o?[0-7]+$")
_INT_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_NULLS = ("", "~", "null", "Null", "NULL")
_TRUE = ("true", "True", "TRUE")
_FALSE = ("false", "False", "FALSE")


COMPOSE_TAGS = ("!reset", "!override")


@dataclass(frozen=True)
class YamlDocument:
    """The value of one document, the 1-based (line, column) of each path, and compose's tags."""

    data: Any
    marks: Marks
    resets: frozenset[Path_] = frozenset()
    overrides: frozenset[Path_] = frozenset()


def resolve_plain(text: str) -> Any:
    """A plain (unquoted) scalar as compose reads it: YAML 1.2 core plus Go's integer prefixes."""
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT_HEX.match(text):
        return int(text[2:], 16)
    if len(text) > 1 and _INT_OCT.match(text):
        return int(text.removeprefix("0o").removeprefix("0") or "0", 8)
    if _INT_DEC.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    special = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
    return special.get(text.lower(), text)


_TAGGED: dict[str, Callable[[str], Any]] = {
    "tag:yaml.org,2002:str": str,
    "tag:yaml.org,2002:int": lambda t: resolve_plain(t) if isinstance(resolve_plain(t), int) else int(t),
    "tag:yaml.org,2002:float": float,
    "tag:yaml.org,2002:bool": lambda t: t.lower() == "true",
    "tag:yaml.org,2002:null": lambda t: None,
}


class _Fatal(Exception):
    def __init__(self, message: str, mark: Any, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.mark, self.hint = message, mark, hint


@dataclass
class _Frame:
    value: dict[str, Any] | list[Any]
    path: Path_
    anchor: str | None
    start_count: int
    start_mark: Any
    key: str | None = None
    key_mark: Any = None
    key_is_merge: bool = False
    tag: str | None = None
    explicit: set[str] = field(default_factory=set)
    merges: list[tuple[Any, Any]] = field(default_factory=list)


_NO_KEY = None


class _Composer:
    """Turns a parser's events into plain Python values, bounded, with marks."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.marks: Marks = {}
        self.issues: list[SpecIssue] = []
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}  # name -> (value, node count)
        self.count = 0
        self.root: Any = None
        self.documents: list[YamlDocument] = []
        self.resets: set[Path_] = set()
        self.overrides: set[Path_] = set()

    # ---- helpers

    def _place(self, mark: Any) -> tuple[int, int]:
        return (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)

    def _count(self, amount: int, mark: Any) -> None:
        self.count += amount
        if self.count > MAX_NODES:
            raise _Fatal(
                f"the document expands to more than {MAX_NODES} nodes (aliases expanding exponentially?)",
                mark,
                "remove the nested aliases; a project file never needs that many values",
            )

    def _child_path(self, mark: Any) -> Path_:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.value, list):
            return (*top.path, len(top.value))
        if top.key is _NO_KEY:
            raise _Fatal("a mapping key must be a plain value, not a list or a mapping", mark)
        return (*top.path, top.key)

    # ---- event handlers

    def start_container(self, event: Any, value: dict[str, Any] | list[Any]) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise _Fatal(f"the document is nested deeper than {MAX_DEPTH} levels", event.start_mark)
        path = self._child_path(event.start_mark)
        self._count(1, event.start_mark)
        tag = event.tag if event.tag in COMPOSE_TAGS else None
        if event.tag not in (None, "!", *COMPOSE_TAGS, "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
            raise _Fatal(f"unsupported YAML tag {event.tag}", event.start_mark, "remove the tag")
        self.stack.append(_Frame(value, path, event.anchor, self.count, event.start_mark, tag=tag))

    def end_container(self) -> None:
        frame = self.stack.pop()
        if isinstance(frame.value, dict):
            self._apply_merges(frame)
        if self._tagged(frame.tag, frame.path):
            return
        self.attach(frame.value, frame.start_mark, frame.anchor, self.count - frame.start_count + 1)

    def _tagged(self, tag: str | None, path: Path_) -> bool:
        """Record a compose tag; True when the node is left out (``!reset``)."""
        if tag == "!override":
            self.overrides.add(path)
        if tag != "!reset":
            return False
        self.resets.add(path)
        top = self.stack[-1] if self.stack else None
        if top is not None and isinstance(top.value, dict):
            if isinstance(top.key, str):
                top.explicit.add(top.key)  # written here, as nothing: a merge key (<<) must not bring it back
            top.key = _NO_KEY  # the entry is dropped: the next scalar is a key again
        elif top is None:
            self.root = {}
        return True

    def scalar(self, event: Any) -> None:
        self._count(1, event.start_mark)
        top = self.stack[-1] if self.stack else None
        is_key = top is not None and isinstance(top.value, dict) and top.key is _NO_KEY
        plain = event.style in ("", None) and event.implicit[0]
        if is_key:
            assert top is not None
            self._check_key(event, plain)
            top.key, top.key_mark = event.value, event.start_mark
            top.key_is_merge = plain and event.value == "<<"
            if event.anchor:
                self.anchors[event.anchor] = (event.value, 1)
            return
        if event.tag in COMPOSE_TAGS:
            path = self._child_path(event.start_mark)
            if self._tagged(event.tag, path):
                return
            plain = event.style in ("", None)
        self.attach(self._scalar_value(event, plain), event.start_mark, event.anchor, 1)

    def _check_key(self, event: Any, plain: bool) -> None:
        """compose-go refuses keys that are not strings (``80:``, ``true:``); so do we, all of them."""
        if not plain or event.value == "<<":
            return
        value = resolve_plain(event.value)
        if isinstance(value, str):
            return
        line, column = self._place(event.start_mark)
        kinds = {bool: "a boolean", int: "an integer", float: "a number"}
        kind = "null" if value is None else kinds.get(type(value), "not text")
        where = ".".join(str(p) for p in self.stack[-1].path)
        self.issues.append(
            SpecIssue(
                self.filename,
                line,
                column,
                f"{where}.{event.value}" if where else event.value,
                f"the key {event.value} is {kind}, not a string",
                f'quote it: "{event.value}":',
            )
        )

    def _scalar_value(self, event: Any, plain: bool) -> Any:
        tag = event.tag
        if tag in (None, "!", *COMPOSE_TAGS):
            return resolve_plain(event.value) if plain else event.value
        converter = _TAGGED.get(tag)
        if converter is None:
            raise _Fatal(f"unsupported YAML tag {tag}", event.start_mark, "remove the tag")
        try:
            return converter(event.value)
        except ValueError:
            raise _Fatal(
                f"{event.value!r} is not a valid {tag.rsplit(':', 1)[-1]}", event.start_mark
            ) from None

    def alias(self, event: Any) -> None:
        if event.anchor not in self.anchors:
            raise _Fatal(
                f"unknown alias *{event.anchor}", event.start_mark, "define the anchor (&name) first"
            )
        value, size = self.anchors[event.anchor]
        self._count(size, event.start_mark)
        top = self.stack[-1] if self.stack else None
        if top is not None and isinstance(top.value, dict) and top.key is _NO_KEY:
            if not isinstance(value, str):
                raise _Fatal("a mapping key must be a plain value", event.start_mark)
            top.key, top.key_mark, top.key_is_merge = value, event.start_mark, False
            return
        self.attach(value, event.start_mark, None, 0)

    def attach(self, value: Any, mark: Any, anchor: str | None, size: int) -> None:
        if anchor:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            self.marks[(*top.path, len(top.value))] = self._place(mark)
            top.value.append(value)
            return
        key, key_mark = top.key, top.key_mark
        assert key is not None
        top.key = _NO_KEY
        if top.key_is_merge:
            top.merges.append((value, mark))
            return
        if key in top.explicit:
            self._duplicate(top, key, key_mark)
            return
        top.explicit.add(key)
        top.value[key] = value  # type: ignore[call-overload]
        self.marks[(*top.path, key)] = self._place(key_mark)

    def _duplicate(self, frame: _Frame, key: str, mark: Any) -> None:
        line, column = self._place(mark)
        first = self.marks.get((*frame.path, key), (0, 0))[0]
        self.issues.append(
            SpecIssue(
                self.filename,
                line,
                column,
                ".".join(str(p) for p in (*frame.path, key)),
                f"duplicate key {key!r} (first defined on line {first})",
                "YAML keeps only one of them: remove or rename one",
            )
        )

    def _apply_merges(self, frame: _Frame) -> None:
        assert isinstance(frame.value, dict)
        for value, mark in frame.merges:
            sources = value if isinstance(value, list) else [value]
            for source in sources:
                if not isinstance(source, dict):
                    raise _Fatal("a merge key (<<) takes a mapping or a list of mappings", mark)
                for key, item in source.items():
                    if key not in frame.value and key not in frame.explicit:
                        frame.value[key] = item
                        self.marks.setdefault((*frame.path, key), self._place(mark))

    def end_document(self) -> None:
        self.documents.append(
            YamlDocument(self.root, self.marks, frozenset(self.resets), frozenset(self.overrides))
        )
        self.root, self.marks, self.anchors = None, {}, {}  # anchors do not cross documents
        self.resets, self.overrides = set(), set()


def _handle(composer: _Composer, event: Any) -> None:
    if isinstance(event, yaml.ScalarEvent):
        composer.scalar(event)
    elif isinstance(event, yaml.MappingStartEvent):
        composer.start_container(event, {})
    elif isinstance(event, yaml.SequenceStartEvent):
        composer.start_container(event, [])
    elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
        composer.end_container()
    elif isinstance(event, yaml.AliasEvent):
        composer.alias(event)
    elif isinstance(event, yaml.DocumentEndEvent):
        composer.end_document()


def load_yaml(text: str | bytes, filename: str) -> YamlDocument:
    """Parse a project file of one document; raises SpecError with every problem."""
    documents = load_yaml_documents(text, filename)
    if len(documents) > 1:
        issue = SpecIssue(filename, 0, 0, "", "expected one YAML document, found several")
        raise SpecError([issue])
    return documents[0] if documents else YamlDocument(None, {})


def load_yaml_documents(text: str | bytes, filename: str) -> list[YamlDocument]:
    """Parse a project file, one YamlDocument per ``---`` document (none for an empty file).

    Raises SpecError with every problem (or the first fatal one).
    """
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_BYTES:
        issue = SpecIssue(filename, 0, 0, "", f"the file is {size} bytes, more than the {MAX_BYTES} allowed")
        raise SpecError([issue])
    composer = _Composer(filename)
    parser = _Parser(text)
    try:
        while True:
            event = parser.get_event()
            if isinstance(event, yaml.StreamEndEvent):
                break
            _handle(composer, event)
    except _Fatal as fatal:
        line, column = composer._place(fatal.mark)
        raise SpecError(
            [*composer.issues, SpecIssue(filename, line, column, "", fatal.message, fatal.hint)]
        ) from None
    except yaml.MarkedYAMLError as error:
        line, column = composer._place(error.problem_mark)
        message = " ".join(part for part in (error.context, error.problem) if part) or "invalid YAML"
        raise SpecError(
            [*composer.issues, SpecIssue(filename, line, column, "", f"invalid YAML: {message}")]
        ) from None
    except yaml.YAMLError as error:
        raise SpecError([SpecIssue(filename, 0, 0, "", f"invalid YAML: {error}")]) from None
    finally:
        dispose = getattr(parser, "dispose", None)
        if dispose is not None:
            dispose()
    if composer.issues:
        raise SpecError(composer.issues)
    return composer.documents
