"""develop.watch rules (composer.verbs.watch): matching, ignore/include and the steps a batch makes."""

from __future__ import annotations

from composer.verbs.watch import Step, WatchRule, initial_steps, matches, plan_steps

SYNC = WatchRule("web", "/src/app", "sync+restart", target="/app", ignore=("node_modules", "*.tmp"))
RESTART = WatchRule("web", "/src/conf", "restart")
EXEC = WatchRule(
    "api", "/src/api", "sync+exec", target="/srv", exec_argv=("kill", "-HUP", "1"), include=("*.py",)
)


def test_matching() -> None:
    assert matches(SYNC, "/src/app/index.js") and matches(SYNC, "/src/app")
    assert not matches(SYNC, "/src/apple/x")  # a sibling with a common prefix
    assert not matches(SYNC, "/src/app/node_modules/lib/x.js") and not matches(SYNC, "/src/app/a.tmp")
    assert matches(EXEC, "/src/api/m/x.py") and not matches(EXEC, "/src/api/README.md")


def test_steps_of_a_batch() -> None:
    changed = ["/src/app/new", "/src/app/new/f.js", "/src/app/gone.js", "/src/conf/x", "/src/api/m.py"]
    steps = plan_steps([SYNC, RESTART, EXEC], changed, exists=lambda p: p != "/src/app/gone.js")
    assert [(s.kind, s.service, s.container_path) for s in steps] == [
        ("delete", "web", "/app/gone.js"),
        ("sync", "web", "/app/new"),  # the folder carries f.js
        ("restart", "web", ""),  # once, though two rules ask
        ("sync", "api", "/srv/m.py"),
        ("exec", "api", ""),
    ]
    assert plan_steps([SYNC], ["/elsewhere/x"], exists=lambda p: True) == []


def test_initial_sync() -> None:
    rule = WatchRule("web", "/src/app", "sync", target="/app", initial_sync=True)
    assert initial_steps([rule, RESTART]) == [Step("sync", "web", "/src/app", "/app", rule)]
