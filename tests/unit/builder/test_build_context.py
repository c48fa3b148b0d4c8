"""The build context: .dockerignore with Docker's matching rules, COPY sources and their digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.images.builder.cache import chain_key
from composer.images.builder.context import BuildContext, IgnoreMatcher, digest_items, parse_ignore
from composer.images.builder.dockerfile import BuildError


def matcher(text: str) -> IgnoreMatcher:
    return IgnoreMatcher(parse_ignore(text))


@pytest.mark.parametrize(
    ("rules", "path", "excluded"),
    [
        ("*.md", "README.md", True),
        ("*.md", "docs/guide.md", False),  # * stays within one segment
        ("**/*.md", "docs/guide.md", True),
        ("**/*.md", "README.md", True),  # **/ matches zero folders too
        ("docs", "docs/a/b.txt", True),  # a folder excludes what is below it
        ("/build", "build/out", True),  # a leading slash is ignored
        ("*.md\n!KEEP.md", "KEEP.md", False),  # the last matching line wins
        ("!KEEP.md\n*.md", "KEEP.md", True),
        ("# a comment\n  tmp  ", "tmp", True),
        ("te?t", "test", True),
        ("[a-c]x", "bx", True),
        ("[!a-c]x", "bx", False),
        ("./node_modules", "node_modules/x", True),
    ],
)
def test_dockerignore_rules(rules: str, path: str, excluded: bool) -> None:
    assert matcher(rules).excluded(path) is excluded


def make_context(tmp_path: Path) -> BuildContext:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("a")
    (tmp_path / "src" / "b.py").write_text("b")
    (tmp_path / "src" / "notes.md").write_text("n")
    (tmp_path / "app.py").write_text("main")
    (tmp_path / ".dockerignore").write_text("**/*.md\n")
    return BuildContext(tmp_path, tmp_path / "Dockerfile")


def test_sources_globs_and_ignored_files(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    assert context.select("*.py", [], "Dockerfile:3") == ["app.py"]
    assert context.select("src/*.py", [], "Dockerfile:3") == ["src/a.py", "src/b.py"]
    assert context.select("src/*.py", ["**/b.py"], "Dockerfile:3") == ["src/a.py"]  # --exclude
    assert [i.rel for i in context.items("src", ["src/a.py"])] == ["", "b.py"]
    assert [i.rel for i in context.items("src", [])] == ["", "a.py", "b.py"]
    with pytest.raises(BuildError, match=r"excluded by \.dockerignore"):
        context.select("src/notes.md", [], "Dockerfile:4")
    with pytest.raises(BuildError, match="outside the build context"):
        context.select("../etc/passwd", [], "Dockerfile:5")
    with pytest.raises(BuildError, match="no file in the build context matches"):
        context.select("*.rs", [], "Dockerfile:6")


def test_walk_lists_a_linked_folder_as_a_link_and_does_not_enter_it(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    (tmp_path / "src" / "deep").mkdir()
    (tmp_path / "src" / "deep" / "f").write_text("f")
    (tmp_path / "src" / "zlink").symlink_to("deep")
    items = list(context.items("src", []))
    assert [i.rel for i in items] == ["", "a.py", "b.py", "deep", "deep/f", "zlink"]
    assert items[-1].host == str(tmp_path.resolve() / "src" / "zlink")


def test_the_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    make_context(tmp_path)
    (tmp_path / "Dockerfile.dockerignore").write_text("app.py\n")
    context = BuildContext(tmp_path, tmp_path / "Dockerfile")
    assert context.ignore.excluded("app.py") and not context.ignore.excluded("src/notes.md")


def test_content_digest_sees_bytes_and_modes_not_mtimes(tmp_path: Path) -> None:
    context = make_context(tmp_path)

    def digest() -> str:
        return digest_items([("/app" + ("/" + i.rel if i.rel else ""), i) for i in context.items("src", [])])

    first = digest()
    (tmp_path / "src" / "a.py").touch()
    assert digest() == first
    (tmp_path / "src" / "a.py").write_text("A")
    changed = digest()
    assert changed != first
    (tmp_path / "src" / "a.py").chmod(0o600)
    assert digest() != changed


def test_cache_keys_chain_on_the_parent() -> None:
    one = chain_key("sha256:base", "RUN", ["echo"])
    assert one == chain_key("sha256:base", "RUN", ["echo"])
    assert one != chain_key("sha256:other", "RUN", ["echo"])
    assert one != chain_key("sha256:base", "RUN", ["echo", "x"])
    assert chain_key(one, "COPY", "d1") != chain_key(chain_key("sha256:base", "RUN", ["echo2"]), "COPY", "d1")


def test_prune_drops_entries_and_cache_mounts(tmp_path: Path) -> None:
    from composer.images.builder.cache import BuildCache, CachedLayer

    cache = BuildCache(tmp_path / "build-cache")
    key = chain_key("scratch", "RUN", ["true"])
    cache.put(key, CachedLayer(None, None, 0, "1970-01-01T00:00:00Z"))
    (tmp_path / "build-cache" / "mounts" / "abc").mkdir(parents=True)
    assert cache.get(key) is not None
    assert cache.prune() == 1
    assert cache.get(key) is None and not (tmp_path / "build-cache" / "mounts").exists()
