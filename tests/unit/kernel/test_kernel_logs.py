"""Log files: JSON lines like Docker's json-file driver, rotation, tail and follow."""

from __future__ import annotations

import json
import os
import selectors
import threading
from pathlib import Path

from composer.kernel.logs import (
    MAX_LINE,
    JsonLogWriter,
    LogCollector,
    make_log_fifos,
    read_logs,
    rfc3339_nano,
)
from composer.model.container import ContainerFiles


def test_rfc3339_nano() -> None:
    assert rfc3339_nano(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"


def test_collector_writes_json_lines_from_fifos(tmp_path: Path) -> None:
    out_fifo, err_fifo = make_log_fifos(ContainerFiles(tmp_path))
    log = str(tmp_path / "c.log")
    selector = selectors.DefaultSelector()
    collector = LogCollector(selector)
    collector.add("c", "stdout", out_fifo, log)
    collector.add("c", "stderr", err_fifo, log)
    writer = os.open(out_fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.write(writer, b"one\ntw")
    for key, _ in selector.select(timeout=1):
        key.data()
    os.write(writer, b"o\n" + b"x" * (MAX_LINE + 5))
    collector.remove("c")
    os.close(writer)
    records = [json.loads(line) for line in Path(log).read_text().splitlines()]
    assert [r["log"] for r in records] == ["one\n", "two\n", "x" * MAX_LINE, "xxxxx"]
    assert {r["stream"] for r in records} == {"stdout"}
    selector.close()


def test_rotation_keeps_max_files(tmp_path: Path) -> None:
    log = str(tmp_path / "c.log")
    writer = JsonLogWriter(log, max_size=300, max_files=3)
    for i in range(40):
        writer.write("stdout", f"line {i:02d}\n")
    writer.close()
    assert sorted(os.listdir(tmp_path)) == ["c.log", "c.log.1", "c.log.2"]
    assert all(os.path.getsize(tmp_path / name) <= 300 for name in os.listdir(tmp_path))
    texts = [line.text for line in read_logs(log)]
    assert texts[-1] == "line 39\n"
    assert texts == sorted(texts)  # oldest rotated file first


def test_tail_and_timestamps(tmp_path: Path) -> None:
    log = str(tmp_path / "c.log")
    writer = JsonLogWriter(log)
    for i in range(5):
        writer.write("stderr" if i % 2 else "stdout", f"{i}\n", 1_700_000_000_000_000_000 + i)
    writer.close()
    lines = list(read_logs(log, tail=2, timestamps=True))
    assert [line.render() for line in lines] == [
        "2023-11-14T22:13:20.000000003Z 3\n",
        "2023-11-14T22:13:20.000000004Z 4\n",
    ]
    assert [line.stream for line in lines] == ["stderr", "stdout"]
    assert list(read_logs(log, tail=0)) == []


def test_follow_sees_new_lines_and_rotation(tmp_path: Path) -> None:
    """A writer rotating as fast as it can: every line comes once, in order (no file is dropped)."""
    log = str(tmp_path / "c.log")
    writer = JsonLogWriter(log, max_size=200, max_files=50)
    writer.write("stdout", "before\n")
    done = threading.Event()

    def produce() -> None:
        for i in range(40):
            writer.write("stdout", f"after {i}\n")
        done.set()

    thread = threading.Thread(target=produce)
    followed = read_logs(log, follow=True, until=done.is_set, poll_interval=0.001)
    first = next(followed)
    thread.start()
    rest = [line.text for line in followed]
    thread.join()
    writer.close()
    assert first.text == "before\n"
    assert rest == [f"after {i}\n" for i in range(40)]


def test_follow_reads_each_line_once_across_every_rotation(tmp_path: Path) -> None:
    """Reads interleaved with writes, one rotation every two lines: deterministic."""
    log = str(tmp_path / "c.log")
    writer = JsonLogWriter(log, max_size=200, max_files=2)
    writer.write("stdout", "first\n")
    followed = read_logs(log, follow=True, poll_interval=0.001)
    assert next(followed).text == "first\n"
    for i in range(25):
        writer.write("stdout", f"line {i}\n")
        assert next(followed).text == f"line {i}\n"
    writer.close()


def test_follow_waits_out_a_rotation_half_done(tmp_path: Path) -> None:
    """The current file renamed away and not created again yet: no error, and nothing lost."""
    log = tmp_path / "c.log"
    writer = JsonLogWriter(str(log), max_size=10_000, max_files=3)
    writer.write("stdout", "one\n")
    writer.close()
    stop = threading.Event()
    followed = read_logs(str(log), follow=True, until=stop.is_set, poll_interval=0.001)
    assert next(followed).text == "one\n"
    log.rename(tmp_path / "c.log.1")  # the writer's rename ...
    again = JsonLogWriter(str(log), max_size=10_000, max_files=3)  # ... then its new file
    again.write("stdout", "two\n")
    again.close()
    stop.set()
    assert [line.text for line in followed] == ["two\n"]


def test_a_terminal_master_is_logged_then_dropped_when_its_container_side_closes(tmp_path: Path) -> None:
    """tty: true logs a pseudo-terminal's master; EIO (no slave left) unregisters it instead of spinning."""
    from composer.kernel.logs import LogRotation

    selector = selectors.DefaultSelector()
    collector = LogCollector(selector)
    master, slave = os.openpty()
    os.set_blocking(master, False)
    log = tmp_path / "json.log"
    collector.add_fd("c", "stdout", master, str(log), LogRotation(None, 1))
    os.write(slave, b"hello\n")
    os.close(slave)
    collector.on_readable(master)
    collector.on_readable(master)  # EIO now: dropped, and a second look does nothing
    assert [json.loads(line)["log"] for line in log.read_text().splitlines()] == ["hello\r\n"]
    assert master not in selector.get_map()
    discard = LogCollector(selector)
    master2, slave2 = os.openpty()
    discard.add_fd("d", "stdout", master2, str(tmp_path / "none.log"), LogRotation(None, 1, discard=True))
    os.write(slave2, b"kept nowhere\n")
    os.close(slave2)
    discard.on_readable(master2)
    assert not (tmp_path / "none.log").exists()
