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


def test_rfc3339_nano() -> None:
    assert rfc3339_nano(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"


def test_collector_writes_json_lines_from_fifos(tmp_path: Path) -> None:
    out_fifo, err_fifo = make_log_fifos(tmp_path)
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
    log = str(tmp_path / "c.log")
    writer = JsonLogWriter(log, max_size=200, max_files=2)
    writer.write("stdout", "before\n")
    done = threading.Event()

    def produce() -> None:
        for i in range(10):
            writer.write("stdout", f"after {i}\n")
        done.set()

    thread = threading.Thread(target=produce)
    followed = read_logs(log, follow=True, until=done.is_set, poll_interval=0.01)
    first = next(followed)
    thread.start()
    rest = [line.text for line in followed]
    thread.join()
    writer.close()
    assert first.text == "before\n"
    assert rest[-1] == "after 9\n"
