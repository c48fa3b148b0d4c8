"""The build context: ``.dockerignore`` rules, COPY sources, and their content digest.

``.dockerignore`` (or ``<Dockerfile>.dockerignore`` next to the Dockerfile,
which wins) follows Docker's rules (moby's patternmatcher): one pattern a line,
``#`` comments, surrounding blanks trimmed, a leading ``/`` ignored, ``*`` and
``?`` within one path segment, ``**`` across any number of them, ``!`` re-includes;
a pattern that matches a folder excludes everything below it; the last matching
line wins.  The Dockerfile and the ignore file themselves are always sent, as
Docker sends them (they are only excluded from COPY when listed).

The digest of a COPY's sources covers, for every file in the order copied, its
path relative to the source, its type, mode, link target and content; not its
mtime or owner (COPY makes files root's unless ``--chown``), as BuildKit's
content checksum does.  That is what makes a rebuild a cache hit when nothing
changed, and a miss from the COPY on when one byte did.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from composer.images.builder.digests import FileDigests, file_sha256
from composer.images.builder.dockerfile import BuildError

GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class IgnoreRule:
    pattern: str
    negated: bool
    regex: re.Pattern[str]


def _clean(pattern: str) -> str:
    parts: list[str] = []
    for part in pattern.split("/"):
        if part in ("", "."):
            continue
        if part == ".." and parts:
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):  # "**/" : zero or more folders
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise BuildError(f".dockerignore: unterminated '[' in {pattern!r}")
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            if body.startswith("^"):
                body = "!" + body[1:]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return re.compile("".join(out))


def parse_ignore(text: str) -> list[IgnoreRule]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        body = _clean(line[1:].strip() if negated else line)
        if not body:
            continue
        rules.append(IgnoreRule(body, negated, _pattern_regex(body)))
    return rules


class IgnoreMatcher:
    def __init__(self, rules: list[IgnoreRule]) -> None:
        self.rules = rules
        self.has_exceptions = any(rule.negated for rule in rules)

    def excluded(self, rel: str) -> bool:
        """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
        if not self.rules:
            return False
        parents = _prefixes(rel)
        result = False
        for rule in self.rules:
            if any(rule.regex.match(p) for p in parents):
                result = not rule.negated
        return result


def _prefixes(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def load_ignore(context: Path, dockerfile: Path | None) -> IgnoreMatcher:
    candidates = []
    if dockerfile is not None:
        candidates.append(dockerfile.with_name(dockerfile.name + ".dockerignore"))
    candidates.append(context / ".dockerignore")
    for path in candidates:
        if path.is_file():
            return IgnoreMatcher(parse_ignore(path.read_text(errors="replace")))
    return IgnoreMatcher([])


@dataclass(frozen=True)
class SourceItem:
    """One thing a COPY writes: ``rel`` below the destination, from ``host`` (or inline ``data``)."""

    rel: str  # "" for the source itself
    host: str
    data: bytes | None = None


class BuildContext:
    """A local folder with its ignore rules."""

    def __init__(self, root: Path, dockerfile: Path | None = None) -> None:
        self.root = root.resolve()
        self.ignore = load_ignore(self.root, dockerfile)

    def select(self, source: str, excludes: list[str], where: str) -> list[str]:
        """Context-relative paths a COPY source names (globs expanded), after .dockerignore."""
        cleaned = _clean(source)
        if cleaned.startswith("..") or cleaned == "..":
            raise BuildError(f"{where}: COPY source {source!r} is outside the build context")
        if not GLOB_CHARS & set(cleaned):
            path = self.root / cleaned if cleaned else self.root
            if (cleaned and self.ignore.excluded(cleaned)) or not os.path.lexists(path):
                raise BuildError(
                    f"{where}: {source!r} is not in the build context {self.root}"
                    + (" (excluded by .dockerignore)" if os.path.lexists(path) else ""),
                    hint="check the path and .dockerignore",
                )
            return [cleaned]
        matches = [rel for rel in self._glob(cleaned) if not _excluded_by(rel, excludes)]
        if not matches:
            raise BuildError(f"{where}: no file in the build context matches {source!r}")
        return matches

    def _glob(self, pattern: str) -> list[str]:
        parts = pattern.split("/")
        found = [""]
        for part in parts:
            nxt = []
            for base in found:
                folder = self.root / base if base else self.root
                if not folder.is_dir() or folder.is_symlink():
                    continue
                for name in sorted(os.listdir(folder)):
                    rel = f"{base}/{name}" if base else name
                    if fnmatch.fnmatchcase(name, part) and not self.ignore.excluded(rel):
                        nxt.append(rel)
            found = nxt
        return found

    def items(self, rel: str, excludes: list[str]) -> Iterator[SourceItem]:
        """What copying the context path ``rel`` writes, folders before their contents, sorted."""
        host = str(self.root / rel) if rel else str(self.root)
        yield SourceItem("", host)
        if not (os.path.isdir(host) and not os.path.islink(host)):
            return
        yield from self._walk(rel, "", excludes)

    def _walk(self, base: str, below: str, excludes: list[str]) -> Iterator[SourceItem]:
        # scandir's entry types save two stats a file over isdir + islink on a large context
        root = str(self.root)
        with os.scandir(os.path.join(root, base, below)) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            name = entry.name
            sub = f"{below}/{name}" if below else name
            rel = f"{base}/{sub}" if base else sub
            if _excluded_by(rel, excludes):  # --exclude patterns are context-relative, like the sources
                continue
            host = os.path.join(root, rel)
            is_dir = entry.is_dir(follow_symlinks=False)
            if self.ignore.excluded(rel):
                if is_dir and self.ignore.has_exceptions:
                    yield from self._walk(base, sub, excludes)  # an exception may re-include below
                continue
            yield SourceItem(sub, host)
            if is_dir:
                yield from self._walk(base, sub, excludes)


def _excluded_by(rel: str, excludes: list[str]) -> bool:
    return any(_pattern_regex(_clean(p)).match(q) for p in excludes for q in _prefixes(rel))


def digest_items(items: list[tuple[str, SourceItem]], files: FileDigests | None = None) -> str:
    """The content digest of (destination, item) pairs: paths, types, modes, targets, bytes.

    ``files`` supplies the files' content digests (reused while their ``lstat`` is
    unchanged); without it every file is read.
    """
    hasher = hashlib.sha256()
    for dest, item in items:
        hasher.update(f"{dest}\0{item.rel}\0".encode())
        if item.data is not None:
            hasher.update(b"data\0" + hashlib.sha256(item.data).digest())
            continue
        st = os.lstat(item.host)
        hasher.update(f"{stat.S_IFMT(st.st_mode)}:{stat.S_IMODE(st.st_mode)}\0".encode())
        if stat.S_ISLNK(st.st_mode):
            hasher.update(os.readlink(item.host).encode(errors="surrogateescape"))
        elif stat.S_ISREG(st.st_mode):
            hasher.update(files.digest(item.host, st) if files is not None else file_sha256(item.host))
    return "sha256:" + hasher.hexdigest()
