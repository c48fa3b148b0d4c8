"""stats: the v2 counters read from a FAKE cgroupfs tree (no v2 controllers on this host), the rows
computed from two readings, and docker's size units."""

from __future__ import annotations

import os
from pathlib import Path

from composer.kernel.stats import Sample, net_bytes, read_sample
from composer.verbs.stats import binary_size, decimal_size, row_of, total_row


def test_v2_counters(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    (folder / "memory.current").write_text("10485760\n")
    (folder / "memory.stat").write_text("anon 8388608\ninactive_file 2097152\n")
    (folder / "memory.max").write_text("max\n")
    (folder / "pids.current").write_text("3\n")
    (folder / "io.stat").write_text("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2\n8:16 rbytes=1 wbytes=0\n")
    sample = read_sample({"unified": str(folder)}, 0)
    assert sample == Sample(cpu_ns=2_500_000_000, memory=8 << 20, memory_limit=0, pids=3,
                            block_read=4097, block_write=8192)  # fmt: skip


def test_network_of_a_namespace_leaves_lo_out() -> None:
    rx, tx = net_bytes(os.getpid())  # this test's own netns
    assert rx >= 0 and tx >= 0
    assert net_bytes(-1) == (0, 0)


def test_rows() -> None:
    first = Sample(cpu_ns=1_000_000_000, memory=1 << 20, memory_limit=64 << 20, pids=2)
    second = Sample(cpu_ns=1_250_000_000, memory=16 << 20, memory_limit=64 << 20, pids=3,
                    net_rx=1234, net_tx=0, block_read=5_000_000, block_write=1000)  # fmt: skip
    row = row_of("p-web-1", "web", first, second, 0.5)
    assert (row.CPUPerc, row.MemUsage, row.MemPerc) == ("50.00%", "16MiB / 64MiB", "25.00%")
    assert (row.NetIO, row.BlockIO, row.PIDs) == ("1.23kB / 0B", "5MB / 1kB", "3")
    both = total_row("p", [(first, second), (first, second)], 0.5)
    assert both.CPUPerc == "100.00%" and both.PIDs == "6" and both.Service == "(project)"


def test_sizes() -> None:
    assert binary_size(0) == "0B" and binary_size(3_682_304) == "3.512MiB" and binary_size(1 << 30) == "1GiB"
    assert decimal_size(999) == "999B" and decimal_size(1234) == "1.23kB"
