"""The qdisc netlink messages composer sends (netem, TBF, delete), built and read as bytes: pure.

netem (``sch_netem``) is optional in a kernel, and the one composer is tested on
lacks it, so what composer asks of netem is checked here against the bytes: the
message :func:`netem_request` builds is the one ``tc qdisc replace dev IF root
handle 1: netem ...`` (iproute2) sends for the same settings, field for field, and
:func:`decode_netem_options` reads back what a dump of the qdisc returns.

Layout (``linux/pkt_sched.h``): ``TCA_OPTIONS`` holds a ``struct tc_netem_qopt``
(latency and jitter in scheduler ticks of 64 ns, the queue limit in packets,
loss and duplicate as a fraction of 2^32-1, the reorder gap), followed by
nested attributes: ``TCA_NETEM_REORDER`` and ``TCA_NETEM_CORRUPT`` (a probability
and a correlation each), and ``TCA_NETEM_LATENCY64`` / ``TCA_NETEM_JITTER64`` in
nanoseconds when a time does not fit the 32-bit ticks.  As iproute2 does, a
reorder sets the gap to 1 (the packet after each delayed one may overtake it).

TBF: ``TCA_TBF_PARMS`` (a ``struct tc_tbf_qopt``: the rate spec, no peak rate,
the queue limit in bytes, the bucket as scheduler ticks) and ``TCA_TBF_BURST``
(the bucket in bytes, which the kernel prefers), plus ``TCA_TBF_RATE64`` for a
rate beyond 2^32-1 bytes per second.  It is iproute2's message without the
1 KiB rate table: the rate spec names its link layer (Ethernet), so the kernel
computes the rate itself and ignores a table.
"""

from __future__ import annotations

import struct

from composer.model.netstate import NetemState

RTM_NEWQDISC, RTM_DELQDISC = 36, 37
NLM_F_REQUEST, NLM_F_ACK, NLM_F_REPLACE, NLM_F_CREATE = 0x1, 0x4, 0x100, 0x400
REPLACE_FLAGS = NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE | NLM_F_CREATE  # tc qdisc replace
TCA_KIND, TCA_OPTIONS = 1, 2
TCA_NETEM_REORDER, TCA_NETEM_CORRUPT, TCA_NETEM_LATENCY64, TCA_NETEM_JITTER64 = 3, 4, 10, 11
TC_H_ROOT = 0xFFFFFFFF
DEFAULT_LIMIT = 1000  # packets, netem's and iproute2's default
_TICK_NS = 64  # PSCHED_SHIFT = 6: the kernel's scheduler tick is 64 ns
_U32_MAX = 0xFFFFFFFF

_NLMSGHDR = struct.Struct("=IHHII")
_TCMSG = struct.Struct("=BxxxiIII")
_RTATTR = struct.Struct("=HH")
_QOPT = struct.Struct("=IIIIII")  # latency, limit, loss, gap, duplicate, jitter
_PROBABILITY = struct.Struct("=II")  # probability, correlation
_S64 = struct.Struct("=q")
_RATESPEC = struct.Struct("=BBHhHI")  # cell_log, linklayer, overhead, cell_align, mpu, rate (bytes/s)
_TBF_QOPT_TAIL = struct.Struct("=III")  # limit, buffer, mtu
TCA_TBF_PARMS, TCA_TBF_RATE64, TCA_TBF_BURST = 1, 4, 6
TC_LINKLAYER_ETHERNET = 1


def _align(length: int) -> int:
    return (length + 3) & ~3


def _attr(kind: int, payload: bytes) -> bytes:
    header = _RTATTR.pack(_RTATTR.size + len(payload), kind)
    return (header + payload).ljust(_align(_RTATTR.size + len(payload)), b"\0")


def _fraction(percent: float | None) -> int:
    """A percentage as netem's fraction of 2^32-1, rounded to nearest as iproute2 does."""
    return round((percent or 0.0) / 100 * _U32_MAX)


def _ticks(seconds: float | None) -> int:
    return round((seconds or 0.0) * 1e9 / _TICK_NS)


def netem_options(netem: NetemState) -> bytes:
    """The ``TCA_OPTIONS`` payload for ``netem``."""
    latency, jitter = _ticks(netem.delay), _ticks(netem.jitter)
    gap = 1 if netem.reorder else 0
    qopt = _QOPT.pack(
        min(latency, _U32_MAX), netem.limit, _fraction(netem.loss), gap, _fraction(netem.duplicate),
        min(jitter, _U32_MAX),
    )  # fmt: skip
    nested = b""
    if netem.reorder:
        nested += _attr(TCA_NETEM_REORDER, _PROBABILITY.pack(_fraction(netem.reorder), 0))
    if netem.corrupt:
        nested += _attr(TCA_NETEM_CORRUPT, _PROBABILITY.pack(_fraction(netem.corrupt), 0))
    if latency > _U32_MAX:
        nested += _attr(TCA_NETEM_LATENCY64, _S64.pack(round((netem.delay or 0.0) * 1e9)))
    if jitter > _U32_MAX:
        nested += _attr(TCA_NETEM_JITTER64, _S64.pack(round((netem.jitter or 0.0) * 1e9)))
    return qopt + nested


def netem_request(
    ifindex: int, netem: NetemState, *, handle: int = 0x10000, parent: int = TC_H_ROOT, seq: int = 1
) -> bytes:
    """The RTM_NEWQDISC message of ``tc qdisc replace dev IFINDEX parent PARENT handle HANDLE netem ...``."""
    attrs = _attr(TCA_KIND, b"netem\0") + _attr(TCA_OPTIONS, netem_options(netem))
    return _message(RTM_NEWQDISC, REPLACE_FLAGS, ifindex, handle, parent, attrs, seq)


def _message(kind: int, flags: int, ifindex: int, handle: int, parent: int, attrs: bytes, seq: int) -> bytes:
    body = _TCMSG.pack(0, ifindex, handle, parent, 0) + attrs
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, flags, seq, 0) + body


def tbf_options(rate_bytes: int, burst: int, limit: int) -> bytes:
    """``TCA_OPTIONS`` of a TBF: ``rate_bytes`` per second, a bucket of ``burst`` bytes, ``limit`` queued."""
    # The bucket as ticks the way iproute2 computes them (whole microseconds, 15.625 ticks each).
    buffer = int(int(1e6 * burst / rate_bytes) * 1000 / _TICK_NS)
    rate = _RATESPEC.pack(3, TC_LINKLAYER_ETHERNET, 0, -1, 0, min(rate_bytes, _U32_MAX))
    peak = _RATESPEC.pack(0, 0, 0, 0, 0, 0)
    options = _attr(TCA_TBF_PARMS, rate + peak + _TBF_QOPT_TAIL.pack(limit, buffer, 0))
    options += _attr(TCA_TBF_BURST, struct.pack("=I", burst))
    if rate_bytes > _U32_MAX:
        options += _attr(TCA_TBF_RATE64, struct.pack("=Q", rate_bytes))
    return options


def tbf_request(
    ifindex: int,
    rate_bytes: int,
    burst: int,
    limit: int,
    *,
    handle: int = 0x10000,
    parent: int = TC_H_ROOT,
    seq: int = 1,
) -> bytes:
    """The RTM_NEWQDISC message of ``tc qdisc replace ... tbf rate R burst B limit L``."""
    attrs = _attr(TCA_KIND, b"tbf\0") + _attr(TCA_OPTIONS, tbf_options(rate_bytes, burst, limit))
    return _message(RTM_NEWQDISC, REPLACE_FLAGS, ifindex, handle, parent, attrs, seq)


def delete_request(ifindex: int, *, handle: int, parent: int = TC_H_ROOT, seq: int = 1) -> bytes:
    """The RTM_DELQDISC message of ``tc qdisc del dev IF parent P handle H``."""
    return _message(RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, ifindex, handle, parent, b"", seq)


def decode_netem_options(payload: bytes) -> NetemState:
    """What a netem qdisc's ``TCA_OPTIONS`` (as a dump returns it) sets: the inverse of netem_options."""
    latency, limit, loss, _gap, duplicate, jitter = _QOPT.unpack_from(payload)
    delay_ns, jitter_ns = latency * _TICK_NS, jitter * _TICK_NS
    reorder = corrupt = 0
    offset = _align(_QOPT.size)
    while offset + _RTATTR.size <= len(payload):
        length, kind = _RTATTR.unpack_from(payload, offset)
        if length < _RTATTR.size:
            break
        value = payload[offset + _RTATTR.size : offset + length]
        if kind == TCA_NETEM_REORDER:
            reorder = _PROBABILITY.unpack_from(value)[0]
        elif kind == TCA_NETEM_CORRUPT:
            corrupt = _PROBABILITY.unpack_from(value)[0]
        elif kind == TCA_NETEM_LATENCY64:
            delay_ns = _S64.unpack_from(value)[0]
        elif kind == TCA_NETEM_JITTER64:
            jitter_ns = _S64.unpack_from(value)[0]
        offset += _align(length)
    return NetemState(
        delay=_seconds(delay_ns), jitter=_seconds(jitter_ns), loss=_percent(loss), corrupt=_percent(corrupt),
        duplicate=_percent(duplicate), reorder=_percent(reorder), limit=limit,
    )  # fmt: skip


def _seconds(ns: int) -> float | None:
    return ns / 1e9 if ns else None


def _percent(fraction: int) -> float | None:
    return round(fraction / _U32_MAX * 100, 6) if fraction else None
