"""Dockerfiles -> stages of typed instructions (pure).

The grammar (line continuations, the ``escape`` and ``syntax`` directives, JSON
and shell forms, heredocs, comments) is BuildKit's own: the PyPI package
``dockerfile`` wraps the official Go parser (moby/buildkit's
``frontend/dockerfile/parser``), so a Dockerfile reads here as ``docker build``
reads it.  This module turns its flat node list into stages and expands
variables the way BuildKit's shell lexer does for the instructions that
expand them (not RUN, CMD, ENTRYPOINT, whose shell does).

Word expansion handles ``$VAR``, ``${VAR}``, ``${VAR:-word}``, ``${VAR-word}``,
``${VAR:+word}``, ``${VAR+word}``, single and double quotes (removed, as the
lexer removes them) and the escape character.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from composer.errors import ImageError

# The instructions composer builds; anything else is refused with its line.
KNOWN = frozenset(
    {
        "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
        "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
    }
)  # fmt: skip
# BuildKit's predefined args: usable without an ARG line, left out of the image's history.
PROXY_ARGS = frozenset(
    {
        "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
    }
)  # fmt: skip


class BuildError(ImageError):
    """A Dockerfile that cannot be read or built; the message names the file and line."""


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str


@dataclass(frozen=True)
class Instruction:
    cmd: str  # upper case: RUN, COPY, ...
    args: tuple[str, ...]  # the parser's words: JSON items, or the rest of the line for shell forms
    flags: tuple[str, ...] = ()  # "--from=build", "--chown=1:1"
    json: bool = False  # exec (JSON) form
    line: int = 0
    original: str = ""
    heredocs: tuple[Heredoc, ...] = ()
    sub: Instruction | None = None  # ONBUILD's instruction

    def flag(self, name: str) -> str | None:
        """The value of ``--name=value`` (the last one wins), ``""`` for a bare ``--name``."""
        found = None
        for text in self.flags:
            key, eq, value = text.removeprefix("--").partition("=")
            if key == name:
                found = value if eq else ""
        return found

    def flag_all(self, name: str) -> list[str]:
        return [t.partition("=")[2] for t in self.flags if t.removeprefix("--").partition("=")[0] == name]


@dataclass(frozen=True)
class Stage:
    index: int
    base: str  # unexpanded (may hold ${ARG} of the global scope)
    name: str | None  # AS name, lower case
    platform: str | None
    line: int
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True)
class Dockerfile:
    source: str  # the file's name, for messages
    global_args: tuple[Instruction, ...]  # ARG lines before the first FROM
    stages: tuple[Stage, ...]
    escape: str = "\\"

    def stage_named(self, name: str) -> Stage | None:
        lowered = name.lower()
        for stage in self.stages:
            if stage.name == lowered:
                return stage
        if name.isdigit() and int(name) < len(self.stages):
            return self.stages[int(name)]
        return None


def parse_dockerfile(text: str, source: str) -> Dockerfile:
    """Parse with BuildKit's parser and group into stages; BuildError names the file and line."""
    import dockerfile as goparser

    try:
        nodes = goparser.parse_string(text)
    except goparser.GoParseError as error:
        raise BuildError(f"{source}: {error}") from None
    escape = _escape_directive(text)
    instructions = [_instruction(node, source) for node in nodes]
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    current: list[Instruction] = []
    head: Instruction | None = None
    for ins in instructions:
        if ins.cmd == "FROM":
            if head is not None:
                stages.append(_stage(len(stages), head, current, source))
            head, current = ins, []
        elif head is None:
            if ins.cmd != "ARG":
                raise BuildError(
                    f"{source}:{ins.line}: {ins.cmd} before the first FROM",
                    hint="only ARG may come before FROM",
                )
            global_args.append(ins)
        else:
            current.append(ins)
    if head is None:
        raise BuildError(
            f"{source}: no FROM instruction", hint="start the build with FROM IMAGE (or scratch)"
        )
    stages.append(_stage(len(stages), head, current, source))
    _check_unique_names(stages, source)
    return Dockerfile(source, tuple(global_args), tuple(stages), escape)


def _escape_directive(text: str) -> str:
    """The ``# escape=`` parser directive (only in the leading comment block)."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("#"):
            break
        key, eq, value = line[1:].strip().partition("=")
        if eq and key.strip().lower() == "escape" and value.strip() in ("\\", "`"):
            return value.strip()
    return "\\"


def _instruction(node: object, source: str) -> Instruction:
    cmd = str(getattr(node, "cmd")).upper()  # noqa: B009
    line = int(getattr(node, "start_line"))  # noqa: B009
    if cmd not in KNOWN:
        raise BuildError(f"{source}:{line}: unknown instruction {cmd}")
    sub = None
    if cmd == "ONBUILD":
        inner = str(getattr(node, "sub_cmd") or "").upper()  # noqa: B009
        if inner in ("ONBUILD", "FROM", "MAINTAINER", ""):
            raise BuildError(f"{source}:{line}: ONBUILD {inner or '(nothing)'} is not allowed")
        sub = Instruction(inner, tuple(getattr(node, "value")), json=bool(getattr(node, "json")), line=line)  # noqa: B009
    return Instruction(
        cmd=cmd,
        args=tuple(str(v) for v in getattr(node, "value")),  # noqa: B009
        flags=tuple(str(f) for f in getattr(node, "flags")),  # noqa: B009
        json=bool(getattr(node, "json")),  # noqa: B009
        line=line,
        original=str(getattr(node, "original")),  # noqa: B009
        heredocs=tuple(Heredoc(h.name, h.content) for h in getattr(node, "heredocs")),  # noqa: B009
        sub=sub,
    )


def _stage(index: int, head: Instruction, body: list[Instruction], source: str) -> Stage:
    words = list(head.args)
    name = None
    if len(words) == 3 and words[1].upper() == "AS":
        name = words[2].lower()
    elif len(words) != 1:
        raise BuildError(
            f"{source}:{head.line}: FROM takes an image and an optional `AS name`, not {head.original!r}"
        )
    if name is not None and (
        name.isdigit() or not name.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise BuildError(f"{source}:{head.line}: invalid stage name {words[2]!r}")
    return Stage(index, words[0], name, head.flag("platform"), head.line, tuple(body))


def _check_unique_names(stages: list[Stage], source: str) -> None:
    seen: dict[str, int] = {}
    for stage in stages:
        if stage.name is None:
            continue
        if stage.name in seen:
            raise BuildError(
                f"{source}:{stage.line}: stage name {stage.name!r} is also used on line {seen[stage.name]}"
            )
        seen[stage.name] = stage.line


# --- word expansion (BuildKit's shell lexer, the part Dockerfiles use) -------------------------------


@dataclass
class _Lexer:
    text: str
    env: Mapping[str, str]
    escape: str
    pos: int = 0
    words: list[str] = field(default_factory=list)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        char = self.peek()
        self.pos += 1
        return char


def expand(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word, variables expanded and quotes removed."""
    return "".join(_expand_words(text, env, escape, split=False)) if text else ""


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Split on unquoted blanks after expansion (as EXPOSE, VOLUME, USER words are read)."""
    return _expand_words(text, env, escape, split=True)


def _expand_words(text: str, env: Mapping[str, str], escape: str, *, split: bool) -> list[str]:
    lex = _Lexer(text, env, escape)
    words: list[str] = []
    current: list[str] = []
    started = False
    while lex.pos < len(text):
        char = lex.take()
        if split and char in " \t\n":
            if started:
                words.append("".join(current))
                current, started = [], False
            continue
        started = True
        if char == escape:
            nxt = lex.take()
            current.append(nxt)
        elif char == "'":
            current.append(_single_quoted(lex))
        elif char == '"':
            current.append(_double_quoted(lex))
        elif char == "$":
            current.append(_variable(lex))
        else:
            current.append(char)
    if started:
        words.append("".join(current))
    return words


def _single_quoted(lex: _Lexer) -> str:
    out: list[str] = []
    while lex.pos < len(lex.text):
        char = lex.take()
        if char == "'":
            return "".join(out)
        out.append(char)
    raise BuildError(f"unmatched single quote in {lex.text!r}")


def _double_quoted(lex: _Lexer) -> str:
    out: list[str] = []
    while lex.pos < len(lex.text):
        char = lex.take()
        if char == '"':
            return "".join(out)
        if char == lex.escape and lex.peek() in ('"', lex.escape, "$"):
            out.append(lex.take())
        elif char == "$":
            out.append(_variable(lex))
        else:
            out.append(char)
    raise BuildError(f"unmatched double quote in {lex.text!r}")


def _variable(lex: _Lexer) -> str:
    char = lex.peek()
    if char == "{":
        lex.take()
        return _braced(lex)
    name = []
    while lex.peek() and (lex.peek().isalnum() or lex.peek() == "_"):
        name.append(lex.take())
    if not name:
        return "$"
    return lex.env.get("".join(name), "")


def _braced(lex: _Lexer) -> str:
    name = []
    while lex.peek() and (lex.peek().isalnum() or lex.peek() == "_"):
        name.append(lex.take())
    key = "".join(name)
    char = lex.take()
    if char == "}":
        return lex.env.get(key, "")
    modifier = char
    if char == ":":
        modifier += lex.take()
    word = _until_brace(lex)
    value = lex.env.get(key)
    if modifier in (":-", "-"):
        empty = value is None or (modifier == ":-" and value == "")
        return expand(word, lex.env, lex.escape) if empty else str(value)
    if modifier in (":+", "+"):
        present = value is not None and (modifier == "+" or value != "")
        return expand(word, lex.env, lex.escape) if present else ""
    if modifier in (":?", "?"):
        if value is None or (modifier == ":?" and value == ""):
            raise BuildError(f"{key}: {word or 'is not set'}")
        return str(value)
    raise BuildError(f"unsupported variable modifier {modifier!r} in {lex.text!r}")


def _until_brace(lex: _Lexer) -> str:
    depth, out = 0, list[str]()
    while lex.pos < len(lex.text):
        char = lex.take()
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return "".join(out)
            depth -= 1
        out.append(char)
    raise BuildError(f"missing '}}' in {lex.text!r}")


def key_values(
    words: Sequence[str], ins: Instruction, env: Mapping[str, str], escape: str
) -> list[tuple[str, str]]:
    """ENV and LABEL pairs: the parser gives ``[k1, v1, k2, v2, ...]``, still quoted."""
    if len(words) % 2:
        raise BuildError(f"line {ins.line}: {ins.cmd} needs KEY=VALUE pairs")
    pairs = []
    for key, value in zip(words[0::2], words[1::2], strict=True):
        pairs.append((expand(key, env, escape), expand(value, env, escape)))
    return pairs


def arg_definitions(ins: Instruction, env: Mapping[str, str], escape: str) -> list[tuple[str, str | None]]:
    """ARG NAME[=default] ...: the names and their (expanded) defaults."""
    out: list[tuple[str, str | None]] = []
    for word in ins.args:
        name, eq, default = word.partition("=")
        out.append((name, expand(default, env, escape) if eq else None))
    return out
