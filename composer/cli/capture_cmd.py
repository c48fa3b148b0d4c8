"""``composer capture SERVICE[:IFNAME] [-w FILE.pcap] [-c N] [--duration S] [FILTER...]``.

Packets of a container's interface (or of all its interfaces), captured from
inside its network namespace by composer itself: nothing is needed in the image.
With ``-w`` they go to a pcap file (``-w -``: stdout, for ``| wireshark -k -i -``);
without, one summary line each.  Ctrl-C (or SIGTERM) stops the capture, closes
the file complete and prints how many packets were captured.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from composer.kernel.net.capture import Packet
    from composer.store.layout import ProjectLayout


def register(app: typer.Typer) -> None:
    @app.command("capture")
    def capture(
        ctx: typer.Context,
        target: Annotated[
            str, typer.Argument(metavar="SERVICE[:IFNAME]", help="No IFNAME: every interface.")
        ],
        expression: Annotated[
            list[str] | None,
            typer.Argument(metavar="FILTER", help="A tcpdump filter (compiled by the host's tcpdump)."),
        ] = None,
        write: Annotated[
            str | None,
            typer.Option("-w", "--write", metavar="FILE", help="pcap file to write (- for stdout)."),
        ] = None,
        count: Annotated[
            int | None, typer.Option("-c", "--count", min=1, metavar="N", help="Stop after N packets.")
        ] = None,
        duration: Annotated[
            float | None,
            typer.Option("--duration", min=0, metavar="SECONDS", help="Stop after this many seconds."),
        ] = None,
    ) -> None:
        """Capture packets inside a container's network namespace; Ctrl-C stops and prints the count."""
        from composer.cli.context import options
        from composer.kernel.net import capture as cap

        opts = options(ctx)
        opts.enter("capture", create=False)
        service, _, ifname = target.partition(":")
        netns = _netns_of(opts.layout(), service)
        program = cap.compile_filter(expression) if expression else []
        sock = cap.open_socket(netns, ifname or None, program)
        stopping: list[int] = []

        def stop(signum: int, _frame: Any) -> None:
            stopping.append(signum)

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stop)
        where = ifname or "every interface"
        sys.stderr.write(f"capturing on {service} {where}; Ctrl-C stops\n")
        sys.stderr.flush()
        with sock, _output(write) as out:
            handle = _pcap_writer(out, write == "-") if out is not None else _printer
            try:
                totals = cap.run(sock, handle, lambda: bool(stopping), count, duration)
            except BrokenPipeError:  # the reader of stdout went away: as if stopped
                totals = cap.Totals(-1, 0)
        if totals.captured >= 0:
            sys.stderr.write(f"{totals.captured} packets captured\n")
            if totals.dropped:
                sys.stderr.write(f"{totals.dropped} packets dropped by kernel\n")


def _netns_of(layout: ProjectLayout, service: str) -> str:
    from composer.errors import StateError
    from composer.store import live

    recorded = live.load(layout)
    if recorded is None:
        raise StateError(f"project {layout.name} is not up", hint="bring it up first (composer up)")
    found = recorded.desired.containers_of(service)
    if not found:
        names = sorted({c.service for c in recorded.desired.containers.values()})
        raise StateError(
            f"no service {service!r} in project {layout.name}", hint=f"one of: {', '.join(names)}"
        )
    netns = found[0].config.netns_path
    if not netns:
        raise StateError(
            f"service {service} has no network namespace of its own (network_mode)",
            hint="capture on the service whose network it shares, or on the host",
        )
    return netns


class _output:
    """The pcap file or stdout (binary) for ``-w``, None for summary lines; the file is closed at the end."""

    def __init__(self, write: str | None) -> None:
        self.write = write
        self.handle: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes] | None:
        from composer.kernel.net.capture import pcap_header

        if self.write is None:
            return None
        if self.write == "-":
            self.handle = sys.stdout.buffer
        else:
            from composer.errors import HostError

            try:
                self.handle = Path(self.write).open("wb")
            except OSError as error:
                raise HostError(f"cannot write {self.write}", errno=error.errno) from error
        self.handle.write(pcap_header())
        self.handle.flush()
        return self.handle

    def __exit__(self, *_exc: object) -> None:
        if self.handle is None:
            return
        with contextlib.suppress(BrokenPipeError):
            self.handle.flush()
        if self.write != "-":
            self.handle.close()


def _pcap_writer(out: IO[bytes], stream: bool) -> Any:
    from composer.kernel.net.capture import pcap_record

    def handle(packet: Packet) -> None:
        out.write(pcap_record(packet.timestamp, packet.frame))
        if stream:  # a live reader wants each packet as it comes
            out.flush()

    return handle


def _printer(packet: Packet) -> None:
    from composer.kernel.net.capture import summary

    typer.echo(summary(packet.timestamp, packet.ifname, packet.frame, packet.outgoing))
